package planner

import (
	"math/bits"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/shardgate/shardgate/router/engine"
)

// The leaves of a cross-shard join: which tables one shard can join alone,
// the keys that link a leaf to the ones before it, and each leaf's query.

// tablesOf returns the tables an expression reads, as a bit set.
func (jp *joinPlanner) tablesOf(n ast.Node) (uint64, error) {
	var m uint64
	var err error
	fail := func(e error) {
		if err == nil {
			err = e
		}
	}
	Walk(n, func(x ast.Node) ast.Node {
		switch c := x.(type) {
		case *ast.ColumnNameExpr:
			if c.Name.Table.L == "" {
				fail(engine.Unsupported("unqualified column %s in a cross-shard join (qualify it with its table)", c.Name.Name.O))
				return x
			}
			i, ok := jp.byAlias[c.Name.Table.L]
			if !ok {
				fail(engine.Unsupported("column %s.%s of no table of this cross-shard join", c.Name.Table.O, c.Name.Name.O))
				return x
			}
			m |= 1 << i
		case *ast.SubqueryExpr:
			fail(engine.Unsupported("a subquery in a cross-shard join"))
		case *ast.DefaultExpr, *ast.ValuesExpr, *ast.WindowFuncExpr:
			fail(engine.Unsupported("this expression in a cross-shard join"))
		}
		return x
	})
	return m, err
}

// leafOf returns the leaf holding every table of m, or -1.
func (jp *joinPlanner) leafOf(m uint64) int {
	if m == 0 {
		return 0
	}
	l := jp.tables[bits.TrailingZeros64(m)].leaf
	if m&^jp.leaves[l].mask() != 0 {
		return -1
	}
	return l
}

// leafOfExpr returns the leaf holding every table e reads, or -1.
func (jp *joinPlanner) leafOfExpr(e ast.Node) (int, error) {
	m, err := jp.tablesOf(e)
	if err != nil {
		return 0, err
	}
	return jp.leafOf(m), nil
}

// linkEquality reports whether conds hold an equality between the table
// with bit t and the tables of m (a condition NULL rejects on both sides).
func (jp *joinPlanner) linkEquality(conds []ast.ExprNode, t, m uint64) (bool, error) {
	for _, c := range conds {
		b, ok := c.(*ast.BinaryOperationExpr)
		if !ok || b.Op != opcode.EQ {
			continue
		}
		l, r, err := jp.sidesOf(b)
		if err != nil {
			return false, err
		}
		if (l == t && r != 0 && r&^m == 0) || (r == t && l != 0 && l&^m == 0) {
			return true, nil
		}
	}
	return false, nil
}

// sidesOf returns the tables each side of a comparison reads.
func (jp *joinPlanner) sidesOf(b *ast.BinaryOperationExpr) (l, r uint64, err error) {
	if l, err = jp.tablesOf(b.L); err != nil {
		return 0, 0, err
	}
	r, err = jp.tablesOf(b.R)
	return l, r, err
}

// tryMerge adds table i to the last leaf when a shard can join them: same
// keyspace, co-located or a reference table, and a join that means the same
// run inside the leaf as at the proxy.
func (jp *joinPlanner) tryMerge(i int) (bool, error) {
	l := jp.leaves[len(jp.leaves)-1]
	t := jp.tables[i]
	if t.derived != nil || jp.tables[l.tables[0]].derived != nil {
		return false, nil // a derived table is a leaf of its own
	}
	lm, tm := l.mask(), uint64(1)<<i
	var inside, outside []ast.ExprNode
	for _, c := range t.on {
		m, err := jp.tablesOf(c)
		if err != nil {
			return false, err
		}
		if m&^(lm|tm) == 0 {
			inside = append(inside, c)
		} else {
			outside = append(outside, c)
		}
	}
	// X ⟕ (L ⟕ t) = (X ⟕ L) ⟕ t needs t's ON to reject a NULL-extended L;
	// an inner t would drop X's rows that found no L.
	if (t.left && len(outside) > 0) || (l.nullable && !t.left) {
		return false, nil
	}
	if linked, err := jp.linkEquality(inside, tm, lm); err != nil || !linked {
		return false, err
	}
	var refs []*tableRef
	for _, k := range l.tables {
		refs = append(refs, jp.tables[k].ref)
	}
	refs = append(refs, t.ref)
	ks, err := keyspaceOf(refs)
	if err != nil || ks == nil {
		return false, nil
	}
	tp := ast.CrossJoin
	if t.left {
		tp = ast.LeftJoin
	}
	from := &ast.Join{Left: l.from, Right: t.ts, Tp: tp, On: &ast.OnCondition{Expr: andAll(inside)}}
	if ks.Sharded {
		if checkColocated(from, nil, refs) != nil || checkOuterJoins(from, refs) != nil {
			return false, nil
		}
	}
	l.from = from
	l.tables = append(l.tables, i)
	l.filter = append(l.filter, outside...) // inner join: checked once the leaf is joined
	t.leaf = len(jp.leaves) - 1
	return true, nil
}

