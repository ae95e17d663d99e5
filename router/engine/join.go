package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Join is one proxy-side join of a cross-shard join (plan_join.go): a
// nested loop whose outer side is any row source (a leaf's Route, or
// another Join: ((A ⋈ B) ⋈ C)) and whose inner side is a leaf's Route.
// Outer rows are read in batches; each batch drives one query on the inner
// leaf with the batch's join keys in an IN list (routed by the inner
// table's vindex when the key is its sharding column), and matching rows
// are combined. Inner rows of a batch are held in memory, bounded by
// limits.max_memory_rows.
//
// A joined row is the outer row followed by the inner row: the columns of
// each leaf in turn (its fixed items, then its wildcards), so a column is
// found by its leaf and its place among the leaf's items.
type Join struct {
	Outer joinSource
	Inner *Route
	Left  bool // LEFT JOIN: outer rows without a match get NULLs
	// The outer key and its collation weight, among the outer leaves'
	// items; the inner key and weight, among the inner leaf's items.
	OuterKey, OuterWeight JoinRef
	InnerKey, InnerWeight int
	// OnFilter (LEFT JOIN only) decides which inner rows match an outer
	// row, before NULL-extension; Filter is checked on the joined rows
	// (an inner join's extra conditions, WHERE conditions behind a LEFT
	// JOIN). A shard evaluates them per batch.
	OnFilter, Filter *JoinFilter
	EvalShard        *topo.Shard
	MaxRows          int
}

// joinSource is a row source under a Join.
type joinSource interface {
	openWide(ctx context.Context, vc VCursor) (wideStream, error)
	Describe() string
}

// wideStream is a stream of joined rows that knows where each leaf's
// columns start.
type wideStream interface {
	stream
	// leafStarts returns the first column of each leaf, then the width.
	leafStarts() []int
}

// JoinRef is a column of a joined row: a leaf and an item of that leaf.
type JoinRef struct{ Leaf, Col int }

// JoinFilter is a condition whose columns are placeholders for Cols.
type JoinFilter struct {
	Cond Template
	Cols []JoinRef
}

const joinBatch = 256

// openWide reads a leaf's Route as the first rows of a join.
func (r *Route) openWide(ctx context.Context, vc VCursor) (wideStream, error) {
	streams, err := openShards(ctx, vc, r.calls(vc, true))
	if err != nil {
		return nil, err
	}
	c := concatShards(streams)
	return &leafStream{stream: c, starts: []int{0, len(c.Fields())}}, nil
}

type leafStream struct {
	stream
	starts []int
}

func (l *leafStream) leafStarts() []int { return l.starts }

// openWide starts the join and returns its stream of joined rows.
func (jn *Join) openWide(ctx context.Context, vc VCursor) (wideStream, error) {
	outer, err := jn.Outer.openWide(ctx, vc)
	if err != nil {
		return nil, err
	}
	js := &joinStream{jn: jn, vc: vc, ctx: ctx, outer: outer}
	if err := js.init(); err != nil {
		js.Close()
		return nil, err
	}
	return js, nil
}

// joinStream produces joined rows batch by batch.
type joinStream struct {
	jn             *Join
	vc             VCursor
	ctx            context.Context
	outer          wideStream
	fields         []*wire.Field
	starts         []int
	outerW, innerW int
	okey, oweight  int
	// byWeight: both keys are collated strings, matched by their weights;
	// numeric: numbers, matched by value (7 = 7.00).
	byWeight, numeric bool
	keyBuf            []byte // keyOf's computed weights

	batch   []row
	matches map[string][]row
	// The pairs of the batch are made a chunk at a time (fill): oi is the
	// outer row being joined, ms its matches, mi the next of them; matched
	// tells which outer rows found a match (LEFT JOIN).
	oi, mi  int
	ms      []row
	msSet   bool
	matched []bool
	chunk   []joinEntry
	out     []row
	pos     int
	done    bool
}

