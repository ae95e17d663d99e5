package planner

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/shardgate/shardgate/router/engine"
)

// Planning a cross-shard join. The FROM clause is read as a left-deep chain
// of tables t0 JOIN t1 ON ... [LEFT] JOIN t2 ON ...; consecutive tables that
// a shard can join on its own (co-located on their sharding columns, a
// reference table, tables of one unsharded keyspace) form one leaf, which
// runs as one Route; the leaves are joined at the proxy, left-deep, by
// nested-loop Joins: ((L0 ⋈ L1) ⋈ L2). Each leaf query selects the columns
// the proxy needs from it: select items, join keys (with their collation
// weights) and the columns of conditions the proxy checks per batch.

// joinTable is one table of a cross-shard join, in FROM order.
type joinTable struct {
	ts    *ast.TableSource
	tn    *ast.TableName
	ref   *tableRef
	alias string
	// derived: a derived table each shard computes alone (derivedLocal);
	// inner are its tables.
	derived *ast.SelectStmt
	inner   []*tableRef
	left    bool           // LEFT JOIN of the tables before it
	on      []ast.ExprNode // its ON conjuncts, and WHERE conjuncts that an inner join may check as ON
	where   []ast.ExprNode // WHERE conjuncts to check after this LEFT JOIN
	leaf    int
}

// joinLeaf is a group of consecutive tables that run as one Route.
type joinLeaf struct {
	tables   []int
	from     ast.ResultSetNode
	conds    []ast.ExprNode     // WHERE of the leaf query
	items    []*ast.SelectField // fixed columns, in order
	itemKeys map[string]int     // plain columns already among items
	stars    []*ast.SelectField // wildcards, after the fixed columns
	starOf   []string           // the alias each wildcard expands
	nullable bool               // joined by a LEFT JOIN at the proxy
	// The proxy join that brings this leaf in (leaves after the first).
	innerKey, outerKey ast.ExprNode
	outerLeaf          int
	onFilter, filter   []ast.ExprNode
}

func (l *joinLeaf) mask() uint64 {
	var m uint64
	for _, t := range l.tables {
		m |= 1 << t
	}
	return m
}

// addItem adds a fixed column and returns its index among the leaf's items.
func (l *joinLeaf) addItem(f *ast.SelectField) int {
	l.items = append(l.items, f)
	return len(l.items) - 1
}

// addColumn adds a plain column once.
func (l *joinLeaf) addColumn(c *ast.ColumnNameExpr) int {
	key, _ := Restore(c)
	key = strings.ToLower(key)
	if i, ok := l.itemKeys[key]; ok {
		return i
	}
	i := l.addItem(&ast.SelectField{Expr: c})
	if l.itemKeys == nil {
		l.itemKeys = map[string]int{}
	}
	l.itemKeys[key] = i
	return i
}

type joinPlanner struct {
	p       *planner
	tables  []*joinTable
	byAlias map[string]int
	leaves  []*joinLeaf
	// counts are the per-row values of COUNT over a join: NULL when their
	// table is NULL-extended, which COUNT takes as 0.
	counts map[ast.ExprNode]ast.ExprNode
}

// flatten reads the FROM clause as a left-deep chain of tables.
func (jp *joinPlanner) flatten(n ast.ResultSetNode, using *[]*ast.ColumnName) error {
	switch x := n.(type) {
	case *ast.TableSource:
		if j, ok := x.Source.(*ast.Join); ok && x.AsName.L == "" {
			return jp.flatten(j, using)
		}
		return jp.addSource(x)
	case *ast.Join:
		if x.Right == nil {
			return jp.flatten(x.Left, using)
		}
		if x.NaturalJoin {
			return engine.Unsupported("a NATURAL join across shards (write ON)")
		}
		if x.Tp == ast.RightJoin {
			return engine.Unsupported("a RIGHT JOIN across shards whose left side is a join (write it as LEFT JOIN)")
		}
		if _, ok := x.Right.(*ast.TableSource); !ok {
			return engine.Unsupported("a cross-shard join with a parenthesized join on its right side")
		}
		if err := jp.flatten(x.Left, using); err != nil {
			return err
		}
		if err := jp.flatten(x.Right, using); err != nil {
			return err
		}
		return jp.joinConditions(x, using)
	}
	return engine.Unsupported("this join across shards")
}

