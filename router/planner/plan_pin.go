package planner

import (
	"fmt"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/shardgate/shardgate/router/engine"
)

// Pinning: a statement all of whose sharded table references are held to
// one keyspace id by equalities runs on one shard as written, whatever it
// holds (subqueries, derived tables, CTEs, window functions, LIMIT in a
// derived table). For each sharded table reference the analysis proves that
// every row of it that can change the result has its sharding column equal
// to a value of the statement (a literal or a parameter): the rows of the
// table that pass the filters of its query block. Then the shard that owns
// those values holds every such row, and it answers exactly what one server
// holding all rows answers. The values are bind values, known only at
// execution: the Route checks that they all map to its shard (pinsAgree)
// and otherwise runs the statement's plan without pinning.
//
// The proof follows equalities between columns and values, as a graph whose
// edge X → Y means "every row that counts of Y's table has Y = X":
//
//   - a conjunct `Y = X` of a block's WHERE, or of the ON of an inner join,
//     restricts the rows of the block (both ways between its own columns;
//     from an enclosing block's column, a correlation, into the block only);
//   - the ON of a LEFT JOIN restricts only the rows of its right side (RIGHT
//     JOIN: its left side), never the side it keeps;
//   - a derived table's (or CTE's) column is the column it selects; when the
//     derived table only filters and projects, a restriction of its column
//     restricts the selected column too.
//
// A table is pinned when a value reaches its sharding column. NULL never
// equals anything, so rows NULL-extended by an outer join or an empty scalar
// aggregate never need another shard. Everything else (OR, IN lists,
// HAVING, NOT) proves nothing, and a table left unproven keeps the usual
// planning.

type pinBlock struct {
	parent  *pinBlock // the enclosing block of a subquery (correlation)
	sources []*pinSource
	ctes    map[string]*pinCTE
}

type pinCTE struct {
	sel   *ast.SelectStmt
	block *pinBlock
	plain bool
}

// pinSource is one FROM item of a block.
type pinSource struct {
	alias string
	ref   *tableRef
	block *pinBlock // the block it sits in
	// cols are the columns the analysis knows: a table's sharding column,
	// a derived table's selected columns.
	cols map[string]int
}

type pinGraph struct {
	p      *planner
	byName map[*ast.TableName]*tableRef
	edges  [][]int
	consts map[int]engine.ValueRef // node -> the value it stands for
	tables map[*tableRef]int
	root   *pinBlock
	inRoot map[*tableRef]bool // tables of the outer SELECT's own FROM
	fail   bool
}

func (g *pinGraph) node() int {
	g.edges = append(g.edges, nil)
	return len(g.edges) - 1
}

func (g *pinGraph) edge(from, to int) { g.edges[from] = append(g.edges[from], to) }

func (s *pinSource) col(g *pinGraph, name string) int {
	if n, ok := s.cols[name]; ok {
		return n
	}
	n := g.node()
	s.cols[name] = n
	return n
}

// pinsOf returns the values that pin every sharded table of stmt (a
// SELECT or a UNION) to one keyspace id, or ok=false. single reports that
// the statement's only sharded table is in the outer SELECT's own FROM (the
// usual routing covers it).
func (p *planner) pinsOf(stmt ast.Node, refs []*tableRef) (pins []engine.PinValue, single bool, ok bool) {
	g := &pinGraph{p: p, byName: map[*ast.TableName]*tableRef{}, consts: map[int]engine.ValueRef{},
		tables: map[*tableRef]int{}, inRoot: map[*tableRef]bool{}}
	for _, r := range refs {
		g.byName[r.name] = r
	}
	switch s := stmt.(type) {
	case *ast.SelectStmt:
		g.root = g.block(s, nil, nil)
		for _, src := range g.root.sources {
			if src.ref != nil {
				g.inRoot[src.ref] = true
			}
		}
	case *ast.SetOprStmt:
		g.setOpr(s, nil, nil)
	default:
		return nil, false, false
	}
	if g.fail {
		return nil, false, false
	}
	// Which values reach which nodes.
	reach := map[int][]int{} // node -> value nodes reaching it
	for c := range g.consts {
		seen := map[int]bool{c: true}
		queue := []int{c}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			reach[n] = append(reach[n], c)
			for _, m := range g.edges[n] {
				if !seen[m] {
					seen[m] = true
					queue = append(queue, m)
				}
			}
		}
	}
	seenVal := map[string]bool{}
	nsharded := 0
	for _, r := range refs {
		if !r.sharded() {
			continue
		}
		nsharded++
		n, found := g.tables[r]
		if !found || len(reach[n]) == 0 {
			return nil, false, false
		}
		for _, c := range reach[n] {
			v := g.consts[c]
			k := fmt.Sprintf("%s/%s", r.tbl.VindexName, v)
			if !seenVal[k] {
				seenVal[k] = true
				pins = append(pins, engine.PinValue{Vindex: r.tbl.Vindex, Value: v})
			}
		}
	}
	if nsharded == 0 {
		return nil, false, false
	}
	single = nsharded == 1
	for _, r := range refs {
		if r.sharded() && !g.inRoot[r] {
			single = false
		}
	}
	return pins, single, true
}