// joinEntry is one joined row of a chunk and the outer row it came from;
// a nil row marks the end of that outer row's matches, where a LEFT JOIN
// NULL-extends it if nothing matched.
type joinEntry struct {
	outer int
	row   row
}

// joinChunk is how many joined rows are made before they are filtered and
// handed out: memory holds one chunk, whatever a batch's outer rows
// multiplied by their matches come to (a join on an inequality or without
// a condition pairs every outer row of the batch with every inner row).
const joinChunk = 1024

func (js *joinStream) Fields() []*wire.Field { return js.fields }
func (js *joinStream) leafStarts() []int     { return js.starts }

func (js *joinStream) abs(r JoinRef) int { return js.starts[r.Leaf] + r.Col }

// init learns the columns: the outer side's from its result, the inner
// side's from a query with no keys (it returns no rows).
func (js *joinStream) init() error {
	of := js.outer.Fields()
	innerFields, err := js.innerQuery(nil)
	if err != nil {
		return err
	}
	jn := js.jn
	js.outerW, js.innerW = len(of), len(innerFields)
	if jn.InnerWeight >= js.innerW {
		return wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shardgate: a join's inner query returned %d columns", js.innerW)
	}
	js.fields = append(append(make([]*wire.Field, 0, js.outerW+js.innerW), of...), innerFields...)
	js.starts = append(append([]int(nil), js.outer.leafStarts()...), js.outerW+js.innerW)
	js.okey, js.oweight = js.abs(jn.OuterKey), js.abs(jn.OuterWeight)
	// Keys match by the collation weight of strings, by the value of
	// numbers; keys of other mixes compare in ways the proxy does not
	// reproduce (a string and a number compare as numbers, a DATE and a
	// DATETIME as times).
	of2, if2 := of[js.okey], innerFields[jn.InnerKey]
	ok, ik := sqlval.OrderingOf(of2), sqlval.OrderingOf(if2)
	switch {
	case ok == sqlval.ByWeight && ik == sqlval.ByWeight && of2.Charset == if2.Charset:
		js.byWeight = true
	case (ok == sqlval.ByInt || ok == sqlval.ByDecimal) && (ik == sqlval.ByInt || ik == sqlval.ByDecimal):
		js.numeric = true
	case ok == sqlval.ByBytes && ik == sqlval.ByBytes && of2.Type == if2.Type && of2.Charset == if2.Charset:
	default:
		return Unsupported("a cross-shard join on keys of different types or collations (%s.%s and %s.%s)", of2.Table, of2.Name, if2.Table, if2.Name)
	}
	return nil
}

// innerQuery runs the inner query for keys (none: an IN list that matches
// nothing, to learn the columns) and indexes its rows by key.
func (js *joinStream) innerQuery(keys [][]byte) ([]*wire.Field, error) {
	vals := make([]ValueRef, 0, len(keys))
	for _, k := range keys {
		vals = append(vals, ValueRef{Bind: -1, Lit: sqlval.Value{Kind: sqlval.String, Raw: string(k)}})
	}
	if len(vals) == 0 {
		vals = append(vals, ValueRef{Bind: -1, Lit: sqlval.Value{Kind: sqlval.Null}})
	}
	r := *js.jn.Inner
	r.Values = vals
	if r.Opcode == RouteIn && len(keys) == 0 {
		r.Opcode = RouteAnyShard
	}
	streams, err := openShards(js.ctx, js.vc, r.calls(js.vc, true))
	if err != nil {
		return nil, err
	}
	s := concatShards(streams)
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
			return nil, LimitErrorf("max_memory_rows", mysql.ER_OUT_OF_RESOURCES, "shardgate: a cross-shard join batch holds more than %d inner rows (limits.max_memory_rows); add conditions to the inner table", js.jn.MaxRows)
		}
		k, ok := js.keyOf(row, js.jn.InnerKey, js.jn.InnerWeight)
		if !ok {
			continue
		}
		js.matches[k] = append(js.matches[k], copyRow(nil, row))
	}
	return s.Fields(), nil
}