// groupLeaves groups consecutive tables a shard joins on its own into
// leaves. When that is all of them (USING, which the router does not read
// as co-location), each table is a leaf.
func (jp *joinPlanner) groupLeaves() error {
	if err := jp.buildLeaves(true); err != nil {
		return err
	}
	if len(jp.leaves) < 2 {
		if err := jp.buildLeaves(false); err != nil {
			return err
		}
	}
	if len(jp.leaves) < 2 {
		return engine.Unsupported("this join")
	}
	return jp.placeLeftWhere()
}

// placeLeftWhere puts a WHERE conjunct behind a LEFT JOIN in the leaf query
// when the leaf's rows are never NULL-extended at the proxy, else it is
// checked after the proxy join that brings the leaf in.
func (jp *joinPlanner) placeLeftWhere() error {
	for _, t := range jp.tables {
		l := jp.leaves[t.leaf]
		for _, c := range t.where {
			li, err := jp.leafOfExpr(c)
			if err != nil {
				return err
			}
			if li == t.leaf && !l.nullable {
				l.conds = append(l.conds, c)
			} else {
				l.filter = append(l.filter, c)
			}
		}
	}
	return nil
}

// buildLeaves groups the tables into leaves (merging consecutive tables a
// shard can join when merge is set); every other table is a leaf of its
// own (addLeaf).
func (jp *joinPlanner) buildLeaves(merge bool) error {
	for _, t := range jp.tables {
		t.leaf = 0
	}
	t0 := jp.tables[0]
	jp.leaves = []*joinLeaf{{tables: []int{0}, from: t0.ts, conds: append([]ast.ExprNode(nil), t0.on...)}}
	for i := 1; i < len(jp.tables); i++ {
		if merge {
			merged, err := jp.tryMerge(i)
			if err != nil {
				return err
			}
			if merged {
				continue
			}
		}
		if err := jp.addLeaf(i); err != nil {
			return err
		}
	}
	return nil
}

// addLeaf makes table i a leaf joined at the proxy on the key joinKey
// chooses; its other ON conjuncts go to its query when they read only it,
// else the proxy checks them per batch.
func (jp *joinPlanner) addLeaf(i int) error {
	t := jp.tables[i]
	l := &joinLeaf{tables: []int{i}, from: t.ts, nullable: t.left}
	t.leaf = len(jp.leaves)
	jp.leaves = append(jp.leaves, l)
	best, err := jp.joinKey(i, l)
	if err != nil {
		return err
	}
	for ci, c := range t.on {
		if ci == best {
			continue
		}
		m, err := jp.tablesOf(c)
		if err != nil {
			return err
		}
		if m == uint64(1)<<i {
			l.conds = append(l.conds, c) // the inner table's own: in its query
		} else {
			l.onFilter = append(l.onFilter, c)
		}
	}
	if best < 0 {
		if t.left {
			return engine.Unsupported("a cross-shard LEFT JOIN without an equality between its table and the tables before it")
		}
		// A cross join: every row matches every row, through the same
		// machinery with a constant key on both sides.
		l.innerKey, l.outerKey = ast.NewValueExpr(int64(1), "", ""), ast.NewValueExpr(int64(1), "", "")
	}
	return nil
}

