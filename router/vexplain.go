package router

import (
	"context"
	"strings"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/wire"
)

type vexplain struct {
	inner   string
	queries bool
}

func (vc *vcursor) planVExplain(sql string) (*planner.Plan, bool) {
	m := reVExplain.FindStringSubmatch(sql)
	if m == nil {
		return nil, false
	}
	mode := strings.ToLower(m[1])
	return &planner.Plan{Kind: planner.KindExplain, Prim: &vexplain{inner: m[2], queries: mode == "queries" || mode == "all"}}, true
}

// tracedQuery is one query a statement sent to a shard.
type tracedQuery struct {
	shard string
	sql   string
}

func (v *vexplain) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	if !v.queries {
		text, err := v.plan(ctx, vc)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, line := range strings.Split(text, "\n") {
			rows = append(rows, []string{line})
		}
		return vc.writeRows(stringFields("plan"), rows)
	}
	// Run it with the response thrown away, recording the shard queries.
	inner := vcursor{r: vc.r, st: vc.st, s: vc.s, out: discardConn(vc.out), sql: v.inner}
	plan, binds, err := inner.planText(ctx, v.inner)
	if err != nil {
		return err
	}
	inner.binds = binds
	var trace []tracedQuery
	inner.trace = &trace
	if err := inner.run(ctx, plan); err != nil {
		return err
	}
	rows := make([][]string, len(trace))
	for i, q := range trace {
		rows[i] = []string{q.shard, q.sql}
	}
	return vc.writeRows(stringFields("shard", "query"), rows)
}

// plan is what VEXPLAIN PLAN prints: the inner statement's plan, to a user
// who may use the keyspaces it reaches (a plan shows tables and vindexes).
func (v *vexplain) plan(ctx context.Context, vc *vcursor) (string, error) {
	inner := vcursor{r: vc.r, st: vc.st, s: vc.s, out: vc.out, sql: v.inner}
	plan, _, err := inner.planText(ctx, v.inner)
	if err != nil {
		return "", err
	}
	if err := inner.checkKeyspaces(plan); err != nil {
		return "", err
	}
	return plan.Prim.Describe(), nil
}

func (v *vexplain) Describe() string { return "VExplain " + v.inner }

// discardConn returns a client connection that drops what is written.
func discardConn(c *wire.Conn) *wire.Conn { return wire.Discard(c.NetConn()) }
