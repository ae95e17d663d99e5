package router

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/shardgate/shardgate/wire"
)

// Union concatenates the results of its parts (each a Route that a shard
// or every shard runs as written). UNION DISTINCT, and ORDER BY or LIMIT on
// the whole union, sort at the proxy, bounded by limits.max_memory_rows.
type Union struct {
	Parts []*Route
	// DistinctUpTo: parts [0, DistinctUpTo) are deduplicated together (a
	// DISTINCT union overrides the ALL unions to its left); -1 for none.
	DistinctUpTo int
	// Hidden weight columns each part appends for deduplication (0 when a
	// part selects *).
	Hidden  int
	Order   []sortKey
	Count   *valueRef
	Offset  *valueRef
	MaxRows int
}

func (p *planner) planShardedUnion(u *ast.SetOprStmt) (*Plan, error) {
	un := &Union{MaxRows: p.vc.r.cfg.Limits.MaxMemoryRows, DistinctUpTo: -1}
	var keyspaces []string
	var first *ast.SelectStmt
	wildcard := false
	for i, part := range u.SelectList.Selects {
		sel, ok := part.(*ast.SelectStmt)
		if !ok {
			return nil, unsupported("nested or parenthesized UNION parts on sharded tables")
		}
		if first == nil {
			first = sel
		}
		if sel.AfterSetOperator != nil && *sel.AfterSetOperator != ast.UnionAll {
			if *sel.AfterSetOperator != ast.Union {
				return nil, unsupported("%s on sharded tables", sel.AfterSetOperator)
			}
			un.DistinctUpTo = i + 1
		}
		for _, f := range sel.Fields.Fields {
			if f.WildCard != nil {
				wildcard = true
			}
		}
	}
	for _, part := range u.SelectList.Selects {
		sel := part.(*ast.SelectStmt)
		if (un.DistinctUpTo > 0 || u.OrderBy != nil) && !wildcard {
			// Weights to deduplicate and sort as the collation compares.
			n := len(sel.Fields.Fields)
			for i := 0; i < n; i++ {
				sel.Fields.Fields = append(sel.Fields.Fields, &ast.SelectField{Expr: weightOf(sel.Fields.Fields[i].Expr)})
			}
			un.Hidden = n
		}
		refs, err := p.collectTables(sel)
		if err != nil {
			return nil, err
		}
		plan, err := p.planRoute(sel, refs, sel.Where, routeOptions{kind: "select", merge: mergeConstruct(sel)})
		if err != nil {
			return nil, err
		}
		r := plan.Prim.(*Route)
		if r.Merge != "" {
			return nil, unsupported("%s inside a UNION part (put it on the whole UNION or route the part to one shard)", r.Merge)
		}
		r.Rewrite = true // parts always run from their own template
		un.Parts = append(un.Parts, r)
		keyspaces = append(keyspaces, plan.keyspaces...)
	}
	if u.OrderBy != nil {
		for _, item := range u.OrderBy.Items {
			i, err := unionColumn(first, item.Expr)
			if err != nil {
				return nil, err
			}
			un.Order = append(un.Order, sortKey{col: i, weight: -1, desc: item.Desc})
		}
	}
	if u.Limit != nil {
		c, ok := p.valueOf(u.Limit.Count)
		if !ok {
			return nil, unsupported("a LIMIT that is not a number or parameter")
		}
		un.Count = &c
		if u.Limit.Offset != nil {
			o, ok := p.valueOf(u.Limit.Offset)
			if !ok {
				return nil, unsupported("an OFFSET that is not a number or parameter")
			}
			un.Offset = &o
		}
	}
	// meta nil: parts may live in other keyspaces than the first shard
	// knows, so prepared statements describe their columns at execution.
	return &Plan{Kind: "select", Prim: un, keyspaces: keyspaces, cacheable: true, tx: txJoin}, nil
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
	return 0, unsupported("ORDER BY of a UNION on sharded tables by something other than a selected column")
}

// Execute implements Primitive.
func (u *Union) Execute(ctx context.Context, vc *vcursor) error {
	var parts []*shardStream
	distinctStreams := 0 // streams of the parts [0, DistinctUpTo)
	for i, r := range u.Parts {
		calls := r.calls(vc, true)
		if i < u.DistinctUpTo {
			distinctStreams += len(calls)
		}
		streams, err := vc.openShards(ctx, calls)
		if err != nil {
			for _, s := range parts {
				s.Close()
			}
			return err
		}
		parts = append(parts, streams...)
	}
	n := len(parts[0].Fields())
	for _, s := range parts[1:] {
		if len(s.Fields()) != n {
			for _, s := range parts {
				s.Close()
			}
			return wire.Errorf(1222, "The used SELECT statements have a different number of columns")
		}
	}
	fields, pad := unionFields(parts)
	var s stream
	if u.DistinctUpTo > 0 {
		// Shard streams of the deduplicated parts come first in parts.
		k := distinctStreams
		visible := n - u.Hidden
		keys := make([]sortKey, visible)
		for i := range keys {
			keys[i] = sortKey{col: i, weight: -1}
			if u.Hidden > 0 {
				keys[i].weight = visible + i
			}
		}
		d := &concat{parts: parts[:k], fields: fields, pad: pad}
		s = &dedupe{in: &memSort{in: d, keys: keys, maxRows: u.MaxRows}, keys: keys}
		if k < len(parts) {
			s = &chain{streams: []stream{s, &concat{parts: parts[k:], fields: fields, pad: pad}}}
		}
	} else {
		s = &concat{parts: parts, fields: fields, pad: pad}
	}
	if len(u.Order) > 0 {
		keys := append([]sortKey(nil), u.Order...)
		if u.Hidden > 0 {
			for i := range keys {
				keys[i].weight = n - u.Hidden + keys[i].col
			}
		}
		s = &memSort{in: s, keys: keys, maxRows: u.MaxRows}
	}
	if u.Count != nil {
		count, err := limitValue(u.Count, vc.binds)
		if err != nil {
			s.Close()
			return err
		}
		offset, err := limitValue(u.Offset, vc.binds)
		if err != nil {
			s.Close()
			return err
		}
		s = &limit{in: s, offset: offset, count: count}
	}
	defer s.Close()
	return vc.writeStream(s, n-u.Hidden)
}

