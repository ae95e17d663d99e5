package planner

import (
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/wire"
)

// mergeBuilder rewrites a scatter SELECT into the query each shard runs
// and the proxy-side pipeline that combines the shards' streams: merge-sort,
// aggregation, HAVING, sort, LIMIT. Hidden columns (weights, AVG's counts,
// ORDER BY expressions not selected) are appended to the shard query and
// trimmed before the client sees the result. Hidden column indexes are
// negative (counted from the end) because `*` hides how many columns come
// first.
type mergeBuilder struct {
	p        *planner
	sel      *ast.SelectStmt
	wildcard bool
	visible  int            // select fields before hidden ones (not counting * expansion)
	hidden   []ast.ExprNode // appended fields
	sm       *engine.SelectMerge
	dsets    []*distinctSet // argument lists of the DISTINCT aggregates
}

// distinctSet is the argument list of DISTINCT aggregates (COUNT(DISTINCT
// a, b) and SUM(DISTINCT a) have two). Shards group by the group keys and
// the set's arguments; the proxy sees each group's argument tuples sorted
// and counts the changes. With several sets, each shard row is read once
// per set (a cross join with the tags 1..n) and carries only its set's
// arguments: rows are sorted by group keys, tag, then the arguments.
type distinctSet struct {
	args    []ast.ExprNode
	key     string
	first   int   // output column of its first aggregate
	cols    []int // the arguments' columns in the shard result
	weights []int
}

// addHidden appends a hidden field and returns its (negative) index. The
// index is fixed when all hidden fields are known: finish() converts.
func (b *mergeBuilder) addHidden(e ast.ExprNode) int {
	b.hidden = append(b.hidden, e)
	return hiddenRef(len(b.hidden) - 1)
}

// Hidden refs are encoded as -1-h until finish resolves them against the
// final count of hidden columns.
func hiddenRef(h int) int { return -1 - h }

// findField maps an ORDER BY / GROUP BY / HAVING operand to a select field:
// a position (ORDER BY 2), an alias, or the same expression.
func (b *mergeBuilder) findField(e ast.ExprNode) (int, ast.ExprNode, bool) {
	fields := b.sel.Fields.Fields
	if pos, ok := e.(*ast.PositionExpr); ok {
		if pos.P != nil || b.wildcard {
			return 0, nil, false
		}
		if pos.N >= 1 && pos.N <= len(fields) {
			return pos.N - 1, fields[pos.N-1].Expr, true
		}
		return 0, nil, false
	}
	if v, ok := e.(*driver.ValueExpr); ok && v.Datum.Kind() == driver.KindInt64 && !b.wildcard {
		n := int(v.Datum.GetInt64())
		if n >= 1 && n <= len(fields) {
			return n - 1, fields[n-1].Expr, true
		}
		return 0, nil, false
	}
	if b.wildcard {
		return 0, nil, false
	}
	if c, ok := e.(*ast.ColumnNameExpr); ok && c.Name.Table.L == "" {
		for i, f := range fields {
			if f.AsName.L != "" && f.AsName.L == c.Name.Name.L {
				return i, f.Expr, true
			}
		}
	}
	want, err := Restore(e)
	if err != nil {
		return 0, nil, false
	}
	for i, f := range fields {
		if got, err := Restore(f.Expr); err == nil && strings.EqualFold(got, want) {
			return i, f.Expr, true
		}
	}
	return 0, nil, false
}

// keyFor returns a sort key on e: its select field or a hidden copy, and a
// hidden WEIGHT_STRING for collated strings.
func (b *mergeBuilder) keyFor(e ast.ExprNode, desc bool) (engine.SortKey, error) {
	i, expr, ok := b.findField(e)
	if !ok {
		if v, isVal := e.(*driver.ValueExpr); isVal && v.Datum.Kind() == driver.KindInt64 {
			return engine.SortKey{}, b.positionError(v.Datum.GetInt64())
		}
		if _, isParam := e.(*driver.ParamMarkerExpr); isParam {
			return engine.SortKey{}, errLiteralPosition
		}
		if pos, isPos := e.(*ast.PositionExpr); isPos {
			if pos.P != nil {
				return engine.SortKey{}, errLiteralPosition
			}
			return engine.SortKey{}, b.positionError(int64(pos.N))
		}
		expr = e
		i = b.addHidden(e)
	}
	return engine.SortKey{Col: i, Weight: b.addHidden(weightOf(expr)), Desc: desc}, nil
}

