package planner

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/shardgate/shardgate/router/engine"
)

// What a cross-shard join returns: its select items (hidden ORDER BY columns
// included), ORDER BY and LIMIT, the proxy Joins that combine the leaves,
// and aggregates computed over the joined rows.

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