// setOpr analyzes the SELECTs of a UNION: each is a block of its own.
func (g *pinGraph) setOpr(u *ast.SetOprStmt, parent *pinBlock, ctes map[string]*pinCTE) {
	ctes = g.with(u.With, ctes)
	var visit func(n ast.Node)
	visit = func(n ast.Node) {
		switch x := n.(type) {
		case *ast.SelectStmt:
			g.block(x, parent, ctes)
		case *ast.SetOprSelectList:
			ctes := g.with(x.With, ctes)
			for _, s := range x.Selects {
				if sel, ok := s.(*ast.SelectStmt); ok {
					g.block(sel, parent, ctes)
				} else {
					visit(s)
				}
			}
		case *ast.SetOprStmt:
			g.setOpr(x, parent, ctes)
		default:
			g.fail = true
		}
	}
	visit(u.SelectList)
}

// with analyzes the CTEs of a WITH clause; their blocks see no outer
// columns.
func (g *pinGraph) with(w *ast.WithClause, ctes map[string]*pinCTE) map[string]*pinCTE {
	if w == nil {
		return ctes
	}
	if w.IsRecursive {
		g.fail = true
		return ctes
	}
	out := map[string]*pinCTE{}
	for k, v := range ctes {
		out[k] = v
	}
	for _, cte := range w.CTEs {
		sel, ok := cte.Query.Query.(*ast.SelectStmt)
		if !ok || len(cte.ColNameList) > 0 {
			g.fail = true
			return out
		}
		out[cte.Name.L] = &pinCTE{sel: sel, block: g.block(sel, nil, out), plain: plainSelect(sel)}
	}
	return out
}

// plainSelect: a SELECT that only filters and projects, so that its rows
// that count are the rows of its output that count.
func plainSelect(sel *ast.SelectStmt) bool {
	return sel.GroupBy == nil && sel.Having == nil && sel.Limit == nil && !hasAggregate(sel.Fields) && !hasWindow(sel.Fields)
}

// block analyzes one SELECT.
func (g *pinGraph) block(sel *ast.SelectStmt, parent *pinBlock, ctes map[string]*pinCTE) *pinBlock {
	b := &pinBlock{parent: parent}
	b.ctes = g.with(sel.With, ctes)
	if sel.From != nil && sel.From.TableRefs != nil {
		g.from(b, sel.From.TableRefs)
		g.on(b, sel.From.TableRefs)
	}
	g.restrict(b, conjuncts(sel.Where, nil), b.sources)
	for _, n := range []ast.Node{sel.Fields, sel.Where, sel.GroupBy, sel.Having, sel.OrderBy, sel.Limit} {
		if n != nil && !isNilNode(n) {
			g.subqueries(b, n)
		}
	}
	if len(sel.WindowSpecs) > 0 {
		for i := range sel.WindowSpecs {
			g.subqueries(b, &sel.WindowSpecs[i])
		}
	}
	return b
}

func isNilNode(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.FieldList:
		return x == nil
	case *ast.GroupByClause:
		return x == nil
	case *ast.HavingClause:
		return x == nil
	case *ast.OrderByClause:
		return x == nil
	case *ast.Limit:
		return x == nil
	}
	return n == nil
}