// joinKey chooses the key of the proxy join that brings in table i (leaf
// l): an equality between the table and the columns of one earlier leaf;
// preferably the table's sharding column, which routes each batch's IN
// list. It returns the equality's index among the table's ON conjuncts, -1
// when there is none.
func (jp *joinPlanner) joinKey(i int, l *joinLeaf) (int, error) {
	t, tm := jp.tables[i], uint64(1)<<i
	best := -1
	for ci, c := range t.on {
		b, ok := c.(*ast.BinaryOperationExpr)
		if !ok || b.Op != opcode.EQ {
			continue
		}
		lm, rm, err := jp.sidesOf(b)
		if err != nil {
			return -1, err
		}
		inner, outer := b.R, b.L
		if lm == tm {
			lm, rm, inner, outer = rm, lm, b.L, b.R
		}
		if rm != tm || lm == 0 || lm&tm != 0 || jp.leafOf(lm) < 0 {
			continue
		}
		if best < 0 || isShardingColumn(inner, t) {
			best = ci
			l.innerKey, l.outerKey, l.outerLeaf = inner, outer, jp.leafOf(lm)
		}
	}
	return best, nil
}

// leafTables returns the tables of a leaf, and whether it is a derived
// table (then the tables are the derived table's).
func (jp *joinPlanner) leafTables(l *joinLeaf) (refs []*tableRef, derived bool) {
	for _, t := range l.tables {
		if jp.tables[t].derived != nil {
			refs, derived = append(refs, jp.tables[t].inner...), true
			continue
		}
		refs = append(refs, jp.tables[t].ref)
	}
	return refs, derived
}

// leafQuery composes a leaf's query: its fixed columns then its wildcards,
// its tables, its own conditions and, for an inner leaf (key set), the IN
// list of each batch's keys.
func (jp *joinPlanner) leafQuery(sel *ast.SelectStmt, l *joinLeaf, key ast.ExprNode) *ast.SelectStmt {
	fields := append(append([]*ast.SelectField(nil), l.items...), l.stars...)
	where := l.conds
	if key != nil {
		where = append(where, &ast.PatternInExpr{Expr: key, List: []ast.ExprNode{ast.NewValueExpr(engine.PhList, "", "")}})
	}
	from, ok := l.from.(*ast.Join)
	if !ok {
		from = &ast.Join{Left: l.from}
	}
	return &ast.SelectStmt{SelectStmtOpts: sel.SelectStmtOpts, Kind: ast.SelectStmtKindSelect,
		Fields: &ast.FieldList{Fields: fields},
		From:   &ast.TableRefsClause{TableRefs: from},
		Where:  andAll(where)}
}

func isShardingColumn(e ast.ExprNode, t *joinTable) bool {
	c, ok := e.(*ast.ColumnNameExpr)
	return ok && t.ref.sharded() && c.Name.Name.L == t.ref.tbl.Column
}

// filterOf turns conditions checked at the proxy into a template whose
// columns are placeholders for joinRefs, added to their leaves' items.
func (jp *joinPlanner) filterOf(conds []ast.ExprNode) (*engine.JoinFilter, error) {
	if len(conds) == 0 {
		return nil, nil
	}
	f := &engine.JoinFilter{}
	cond := ast.ExprNode(&ast.ParenthesesExpr{Expr: andAll(conds)})
	var err error
	Walk(cond, func(x ast.Node) ast.Node {
		c, ok := x.(*ast.ColumnNameExpr)
		if !ok || err != nil {
			return x
		}
		var li int
		if li, err = jp.leafOfExpr(c); err != nil || li < 0 {
			return x
		}
		ref := engine.JoinRef{Leaf: li, Col: jp.leaves[li].addColumn(c)}
		n := -1
		for i, r := range f.Cols {
			if r == ref {
				n = i
			}
		}
		if n < 0 {
			n = len(f.Cols)
			f.Cols = append(f.Cols, ref)
		}
		return ast.NewValueExpr(colPlaceholder(n), "", "")
	})
	if err != nil {
		return nil, err
	}
	f.Cond, err = jp.p.templateOf(cond)
	return f, err
}

