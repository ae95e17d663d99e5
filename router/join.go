package router

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/shardgate/shardgate/wire"
)

// Join runs a join the shards cannot run alone (tables on different shards
// or keyspaces) as a nested loop at the proxy: outer rows are read in
// batches, each batch drives one query on the inner table with the batch's
// join keys in an IN list (routed by the inner table's vindex when the key
// is its sharding column), and matching rows are combined. Inner rows of a
// batch are held in memory, bounded by limits.max_memory_rows.
type Join struct {
	Outer, Inner *Route
	Left         bool // LEFT JOIN: outer rows without a match get NULLs
	Output       []joinCol
	OuterItems   int // select items of each side, before the hidden key
	InnerItems   int
	Order        []sortKey
	Count        *valueRef
	Offset       *valueRef
	MaxRows      int
	// Filter is a condition on both tables beyond the join key, over the
	// last Hidden output columns (segCol), checked by a shard per batch.
	Filter template
	Hidden int
}

// joinCol is one select item: which side computes it and its position
// among that side's items (a star item spans the remaining columns).
type joinCol struct {
	inner bool
	item  int
	star  bool
}

// errNeedsJoin marks routing failures a proxy-side join may solve.
type errNeedsJoin struct{ error }

func (e errNeedsJoin) Unwrap() error { return e.error }

const joinBatch = 256

