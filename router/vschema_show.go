package router

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

func localPlan(kind planner.Kind, prim engine.Primitive) *planner.Plan {
	return &planner.Plan{Kind: kind, Prim: prim, Cacheable: true}
}

// nextvalPlan plans NEXT VALUE FOR / NEXTVAL() / NEXT n VALUES FROM.
func (vc *vcursor) nextvalPlan(ksName, table string, n engine.ValueRef, column string) (*planner.Plan, error) {
	if ksName == "" {
		ksName = vc.r.cfg.GlobalKeyspace
	}
	ks, ok := vc.st.snap.Keyspace(ksName)
	if !ok {
		return nil, wire.Errorf(mysql.ER_BAD_DB_ERROR, "Unknown database '%s' (no such keyspace)", ksName)
	}
	if ks.Sharded {
		// A sequence lives in an unsharded keyspace: look in the global one.
		g, ok := vc.st.snap.Keyspace(vc.r.cfg.GlobalKeyspace)
		if !ok {
			return nil, engine.Unsupported("sequence %s in sharded keyspace %s", table, ks.Name)
		}
		ks = g
	}
	return &planner.Plan{Kind: planner.KindSelect, Prim: &nextval{seq: ks.Name + "." + table, n: n, column: column},
		Keyspaces: []string{ks.Name}, Write: true}, nil
}

// nextval returns ids from a sequence: the first of n reserved.
type nextval struct {
	seq    string
	n      engine.ValueRef
	column string
}

func (nv *nextval) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	n, err := strconv.Atoi(nv.n.Resolve(vc.binds).Raw)
	if err != nil || n < 1 {
		return wire.Errorf(mysql.ER_WRONG_ARGUMENTS, "Incorrect arguments to NEXT VALUES: count must be a positive integer")
	}
	seq, err := vc.r.seqs.get(vc.st.snap, nv.seq)
	if err != nil {
		return err
	}
	ids, err := seq.reserve(ctx, vc.pool(seq.ks.Shards[0]), n, nil, true)
	if err != nil {
		return err
	}
	return vc.writeRows([]wire.Field{{Name: nv.column, Type: mysql.MYSQL_TYPE_LONGLONG, Flags: mysql.UNSIGNED_FLAG | mysql.NOT_NULL_FLAG | mysql.BINARY_FLAG, Charset: 63, Length: 20}},
		[][]string{{strconv.FormatUint(ids[0], 10)}})
}

func (nv *nextval) Describe() string {
	return fmt.Sprintf("NextVal sequence=%s count=%s", nv.seq, nv.n)
}

// showVSchemaTables shows the effective vschema of the session keyspace,
// including tables auto-vschema derived from the shards.
type showVSchemaTables struct{ ks *topo.Keyspace }

func (s *showVSchemaTables) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	var rows [][]string
	for _, t := range vc.r.effectiveTables(s.ks) {
		typ := t.Type.String()
		if typ == "" {
			typ = "sharded"
			if !s.ks.Sharded {
				typ = "unsharded"
			}
		}
		ai := ""
		if t.AutoIncrement != nil {
			ai = t.AutoIncrement.Column + " from " + t.AutoIncrement.Sequence
		}
		rows = append(rows, []string{t.Name, typ, t.Column, t.VindexName, ai, t.source})
	}
	return vc.writeRows(stringFields("Tables", "Type", "Column", "Vindex", "AutoIncrement", "Source"), rows)
}

func (s *showVSchemaTables) Describe() string { return "ShowVSchemaTables keyspace=" + s.ks.Name }

type showVSchemaVindexes struct{ ks *topo.Keyspace }

func (s *showVSchemaVindexes) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	var rows [][]string
	names := make([]string, 0, len(s.ks.Vindexes))
	for n := range s.ks.Vindexes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rows = append(rows, []string{s.ks.Name, n, s.ks.Vindexes[n].Type()})
	}
	return vc.writeRows(stringFields("Keyspace", "Name", "Type"), rows)
}

func (s *showVSchemaVindexes) Describe() string { return "ShowVSchemaVindexes keyspace=" + s.ks.Name }

// showShards lists keyspace/shard with each shard's address and pool.
type showShards struct{}

func (showShards) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	var rows [][]string
	for _, name := range vc.st.snap.Names() {
		if !vc.s.User.MayUse(name) {
			continue
		}
		ks, _ := vc.st.snap.Keyspace(name)
		for _, sh := range ks.Shards {
			idle, inUse := vc.pool(sh).Stats()
			rows = append(rows, []string{name + "/" + sh.Name, sh.Addr(), sh.Database, strconv.Itoa(inUse), strconv.Itoa(idle)})
		}
	}
	return vc.writeRows(stringFields("Shards", "Address", "Database", "PoolInUse", "PoolIdle"), rows)
}

func (showShards) Describe() string { return "ShowShards" }

func stringFields(names ...string) []wire.Field {
	fs := make([]wire.Field, len(names))
	for i, n := range names {
		fs[i] = wire.Field{Name: n, OrgName: n, Type: mysql.MYSQL_TYPE_VAR_STRING, Length: 1024}
	}
	return fs
}
