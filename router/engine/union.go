package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// Union concatenates the results of its inputs: Routes (a statement that
// a shard or every shard runs as written), SelectMerges (a part that
// scatters with its own ORDER BY, LIMIT, GROUP BY or DISTINCT) and nested
// Unions (a parenthesized UNION with its own ORDER BY/LIMIT). UNION
// DISTINCT, and ORDER BY or LIMIT on a union, sort at the proxy, bounded by
// limits.max_memory_rows.
type Union struct {
	Inputs []UnionInput
	// DistinctUpTo: inputs [0, DistinctUpTo) are deduplicated together (a
	// DISTINCT union overrides the ALL unions to its left); -1 for none.
	DistinctUpTo int
	// Hidden weight columns each leaf appends for deduplication and
	// sorting (0 when a part selects *). Every Union of the tree passes them
	// on; the root trims them.
	Hidden  int
	Order   []SortKey
	Count   *ValueRef
	Offset  *ValueRef
	MaxRows int
}

// UnionInput is one input of a Union.
type UnionInput interface {
	// openInputs returns the input's rows as one or more streams read one
	// after the other.
	openInputs(ctx context.Context, vc VCursor) ([]stream, error)
	Describe() string
}

func (r *Route) openInputs(ctx context.Context, vc VCursor) ([]stream, error) {
	streams, err := openShards(ctx, vc, r.calls(vc, true))
	if err != nil {
		return nil, err
	}
	out := make([]stream, len(streams))
	for i, s := range streams {
		out[i] = s
	}
	return out, nil
}

func (sm *SelectMerge) openInputs(ctx context.Context, vc VCursor) ([]stream, error) {
	s, err := sm.openVisible(ctx, vc)
	if err != nil {
		return nil, err
	}
	return []stream{s}, nil
}

func (u *Union) openInputs(ctx context.Context, vc VCursor) ([]stream, error) {
	s, err := u.open(ctx, vc)
	if err != nil {
		return nil, err
	}
	return []stream{s}, nil
}

// Execute implements Primitive.
func (u *Union) Execute(ctx context.Context, vc VCursor) error {
	s, err := u.open(ctx, vc)
	if err != nil {
		return err
	}
	defer s.Close()
	return writeStream(vc, s, len(s.Fields())-u.Hidden)
}