// planJoin plans `SELECT items FROM a [LEFT] JOIN b ON a.x = b.y [AND
// single-table conditions] [WHERE ...] [ORDER BY ...] [LIMIT ...]`.
func (p *planner) planJoin(sel *ast.SelectStmt, cause error) (*Plan, error) {
	refuse := func(what string) (*Plan, error) {
		return nil, unsupported("%s (%v)", what, cause)
	}
	if sel.From == nil || sel.GroupBy != nil || sel.Having != nil || sel.Distinct || hasAggregate(sel.Fields) || sel.With != nil {
		return refuse("a cross-shard join with aggregates, GROUP BY or DISTINCT")
	}
	j := sel.From.TableRefs
	if j == nil || j.Right == nil {
		return refuse("this join")
	}
	ls, lok := j.Left.(*ast.TableSource)
	rs, rok := j.Right.(*ast.TableSource)
	if !lok || !rok || j.NaturalJoin {
		return refuse("a cross-shard join of more than two tables, or a NATURAL join")
	}
	if j.Tp == ast.RightJoin {
		return refuse("RIGHT JOIN across shards (write it as LEFT JOIN)")
	}
	ltn, lok := ls.Source.(*ast.TableName)
	rtn, rok := rs.Source.(*ast.TableName)
	if !lok || !rok {
		return refuse("a cross-shard join with derived tables")
	}
	lref, err := p.resolve(ltn)
	if err != nil {
		return nil, err
	}
	rref, err := p.resolve(rtn)
	if err != nil {
		return nil, err
	}
	alias := func(ts *ast.TableSource, tn *ast.TableName) string {
		if ts.AsName.L != "" {
			return ts.AsName.L
		}
		return tn.Name.L
	}
	la, ra := alias(ls, ltn), alias(rs, rtn)
	if len(j.Using) > 0 {
		// USING (c) is ON l.c = r.c, and an unqualified c is the left one
		// (an inner or left join keeps its value).
		for _, f := range sel.Fields.Fields {
			if f.WildCard != nil && f.WildCard.Table.L == "" {
				return refuse("SELECT * of a cross-shard join with USING (name the columns)")
			}
		}
		names := map[string]bool{}
		var eqs []ast.ExprNode
		for _, c := range j.Using {
			names[c.Name.L] = true
			eqs = append(eqs, &ast.BinaryOperationExpr{Op: opcode.EQ,
				L: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(la), Name: c.Name}},
				R: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(ra), Name: c.Name}}})
		}
		walk(sel, func(x ast.Node) ast.Node {
			if c, ok := x.(*ast.ColumnNameExpr); ok && c.Name.Table.L == "" && names[c.Name.Name.L] {
				c.Name.Table = ast.NewCIStr(la)
			}
			return x
		})
		if j.On != nil {
			eqs = append(eqs, j.On.Expr)
		}
		j.On, j.Using = &ast.OnCondition{Expr: andAll(eqs)}, nil
	}
	// side: 0 none, 1 outer, 2 inner, 3 both; errors on unqualified columns.
	var sideErr error
	side := func(n ast.Node) int {
		s := 0
		walk(n, func(x ast.Node) ast.Node {
			switch c := x.(type) {
			case *ast.ColumnNameExpr:
				switch c.Name.Table.L {
				case la:
					s |= 1
				case ra:
					s |= 2
				default:
					sideErr = unsupported("unqualified column %s in a cross-shard join (write %s.%s or %s.%s)", c.Name.Name.O, la, c.Name.Name.O, ra, c.Name.Name.O)
				}
			case *ast.SubqueryExpr:
				sideErr = unsupported("a subquery in a cross-shard join")
			}
			return x
		})
		return s
	}
	var outerConds, innerConds, extra []ast.ExprNode
	var outerKey, innerKey ast.ExprNode
	var conds []ast.ExprNode
	if j.On != nil {
		conds = conjuncts(j.On.Expr, nil)
	}
	whereConds := conjuncts(sel.Where, nil)
	for i, c := range append(conds, whereConds...) {
		fromWhere := i >= len(conds)
		switch side(c) {
		case 0, 1:
			if j.Tp == ast.LeftJoin && !fromWhere {
				return refuse("a LEFT JOIN condition on the outer table only")
			}
			outerConds = append(outerConds, c)
		case 2:
			if j.Tp == ast.LeftJoin && fromWhere {
				return refuse("a WHERE condition on the inner table of a LEFT JOIN across shards")
			}
			innerConds = append(innerConds, c)
		case 3:
			if j.Tp == ast.LeftJoin && fromWhere {
				return refuse("a WHERE condition on both tables of a LEFT JOIN across shards")
			}
			b, ok := c.(*ast.BinaryOperationExpr)
			var l, r ast.ExprNode
			if ok && b.Op == opcode.EQ && outerKey == nil {
				l, r = b.L, b.R
				if side(l) == 2 {
					l, r = r, l
				}
			}
			if l == nil || side(l) != 1 || side(r) != 2 {
				// Another condition on both tables: checked on the joined
				// rows. In a LEFT JOIN's ON it would decide what matches.
				if j.Tp == ast.LeftJoin {
					return refuse("a LEFT JOIN condition other than one equality between the two tables")
				}
				extra = append(extra, c)
				continue
			}
			outerKey, innerKey = l, r
		}
	}
	if sideErr != nil {
		return nil, sideErr
	}
	if outerKey == nil {
		if j.Tp == ast.LeftJoin {
			return refuse("a cross-shard LEFT JOIN without an equality between the two tables")
		}
		// A cross join: every row matches every row, through the same
		// machinery with a constant key on both sides.
		outerKey, innerKey = ast.NewValueExpr(int64(1), "", ""), ast.NewValueExpr(int64(1), "", "")
	}
	jn := &Join{Left: j.Tp == ast.LeftJoin, MaxRows: p.vc.r.cfg.Limits.MaxMemoryRows}
	var outerFields, innerFields []*ast.SelectField
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			switch f.WildCard.Table.L {
			case "":
				jn.Output = append(jn.Output, joinCol{item: len(outerFields), star: true}, joinCol{inner: true, item: len(innerFields), star: true})
				outerFields = append(outerFields, &ast.SelectField{WildCard: &ast.WildCardField{Table: ltn.Name}})
				innerFields = append(innerFields, &ast.SelectField{WildCard: &ast.WildCardField{Table: rtn.Name}})
				if ls.AsName.L != "" {
					outerFields[len(outerFields)-1].WildCard.Table = ls.AsName
				}
				if rs.AsName.L != "" {
					innerFields[len(innerFields)-1].WildCard.Table = rs.AsName
				}
			case la:
				jn.Output = append(jn.Output, joinCol{item: len(outerFields), star: true})
				outerFields = append(outerFields, f)
			case ra:
				jn.Output = append(jn.Output, joinCol{inner: true, item: len(innerFields), star: true})
				innerFields = append(innerFields, f)
			default:
				return refuse("a wildcard of an unknown table")
			}
			continue
		}
		switch side(f.Expr) {
		case 0, 1:
			jn.Output = append(jn.Output, joinCol{item: len(outerFields)})
			outerFields = append(outerFields, f)
		case 2:
			jn.Output = append(jn.Output, joinCol{inner: true, item: len(innerFields)})
			innerFields = append(innerFields, f)
		default:
			return refuse("a select expression over both tables of a cross-shard join")
		}
	}
	if sideErr != nil {
		return nil, sideErr
	}
	if len(extra) > 0 {
		// The columns the conditions read become hidden output columns;
		// the conditions, with those columns as placeholders, are
		// evaluated by a shard over each batch of joined rows.
		cols := map[string]int{}
		cond := andAll(extra)
		walk(cond, func(x ast.Node) ast.Node {
			c, ok := x.(*ast.ColumnNameExpr)
			if !ok {
				return x
			}
			key, _ := restore(c)
			out, seen := cols[key]
			if !seen {
				out = len(jn.Output)
				if side(c) == 2 {
					jn.Output = append(jn.Output, joinCol{inner: true, item: len(innerFields)})
					innerFields = append(innerFields, &ast.SelectField{Expr: c})
				} else {
					jn.Output = append(jn.Output, joinCol{item: len(outerFields)})
					outerFields = append(outerFields, &ast.SelectField{Expr: c})
				}
				cols[key] = out
				jn.Hidden++
			}
			return ast.NewValueExpr(colPlaceholder(out), "", "")
		})
		if jn.Filter, err = p.templateOf(cond); err != nil {
			return nil, err
		}
	}
	jn.OuterItems, jn.InnerItems = len(outerFields), len(innerFields)
	// ORDER BY and LIMIT apply to the joined rows, at the proxy: ORDER BY
	// items must be selected.
	if sel.OrderBy != nil {
		for _, item := range sel.OrderBy.Items {
			col, err := joinOrderColumn(sel, item.Expr)
			if err != nil {
				return nil, err
			}
			jn.Order = append(jn.Order, sortKey{col: col, weight: -1, desc: item.Desc})
		}
	}
	if sel.Limit != nil {
		c, ok := p.valueOf(sel.Limit.Count)
		if !ok {
			return refuse("a LIMIT that is not a number")
		}
		jn.Count = &c
		if sel.Limit.Offset != nil {
			o, ok := p.valueOf(sel.Limit.Offset)
			if !ok {
				return refuse("an OFFSET that is not a number")
			}
			jn.Offset = &o
		}
	}
	// The outer query: its items and the join key, with its own conditions.
	// Each side ends with the join key and its collation weight (string
	// keys match as the collation compares, 'émile' = 'Emile').
	outerFields = append(outerFields, &ast.SelectField{Expr: outerKey}, &ast.SelectField{Expr: weightOf(outerKey)})
	outerSel := &ast.SelectStmt{SelectStmtOpts: sel.SelectStmtOpts, Kind: ast.SelectStmtKindSelect,
		Fields: &ast.FieldList{Fields: outerFields},
		From:   &ast.TableRefsClause{TableRefs: &ast.Join{Left: ls}},
		Where:  andAll(outerConds)}
	innerIn := &ast.PatternInExpr{Expr: innerKey, List: []ast.ExprNode{ast.NewValueExpr(phList, "", "")}}
	innerFields = append(innerFields, &ast.SelectField{Expr: innerKey}, &ast.SelectField{Expr: weightOf(innerKey)})
	innerSel := &ast.SelectStmt{SelectStmtOpts: sel.SelectStmtOpts, Kind: ast.SelectStmtKindSelect,
		Fields: &ast.FieldList{Fields: innerFields},
		From:   &ast.TableRefsClause{TableRefs: &ast.Join{Left: rs}},
		Where:  andAll(append(innerConds, innerIn))}
	if jn.Outer, err = p.sideRoute(outerSel, lref, outerConds, nil); err != nil {
		return nil, err
	}
	if jn.Inner, err = p.sideRoute(innerSel, rref, innerConds, innerKey); err != nil {
		return nil, err
	}
	kss := []string{lref.ks.Name}
	if rref.ks != lref.ks {
		kss = append(kss, rref.ks.Name)
	}
	// meta nil: the tables live on different shards, so prepared
	// statements describe their columns at execution.
	return &Plan{Kind: "select", Prim: jn, keyspaces: kss, cacheable: true, tx: txJoin}, nil
}