// addSource adds a table, or a derived table each shard computes alone, to
// the chain.
func (jp *joinPlanner) addSource(x *ast.TableSource) error {
	src := x.Source
	if sq, ok := src.(*ast.SubqueryExpr); ok {
		src = sq.Query
	}
	t := &joinTable{ts: x, alias: x.AsName.L}
	switch s := src.(type) {
	case *ast.SelectStmt:
		inner, err := jp.p.derivedLocal(s)
		if err != nil {
			return err
		}
		if t.alias == "" {
			return engine.Unsupported("a derived table without an alias")
		}
		t.ref, t.derived, t.inner = &tableRef{alias: t.alias, ks: inner[0].ks}, s, inner
	case *ast.TableName:
		ref, err := jp.p.resolve(s)
		if err != nil {
			return err
		}
		if ref.sys || ref.ks == nil {
			return engine.Unsupported("a system table in a cross-shard join")
		}
		if t.alias == "" {
			t.alias = s.Name.L
		}
		ref.alias = t.alias
		t.tn, t.ref = s, ref
	default:
		return engine.Unsupported("a cross-shard join with this derived table (a UNION)")
	}
	if _, dup := jp.byAlias[t.alias]; dup {
		return engine.Unsupported("a cross-shard join naming table %s twice (give each an alias)", t.alias)
	}
	if t.tn != nil && len(jp.tables) >= 60 {
		return engine.Unsupported("a cross-shard join of more than 60 tables")
	}
	jp.byAlias[t.alias] = len(jp.tables)
	jp.tables = append(jp.tables, t)
	return nil
}

// joinConditions gives the table that join x brings in its kind (LEFT or
// inner) and its ON conjuncts; USING (c) is ON l.c = r.c.
func (jp *joinPlanner) joinConditions(x *ast.Join, using *[]*ast.ColumnName) error {
	t := jp.tables[len(jp.tables)-1]
	t.left = x.Tp == ast.LeftJoin
	if len(x.Using) > 0 {
		if len(jp.tables) != 2 {
			return engine.Unsupported("USING in a cross-shard join of more than two tables (write ON)")
		}
		*using = x.Using
		for _, c := range x.Using {
			t.on = append(t.on, &ast.BinaryOperationExpr{Op: opcode.EQ,
				L: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(jp.tables[0].alias), Name: c.Name}},
				R: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(t.alias), Name: c.Name}}})
		}
	}
	if x.On != nil {
		t.on = conjuncts(x.On.Expr, t.on)
	}
	return nil
}

// swapRightJoin plans `A RIGHT JOIN B ON c` (first in the FROM chain, A one
// table) as `B LEFT JOIN A ON c`, which means the same. An unqualified *
// becomes A.*, B.*, ... first, so that the columns keep the client's order.
// A RIGHT JOIN after other joins would need a join on the right side of a
// LEFT JOIN, which the left-deep planner refuses.
func swapRightJoin(sel *ast.SelectStmt) {
	if sel.From == nil || sel.From.TableRefs == nil {
		return
	}
	bottom := sel.From.TableRefs
	for {
		l, ok := bottom.Left.(*ast.Join)
		if !ok {
			break
		}
		bottom = l
	}
	if bottom.Tp != ast.RightJoin || bottom.Right == nil || bottom.NaturalJoin {
		return
	}
	left, ok := bottom.Left.(*ast.TableSource)
	if !ok {
		return
	}
	if _, isJoin := left.Source.(*ast.Join); isJoin {
		return
	}
	if sel.Fields != nil {
		var stars []*ast.SelectField
		eachJoinSource(sel.From.TableRefs, func(x *ast.TableSource) {
			w := &ast.WildCardField{Table: x.AsName}
			if tn, ok := x.Source.(*ast.TableName); ok && x.AsName.L == "" {
				w.Schema, w.Table = tn.Schema, tn.Name
			}
			stars = append(stars, &ast.SelectField{WildCard: w})
		})
		var fields []*ast.SelectField
		for _, f := range sel.Fields.Fields {
			if f.WildCard != nil && f.WildCard.Table.L == "" {
				fields = append(fields, stars...)
			} else {
				fields = append(fields, f)
			}
		}
		sel.Fields.Fields = fields
	}
	bottom.Left, bottom.Right, bottom.Tp = bottom.Right, bottom.Left, ast.LeftJoin
}

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