// from registers the FROM items of a block.
func (g *pinGraph) from(b *pinBlock, n ast.ResultSetNode) {
	switch x := n.(type) {
	case *ast.Join:
		g.from(b, x.Left)
		if x.Right != nil {
			g.from(b, x.Right)
		}
	case *ast.TableSource:
		switch src := x.Source.(type) {
		case *ast.TableName:
			alias := x.AsName.L
			if alias == "" {
				alias = src.Name.L
			}
			s := &pinSource{alias: alias, block: b, cols: map[string]int{}}
			if cte := b.ctes[src.Name.L]; cte != nil && src.Schema.L == "" {
				g.derived(s, cte.sel, cte.block, cte.plain)
			} else if ref := g.byName[src]; ref != nil {
				s.ref = ref
				if ref.sharded() {
					g.tables[ref] = s.col(g, ref.tbl.Column)
				}
			}
			b.sources = append(b.sources, s)
		case *ast.SelectStmt:
			s := &pinSource{alias: x.AsName.L, block: b, cols: map[string]int{}}
			g.derived(s, src, g.block(src, nil, b.ctes), plainSelect(src))
			b.sources = append(b.sources, s)
		case *ast.SetOprStmt:
			g.setOpr(src, nil, b.ctes)
			b.sources = append(b.sources, &pinSource{alias: x.AsName.L, block: b, cols: map[string]int{}})
		case *ast.Join:
			g.from(b, src)
		default:
			g.fail = true
		}
	default:
		g.fail = true
	}
}

// derived links the columns of derived table s to the columns its SELECT
// (analyzed as block db) selects.
func (g *pinGraph) derived(s *pinSource, sel *ast.SelectStmt, db *pinBlock, plain bool) {
	link := func(name string, inner int) {
		outer := s.col(g, name)
		g.edge(inner, outer)
		if plain {
			g.edge(outer, inner)
		}
	}
	if sel.Fields == nil {
		return
	}
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			for _, is := range db.sources {
				if f.WildCard.Table.L != "" && f.WildCard.Table.L != is.alias {
					continue
				}
				for name, n := range is.cols {
					link(name, n)
				}
			}
			continue
		}
		c, ok := f.Expr.(*ast.ColumnNameExpr)
		if !ok {
			continue
		}
		name := c.Name.Name.L
		if f.AsName.L != "" {
			name = f.AsName.L
		}
		if n, ok := g.resolve(db, c); ok {
			link(name, n)
		}
	}
}

// on adds the restrictions of the join conditions of a FROM clause.
func (g *pinGraph) on(b *pinBlock, n ast.ResultSetNode) {
	j, ok := n.(*ast.Join)
	if !ok {
		if ts, ok := n.(*ast.TableSource); ok {
			if inner, ok := ts.Source.(*ast.Join); ok {
				g.on(b, inner)
			}
		}
		return
	}
	g.on(b, j.Left)
	if j.Right == nil {
		return
	}
	g.on(b, j.Right)
	if j.On == nil {
		return
	}
	g.subqueries(b, j.On.Expr)
	if j.NaturalJoin {
		return
	}
	var restricted []*pinSource
	switch j.Tp {
	case ast.LeftJoin:
		restricted = g.sourcesOf(b, j.Right)
	case ast.RightJoin:
		restricted = g.sourcesOf(b, j.Left)
	default:
		restricted = append(g.sourcesOf(b, j.Left), g.sourcesOf(b, j.Right)...)
	}
	g.restrict(b, conjuncts(j.On.Expr, nil), restricted)
}

// sourcesOf returns the sources of b that a join subtree holds.
func (g *pinGraph) sourcesOf(b *pinBlock, n ast.ResultSetNode) []*pinSource {
	var aliases []string
	eachJoinSource(n, func(x *ast.TableSource) {
		alias := x.AsName.L
		if tn, ok := x.Source.(*ast.TableName); ok && alias == "" {
			alias = tn.Name.L
		}
		aliases = append(aliases, alias)
	})
	var out []*pinSource
	for _, s := range b.sources {
		if containsString(aliases, s.alias) {
			out = append(out, s)
		}
	}
	return out
}

// restrict adds the edges of equalities that hold for every row of the
// restricted sources that counts.
func (g *pinGraph) restrict(b *pinBlock, conds []ast.ExprNode, restricted []*pinSource) {
	for _, c := range conds {
		var l, r ast.ExprNode
		switch x := c.(type) {
		case *ast.BinaryOperationExpr:
			if x.Op != opcode.EQ {
				continue
			}
			l, r = x.L, x.R
		case *ast.PatternInExpr:
			if x.Not || x.Sel != nil || len(x.List) != 1 {
				continue
			}
			l, r = x.Expr, x.List[0]
		default:
			continue
		}
		ln, lsrc, lok := g.operand(b, l)
		rn, rsrc, rok := g.operand(b, r)
		if !lok || !rok {
			continue
		}
		if lsrc != nil && containsSource(restricted, lsrc) {
			g.edge(rn, ln)
		}
		if rsrc != nil && containsSource(restricted, rsrc) {
			g.edge(ln, rn)
		}
	}
}

