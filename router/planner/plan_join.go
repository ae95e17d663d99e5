package planner

import (
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

// errOrderNotSelected: planJoin fetches the ORDER BY item as a hidden
// column.
var errOrderNotSelected = engine.Unsupported("ORDER BY a column that is not selected, on a cross-shard join")

// errOrderWithStar refuses the statement as written, without the reason it
// needed a join (joinRefusal).
var errOrderWithStar = engine.Unsupported("ORDER BY on a cross-shard join with SELECT * (name the columns)")