// errLiteralPosition makes the planner fall back to the statement's own
// text: a normalized `ORDER BY ?` hides a column position.
var errLiteralPosition = engine.Unsupported("ORDER BY or GROUP BY position given as a parameter")

// planMerge returns the merge primitive for a scatter SELECT with ORDER BY,
// LIMIT, aggregates, GROUP BY or DISTINCT.
func (p *planner) planMerge(sel *ast.SelectStmt, r *engine.Route) (*engine.SelectMerge, error) {
	b := &mergeBuilder{p: p, sel: sel, sm: &engine.SelectMerge{Route: r, MaxRows: p.env.Limits().MaxMemoryRows, Tag: engine.NoCol}}
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			b.wildcard = true
		}
	}
	if hasWindow(sel) {
		return nil, engine.Unsupported("window functions across shards")
	}
	sm := b.sm
	aggregating := sel.GroupBy != nil || hasAggregate(sel.Fields) || sel.Having != nil || sel.Distinct
	var err error
	if aggregating {
		err = b.planAggregation()
	} else {
		err = b.planOrderLimit()
	}
	if err != nil {
		return nil, err
	}
	for _, h := range b.hidden {
		sel.Fields.Fields = append(sel.Fields.Fields, &ast.SelectField{Expr: h})
	}
	sm.Hidden = len(b.hidden)
	resolve := func(keys []engine.SortKey) {
		for i := range keys {
			keys[i].Col = b.resolve(keys[i].Col)
			keys[i].Weight = b.resolve(keys[i].Weight)
		}
	}
	resolve(sm.MergeKeys)
	resolve(sm.GroupKeys)
	resolve(sm.PostSort)
	for i := range sm.Aggs {
		sm.Aggs[i].Col = b.resolve(sm.Aggs[i].Col)
		sm.Aggs[i].Weight = b.resolve(sm.Aggs[i].Weight)
		sm.Aggs[i].Count = b.resolve(sm.Aggs[i].Count)
		if set := sm.Aggs[i].Set; set > 0 && sm.Aggs[i].Kind.Distinct() {
			ds := b.dsets[set-1]
			for _, c := range ds.cols {
				sm.Aggs[i].DistinctCols = append(sm.Aggs[i].DistinctCols, b.resolve(c))
			}
			for _, w := range ds.weights {
				sm.Aggs[i].DistinctWeights = append(sm.Aggs[i].DistinctWeights, b.resolve(w))
			}
		}
	}
	sm.Tag = b.resolve(sm.Tag)
	if sm.Having != nil {
		b.resolveHaving(sm.Having)
	}
	for i := range sm.Computed {
		sm.Computed[i].Col = b.resolve(sm.Computed[i].Col)
		segs := sm.Computed[i].Expr.Segs
		for j := range segs {
			if segs[j].Kind == engine.SegCol {
				segs[j].N = b.resolve(segs[j].N)
			}
		}
	}
	return sm, nil
}

// resolve turns a hidden ref (-1-h) into an index counted from the end
// (-(hidden-h)), which the executor adds to the column count.
func (b *mergeBuilder) resolve(i int) int {
	if i >= 0 || i == engine.NoCol {
		return i
	}
	return -1 - i - len(b.hidden)
}

func hasWindow(n ast.Node) bool {
	found := false
	Walk(n, func(x ast.Node) ast.Node {
		if _, ok := x.(*ast.WindowFuncExpr); ok {
			found = true
		}
		return x
	})
	return found
}

// planOrderLimit: shards sort (ORDER BY pushed) and cut at offset+count;
// the proxy merges and applies the LIMIT.
func (b *mergeBuilder) planOrderLimit() error {
	sel, sm := b.sel, b.sm
	if sel.OrderBy != nil {
		for _, item := range sel.OrderBy.Items {
			k, err := b.keyFor(item.Expr, item.Desc)
			if err != nil {
				return err
			}
			sm.MergeKeys = append(sm.MergeKeys, k)
		}
	}
	return b.planLimit(true)
}

// planLimit records the client's LIMIT; push says whether shards may cut at
// offset+count (only when no proxy-side step changes the row count).
func (b *mergeBuilder) planLimit(push bool) error {
	sel, sm := b.sel, b.sm
	if sel.Limit == nil {
		return nil
	}
	var err error
	if sm.Count, err = b.limitRef(sel.Limit.Count); err != nil {
		return err
	}
	if sel.Limit.Offset != nil {
		if sm.Offset, err = b.limitRef(sel.Limit.Offset); err != nil {
			return err
		}
	}
	if push {
		sel.Limit = &ast.Limit{Count: ast.NewValueExpr(engine.PhLimit, "", "")}
	} else {
		sel.Limit = nil
	}
	return nil
}