func containsSource(ss []*pinSource, s *pinSource) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// operand returns the node of a column or a value (src nil for a value).
func (g *pinGraph) operand(b *pinBlock, e ast.ExprNode) (int, *pinSource, bool) {
	for {
		pe, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			break
		}
		e = pe.Expr
	}
	if c, ok := e.(*ast.ColumnNameExpr); ok {
		s := g.source(b, c)
		if s == nil {
			return 0, nil, false
		}
		return s.col(g, c.Name.Name.L), s, true
	}
	if v, ok := g.p.valueOf(e); ok {
		n := g.node()
		g.consts[n] = v
		return n, nil, true
	}
	return 0, nil, false
}

// resolve returns the node of a column of block b (or of an enclosing
// block), if the analysis knows it.
func (g *pinGraph) resolve(b *pinBlock, c *ast.ColumnNameExpr) (int, bool) {
	s := g.source(b, c)
	if s == nil {
		return 0, false
	}
	return s.col(g, c.Name.Name.L), true
}

// source finds the FROM item a column belongs to as MariaDB resolves it: a
// qualified column by its table's alias in the innermost block that has
// it; an unqualified one only when a source of the innermost block is known
// to have that column (if another has it too, the shard reports the
// ambiguity as MariaDB would).
func (g *pinGraph) source(b *pinBlock, c *ast.ColumnNameExpr) *pinSource {
	if c.Name.Schema.L != "" {
		return nil
	}
	name := c.Name.Name.L
	if c.Name.Table.L == "" {
		var found *pinSource
		for _, s := range b.sources {
			if _, ok := s.cols[name]; ok {
				if found != nil {
					return nil
				}
				found = s
			}
		}
		return found
	}
	for blk := b; blk != nil; blk = blk.parent {
		var found *pinSource
		for _, s := range blk.sources {
			if s.alias == c.Name.Table.L {
				if found != nil {
					return nil
				}
				found = s
			}
		}
		if found != nil {
			return found
		}
	}
	return nil
}

// subqueries analyzes the subqueries of an expression of block b as
// blocks whose columns may be correlated with b's.
func (g *pinGraph) subqueries(b *pinBlock, n ast.Node) {
	n.Accept(&subqueryVisitor{g: g, b: b})
}

type subqueryVisitor struct {
	g *pinGraph
	b *pinBlock
}

func (v *subqueryVisitor) Enter(n ast.Node) (ast.Node, bool) {
	sub, ok := n.(*ast.SubqueryExpr)
	if !ok {
		return n, false
	}
	switch q := sub.Query.(type) {
	case *ast.SelectStmt:
		v.g.block(q, v.b, v.b.ctes)
	case *ast.SetOprStmt:
		v.g.setOpr(q, v.b, v.b.ctes)
	default:
		v.g.fail = true
	}
	return n, true
}

func (v *subqueryVisitor) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// planPinned plans a statement whose sharded tables are all pinned (see
// above) as one Route to the shard of its values; ok=false leaves it to the
// usual planning. When the statement has several pinned values, the usual
// plan (or its refusal) is kept for executions whose values map to
// different shards.
func (p *planner) planPinned(stmt ast.StmtNode, refs []*tableRef) (*Plan, bool, error) {
	if p.noPin {
		return nil, false, nil
	}
	ks, err := keyspaceOf(refs)
	if err != nil || ks == nil || !ks.Sharded {
		return nil, false, nil
	}
	pins, single, ok := p.pinsOf(stmt, refs)
	if !ok || single {
		return nil, false, nil
	}
	r := &engine.Route{Opcode: engine.RouteEqual, Keyspace: ks, Vindex: pins[0].Vindex, Values: []engine.ValueRef{pins[0].Value}, Pins: pins[1:]}
	if len(pins) > 1 {
		// On a copy taken before the route's template rewrites the tree.
		stmt2, p2 := fork(p, stmt)
		p2.noPin = true
		if fb, err := p2.planStatement(stmt2); isNotSupported(err) {
			r.UnpinnedErr = engine.Unsupported("%s (the values this statement's sharded tables are pinned to belong to different shards)", engine.RefusalText(err))
		} else if err != nil {
			r.UnpinnedErr = err
		} else {
			r.Unpinned = fb.Prim
		}
	}
	if err := p.finishRoute(stmt, refs, r); err != nil {
		return nil, true, err
	}
	return &Plan{Kind: KindSelect, Prim: r, Keyspaces: keyspaceNames(refs), Cacheable: true, Meta: ks.Shards[0], Tx: TxJoin}, true, nil
}