// planJoin plans a SELECT over tables that no single shard can join: a
// left-deep chain of INNER and LEFT joins (with ON or, for two tables,
// USING), WHERE, ORDER BY and LIMIT. cause is why no shard can join them;
// the join's refusals name it (joinRefusal).
func (p *planner) planJoin(sel *ast.SelectStmt, cause error) (*Plan, error) {
	plan, err := p.buildJoin(sel)
	if err != nil {
		return nil, joinRefusal(err, cause)
	}
	return plan, nil
}

// joinRefusal completes a refusal of the proxy join with why the statement
// needed one. Other errors pass as they are: the client's (a table that
// does not resolve), the planner's own, and errOrderWithStar, which refuses
// the statement as written.
func joinRefusal(err, cause error) error {
	if err == errOrderWithStar || !isNotSupported(err) {
		return err
	}
	return engine.Unsupported("%s (%s)", engine.RefusalText(err), engine.RefusalText(cause))
}

// buildJoin runs the phases of planJoin: collect the tables and their
// conditions, group them into leaves with their proxy join keys, place the
// select items and ORDER BY/LIMIT, make the proxy Joins and plan each
// leaf's query as a Route.
func (p *planner) buildJoin(sel *ast.SelectStmt) (*Plan, error) {
	jp, err := p.collectJoin(sel)
	if err != nil {
		return nil, err
	}
	if err := jp.groupLeaves(); err != nil {
		return nil, err
	}
	js := &engine.JoinSelect{MaxRows: p.env.Limits().MaxMemoryRows}
	if err := jp.selectOutputs(sel.Fields.Fields, js); err != nil {
		return nil, err
	}
	if err := jp.orderAndLimit(sel, js); err != nil {
		return nil, err
	}
	joins, err := jp.proxyJoins(js.MaxRows)
	if err != nil {
		return nil, err
	}
	kss, err := jp.assemble(sel, js, joins)
	if err != nil {
		return nil, err
	}
	// meta nil: the tables live on different shards, so prepared
	// statements describe their columns at execution.
	return &Plan{Kind: KindSelect, Prim: js, Keyspaces: kss, Cacheable: true, Tx: TxJoin}, nil
}

// collectJoin reads the join's tables (FROM as a left-deep chain, with
// their ON conjuncts) and places each WHERE conjunct with the table after
// which it can be checked.
func (p *planner) collectJoin(sel *ast.SelectStmt) (*joinPlanner, error) {
	if sel.From == nil || sel.GroupBy != nil || sel.Having != nil || sel.Distinct || hasAggregate(sel.Fields) || sel.With != nil {
		return nil, engine.Unsupported("a cross-shard join with aggregates, GROUP BY or DISTINCT")
	}
	j := sel.From.TableRefs
	if j == nil || j.Right == nil {
		return nil, engine.Unsupported("this join")
	}
	p.keepFieldNames(sel)
	jp := &joinPlanner{p: p, byAlias: map[string]int{}, counts: p.joinCounts}
	var using []*ast.ColumnName
	if err := jp.flatten(j, &using); err != nil {
		return nil, err
	}
	if err := jp.qualifyUsing(sel, using); err != nil {
		return nil, err
	}
	if err := jp.placeWhere(sel.Where); err != nil {
		return nil, err
	}
	return jp, nil
}

