package planner

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
	"github.com/shardgate/shardgate/router/engine"
)

// unionPlanner plans a UNION over sharded tables as a tree of Unions whose
// leaves are the SELECT parts: a Route when the part needs no merging (or
// reaches one shard), a SelectMerge when it scatters with its own ORDER BY,
// LIMIT, GROUP BY or DISTINCT.
type unionPlanner struct {
	p         *planner
	stmt      *ast.SetOprStmt
	hidden    int // weight columns each leaf appends
	keyspaces []string
}

func (p *planner) planShardedUnion(u *ast.SetOprStmt) (*Plan, error) {
	up := &unionPlanner{p: p, stmt: u}
	leaves := leafSelects(u.SelectList, nil)
	wildcard := false
	for _, sel := range leaves {
		for _, f := range sel.Fields.Fields {
			if f.WildCard != nil {
				wildcard = true
			}
		}
	}
	if !wildcard && needsWeights(u) {
		// Weights to deduplicate and sort as the collation compares.
		up.hidden = len(leaves[0].Fields.Fields)
		for _, sel := range leaves {
			appendWeights(sel)
		}
	}
	root, err := up.planList(u.SelectList, nil, nil)
	if err != nil {
		return nil, err
	}
	if u.OrderBy != nil || u.Limit != nil {
		if len(root.Order) > 0 || root.Count != nil {
			root = &engine.Union{Inputs: []engine.UnionInput{root}, DistinctUpTo: -1, Hidden: up.hidden, MaxRows: root.MaxRows}
		}
		if err := up.orderLimit(root, u.SelectList, u.OrderBy, u.Limit); err != nil {
			return nil, err
		}
	}
	// meta nil: parts may live in other keyspaces than the first shard
	// knows, so prepared statements describe their columns at execution.
	return &Plan{Kind: KindSelect, Prim: root, Keyspaces: up.keyspaces, Cacheable: true, Tx: TxJoin}, nil
}

// leafSelects lists the SELECTs of a union tree, depth first.
func leafSelects(n ast.Node, out []*ast.SelectStmt) []*ast.SelectStmt {
	switch x := n.(type) {
	case *ast.SelectStmt:
		return append(out, x)
	case *ast.SetOprSelectList:
		for _, s := range x.Selects {
			out = leafSelects(s, out)
		}
	}
	return out
}

// needsWeights reports whether some level of the union deduplicates or
// sorts.
func needsWeights(u *ast.SetOprStmt) bool {
	if u.OrderBy != nil {
		return true
	}
	found := false
	var visit func(n ast.Node)
	visit = func(n ast.Node) {
		if l, ok := n.(*ast.SetOprSelectList); ok {
			if l.OrderBy != nil {
				found = true
			}
			for i, s := range l.Selects {
				if op := afterSetOperator(s); i > 0 && op != nil && *op != ast.UnionAll {
					found = true
				}
				visit(s)
			}
		}
	}
	visit(u.SelectList)
	return found
}

func afterSetOperator(n ast.Node) *ast.SetOprType {
	switch x := n.(type) {
	case *ast.SelectStmt:
		return x.AfterSetOperator
	case *ast.SetOprSelectList:
		return x.AfterSetOperator
	}
	return nil
}

// appendWeights appends WEIGHT_STRING(RTRIM(field)) for each field. Always
// the string weight: a union's parts may differ in type column by column
// (SELECT 1 UNION SELECT 'a'), and the union compares as the result type.
func appendWeights(sel *ast.SelectStmt) {
	n := len(sel.Fields.Fields)
	for i := 0; i < n; i++ {
		sel.Fields.Fields = append(sel.Fields.Fields, &ast.SelectField{Expr: stringWeightOf(sel.Fields.Fields[i].Expr)})
	}
}

// planList plans one level of the union: its parts, and its own ORDER BY
// and LIMIT (a parenthesized union's).
func (up *unionPlanner) planList(l *ast.SetOprSelectList, order *ast.OrderByClause, lim *ast.Limit) (*engine.Union, error) {
	un := &engine.Union{MaxRows: up.p.env.Limits().MaxMemoryRows, DistinctUpTo: -1, Hidden: up.hidden}
	for i, item := range l.Selects {
		if op := afterSetOperator(item); i > 0 && op != nil && *op != ast.UnionAll {
			if *op != ast.Union {
				return nil, engine.Unsupported("%s on sharded tables", op)
			}
			un.DistinctUpTo = i + 1
		}
		// (SELECT ...) is a list of one SELECT: the SELECT is the part.
		for {
			inner, ok := item.(*ast.SetOprSelectList)
			if !ok || len(inner.Selects) != 1 || inner.OrderBy != nil || inner.Limit != nil {
				break
			}
			item = inner.Selects[0]
		}
		switch x := item.(type) {
		case *ast.SelectStmt:
			in, err := up.planLeaf(x)
			if err != nil {
				return nil, err
			}
			un.Inputs = append(un.Inputs, in)
		case *ast.SetOprSelectList:
			// A parenthesized union: its ORDER BY counts only with a LIMIT.
			o := x.OrderBy
			if x.Limit == nil {
				o = nil
			}
			in, err := up.planList(x, o, x.Limit)
			if err != nil {
				return nil, err
			}
			un.Inputs = append(un.Inputs, in)
		default:
			return nil, engine.Unsupported("this UNION part on sharded tables")
		}
	}
	if err := up.orderLimit(un, l, order, lim); err != nil {
		return nil, err
	}
	return un, nil
}