// open returns the union's rows, with the hidden weight columns.
func (u *Union) open(ctx context.Context, vc VCursor) (stream, error) {
	var parts []stream
	closeAll := func() {
		for _, s := range parts {
			s.Close()
		}
	}
	distinctStreams := 0 // streams of the inputs [0, DistinctUpTo)
	for i, in := range u.Inputs {
		streams, err := in.openInputs(ctx, vc)
		if err != nil {
			closeAll()
			return nil, err
		}
		if i < u.DistinctUpTo {
			distinctStreams += len(streams)
		}
		parts = append(parts, streams...)
	}
	n := len(parts[0].Fields())
	for _, s := range parts[1:] {
		if len(s.Fields()) != n {
			closeAll()
			return nil, wire.Errorf(1222, "The used SELECT statements have a different number of columns")
		}
	}
	fields, pad := unionFields(parts)
	var s stream
	if u.DistinctUpTo > 0 {
		// Streams of the deduplicated inputs come first in parts.
		k := distinctStreams
		visible := n - u.Hidden
		keys := make([]SortKey, visible)
		for i := range keys {
			keys[i] = SortKey{Col: i, Weight: -1}
			if u.Hidden > 0 {
				keys[i].Weight = visible + i
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
		keys := append([]SortKey(nil), u.Order...)
		if u.Hidden > 0 {
			for i := range keys {
				keys[i].Weight = n - u.Hidden + keys[i].Col
			}
		}
		s = &memSort{in: s, keys: keys, maxRows: u.MaxRows}
	}
	if u.Count != nil {
		count, err := limitValue(u.Count, vc.Binds())
		if err != nil {
			s.Close()
			return nil, err
		}
		offset, err := limitValue(u.Offset, vc.Binds())
		if err != nil {
			s.Close()
			return nil, err
		}
		s = &limit{in: s, offset: offset, count: count}
	}
	return s, nil
}

// unionFields types the union's columns: the first part's, widened where
// parts disagree (a number and a decimal make a decimal, any string makes a
// string), as MySQL does.
func unionFields(parts []stream) ([]*wire.Field, []int) {
	out := make([]*wire.Field, len(parts[0].Fields()))
	var pad []int // columns whose decimals must be padded to the union's scale
	for i, f := range parts[0].Fields() {
		g := *f
		for _, p := range parts[1:] {
			h := p.Fields()[i]
			sameSign := (h.Flags^g.Flags)&mysql.UNSIGNED_FLAG == 0
			if h.Type == g.Type && (sameSign || intRank(h.Type) == 0) {
				if h.Decimals > g.Decimals {
					g.Decimals = h.Decimals
				}
				continue
			}
			a, b := sqlval.OrderingOf(&g), sqlval.OrderingOf(h)
			if t, ok := widerInt(&g, h); ok {
				g.Type = t
				if h.Flags&mysql.UNSIGNED_FLAG == 0 {
					g.Flags &^= mysql.UNSIGNED_FLAG
				}
				continue
			}
			switch {
			case a == sqlval.ByWeight || b == sqlval.ByWeight || a == sqlval.ByBytes || b == sqlval.ByBytes:
				g.Type, g.Charset, g.Flags = mysql.MYSQL_TYPE_VAR_STRING, 45, 0
			case a == sqlval.ByFloat || b == sqlval.ByFloat:
				g.Type = mysql.MYSQL_TYPE_DOUBLE
			default:
				g.Type = mysql.MYSQL_TYPE_NEWDECIMAL
				if !sameSign {
					g.Flags &^= mysql.UNSIGNED_FLAG // BIGINT UNSIGNED with BIGINT: DECIMAL(20,0), signed
				}
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

// intRank orders the integer types by width; 0 for other types.
func intRank(t byte) int {
	switch t {
	case mysql.MYSQL_TYPE_TINY:
		return 1
	case mysql.MYSQL_TYPE_SHORT:
		return 2
	case mysql.MYSQL_TYPE_INT24:
		return 3
	case mysql.MYSQL_TYPE_LONG:
		return 4
	case mysql.MYSQL_TYPE_LONGLONG:
		return 5
	}
	return 0
}

var intByRank = [...]byte{0, mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG}

// widerInt is the union type of two integer columns, as MySQL picks it: the
// wider type; with one signed and one unsigned column, a signed type wider
// than the unsigned one (none past BIGINT: then DECIMAL, ok false).
func widerInt(a, b *wire.Field) (byte, bool) {
	ra, rb := intRank(a.Type), intRank(b.Type)
	if ra == 0 || rb == 0 {
		return 0, false
	}
	ua, ub := a.Flags&mysql.UNSIGNED_FLAG != 0, b.Flags&mysql.UNSIGNED_FLAG != 0
	r := max(ra, rb)
	if ua != ub {
		ru := ra
		if ub {
			ru = rb
		}
		r = max(r, ru+1)
	}
	if r > 5 {
		return 0, false
	}
	return intByRank[r], true
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
	if u.Offset != nil {
		fmt.Fprintf(&b, " offset=%s", u.Offset)
	}
	for _, in := range u.Inputs {
		b.WriteString("\n  " + strings.ReplaceAll(in.Describe(), "\n", "\n  "))
	}
	return b.String()
}

// concat reads its parts one after the other: a union's inputs (typed as
// the union's columns) or the shards' streams of one query.
type concat struct {
	parts  []stream
	fields []*wire.Field // nil: the first part's
	pad    []int         // DECIMAL columns to pad to fields' decimals
	i      int
}

// concatShards reads the streams of one query's shards one after the other.
func concatShards(streams []*shardStream) *concat {
	parts := make([]stream, len(streams))
	for i, s := range streams {
		parts[i] = s
	}
	return &concat{parts: parts}
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
	keys []SortKey
	prev row
	kind []sqlval.Ordering
}

func (d *dedupe) Fields() []*wire.Field { return d.in.Fields() }

func (d *dedupe) Next() (row, error) {
	if d.kind == nil {
		for _, f := range d.in.Fields() {
			d.kind = append(d.kind, sqlval.OrderingOf(f))
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
