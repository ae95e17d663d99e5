package router

import (
	"context"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/wire"
)

// buildPlan parses sql (with nbinds '?' markers) and plans it. The router
// plans what it answers itself: shardgate's own statements, recognised
// before parsing because the parser does not know them (planSpecial), and
// the session statements (planSession). Every other statement goes to the
// planner.
func (vc *vcursor) buildPlan(ctx context.Context, sql string, nbinds int) (*planner.Plan, error) {
	if plan, err := vc.planSpecial(sql); plan != nil || err != nil {
		return plan, err
	}
	stmts, _, err := vc.s.parser.Parse(sql, "", "")
	if err != nil {
		// Never passed through as text: what reaches a shard is what the
		// proxy parsed and allowed (package policy).
		return nil, wire.Errorf(mysql.ER_PARSE_ERROR, "%s", parseErrorMessage(err))
	}
	switch {
	case len(stmts) == 0:
		return nil, wire.Errorf(mysql.ER_EMPTY_QUERY, "Query was empty")
	case len(stmts) > 1:
		return vc.planMulti(stmts, nbinds)
	}
	plan, ok, err := vc.planSession(stmts[0])
	switch {
	case !ok:
		plan, err = planner.Build(ctx, planEnv{vc}, stmts[0], nbinds)
	case err == nil:
		err = planner.Admit(planEnv{vc}, stmts[0], plan)
	}
	return plan, err
}

// planMulti plans a multi-statement query: each statement is planned when
// it runs, after the ones before it changed the session.
func (vc *vcursor) planMulti(stmts []ast.StmtNode, nbinds int) (*planner.Plan, error) {
	if !vc.s.MultiStatements {
		return nil, wire.Errorf(mysql.ER_PARSE_ERROR, "You have an error in your SQL syntax: several statements in one query, but the client did not enable multi-statements (CLIENT_MULTI_STATEMENTS)")
	}
	if nbinds > 0 {
		return nil, errMultiNormalized // plan the client's own text instead
	}
	texts := make([]string, len(stmts))
	for i, st := range stmts {
		texts[i] = st.Text()
	}
	return &planner.Plan{Kind: planner.KindMulti, Prim: &multiStatement{texts: texts}}, nil
}

// planSession plans the statements that act on the session itself or
// report the proxy's own state; ok is false for every other statement.
func (vc *vcursor) planSession(stmt ast.StmtNode) (plan *planner.Plan, ok bool, err error) {
	switch n := stmt.(type) {
	case *ast.SetStmt:
		plan, err = vc.planSet(n)
	case *ast.UseStmt:
		plan, err = vc.planUse(n.DBName)
	case *ast.BeginStmt:
		plan, err = vc.planBegin(n)
	case *ast.CommitStmt:
		plan = sessionPlan(planner.KindCommit, commitPrim{})
	case *ast.RollbackStmt:
		if n.SavepointName != "" {
			return nil, true, engine.Unsupported("ROLLBACK TO SAVEPOINT")
		}
		plan = sessionPlan(planner.KindRollback, rollbackPrim{})
	case *ast.KillStmt:
		plan, err = vc.planKill(n)
	case *ast.ShowStmt:
		return vc.planLocalShow(n)
	default:
		return nil, false, nil
	}
	return plan, true, err
}