// sideRoute plans one side's query as a Route; for the inner side, a
// routing key drives an IN route over the batch's keys.
func (p *planner) sideRoute(sel *ast.SelectStmt, ref *tableRef, conds []ast.ExprNode, key ast.ExprNode) (*Route, error) {
	r := &Route{Keyspace: ref.ks, Opcode: routeUnsharded, Rewrite: true}
	if ref.ks.Sharded {
		r.Opcode = routeAnyShard
		if ref.sharded() {
			r.Opcode = routeScatter
			if rt := p.findRouting(andAll(conds), []*tableRef{ref}); rt != nil && rt.in == nil {
				r.Opcode, r.Vindex, r.Values = routeEqual, rt.table.tbl.Vindex, rt.values
			}
			if c, ok := key.(*ast.ColumnNameExpr); ok && r.Opcode == routeScatter && c.Name.Name.L == ref.tbl.Column {
				r.Opcode, r.Vindex = routeIn, ref.tbl.Vindex // values: the batch's keys
			}
		}
	}
	qualifyForShards([]*tableRef{ref})
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
			return 0, unsupported("ORDER BY on a cross-shard join with SELECT * (name the columns)")
		}
	}
	if pos, ok := e.(*ast.PositionExpr); ok && pos.P == nil && pos.N >= 1 && pos.N <= len(fields) {
		return pos.N - 1, nil
	}
	want, err := restore(e)
	if err != nil {
		return 0, err
	}
	for i, f := range fields {
		if c, ok := e.(*ast.ColumnNameExpr); ok && c.Name.Table.L == "" && f.AsName.L == c.Name.Name.L {
			return i, nil
		}
		if got, err := restore(f.Expr); err == nil && strings.EqualFold(got, want) {
			return i, nil
		}
	}
	return 0, unsupported("ORDER BY a column that is not selected, on a cross-shard join")
}

