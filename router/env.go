package router

import (
	"context"
	"strings"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
)

// planEnv is the planner's Env over a session and the router's state.
type planEnv struct{ vc *vcursor }

func (e planEnv) Keyspace(name string) (*topo.Keyspace, bool) { return e.vc.st.snap.Keyspace(name) }
func (e planEnv) KeyspaceNames() []string                     { return e.vc.st.snap.Names() }
func (e planEnv) SessionKeyspace() string                     { return e.vc.s.Keyspace }
func (e planEnv) GlobalKeyspace() string                      { return e.vc.r.cfg.GlobalKeyspace }
func (e planEnv) Limits() *config.Limits                      { return &e.vc.r.cfg.Limits }
func (e planEnv) Security() *config.Security                  { return &e.vc.r.cfg.Security }

func (e planEnv) DerivedTable(ks, name string) (*topo.Table, bool) {
	return e.vc.r.schema.table(ks, name)
}

func (e planEnv) KnowsAutoIncrement(ks *topo.Keyspace) bool { return e.vc.r.knowsAutoIncrement(ks) }

// TableColumns reads the table's columns from the keyspace's first shard,
// on the session's connection (in its transaction, if one is open).
func (e planEnv) TableColumns(ctx context.Context, ks *topo.Keyspace, table string) ([]string, string, error) {
	sh := ks.Shards[0]
	c, err := e.vc.Conn(ctx, sh)
	if err != nil {
		return nil, "", err
	}
	defer e.vc.Done(c)
	q := sqlval.AppendQuoted([]byte("SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "), sh.Database)
	q = append(q, " AND TABLE_NAME = "...)
	q = sqlval.AppendQuoted(q, table)
	q = append(q, " ORDER BY ORDINAL_POSITION"...)
	rows, err := c.QueryStrings(ctx, string(q))
	if err != nil {
		return nil, "", err
	}
	var names []string
	var autoInc string
	for _, r := range rows {
		name := strings.ToLower(r[0])
		names = append(names, name)
		if strings.Contains(strings.ToLower(r[1]), "auto_increment") {
			autoInc = name
		}
	}
	return names, autoInc, nil
}