// qualifyUsing reads an unqualified column of USING (c) as the left
// table's (an inner or left join keeps its value).
func (jp *joinPlanner) qualifyUsing(sel *ast.SelectStmt, using []*ast.ColumnName) error {
	if len(using) == 0 {
		return nil
	}
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil && f.WildCard.Table.L == "" {
			return engine.Unsupported("SELECT * of a cross-shard join with USING (name the columns)")
		}
	}
	names := map[string]bool{}
	for _, c := range using {
		names[c.Name.L] = true
	}
	Walk(sel, func(x ast.Node) ast.Node {
		if c, ok := x.(*ast.ColumnNameExpr); ok && c.Name.Table.L == "" && names[c.Name.Name.L] {
			c.Name.Table = ast.NewCIStr(jp.tables[0].alias)
		}
		return x
	})
	return nil
}

// placeWhere gives each WHERE conjunct to the last table it reads: behind
// an inner join it means the same as its ON; behind a LEFT JOIN it filters
// the NULL-extended rows too (placeLeftWhere).
func (jp *joinPlanner) placeWhere(where ast.ExprNode) error {
	for _, c := range conjuncts(where, nil) {
		m, err := jp.tablesOf(c)
		if err != nil {
			return err
		}
		k := 0
		if m != 0 {
			k = 63 - bits.LeadingZeros64(m)
		}
		if t := jp.tables[k]; k == 0 || !t.left {
			t.on = append(t.on, c)
		} else {
			t.where = append(t.where, c)
		}
	}
	return nil
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

// selectOutputs places each select item with the leaf that computes it.
func (jp *joinPlanner) selectOutputs(fields []*ast.SelectField, js *engine.JoinSelect) error {
	for _, f := range fields {
		var err error
		if f.WildCard != nil {
			err = jp.selectWildcard(f.WildCard, js)
		} else {
			err = jp.selectExpr(f, js)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// selectWildcard expands `*` or `t.*` into the wildcards of the tables'
// leaves.
func (jp *joinPlanner) selectWildcard(w *ast.WildCardField, js *engine.JoinSelect) error {
	tables := jp.tables
	var ts []int
	switch w.Table.L {
	case "":
		for i := range tables {
			ts = append(ts, i)
		}
	default:
		i, ok := jp.byAlias[w.Table.L]
		if !ok || (w.Schema.L != "" && (tables[i].tn == nil || w.Schema.L != strings.ToLower(tables[i].tn.Schema.O))) {
			return engine.Unsupported("a wildcard of an unknown table")
		}
		ts = []int{i}
	}
	for _, i := range ts {
		l := jp.leaves[tables[i].leaf]
		for _, a := range l.starOf {
			if a == tables[i].alias {
				return engine.Unsupported("the same table's wildcard twice in a cross-shard join")
			}
		}
		js.Output = append(js.Output, engine.JoinOut{Leaf: tables[i].leaf, Item: len(l.stars), Star: true})
		l.stars = append(l.stars, &ast.SelectField{WildCard: &ast.WildCardField{Table: ast.NewCIStr(tables[i].alias)}})
		l.starOf = append(l.starOf, tables[i].alias)
	}
	return nil
}

// selectExpr has a select expression computed by the leaf of its tables.
func (jp *joinPlanner) selectExpr(f *ast.SelectField, js *engine.JoinSelect) error {
	li, err := jp.leafOfExpr(f.Expr)
	if err != nil {
		return err
	}
	if li < 0 {
		return engine.Unsupported("a select expression over tables that are joined at the proxy (select the columns)")
	}
	l := jp.leaves[li]
	if l.nullable && !jp.nullPropagating(f.Expr) {
		return engine.Unsupported("an expression over a table the proxy LEFT JOINs that is not NULL for a missing row (select the column)")
	}
	js.Output = append(js.Output, engine.JoinOut{Leaf: li, Item: l.addItem(f)})
	return nil
}

// orderAndLimit sorts and cuts the joined rows at the proxy.
func (jp *joinPlanner) orderAndLimit(sel *ast.SelectStmt, js *engine.JoinSelect) error {
	if sel.OrderBy != nil {
		for _, item := range sel.OrderBy.Items {
			col, err := joinOrderColumn(sel, item.Expr)
			if err == errOrderNotSelected {
				col, err = jp.hiddenOrderColumn(item.Expr, js)
			}
			if err != nil {
				return err
			}
			js.Order = append(js.Order, engine.SortKey{Col: col, Weight: -1, Desc: item.Desc})
		}
	}
	if sel.Limit == nil {
		return nil
	}
	c, ok := jp.p.valueOf(sel.Limit.Count)
	if !ok {
		return engine.Unsupported("a LIMIT that is not a number")
	}
	js.Count = &c
	if sel.Limit.Offset != nil {
		o, ok := jp.p.valueOf(sel.Limit.Offset)
		if !ok {
			return engine.Unsupported("an OFFSET that is not a number")
		}
		js.Offset = &o
	}
	return nil
}

// hiddenOrderColumn has an ORDER BY item that is not selected fetched by
// its leaf as a hidden column, cut before the client sees the row.
func (jp *joinPlanner) hiddenOrderColumn(e ast.ExprNode, js *engine.JoinSelect) (int, error) {
	li, err := jp.leafOfExpr(e)
	if err != nil {
		return 0, err
	}
	if li < 0 {
		return 0, engine.Unsupported("ORDER BY an expression over tables that are joined at the proxy (order by their columns)")
	}
	l := jp.leaves[li]
	if l.nullable && !jp.nullPropagating(e) {
		return 0, engine.Unsupported("ORDER BY an expression over a table the proxy LEFT JOINs that is not NULL for a missing row (order by the column)")
	}
	js.Output = append(js.Output, engine.JoinOut{Leaf: li, Item: l.addItem(&ast.SelectField{Expr: e})})
	js.Hidden++
	return len(js.Output) - 1, nil
}

// proxyJoins makes the Join that brings in each leaf after the first (at
// its index; Outer and Inner are set by assemble).
func (jp *joinPlanner) proxyJoins(maxRows int) ([]*engine.Join, error) {
	joins := make([]*engine.Join, len(jp.leaves))
	for li := 1; li < len(jp.leaves); li++ {
		jn, err := jp.proxyJoin(li, maxRows)
		if err != nil {
			return nil, err
		}
		joins[li] = jn
	}
	return joins, nil
}

// proxyJoin is the Join of leaf li: its keys (with collation weights:
// string keys match as the collation compares, 'émile' = 'Emile') and the
// conditions it checks per batch, with their columns as placeholders.
func (jp *joinPlanner) proxyJoin(li, maxRows int) (*engine.Join, error) {
	l := jp.leaves[li]
	ol := jp.leaves[l.outerLeaf]
	if ol.nullable && !jp.nullPropagating(l.outerKey) {
		return nil, engine.Unsupported("a join key over a table the proxy LEFT JOINs that is not NULL for a missing row")
	}
	jn := &engine.Join{Left: l.nullable, MaxRows: maxRows}
	jn.OuterKey = engine.JoinRef{Leaf: l.outerLeaf, Col: ol.addItem(&ast.SelectField{Expr: l.outerKey})}
	jn.OuterWeight = engine.JoinRef{Leaf: l.outerLeaf, Col: ol.addItem(&ast.SelectField{Expr: weightOf(l.outerKey)})}
	jn.InnerKey = l.addItem(&ast.SelectField{Expr: l.innerKey})
	jn.InnerWeight = l.addItem(&ast.SelectField{Expr: weightOf(l.innerKey)})
	var err error
	if !l.nullable {
		jn.Filter, err = jp.filterOf(append(l.onFilter, l.filter...))
		return jn, err
	}
	if jn.OnFilter, err = jp.filterOf(l.onFilter); err != nil {
		return nil, err
	}
	jn.Filter, err = jp.filterOf(l.filter)
	return jn, err
}

// assemble plans each leaf's query as a Route and chains them left-deep:
// leaf 0's Route is the first source, and each Join takes the source
// before it as its outer side and its leaf's Route as the inner. It
// returns the keyspaces the leaves reach.
func (jp *joinPlanner) assemble(sel *ast.SelectStmt, js *engine.JoinSelect, joins []*engine.Join) ([]string, error) {
	var kss []string
	for li, l := range jp.leaves {
		refs, derived := jp.leafTables(l)
		var key ast.ExprNode
		if li > 0 {
			key = l.innerKey
		}
		r, err := jp.p.leafRoute(jp.leafQuery(sel, l, key), refs, l.conds, key, derived)
		if err != nil {
			return nil, fmt.Errorf("leaf %d of a cross-shard join: %w", li, err)
		}
		js.Leaves = append(js.Leaves, engine.JoinLeafShape{Fixed: len(l.items), Stars: l.starOf})
		if li == 0 {
			js.EvalShard = r.Keyspace.Shards[0]
			js.Source = r
		} else {
			joins[li].Outer, joins[li].Inner, joins[li].EvalShard = js.Source, r, js.EvalShard
			js.Source = joins[li]
		}
		if !containsString(kss, r.Keyspace.Name) {
			kss = append(kss, r.Keyspace.Name)
		}
	}
	return kss, nil
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

func joinOrderColumn(sel *ast.SelectStmt, e ast.ExprNode) (int, error) {
	fields := sel.Fields.Fields
	for _, f := range fields {
		if f.WildCard != nil {
			return 0, errOrderWithStar
		}
	}
	if pos, ok := e.(*ast.PositionExpr); ok && pos.P == nil && pos.N >= 1 && pos.N <= len(fields) {
		return pos.N - 1, nil
	}
	want, err := Restore(e)
	if err != nil {
		return 0, err
	}
	for i, f := range fields {
		if c, ok := e.(*ast.ColumnNameExpr); ok && c.Name.Table.L == "" && f.AsName.L == c.Name.Name.L {
			return i, nil
		}
		if got, err := Restore(f.Expr); err == nil && strings.EqualFold(got, want) {
			return i, nil
		}
	}
	return 0, errOrderNotSelected
}

// errOrderNotSelected: planJoin fetches the ORDER BY item as a hidden
// column.
var errOrderNotSelected = engine.Unsupported("ORDER BY a column that is not selected, on a cross-shard join")

// errOrderWithStar refuses the statement as written, without the reason it
// needed a join (joinRefusal).
var errOrderWithStar = engine.Unsupported("ORDER BY on a cross-shard join with SELECT * (name the columns)")

// planJoinAggregate plans GROUP BY, aggregates or DISTINCT over a
// cross-shard join: the join produces one row per joined pair with each
// aggregate's per-row value (COUNT(x) as IF(x IS NULL, 0, 1), SUM(x) and
// MIN/MAX(x) as x), and SelectMerge sorts those rows by the group keys and
// combines them as it combines shard partial results.
func (p *planner) planJoinAggregate(sel *ast.SelectStmt, cause error) (*Plan, error) {
	p.keepFieldNames(sel)
	sm, err := p.planMerge(sel, nil)
	if err != nil {
		return nil, err
	}
	sel.GroupBy, sel.Having, sel.OrderBy, sel.Limit, sel.Distinct = nil, nil, nil, nil, false
	p.joinCounts = map[ast.ExprNode]ast.ExprNode{}
	for _, f := range sel.Fields.Fields {
		if f.Expr != nil {
			f.Expr = replaceAggregates(f.Expr, func(agg *ast.AggregateFuncExpr) ast.ExprNode {
				e := perRowAggregate(agg)
				if strings.EqualFold(agg.F, "count") {
					p.joinCounts[e] = agg.Args[0]
				}
				return e
			})
		}
	}
	plan, err := p.planJoin(sel, cause)
	if err != nil {
		return nil, err
	}
	sm.Join = plan.Prim.(*engine.JoinSelect)
	plan.Prim = sm
	return plan, nil
}

// perRowAggregate is an aggregate's contribution of one row.
func perRowAggregate(agg *ast.AggregateFuncExpr) ast.ExprNode {
	arg := agg.Args[0]
	if strings.EqualFold(agg.F, "count") {
		return &ast.FuncCallExpr{FnName: ast.NewCIStr("IF"), Args: []ast.ExprNode{
			&ast.IsNullExpr{Expr: arg}, ast.NewValueExpr(int64(0), "", ""), ast.NewValueExpr(int64(1), "", "")}}
	}
	return arg
}

// derivedLocal checks that a derived table means the same computed on each
// shard over its own rows and concatenated: one keyspace; at most one
// sharded table (with reference tables); no LIMIT; grouping, aggregates
// and DISTINCT only by that table's sharding column (each group lives on
// one shard). It returns the derived table's tables.
func (p *planner) derivedLocal(sub *ast.SelectStmt) ([]*tableRef, error) {
	refuse := func(why string) ([]*tableRef, error) {
		return nil, engine.Unsupported("a cross-shard join with a derived table %s", why)
	}
	if sub.With != nil || sub.From == nil {
		return refuse("with WITH or without FROM")
	}
	plain := true
	Walk(sub, func(x ast.Node) ast.Node {
		switch n := x.(type) {
		case *ast.SubqueryExpr, *ast.WindowFuncExpr, *ast.SetOprStmt:
			plain = false
		case *ast.TableSource:
			if _, ok := n.Source.(*ast.TableName); !ok {
				plain = false
			}
		case *ast.SelectStmt:
			if n != sub {
				plain = false
			}
		}
		return x
	})
	if !plain {
		return refuse("holding subqueries, derived tables or window functions")
	}
	refs, err := p.collectTables(sub)
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return refuse("without tables")
	}
	for _, r := range refs {
		if r.ks == nil {
			return refuse("over system tables")
		}
	}
	ks, err := keyspaceOf(refs)
	if err != nil {
		return refuse("over several keyspaces")
	}
	var sharded []*tableRef
	for _, r := range refs {
		if r.sharded() {
			sharded = append(sharded, r)
		}
	}
	if !ks.Sharded || len(sharded) == 0 {
		return refs, nil // one shard, or reference tables: any shard has all rows
	}
	if len(sharded) > 1 {
		return refuse("joining several sharded tables")
	}
	if checkOuterJoins(sub, refs) != nil {
		return refuse("keeping the rows of a reference table in an outer join")
	}
	if sub.Limit != nil {
		return refuse("with LIMIT")
	}
	s := sharded[0]
	isShardCol := func(e ast.ExprNode) bool {
		c, ok := e.(*ast.ColumnNameExpr)
		return ok && c.Name.Name.L == s.tbl.Column && (c.Name.Table.L == "" || c.Name.Table.L == s.alias)
	}
	if sub.GroupBy != nil || sub.Having != nil || hasAggregate(sub.Fields) {
		local := false
		if sub.GroupBy != nil && !sub.GroupBy.Rollup {
			for _, item := range sub.GroupBy.Items {
				if isShardCol(item.Expr) {
					local = true
				}
			}
		}
		if !local {
			return refuse("that does not group by the sharding column " + s.tbl.Column)
		}
	}
	if sub.Distinct {
		local := false
		for _, f := range sub.Fields.Fields {
			if f.WildCard != nil || (f.Expr != nil && isShardCol(f.Expr)) {
				local = true
			}
		}
		if !local {
			return refuse("with DISTINCT that does not select the sharding column " + s.tbl.Column)
		}
	}
	return refs, nil
}