func (b *mergeBuilder) limitRef(e ast.ExprNode) (*engine.ValueRef, error) {
	v, ok := b.p.valueOf(e)
	if !ok {
		return nil, engine.Unsupported("a LIMIT that is not a number or parameter")
	}
	return &v, nil
}

// planAggregation: shards group (and sort) by the group keys; the proxy
// merges the sorted streams and combines adjacent groups.
func (b *mergeBuilder) planAggregation() error {
	sel, sm := b.sel, b.sm
	if b.wildcard {
		return engine.Unsupported("SELECT * with GROUP BY, DISTINCT or aggregates across shards")
	}
	fields := sel.Fields.Fields
	for i, f := range fields {
		agg, ok := f.Expr.(*ast.AggregateFuncExpr)
		if !ok {
			if hasAggregate(f.Expr) {
				if err := b.planComputed(f, i); err != nil {
					return err
				}
				continue
			}
			sm.Aggs = append(sm.Aggs, engine.AggCol{Kind: engine.AggAny, Col: i, Weight: engine.NoCol, Count: engine.NoCol})
			continue
		}
		if f.AsName.L == "" {
			f.AsName = ast.NewCIStr(f.Text()) // keep the column name through rewriting
		}
		col, err := b.aggregateColumn(agg, i)
		if err != nil {
			return err
		}
		sm.Aggs = append(sm.Aggs, col)
	}
	distinctGroup, err := b.planDistinctSets()
	if err != nil {
		return err
	}
	var groupItems []*ast.ByItem
	if sel.GroupBy != nil {
		if sel.GroupBy.Rollup {
			return engine.Unsupported("GROUP BY ... WITH ROLLUP across shards")
		}
		groupItems = sel.GroupBy.Items
	}
	if sel.Distinct {
		if hasAggregate(sel.Fields) {
			return engine.Unsupported("DISTINCT with aggregate functions across shards")
		}
		groupItems = nil
		for i := range fields {
			groupItems = append(groupItems, &ast.ByItem{Expr: &ast.PositionExpr{N: i + 1}})
		}
	}
	for _, item := range groupItems {
		k, err := b.keyFor(item.Expr, false)
		if err != nil {
			return err
		}
		sm.GroupKeys = append(sm.GroupKeys, k)
	}
	sm.Scalar = len(groupItems) == 0
	sm.MergeKeys = append([]engine.SortKey(nil), sm.GroupKeys...)
	shardGroup := append([]*ast.ByItem(nil), groupItems...)
	if sm.Tag != engine.NoCol {
		sm.MergeKeys = append(sm.MergeKeys, engine.SortKey{Col: sm.Tag, Weight: engine.NoCol})
	}
	for _, set := range b.dsets {
		for j := range set.cols {
			sm.MergeKeys = append(sm.MergeKeys, engine.SortKey{Col: set.cols[j], Weight: set.weights[j]})
		}
	}
	shardGroup = append(shardGroup, distinctGroup...)
	// The client's HAVING and ORDER BY run at the proxy, on whole groups.
	if sel.Having != nil {
		h, err := b.compileHaving(sel.Having.Expr)
		if err != nil {
			return err
		}
		sm.Having = h
		sel.Having = nil
	}
	if sel.OrderBy != nil {
		for _, item := range sel.OrderBy.Items {
			k, err := b.outputKey(item.Expr, item.Desc)
			if err != nil {
				return err
			}
			sm.PostSort = append(sm.PostSort, k)
		}
		if groupOrdered(sm.PostSort, sm.GroupKeys) {
			sm.PostSort = nil // the merged groups already come in this order
		}
	}
	if len(shardGroup) > 0 {
		if sel.Distinct && len(b.dsets) == 0 {
			sel.OrderBy = &ast.OrderByClause{Items: shardGroup}
		} else {
			sel.GroupBy = &ast.GroupByClause{Items: shardGroup}
			sel.OrderBy = &ast.OrderByClause{Items: shardGroup}
		}
	} else {
		sel.OrderBy = nil
	}
	return b.planLimit(false)
}

