package router

import (
	"context"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// Distributed transactions: the two-phase-commit coordinator of the global
// keyspace, SHOW TRANSACTIONS and SELECT @@transaction_mode.

// planTransactions plans a statement isTransactionsStatement accepted.
func (vc *vcursor) planTransactions(sql string) *planner.Plan {
	if reShowTransactions.MatchString(sql) {
		return localPlan(planner.KindShow, showTransactions{})
	}
	return localPlan(planner.KindSelect, selectTxMode{})
}

// Coordinator returns the two-phase-commit coordinator whose decision table
// is in the global keyspace; nil without a global keyspace.
func (r *Router) Coordinator() *txn.Coordinator { return r.state.Load().coord }

// newCoordinator returns the coordinator of the state's global keyspace:
// old when its decision table stays on the same pool (the resolver and
// sessions keep sharing it), else a new one; nil without a global keyspace.
func (st *state) newCoordinator(cfg *config.Config, old *txn.Coordinator) *txn.Coordinator {
	if cfg == nil || cfg.GlobalKeyspace == "" {
		return nil
	}
	ks, ok := st.snap.Keyspace(cfg.GlobalKeyspace)
	if !ok || len(ks.Shards) == 0 {
		return nil
	}
	p := st.pools[ks.Shards[0]]
	if p == nil {
		return nil
	}
	if old != nil && old.Global() == p {
		return old
	}
	return txn.NewCoordinator(p, ks.Shards[0].Database)
}

// attachCoordinator gives the session's transaction the coordinator it
// needs in twopc mode.
func (vc *vcursor) attachCoordinator() {
	vc.s.Tx.Coordinator = vc.st.coord
}

func (st *state) poolList() []*backend.Pool {
	ps := make([]*backend.Pool, 0, len(st.pools))
	for _, p := range st.pools {
		ps = append(ps, p)
	}
	return ps
}

// showTransactions lists the distributed transactions in doubt: prepared
// branches found by XA RECOVER on every shard server, and their decisions.
type showTransactions struct{}

func (showTransactions) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	c := vc.st.coord
	if c == nil {
		return wire.Errorf(mysql.ER_NOT_SUPPORTED_YET, "not supported by shardgate: SHOW TRANSACTIONS needs a global keyspace (global_keyspace), where two-phase commit records its decisions")
	}
	list, err := c.InDoubt(ctx, vc.st.poolList())
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(list))
	for _, t := range list {
		rows = append(rows, []string{t.DTID, t.State, t.Decision, strings.Join(t.Branches, ","), strconv.FormatFloat(t.Age.Seconds(), 'f', 1, 64)})
	}
	return vc.writeRows(stringFields("dtid", "state", "decision", "branches", "age_seconds"), rows)
}

func (showTransactions) Describe() string {
	return "ShowTransactions (XA RECOVER on every shard server + decision table)"
}

// selectTxMode answers SELECT @@transaction_mode.
type selectTxMode struct{}

func (selectTxMode) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	return vc.writeRows([]wire.Field{{Name: "@@transaction_mode", Type: mysql.MYSQL_TYPE_VAR_STRING, Length: 20}},
		[][]string{{string(vc.s.Tx.Mode)}})
}

func (selectTxMode) Describe() string { return "SessionVariable transaction_mode" }
