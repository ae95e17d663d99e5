package router

import (
	"context"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/shardgate/shardgate/wire"
)

// Union concatenates the results of its parts (each a Route that a shard
// or every shard runs as written). UNION DISTINCT, and ORDER BY or LIMIT on
// the whole union, sort at the proxy, bounded by limits.max_memory_rows.
type Union struct {
	Parts    []*Route
	Distinct bool
	Order    []sortKey
	Count    *valueRef
	Offset   *valueRef
	MaxRows  int
}

func (p *planner) planShardedUnion(u *ast.SetOprStmt) (*Plan, error) {
	un := &Union{MaxRows: p.vc.r.cfg.Limits.MaxMemoryRows}
	var keyspaces []string
	var first *ast.SelectStmt
	for _, part := range u.SelectList.Selects {
		sel, ok := part.(*ast.SelectStmt)
		if !ok {
			return nil, unsupported("nested UNION on sharded tables")
		}
		if first == nil {
			first = sel
		}
		if sel.AfterSetOperator != nil && *sel.AfterSetOperator != ast.UnionAll {
			if *sel.AfterSetOperator != ast.Union {
				return nil, unsupported("%s on sharded tables", sel.AfterSetOperator)
			}
			un.Distinct = true
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
	return &Plan{Kind: "select", Prim: un, keyspaces: keyspaces, cacheable: true, meta: un.Parts[0].Keyspace.Shards[0], tx: txJoin}, nil
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
	for _, r := range u.Parts {
		calls := r.calls(vc, true)
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
	var s stream = &concat{parts: parts}
	if u.Distinct {
		keys := make([]sortKey, n)
		for i := range keys {
			keys[i] = sortKey{col: i, weight: -1}
		}
		s = &dedupe{in: &memSort{in: s, keys: keys, maxRows: u.MaxRows}, keys: keys}
	}
	if len(u.Order) > 0 {
		s = &memSort{in: s, keys: u.Order, maxRows: u.MaxRows}
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
	return vc.writeStream(s, n)
}

// Describe implements Primitive.
func (u *Union) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Union distinct=%v", u.Distinct)
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
	parts []*shardStream
	i     int
}

func (c *concat) Fields() []*wire.Field { return c.parts[0].Fields() }

func (c *concat) Next() (row, error) {
	for c.i < len(c.parts) {
		r, err := c.parts[c.i].Next()
		if err != nil || r != nil {
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