// nullPropagating reports whether e is NULL when the columns it reads are
// NULL (as for a row the proxy NULL-extends): columns, arithmetic, and
// the functions below over them.
func (jp *joinPlanner) nullPropagating(e ast.ExprNode) bool {
	if arg, ok := jp.counts[e]; ok {
		// COUNT(arg)'s per-row value: COUNT takes its NULL as 0, right
		// when arg is NULL for a missing row too.
		return jp.nullPropagating(arg)
	}
	hasCol := false
	var ok func(e ast.ExprNode) bool
	ok = func(e ast.ExprNode) bool {
		switch x := e.(type) {
		case *ast.ColumnNameExpr:
			hasCol = true
			return true
		case *ast.ParenthesesExpr:
			return ok(x.Expr)
		case *ast.UnaryOperationExpr:
			return x.Op == opcode.Minus && ok(x.V)
		case *ast.BinaryOperationExpr:
			switch x.Op {
			case opcode.Plus, opcode.Minus, opcode.Mul, opcode.Div, opcode.IntDiv, opcode.Mod:
				return ok(x.L) && ok(x.R)
			}
			return false
		case *ast.FuncCallExpr:
			if w, isWeight := weightArg(x); isWeight {
				// weightOf: NULL, or the string weight, by the type alone.
				return ok(w)
			}
			switch x.FnName.L {
			case "weight_string", "rtrim", "ltrim", "trim", "upper", "lower", "ucase", "lcase", "abs", "length", "char_length", "round", "floor", "ceil", "ceiling", "date", "year", "month":
				for _, a := range x.Args {
					if !ok(a) {
						return false
					}
				}
				return true
			}
			return false
		case ast.ValueExpr:
			return x.GetValue() != nil
		}
		return false
	}
	return ok(e) && hasCol
}

// leafRoute plans one leaf's query as a Route; for the inner side of a
// proxy join, a key on the first table's sharding column routes each
// batch's IN list.
func (p *planner) leafRoute(sel *ast.SelectStmt, refs []*tableRef, conds []ast.ExprNode, key ast.ExprNode, derived bool) (*engine.Route, error) {
	ks := refs[0].ks
	r := &engine.Route{Keyspace: ks, Opcode: engine.RouteUnsharded, Rewrite: true}
	if ks.Sharded {
		r.Opcode = engine.RouteAnyShard
		if anySharded(refs) {
			r.Opcode = engine.RouteScatter
			head := refs[0]
			if derived {
				// A derived table's columns are not its tables': every
				// shard computes its part.
			} else if key == nil {
				// The first leaf: routed by its WHERE.
				if rt := p.findRouting(andAll(conds), refs); rt != nil {
					r.Opcode, r.Vindex, r.Values = engine.RouteEqual, rt.table.tbl.Vindex, rt.values
					if rt.in != nil {
						r.Opcode = engine.RouteIn
						rt.in.List = []ast.ExprNode{ast.NewValueExpr(engine.PhList, "", "")}
					}
				}
			} else if c, ok := key.(*ast.ColumnNameExpr); ok && head.sharded() && c.Name.Name.L == head.tbl.Column {
				// An inner leaf's list is the batch's keys (Values at
				// execution): routed by them when they are the sharding
				// column, else sent to every shard.
				r.Opcode, r.Vindex = engine.RouteIn, head.tbl.Vindex
			}
		}
	}
	qualifyForShards(refs)
	specialFuncs(sel)
	var err error
	r.Query, err = p.templateOf(sel)
	return r, err
}

func andAll(conds []ast.ExprNode) ast.ExprNode {
	var e ast.ExprNode
	for _, c := range conds {
		if e == nil {
			e = c
		} else {
			e = &ast.BinaryOperationExpr{Op: opcode.LogicAnd, L: e, R: c}
		}
	}
	return e
}
