package router

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/txn"
)

// This file is the only place where the plan tests (plans_test.go) touch
// the planner's internals and the configuration parser: when the planner
// moves to its own package, or the parser to the config package, only
// newPlanExplainer needs rewriting.

// planExplainer returns what `VEXPLAIN PLAN <sql>` prints for sql (the
// Describe of the plan's primitive tree), or the error a client gets, in a
// new session of user (none: "") whose current keyspace is keyspace ("":
// none).
type planExplainer func(keyspace, user, sql string) (string, error)

// newPlanExplainer loads the configuration at path and builds a router over
// it. Nothing is dialed: planning reads no shard (a statement that would
// must be left out of the cases; its error would name the address).
func newPlanExplainer(path string) (planExplainer, func(), error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.Parse(path, data)
	if err != nil {
		return nil, nil, err
	}
	r := New(cfg, zap.NewNop())
	// auto_vschema keyspaces: the schema counts as read, with no table
	// beyond the vschema's (LoadSchema would read it from the shards), so
	// an INSERT with a column list does not ask a shard for the table's
	// AUTO_INCREMENT column.
	for _, name := range cfg.Keyspaces.Names() {
		if ks, _ := cfg.Keyspaces.Keyspace(name); ks.AutoVSchema {
			r.schema.tables[ks.Name] = map[string]*topo.Table{}
		}
	}
	mode, err := txn.ParseMode(cfg.TransactionMode)
	if err != nil {
		return nil, nil, err
	}
	explain := func(keyspace, user, sql string) (string, error) {
		var u *config.User
		if user != "" {
			for i := range cfg.Users {
				if cfg.Users[i].Name == user {
					u = &cfg.Users[i]
				}
			}
			if u == nil {
				return "", fmt.Errorf("no user %q in %s", user, path)
			}
		}
		s := NewSession(1, u, keyspace, mode)
		s.MultiStatements = true
		vc := s.cursor(r, nil, sql)
		sql, err := resolveComments(sql, s.lexMode)
		if err != nil {
			return "", err
		}
		vc.sql = sql
		plan, _, err := vc.planText(context.Background(), sql)
		if err != nil {
			return "", err
		}
		// The user's keyspaces and read-only flag are checked on the plan
		// before it runs (Execute), not by VEXPLAIN PLAN.
		if err := vc.checkAccess(plan); err != nil {
			return "", err
		}
		if v, ok := plan.Prim.(*vexplain); ok && !v.queries {
			text, err := v.plan(context.Background(), vc) // as VEXPLAIN PLAN runs: no shard is reached
			return strings.TrimRight(text, "\n"), err
		}
		return strings.TrimRight(plan.Prim.Describe(), "\n"), nil
	}
	return explain, r.Close, nil
}