// orderLimit sets the ORDER BY and LIMIT of a union level.
func (up *unionPlanner) orderLimit(un *engine.Union, l *ast.SetOprSelectList, order *ast.OrderByClause, lim *ast.Limit) error {
	p := up.p
	if order != nil {
		first := leafSelects(l, nil)[0]
		for _, item := range order.Items {
			i, err := unionColumn(first, item.Expr)
			if err != nil {
				return err
			}
			if up.hidden > 0 && i >= up.hidden {
				return engine.Unsupported("ORDER BY of a UNION on sharded tables by something other than a selected column")
			}
			un.Order = append(un.Order, engine.SortKey{Col: i, Weight: -1, Desc: item.Desc})
		}
	}
	if lim != nil {
		c, ok := p.valueOf(lim.Count)
		if !ok {
			return engine.Unsupported("a LIMIT that is not a number or parameter")
		}
		un.Count = &c
		if lim.Offset != nil {
			o, ok := p.valueOf(lim.Offset)
			if !ok {
				return engine.Unsupported("an OFFSET that is not a number or parameter")
			}
			un.Offset = &o
		}
	}
	return nil
}

// planLeaf plans one SELECT part: a Route, or a SelectMerge when it would
// need merging across shards.
func (up *unionPlanner) planLeaf(sel *ast.SelectStmt) (engine.UnionInput, error) {
	p := up.p
	refs, err := p.collectTables(sel)
	if err != nil {
		return nil, err
	}
	d, o, err := p.selectRoute(sel, refs)
	if err != nil {
		return nil, err
	}
	if d.shape == shapeJoin {
		return nil, d.why
	}
	var sel2 *ast.SelectStmt
	var p2 *planner
	if d.shape == shapeMerge {
		// The part may reach several shards: its merge is planned on a
		// copy taken before the route's template rewrites the part.
		if up.hidden > 0 && hasAggregate(sel.Fields) {
			// Weights of aggregates would be computed from their values
			// as literals, under the connection's collation.
			return nil, engine.Unsupported("aggregate functions across shards inside a UNION part that is deduplicated or sorted (use UNION ALL, or route the part to one shard)")
		}
		sel2, p2 = fork(p, sel)
	}
	plan, err := p.buildRoute(sel, refs, d, o)
	if err != nil {
		return nil, err
	}
	up.keyspaces = append(up.keyspaces, plan.Keyspaces...)
	r := plan.Prim.(*engine.Route)
	r.Rewrite = true // parts always run from their own template
	if sel2 == nil {
		return r, nil
	}
	sm, err := p2.planMergeOf(sel2, r)
	if err != nil {
		return nil, err
	}
	r.Merge = "" // the route now runs only when it reaches one shard
	return sm, nil
}

// unionColumn maps a UNION's ORDER BY item to a column of its first part.
func unionColumn(first *ast.SelectStmt, e ast.ExprNode) (int, error) {
	fields := first.Fields.Fields
	if pos, ok := e.(*ast.PositionExpr); ok {
		if pos.P != nil {
			return 0, errLiteralPosition
		}
		if pos.N >= 1 && pos.N <= len(fields) {
			return pos.N - 1, nil
		}
	}
	if v, ok := e.(*driver.ValueExpr); ok && v.Datum.Kind() == driver.KindInt64 {
		if n := int(v.Datum.GetInt64()); n >= 1 && n <= len(fields) {
			return n - 1, nil
		}
	}
	if c, ok := e.(*ast.ColumnNameExpr); ok {
		for i, f := range fields {
			if f.AsName.L == c.Name.Name.L {
				return i, nil
			}
			if col, ok := f.Expr.(*ast.ColumnNameExpr); ok && f.AsName.L == "" && col.Name.Name.L == c.Name.Name.L {
				return i, nil
			}
		}
	}
	if _, ok := e.(*driver.ParamMarkerExpr); ok {
		return 0, errLiteralPosition
	}
	return 0, engine.Unsupported("ORDER BY of a UNION on sharded tables by something other than a selected column")
}