// aggregateColumn plans one aggregate select field.
func (b *mergeBuilder) aggregateColumn(agg *ast.AggregateFuncExpr, i int) (engine.AggCol, error) {
	col := engine.AggCol{Col: i, Weight: engine.NoCol, Count: engine.NoCol}
	name := strings.ToLower(agg.F)
	if agg.Distinct && (name == "min" || name == "max") {
		agg.Distinct = false // MIN(DISTINCT x) is MIN(x)
	} else if agg.Distinct {
		if name != "count" && name != "sum" && name != "avg" {
			return col, engine.Unsupported("%s(DISTINCT ...) across shards", strings.ToUpper(name))
		}
		if name != "count" && len(agg.Args) != 1 {
			return col, engine.Unsupported("%s(DISTINCT ...) of several columns across shards", strings.ToUpper(name))
		}
		var key strings.Builder
		for _, a := range agg.Args {
			t, err := Restore(a)
			if err != nil {
				return col, err
			}
			key.WriteString(strings.ToLower(t))
			key.WriteByte(0)
		}
		for k, set := range b.dsets {
			if set.key == key.String() {
				col.Set = k + 1
			}
		}
		if col.Set == 0 {
			b.dsets = append(b.dsets, &distinctSet{args: agg.Args, key: key.String(), first: i})
			col.Set = len(b.dsets)
		}
		switch name {
		case "count":
			col.Kind = engine.AggCountDistinct
		case "sum":
			col.Kind = engine.AggSumDistinct
		default:
			col.Kind = engine.AggAvgDistinct
		}
		return col, nil
	}
	if (name == "sum" || name == "avg") && hasDivision(agg.Args[0]) {
		// Each shard would round its partial sum of quotients to the
		// division's scale; the total would differ from MySQL's in the
		// last digit.
		return col, engine.Unsupported("%s over a division across shards", strings.ToUpper(name))
	}
	switch name {
	case "count":
		col.Kind = engine.AggCount
	case "sum":
		col.Kind = engine.AggSum
	case "min", "max":
		col.Kind = engine.AggMin
		if name == "max" {
			col.Kind = engine.AggMax
		}
		col.Weight = b.addHidden(weightOf(agg))
	case "avg":
		col.Kind = engine.AggAvg
		agg.F = "sum"
		col.Count = b.addHidden(&ast.AggregateFuncExpr{F: "count", Args: agg.Args})
	default:
		return col, engine.Unsupported("aggregate function %s across shards", strings.ToUpper(name))
	}
	return col, nil
}

// outputKey maps an ORDER BY item of an aggregating query to an output
// column (a select field, or a hidden aggregate).
func (b *mergeBuilder) outputKey(e ast.ExprNode, desc bool) (engine.SortKey, error) {
	i, _, ok := b.findField(e)
	if !ok {
		if _, isParam := e.(*driver.ParamMarkerExpr); isParam {
			return engine.SortKey{}, errLiteralPosition
		}
		if _, isPos := e.(*ast.PositionExpr); isPos {
			return engine.SortKey{}, engine.Unsupported("ORDER BY a position outside the select list")
		}
		agg, isAgg := e.(*ast.AggregateFuncExpr)
		if !isAgg {
			if hasAggregate(e) {
				// An expression over aggregates that is not selected: a
				// hidden column computed from them as a select field is.
				i = b.addHidden(nil)
				f := &ast.SelectField{Expr: e, AsName: ast.NewCIStr("__sg_order")}
				if err := b.planComputed(f, i); err != nil {
					return engine.SortKey{}, err
				}
				b.hidden[-1-i] = f.Expr
				return engine.SortKey{Col: i, Weight: engine.NoCol, Desc: desc}, nil
			}
			// A group key not selected: its value is the same for the group.
			i = b.addHidden(e)
			b.sm.Aggs = append(b.sm.Aggs, engine.AggCol{Kind: engine.AggAny, Col: i, Weight: engine.NoCol, Count: engine.NoCol})
			return engine.SortKey{Col: i, Weight: b.addHidden(weightOf(e)), Desc: desc}, nil
		}
		i = b.addHidden(agg)
		col, err := b.aggregateColumn(agg, i)
		if err != nil {
			return engine.SortKey{}, err
		}
		if col.Kind.Distinct() {
			return engine.SortKey{}, engine.Unsupported("ORDER BY an aggregate over DISTINCT values that is not selected, across shards")
		}
		b.sm.Aggs = append(b.sm.Aggs, col)
	}
	return engine.SortKey{Col: i, Weight: b.aggWeight(i), Desc: desc}, nil
}

// groupOrdered reports whether sorting by keys would keep the order in which
// the aggregate emits groups: ascending by the group keys, as the shards'
// streams are merged. ORDER BY a prefix of GROUP BY (or of a DISTINCT list),
// ascending, needs no sort in memory.
func groupOrdered(keys, group []engine.SortKey) bool {
	if len(keys) == 0 || len(keys) > len(group) {
		return false
	}
	for i, k := range keys {
		if k.Desc || k.Col != group[i].Col || group[i].Desc {
			return false
		}
	}
	return true
}