// unionFields types the union's columns: the first part's, widened where
// parts disagree (a number and a decimal make a decimal, any string makes a
// string), as MySQL does.
func unionFields(parts []*shardStream) ([]*wire.Field, []int) {
	out := make([]*wire.Field, len(parts[0].Fields()))
	var pad []int // columns whose decimals must be padded to the union's scale
	for i, f := range parts[0].Fields() {
		g := *f
		for _, p := range parts[1:] {
			h := p.Fields()[i]
			if h.Type == g.Type {
				if h.Decimals > g.Decimals {
					g.Decimals = h.Decimals
				}
				continue
			}
			a, b := kindOf(&g), kindOf(h)
			switch {
			case a == cmpWeight || b == cmpWeight || a == cmpBytes || b == cmpBytes:
				g.Type, g.Charset, g.Flags = mysql.MYSQL_TYPE_VAR_STRING, 45, 0
			case a == cmpFloat || b == cmpFloat:
				g.Type = mysql.MYSQL_TYPE_DOUBLE
			default:
				g.Type = mysql.MYSQL_TYPE_NEWDECIMAL
				if h.Decimals > g.Decimals {
					g.Decimals = h.Decimals
				}
			}
		}
		if g.Type == mysql.MYSQL_TYPE_NEWDECIMAL && g.Decimals > 0 {
			for _, p := range parts {
				if p.Fields()[i].Decimals != g.Decimals || p.Fields()[i].Type != g.Type {
					pad = append(pad, i)
					break
				}
			}
		}
		out[i] = &g
	}
	return out, pad
}

// padDecimals writes v with exactly d decimals, as a DECIMAL column of the
// union shows a value from a part with fewer.
func padDecimals(v []byte, d int) []byte {
	s := string(v)
	dot := strings.IndexByte(s, '.')
	have := 0
	if dot >= 0 {
		have = len(s) - dot - 1
	} else {
		s += "."
	}
	if have >= d {
		return v
	}
	return []byte(s + strings.Repeat("0", d-have))
}

// Describe implements Primitive.
func (u *Union) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Union distinct-parts=%d", max(u.DistinctUpTo, 0))
	if len(u.Order) > 0 {
		fmt.Fprintf(&b, " order=[%s]", describeKeys(u.Order))
	}
	if u.Count != nil {
		fmt.Fprintf(&b, " limit=%s", u.Count)
	}
	for _, r := range u.Parts {
		b.WriteString("\n  " + r.Describe())
	}
	return b.String()
}

// concat reads its parts one after the other.
type concat struct {
	parts  []*shardStream
	fields []*wire.Field // nil: the first part's
	pad    []int         // DECIMAL columns to pad to fields' decimals
	i      int
}

func (c *concat) Fields() []*wire.Field {
	if c.fields != nil {
		return c.fields
	}
	return c.parts[0].Fields()
}

func (c *concat) Next() (row, error) {
	for c.i < len(c.parts) {
		r, err := c.parts[c.i].Next()
		if err != nil || r != nil {
			for _, col := range c.pad {
				if r != nil && r[col] != nil {
					r[col] = padDecimals(r[col], int(c.fields[col].Decimals))
				}
			}
			return r, err
		}
		c.i++
	}
	return nil, nil
}

func (c *concat) Close() {
	for _, p := range c.parts {
		p.Close()
	}
}

// dedupe drops rows equal to the previous one (input sorted by keys).
type dedupe struct {
	in   stream
	keys []sortKey
	prev row
	kind []cmpKind
}

func (d *dedupe) Fields() []*wire.Field { return d.in.Fields() }

func (d *dedupe) Next() (row, error) {
	if d.kind == nil {
		for _, f := range d.in.Fields() {
			d.kind = append(d.kind, kindOf(f))
		}
	}
	for {
		r, err := d.in.Next()
		if r == nil || err != nil {
			return r, err
		}
		if d.prev != nil && compareRows(d.keys, d.kind, r, d.prev) == 0 {
			continue
		}
		d.prev = copyRow(d.prev, r)
		return r, nil
	}
}

func (d *dedupe) Close() { d.in.Close() }

// chain reads streams one after the other.
type chain struct {
	streams []stream
	i       int
}

func (c *chain) Fields() []*wire.Field { return c.streams[0].Fields() }

func (c *chain) Next() (row, error) {
	for c.i < len(c.streams) {
		r, err := c.streams[c.i].Next()
		if err != nil || r != nil {
			return r, err
		}
		c.i++
	}
	return nil, nil
}

func (c *chain) Close() {
	for _, s := range c.streams {
		s.Close()
	}
}
