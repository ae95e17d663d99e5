package planner

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/shardgate/shardgate/router/engine"
)

// setsLastID reports whether n calls LAST_INSERT_ID(expr).
func setsLastID(n ast.Node) bool {
	found := false
	Walk(n, func(x ast.Node) ast.Node {
		if f, ok := x.(*ast.FuncCallExpr); ok && f.FnName.L == "last_insert_id" && len(f.Args) > 0 {
			found = true
		}
		return x
	})
	return found
}

// planIDs works out the idPlan of an INSERT into t. cols are the table's
// columns with its AUTO_INCREMENT column (tableCols); seq is set when the
// proxy fills the id from a sequence.
func (p *planner) planIDs(ins *ast.InsertStmt, cols tableCols, seq bool) *engine.IDPlan {
	sets := setsLastID(ins)
	ip := &engine.IDPlan{SetsID: sets, Ask: sets, Ignore: ins.IgnoreErr, DupUpdate: len(ins.OnDuplicate) > 0}
	if ins.Select == nil {
		ip.Nrows = len(ins.Lists)
	}
	if seq || cols.autoInc == "" {
		return ip
	}
	ip.Column = cols.autoInc
	idx := -1
	for i, c := range ins.Columns {
		if c.Name.L == ip.Column {
			idx = i
		}
	}
	if len(ins.Columns) == 0 { // INSERT INTO t VALUES (...): every column in order
		for i, c := range cols.names {
			if c == ip.Column {
				idx = i
			}
		}
	}
	switch {
	case idx < 0:
		ip.AllRows = true
	case ins.Select != nil:
		ip.Ask = true
	default:
		for _, row := range ins.Lists {
			if idx >= len(row) {
				ip.Ask = true
				break
			}
			if _, ok := row[idx].(*ast.DefaultExpr); ok {
				ip.Rows = append(ip.Rows, engine.IDValue{Default: true})
				continue
			}
			v, ok := p.valueOf(row[idx])
			if !ok {
				ip.Ask = true // an expression: only the shard knows
				break
			}
			ip.Rows = append(ip.Rows, engine.IDValue{Value: v})
		}
	}
	return ip
}

// lastIDOnOneShard checks the plan of a statement that calls
// LAST_INSERT_ID(expr): the proxy learns the value from the one shard that
// ran it, so the statement must be a Route or an INSERT (which refuse it at
// execution when they reach several shards).
func lastIDOnOneShard(plan *Plan) error {
	switch prim := plan.Prim.(type) {
	case *engine.Route:
		if prim.IDs == nil {
			prim.IDs = &engine.IDPlan{}
		}
		prim.IDs.Ask, prim.IDs.SetsID = true, true
		return nil
	case *engine.Insert:
		return nil
	}
	return engine.Unsupported("LAST_INSERT_ID(expr) in this statement (shardgate follows it in a SELECT, INSERT, UPDATE or DELETE that runs on one shard)")
}