// Execute implements Primitive.
func (jn *Join) Execute(ctx context.Context, vc *vcursor) error {
	s, err := jn.open(ctx, vc)
	if err != nil {
		return err
	}
	n := len(s.Fields())
	if len(jn.Order) > 0 {
		s = &memSort{in: s, keys: jn.Order, maxRows: jn.MaxRows}
	}
	if jn.Count != nil {
		count, err := limitValue(jn.Count, vc.binds)
		if err != nil {
			s.Close()
			return err
		}
		offset, err := limitValue(jn.Offset, vc.binds)
		if err != nil {
			s.Close()
			return err
		}
		s = &limit{in: s, offset: offset, count: count}
	}
	defer s.Close()
	return vc.writeStream(s, n)
}

// open starts the join and returns its stream of joined rows (before ORDER
// BY and LIMIT); SelectMerge aggregates over it.
func (jn *Join) open(ctx context.Context, vc *vcursor) (stream, error) {
	outerStreams, err := vc.openShards(ctx, jn.Outer.calls(vc, true))
	if err != nil {
		return nil, err
	}
	js := &joinStream{jn: jn, vc: vc, ctx: ctx, outer: &concat{parts: outerStreams}}
	if err := js.init(); err != nil {
		js.Close()
		return nil, err
	}
	return js, nil
}

// joinStream produces joined rows batch by batch.
type joinStream struct {
	jn     *Join
	vc     *vcursor
	ctx    context.Context
	outer  stream
	fields []*wire.Field
	spans  [2][][2]int // per side, per item: [from, to) column range
	innerN int         // inner visible columns (known after the first inner query)
	// outerByWeight, innerByWeight: the key is a collated string on that
	// side, matched by its weight.
	outerByWeight, innerByWeight bool

	batch   []row
	matches map[string][]row
	out     []row
	pos     int
	done    bool
}

func (js *joinStream) Fields() []*wire.Field { return js.fields[:len(js.fields)-js.jn.Hidden] }