// keyOf returns the matching key of a row: the weight of a string key,
// the canonical value of a number, the value of another.
func (js *joinStream) keyOf(r row, key, weight int) (string, bool) {
	k, w := r[key], r[weight]
	if k == nil {
		return "", false
	}
	if js.byWeight {
		if w == nil { // general_ci: the shard left the weight to the proxy
			js.keyBuf = sqlval.AppendGeneralWeight(js.keyBuf[:0], k)
			return string(js.keyBuf), true
		}
		return string(w), true
	}
	if js.numeric {
		return canonicalNumber(k), true
	}
	return strings.TrimRight(string(k), " "), true
}

// canonicalNumber writes an integer or decimal without trailing fraction
// zeros or a negative zero: 7.50 → 7.5, 7.00 → 7, -0.0 → 0.
func canonicalNumber(v []byte) string {
	s := string(v)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" || s == "" || s == "-" {
		return "0"
	}
	return s
}

func (js *joinStream) Next() (row, error) {
	for js.pos >= len(js.out) {
		if js.oi >= len(js.batch) {
			if js.done {
				return nil, nil
			}
			if err := js.nextBatch(); err != nil {
				return nil, err
			}
			continue
		}
		if err := js.fill(); err != nil {
			return nil, err
		}
	}
	js.pos++
	return js.out[js.pos-1], nil
}

// nextBatch reads the next batch of outer rows and queries the inner side
// for their keys.
func (js *joinStream) nextBatch() error {
	js.batch = js.batch[:0]
	js.oi, js.mi, js.msSet = 0, 0, false
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
		if k, ok := js.keyOf(r, js.okey, js.oweight); ok && !seen[k] {
			seen[k] = true
			keys = append(keys, r[js.okey])
		}
	}
	if cap(js.matched) < len(js.batch) {
		js.matched = make([]bool, len(js.batch))
	} else {
		js.matched = js.matched[:len(js.batch)]
		clear(js.matched)
	}
	if len(js.batch) == 0 || len(keys) == 0 {
		js.matches = map[string][]row{}
		return nil
	}
	_, err := js.innerQuery(keys)
	return err
}

// fill makes the next chunk of joined rows of the batch and keeps those
// that pass the join's conditions in out.
func (js *joinStream) fill() error {
	js.out, js.pos = js.out[:0], 0
	chunk := js.chunk[:0]
	for len(chunk) < joinChunk && js.oi < len(js.batch) {
		o := js.batch[js.oi]
		if !js.msSet {
			js.ms, js.msSet = nil, true
			if k, ok := js.keyOf(o, js.okey, js.oweight); ok {
				js.ms = js.matches[k]
			}
		}
		if js.mi < len(js.ms) {
			chunk = append(chunk, joinEntry{outer: js.oi, row: js.combine(o, js.ms[js.mi])})
			js.mi++
			continue
		}
		chunk = append(chunk, joinEntry{outer: js.oi})
		js.oi, js.mi, js.msSet = js.oi+1, 0, false
	}
	js.chunk = chunk
	jn := js.jn
	var keep []bool
	if jn.OnFilter != nil {
		// LEFT JOIN ... ON with conditions beyond the key: the pairs that
		// pass match; outer rows left without a match are NULL-extended.
		pairs := make([]row, 0, len(chunk))
		for _, e := range chunk {
			if e.row != nil {
				pairs = append(pairs, e.row)
			}
		}
		var err error
		if keep, err = js.check(jn.OnFilter, pairs); err != nil {
			return err
		}
	}
	p := 0
	for _, e := range chunk {
		switch {
		case e.row == nil:
			if jn.Left && !js.matched[e.outer] {
				js.out = append(js.out, js.combine(js.batch[e.outer], nil))
			}
		case keep == nil || keep[p]:
			js.matched[e.outer] = true
			js.out = append(js.out, e.row)
			p++
		default:
			p++
		}
	}
	clear(chunk) // drop the chunk's references to rows handed out
	if jn.Filter != nil {
		keep, err := js.check(jn.Filter, js.out)
		if err != nil {
			return err
		}
		kept := js.out[:0]
		for i, r := range js.out {
			if keep[i] {
				kept = append(kept, r)
			}
		}
		js.out = kept
	}
	return nil
}