// aggWeight returns the weight column of output column i when it has one.
func (b *mergeBuilder) aggWeight(i int) int {
	for _, a := range b.sm.Aggs {
		if a.Col == i && (a.Kind == engine.AggMin || a.Kind == engine.AggMax) {
			return a.Weight
		}
	}
	for _, k := range b.sm.GroupKeys {
		if k.Col == i {
			return k.Weight
		}
	}
	return engine.NoCol
}

func sameExpr(a, b ast.ExprNode) bool {
	x, err1 := Restore(a)
	y, err2 := Restore(b)
	return err1 == nil && err2 == nil && strings.EqualFold(x, y)
}

func hasDivision(e ast.Node) bool {
	found := false
	Walk(e, func(x ast.Node) ast.Node {
		if b, ok := x.(*ast.BinaryOperationExpr); ok && b.Op == opcode.Div {
			found = true
		}
		return x
	})
	return found
}

// tagColumn names the tag of a shard row when DISTINCT aggregates have
// several argument sets.
const tagColumn = "__sg_tag"

// planDistinctSets places the arguments of the DISTINCT aggregates in the
// shard query and returns what shards must group by besides the group
// keys. A DISTINCT aggregate's field carries its first argument (typed as
// the column, so SUM keeps the column's scale); further arguments and the
// weights are hidden columns.
func (b *mergeBuilder) planDistinctSets() ([]*ast.ByItem, error) {
	sel, sm := b.sel, b.sm
	if len(b.dsets) == 0 {
		return nil, nil
	}
	tagged := len(b.dsets) > 1
	if tagged {
		if sm.Route == nil {
			return nil, engine.Unsupported("aggregates over the DISTINCT values of different columns over a cross-shard join")
		}
		if sel.From == nil || sel.From.TableRefs == nil {
			return nil, engine.Unsupported("aggregates over the DISTINCT values of different columns without FROM")
		}
		rows := make([][]ast.ExprNode, len(b.dsets))
		for k := range b.dsets {
			rows[k] = []ast.ExprNode{ast.NewValueExpr(int64(k+1), "", "")}
		}
		tags := constRows(tagColumn+"s", []string{tagColumn}, rows)
		sel.From.TableRefs = &ast.Join{Left: sel.From.TableRefs, Right: tags, Tp: ast.CrossJoin}
		sm.Tag = b.addHidden(tagRef())
	}
	// arg is the argument as the shard returns it: NULL on rows of other sets.
	arg := func(set int, e ast.ExprNode) ast.ExprNode {
		if !tagged {
			return e
		}
		return &ast.CaseExpr{WhenClauses: []*ast.WhenClause{{
			Expr:   &ast.BinaryOperationExpr{Op: opcode.EQ, L: tagRef(), R: ast.NewValueExpr(int64(set), "", "")},
			Result: e,
		}}}
	}
	var group []*ast.ByItem
	if tagged {
		group = append(group, &ast.ByItem{Expr: tagRef()})
	}
	for k, set := range b.dsets {
		for j, a := range set.args {
			e := arg(k+1, a)
			if j == 0 {
				set.cols = append(set.cols, set.first)
			} else {
				set.cols = append(set.cols, b.addHidden(e))
			}
			set.weights = append(set.weights, b.addHidden(weightOf(e)))
			group = append(group, &ast.ByItem{Expr: e})
		}
	}
	for _, c := range sm.Aggs {
		if c.Kind.Distinct() {
			agg := sel.Fields.Fields[c.Col].Expr.(*ast.AggregateFuncExpr)
			sel.Fields.Fields[c.Col].Expr = arg(c.Set, agg.Args[0])
		}
	}
	return group, nil
}

func tagRef() ast.ExprNode {
	return &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(tagColumn + "s"), Name: ast.NewCIStr(tagColumn)}}
}

// positionError answers an ORDER BY or GROUP BY position findField did not
// resolve: past the select list it is MySQL's own error; under SELECT * the
// proxy cannot know which column it names.
func (b *mergeBuilder) positionError(n int64) error {
	if !b.wildcard {
		return wire.Errorf(mysql.ER_BAD_FIELD_ERROR, "Unknown column '%d' in ORDER BY or GROUP BY (the select list has %d columns)", n, len(b.sel.Fields.Fields))
	}
	return engine.Unsupported("ORDER BY or GROUP BY position %d across shards with SELECT * (name the column)", n)
}