// spansOf gives each item of a side its columns; a star item takes what the
// others leave.
func spansOf(items []joinCol, inner bool, n, nitems int) [][2]int {
	spans := make([][2]int, nitems)
	starCols := n - (nitems - 1)
	col := 0
	for i := 0; i < nitems; i++ {
		w := 1
		for _, it := range items {
			if it.inner == inner && it.item == i && it.star {
				w = starCols
			}
		}
		spans[i] = [2]int{col, col + w}
		col += w
	}
	return spans
}

// init learns the output columns: the outer side's from its result, the
// inner side's from a query with no keys (it returns no rows).
func (js *joinStream) init() error {
	of := js.outer.Fields()
	innerFields, err := js.innerQuery(nil)
	if err != nil {
		return err
	}
	jn := js.jn
	js.spans[0] = spansOf(jn.Output, false, len(of)-keyCols, jn.OuterItems)
	js.spans[1] = spansOf(jn.Output, true, len(innerFields)-keyCols, jn.InnerItems)
	js.innerN = len(innerFields) - keyCols
	// By weight only when both keys are collated strings: a number and a
	// string compare by value.
	byWeight := kindOf(of[len(of)-keyCols]) == cmpWeight && kindOf(innerFields[len(innerFields)-keyCols]) == cmpWeight
	js.outerByWeight, js.innerByWeight = byWeight, byWeight
	for _, c := range jn.Output {
		side, src := 0, of
		if c.inner {
			side, src = 1, innerFields
		}
		sp := js.spans[side][c.item]
		js.fields = append(js.fields, src[sp[0]:sp[1]]...)
	}
	return nil
}

// innerQuery runs the inner query for keys (none: an IN list that matches
// nothing, to learn the columns) and indexes its rows by key.
func (js *joinStream) innerQuery(keys [][]byte) ([]*wire.Field, error) {
	vals := make([]valueRef, 0, len(keys))
	for _, k := range keys {
		vals = append(vals, valueRef{bind: -1, lit: Value{Kind: KindString, Raw: string(k)}})
	}
	if len(vals) == 0 {
		vals = append(vals, valueRef{bind: -1, lit: Value{Kind: KindNull}})
	}
	r := *js.jn.Inner
	r.Values = vals
	if r.Opcode == routeIn && len(keys) == 0 {
		r.Opcode = routeAnyShard
	}
	streams, err := js.vc.openShards(js.ctx, r.calls(js.vc, true))
	if err != nil {
		return nil, err
	}
	s := &concat{parts: streams}
	defer s.Close()
	js.matches = map[string][]row{}
	total := 0
	for {
		row, err := s.Next()
		if err != nil {
			return nil, err
		}
		if row == nil {
			break
		}
		total++
		if js.jn.MaxRows > 0 && total > js.jn.MaxRows {
			return nil, wire.Errorf(mysql.ER_OUT_OF_RESOURCES, "shardgate: a cross-shard join batch holds more than %d inner rows (limits.max_memory_rows); add conditions to the inner table", js.jn.MaxRows)
		}
		k, ok := keyOf(row, js.innerByWeight)
		if !ok {
			continue
		}
		js.matches[k] = append(js.matches[k], copyRow(nil, row))
	}
	return s.Fields(), nil
}

// keyCols are the hidden columns each side ends with: the join key and its
// collation weight.
const keyCols = 2

// keyOf returns the matching key of a side's row: the weight of a string
// key, the value of another (numbers match by value on both sides).
func keyOf(r row, byWeight bool) (string, bool) {
	k, w := r[len(r)-2], r[len(r)-1]
	if k == nil {
		return "", false
	}
	if byWeight && w != nil {
		return string(w), true
	}
	return strings.TrimRight(string(k), " "), true
}

func (js *joinStream) Next() (row, error) {
	for js.pos >= len(js.out) {
		if js.done {
			return nil, nil
		}
		if err := js.nextBatch(); err != nil {
			return nil, err
		}
	}
	js.pos++
	r := js.out[js.pos-1]
	return r[:len(r)-js.jn.Hidden], nil
}