// check evaluates a condition on joined rows, asking a shard in chunks:
// `SELECT cond UNION ALL SELECT cond ...` with each row's values as
// literals of their column's type.
func (js *joinStream) check(f *JoinFilter, rows []row) ([]bool, error) {
	keep := make([]bool, len(rows))
	cols := make([]int, len(f.Cols))
	for i, c := range f.Cols {
		cols[i] = js.abs(c)
	}
	for start := 0; start < len(rows); start += evalBatch {
		chunk := rows[start:min(start+evalBatch, len(rows))]
		var q []byte
		for i, r := range chunk {
			if i > 0 {
				q = append(q, " UNION ALL "...)
			}
			q = append(q, "SELECT "...)
			q = f.Cond.appendWith(q, js.vc.Binds(), func(b []byte, n int) []byte {
				return appendJoinLiteral(b, r[cols[n]], js.fields[cols[n]])
			})
		}
		streams, err := openShards(js.ctx, js.vc, []ShardCall{{shard: js.jn.EvalShard, SQL: q}})
		if err != nil {
			return nil, fmt.Errorf("checking a join condition: %w", err)
		}
		for i := 0; ; i++ {
			v, err := streams[0].Next()
			if err != nil {
				streams[0].Close()
				return nil, err
			}
			if v == nil {
				break
			}
			if i < len(chunk) && v[0] != nil && sqlval.Compare(sqlval.ByDecimal, v[0], []byte("0")) != 0 {
				keep[start+i] = true
			}
		}
		streams[0].Close()
	}
	return keep, nil
}

// appendJoinLiteral writes a column's value as a literal of its type; a
// string of a binary collation keeps it ('card' != 'Card'). The field's
// collation id is the connection's, whatever the column's; a _bin collation
// shows as BINARY_FLAG. Literals are in the connection's utf8mb4.
func appendJoinLiteral(b []byte, v []byte, f *wire.Field) []byte {
	b = appendTypedLiteral(b, v, f)
	if v != nil && sqlval.OrderingOf(f) == sqlval.ByWeight && f.Flags&mysql.BINARY_FLAG != 0 {
		b = append(b, " COLLATE utf8mb4_bin"...)
	}
	return b
}

func (js *joinStream) combine(o, in row) row {
	out := make(row, 0, js.outerW+js.innerW)
	out = append(out, o...)
	if in == nil {
		for i := 0; i < js.innerW; i++ {
			out = append(out, nil)
		}
		return out
	}
	return append(out, in...)
}

func (js *joinStream) Close() { js.outer.Close() }

// Describe implements Primitive.
func (jn *Join) Describe() string {
	kind := "inner"
	if jn.Left {
		kind = "left"
	}
	s := fmt.Sprintf("Join (nested loop at the proxy, %s, batches of %d outer rows, key: outer leaf %d item %d = inner item %d)",
		kind, joinBatch, jn.OuterKey.Leaf, jn.OuterKey.Col+1, jn.InnerKey+1)
	if jn.OnFilter != nil {
		s += fmt.Sprintf("\n  match also: %s", jn.OnFilter.Cond.String())
	}
	if jn.Filter != nil {
		s += fmt.Sprintf("\n  filter: %s", jn.Filter.Cond.String())
	}
	s += "\n  outer: " + strings.ReplaceAll(jn.Outer.Describe(), "\n", "\n  ")
	s += "\n  inner: " + jn.Inner.Describe()
	return s
}
