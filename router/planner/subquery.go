package planner

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/shardgate/shardgate/router/engine"
)

// checkSubqueries allows subqueries and derived tables on sharded tables
// only where running them on each shard cannot change their meaning:
//
//   - `outer.shardcol [NOT] IN (SELECT t.shardcol FROM t ...)` with t sharded
//     by the same vindex type (every row with that key lives on the same
//     shard), without LIMIT and without aggregates unless grouped by t.shardcol;
//   - `[NOT] EXISTS (SELECT ... WHERE t.shardcol = outer.shardcol ...)` and
//     scalar subqueries correlated the same way (each key is shard-local);
//   - a derived table that only filters and projects (no GROUP BY,
//     aggregates, DISTINCT, ORDER BY or LIMIT): each shard's part of it is
//     the shard's rows, so the outer query merges as over a table.
//
// Subqueries on reference and unsharded tables are always fine.
func (p *planner) checkSubqueries(stmt ast.Node, refs []*tableRef) error {
	byName := map[*ast.TableName]*tableRef{}
	for _, r := range refs {
		byName[r.name] = r
	}
	shardedIn := func(n ast.Node) []*tableRef {
		var out []*tableRef
		Walk(n, func(x ast.Node) ast.Node {
			if tn, ok := x.(*ast.TableName); ok {
				if r := byName[tn]; r != nil && r.sharded() {
					out = append(out, r)
				}
			}
			return x
		})
		return out
	}
	ok := map[*ast.SubqueryExpr]bool{}
	Walk(stmt, func(x ast.Node) ast.Node {
		switch e := x.(type) {
		case *ast.PatternInExpr:
			if sub, isSub := e.Sel.(*ast.SubqueryExpr); isSub {
				ok[sub] = p.inSubqueryLocal(e.Expr, sub, refs, shardedIn(sub))
			}
		case *ast.ExistsSubqueryExpr:
			if sub, isSub := e.Sel.(*ast.SubqueryExpr); isSub {
				ok[sub] = existsLocal(sub, refs, shardedIn(sub))
			}
		}
		return x
	})
	var err error
	Walk(stmt, func(x ast.Node) ast.Node {
		if err != nil {
			return x
		}
		switch e := x.(type) {
		case *ast.SubqueryExpr:
			if _, seen := ok[e]; !seen {
				// A scalar subquery correlated on the sharding column.
				ok[e] = existsLocal(e, refs, shardedIn(e))
			}
			if len(shardedIn(e)) > 0 && !ok[e] {
				err = engine.Unsupported("a subquery on a sharded table that would change meaning per shard (use `shardcol IN (SELECT shardcol ...)` or EXISTS correlated on the sharding column)")
			}
		case *ast.TableSource:
			sel, isSel := e.Source.(*ast.SelectStmt)
			if isSel && len(shardedIn(sel)) > 0 && mergeConstruct(sel) != "" && !groupedByShardKey(sel, shardedIn(sel)) {
				err = engine.Unsupported("a derived table on a sharded table with %s", mergeConstruct(sel))
			}
			if _, isUnion := e.Source.(*ast.SetOprStmt); isUnion && len(shardedIn(e.Source)) > 0 {
				err = engine.Unsupported("a derived UNION on sharded tables")
			}
		}
		return x
	})
	return err
}

func (p *planner) inSubqueryLocal(outer ast.ExprNode, sub *ast.SubqueryExpr, refs []*tableRef, inner []*tableRef) bool {
	sel, isSel := sub.Query.(*ast.SelectStmt)
	if !isSel || len(inner) == 0 || sel.Limit != nil || sel.Fields == nil || len(sel.Fields.Fields) != 1 {
		return false
	}
	var outside []*tableRef
	for _, r := range refs {
		if !contains(inner, r) {
			outside = append(outside, r)
		}
	}
	o := columnOf(outer, outside, countSharded(outside))
	if o == nil {
		return false
	}
	i := columnOf(sel.Fields.Fields[0].Expr, inner, len(inner))
	if i == nil || i.tbl.Vindex.Type() != o.tbl.Vindex.Type() {
		return false
	}
	if hasAggregate(sel.Fields) || sel.Having != nil {
		if sel.GroupBy == nil {
			return false
		}
		grouped := false
		for _, g := range sel.GroupBy.Items {
			if columnOf(g.Expr, inner, len(inner)) == i {
				grouped = true
			}
		}
		if !grouped {
			return false
		}
	}
	return len(inner) == 1 || checkColocated(sel, sel.Where, inner) == nil
}

func existsLocal(sub *ast.SubqueryExpr, refs []*tableRef, inner []*tableRef) bool {
	sel, isSel := sub.Query.(*ast.SelectStmt)
	if !isSel || len(inner) == 0 {
		return false
	}
	for _, c := range conjuncts(sel.Where, nil) {
		b, ok := c.(*ast.BinaryOperationExpr)
		if !ok || b.Op != opcode.EQ {
			continue
		}
		l, r := columnOf(b.L, refs, 0), columnOf(b.R, refs, 0)
		if l == nil || r == nil || l == r || l.tbl.Vindex.Type() != r.tbl.Vindex.Type() {
			continue
		}
		li, ri := contains(inner, l), contains(inner, r)
		if li != ri { // one side inside the subquery, the other outside
			return len(inner) == 1 || checkColocated(sel, sel.Where, inner) == nil
		}
	}
	return false
}

func contains(refs []*tableRef, r *tableRef) bool {
	for _, x := range refs {
		if x == r {
			return true
		}
	}
	return false
}

func countSharded(refs []*tableRef) int {
	n := 0
	for _, r := range refs {
		if r.sharded() {
			n++
		}
	}
	return n
}

// groupedByShardKey: a derived table grouped by the sharding column (and
// without ORDER BY or LIMIT) has each group on one shard, so every shard
// computes its part of it exactly.
func groupedByShardKey(sel *ast.SelectStmt, inner []*tableRef) bool {
	if sel.GroupBy == nil || sel.Limit != nil || sel.OrderBy != nil || sel.GroupBy.Rollup {
		return false
	}
	for _, g := range sel.GroupBy.Items {
		if columnOf(g.Expr, inner, len(inner)) != nil {
			return len(inner) == 1 || checkColocated(sel, sel.Where, inner) == nil
		}
	}
	return false
}