func (js *joinStream) nextBatch() error {
	js.batch, js.out, js.pos = js.batch[:0], js.out[:0], 0
	seen := map[string]bool{}
	var keys [][]byte
	for len(js.batch) < joinBatch {
		r, err := js.outer.Next()
		if err != nil {
			return err
		}
		if r == nil {
			js.done = true
			break
		}
		r = copyRow(nil, r)
		js.batch = append(js.batch, r)
		if k, ok := keyOf(r, js.outerByWeight); ok && !seen[k] {
			seen[k] = true
			keys = append(keys, r[len(r)-keyCols])
		}
	}
	if len(js.batch) == 0 {
		return nil
	}
	if len(keys) > 0 {
		if _, err := js.innerQuery(keys); err != nil {
			return err
		}
	} else {
		js.matches = map[string][]row{}
	}
	for _, o := range js.batch {
		var ms []row
		if k, ok := keyOf(o, js.outerByWeight); ok {
			ms = js.matches[k]
		}
		if len(ms) == 0 && js.jn.Left {
			js.out = append(js.out, js.combine(o, nil))
		}
		for _, m := range ms {
			js.out = append(js.out, js.combine(o, m))
		}
	}
	if js.jn.Hidden > 0 {
		return js.filter()
	}
	return nil
}

// filter keeps the joined rows of the batch for which the join's extra
// condition is true, asking a shard in chunks: `SELECT cond UNION ALL
// SELECT cond ...` with each row's values as literals.
func (js *joinStream) filter() error {
	kept := js.out[:0]
	for start := 0; start < len(js.out); start += evalBatch {
		chunk := js.out[start:min(start+evalBatch, len(js.out))]
		var q []byte
		for i, r := range chunk {
			if i > 0 {
				q = append(q, " UNION ALL "...)
			}
			q = append(q, "SELECT "...)
			q = js.jn.Filter.appendWith(q, js.vc.binds, func(b []byte, col int) []byte {
				return appendTypedLiteral(b, r[col], js.fields[col])
			})
		}
		streams, err := js.vc.openShards(js.ctx, []shardCall{{shard: js.jn.Outer.Keyspace.Shards[0], sql: q}})
		if err != nil {
			return fmt.Errorf("checking a join condition: %w", err)
		}
		for i := 0; ; i++ {
			v, err := streams[0].Next()
			if err != nil {
				streams[0].Close()
				return err
			}
			if v == nil {
				break
			}
			if i < len(chunk) && v[0] != nil && compareValues(cmpDecimal, v[0], []byte("0")) != 0 {
				kept = append(kept, chunk[i])
			}
		}
		streams[0].Close()
	}
	js.out = kept
	return nil
}

func (js *joinStream) combine(o, in row) row {
	out := make(row, 0, len(js.fields))
	for _, c := range js.jn.Output {
		if !c.inner {
			sp := js.spans[0][c.item]
			out = append(out, o[sp[0]:sp[1]]...)
			continue
		}
		sp := js.spans[1][c.item]
		if in == nil {
			for i := sp[0]; i < sp[1]; i++ {
				out = append(out, nil)
			}
			continue
		}
		out = append(out, in[sp[0]:sp[1]]...)
	}
	return out
}

func (js *joinStream) Close() { js.outer.Close() }

// Describe implements Primitive.
func (jn *Join) Describe() string {
	kind := "inner"
	if jn.Left {
		kind = "left"
	}
	s := fmt.Sprintf("Join (nested loop at the proxy, %s, batches of %d outer rows)\n  outer: %s\n  inner: %s", kind, joinBatch, jn.Outer.Describe(), jn.Inner.Describe())
	if len(jn.Order) > 0 {
		s += fmt.Sprintf("\n  Sort keys=[%s]", describeKeys(jn.Order))
	}
	if jn.Count != nil {
		s += fmt.Sprintf("\n  Limit count=%s", jn.Count)
	}
	return s
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
	for _, f := range sel.Fields.Fields {
		if f.Expr != nil {
			f.Expr = replaceAggregates(f.Expr, perRowAggregate)
		}
	}
	plan, err := p.planJoin(sel, cause)
	if err != nil {
		return nil, err
	}
	sm.Join = plan.Prim.(*Join)
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
