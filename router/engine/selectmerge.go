package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// SelectMerge runs a SELECT whose result spans shards: each shard runs a
// rewritten query (sorted, grouped, cut), and the proxy merges the sorted
// streams, combines groups, filters HAVING, sorts by aggregates if needed,
// applies LIMIT and trims its hidden columns. When the route reaches one
// shard, the shard does everything and its result is relayed as is.
type SelectMerge struct {
	Route *Route // routing; its Query is the client's statement
	// Join, when set, is the source instead of the shards: aggregates over a
	// cross-shard join (its rows are sorted in memory by the group keys).
	Join      *JoinSelect
	Shard     Template // the rewritten query for merging
	Hidden    int      // hidden columns at the end of the shard result
	MergeKeys []SortKey
	GroupKeys []SortKey
	Aggs      []AggCol // nil: no aggregation
	Computed  []ComputedCol
	Scalar    bool // aggregation without GROUP BY
	Having    *HavingExpr
	PostSort  []SortKey
	Count     *ValueRef
	Offset    *ValueRef
	MaxRows   int
	// Tag, when not noCol, is the hidden column that says which set of
	// DISTINCT aggregate arguments a shard row carries (several aggregates
	// over the DISTINCT values of different columns).
	Tag int
	// Probe, when ProbeRows > 0, is Shard without ORDER BY and DISTINCT,
	// cut at ProbeRows+1 rows: a small result is sorted at the proxy
	// (probe.go).
	Probe     Template
	ProbeRows int
	// ProbeCollations are Probe's hidden COLLATION(c) columns where Shard
	// has c's weight; ProbeWeighted is Probe with the weights, for a plan
	// whose probe met a collation the proxy does not weigh (probe.go).
	ProbeCollations []int
	ProbeWeighted   Template
	probe           probeStats
}

func (sm *SelectMerge) Aggregating() bool { return len(sm.GroupKeys) > 0 || sm.Scalar }

// Execute implements Primitive.
func (sm *SelectMerge) Execute(ctx context.Context, vc VCursor) error {
	if sm.Join == nil {
		if targets, _ := sm.Route.targets(vc.Binds()); len(targets) == 1 {
			return sm.Route.Execute(ctx, vc) // the shard does everything
		}
	}
	s, visible, err := sm.open(ctx, vc)
	if err != nil {
		return err
	}
	defer s.Close()
	return writeStream(vc, s, visible)
}

// openVisible returns the merged result without the hidden columns: the
// input of a Union.
func (sm *SelectMerge) openVisible(ctx context.Context, vc VCursor) (stream, error) {
	s, visible, err := sm.open(ctx, vc)
	if err != nil {
		return nil, err
	}
	if visible == len(s.Fields()) {
		return s, nil
	}
	return &trim{in: s, n: visible}, nil
}

// open returns the merged stream and how many of its columns are visible.
// When the route reaches one shard, the stream is that shard's result of
// the statement as written.
func (sm *SelectMerge) open(ctx context.Context, vc VCursor) (stream, int, error) {
	count, err := limitValue(sm.Count, vc.Binds())
	if err != nil {
		return nil, 0, err
	}
	offset, err := limitValue(sm.Offset, vc.Binds())
	if err != nil {
		return nil, 0, err
	}
	var s stream
	var n int
	evalShard := (*topo.Shard)(nil)
	if sm.Join != nil {
		src, err := sm.Join.open(ctx, vc)
		if err != nil {
			return nil, 0, err
		}
		n = len(src.Fields())
		if err := sm.checkOrderable(src.Fields(), n); err != nil {
			src.Close()
			return nil, 0, err
		}
		s = &memSort{in: src, keys: absKeys(sm.MergeKeys, n), maxRows: sm.MaxRows}
		evalShard = sm.Join.EvalShard
	} else {
		r := sm.Route
		targets, lists := r.targets(vc.Binds())
		if len(targets) == 1 {
			streams, err := openShards(ctx, vc, r.CallsFor(vc, r.Query, targets, lists, true, 0))
			if err != nil {
				return nil, 0, err
			}
			return streams[0], len(streams[0].Fields()), nil
		}
		if s, n, err = sm.openProbe(ctx, vc, targets, lists); err != nil {
			return nil, 0, err
		}
		if s == nil {
			var streams []*shardStream
			if streams, n, err = sm.openShardStreams(ctx, vc, sm.Shard, targets, lists, offset+count); err != nil {
				return nil, 0, err
			}
			s = newMergeSort(streams, absKeys(sm.MergeKeys, n))
		}
		evalShard = r.Keyspace.Shards[0]
	}
	if sm.Aggregating() {
		cols := make([]AggCol, len(sm.Aggs))
		for i, c := range sm.Aggs {
			cols[i] = c.abs(n)
		}
		s = newAggregate(s, absKeys(sm.GroupKeys, n), cols, sm.Scalar)
		if sm.Tag != NoCol {
			s.(*aggregate).tag = absCol(sm.Tag, n)
		}
	}
	if sm.Having != nil {
		h := sm.Having.bind(vc.Binds(), s.Fields(), n)
		s = &filter{in: s, keep: h}
	}
	if len(sm.Computed) > 0 {
		s = &evalStream{in: s, vc: vc, ctx: ctx, shard: evalShard, cols: sm.Computed, n: n}
	}
	if len(sm.PostSort) > 0 {
		s = &memSort{in: s, keys: absKeys(sm.PostSort, n), maxRows: sm.MaxRows}
	}
	if sm.Count != nil {
		s = &limit{in: s, offset: offset, count: count}
	}
	return s, n - sm.Hidden, nil
}

// openShardStreams sends query to the targets and checks that their results
// can be merged; it returns the streams and their column count.
func (sm *SelectMerge) openShardStreams(ctx context.Context, vc VCursor, query Template, targets []*topo.Shard, lists [][]ValueRef, limit uint64) ([]*shardStream, int, error) {
	streams, err := openShards(ctx, vc, sm.Route.CallsFor(vc, query, targets, lists, true, limit))
	if err != nil {
		return nil, 0, err
	}
	closeAll := func() {
		for _, s := range streams {
			s.Close()
		}
	}
	n := len(streams[0].Fields())
	for _, s := range streams[1:] {
		if len(s.Fields()) != n {
			closeAll()
			return nil, 0, wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shards returned different column counts (%d and %d): is the schema the same on every shard?", n, len(s.Fields()))
		}
	}
	if err := sm.checkOrderable(streams[0].Fields(), n); err != nil {
		closeAll()
		return nil, 0, err
	}
	return streams, n, nil
}

// checkOrderable refuses to order or group by an ENUM or SET column at the
// proxy: MariaDB orders them by their position in the column's type, which
// the proxy does not know, and a merge by their text would come out in
// another order, or split groups.
func (sm *SelectMerge) checkOrderable(fields []*wire.Field, n int) error {
	check := func(col int) error {
		col = absCol(col, n)
		if col < 0 || col >= len(fields) || fields[col].Flags&(mysql.ENUM_FLAG|mysql.SET_FLAG) == 0 {
			return nil
		}
		name := fields[col].Name
		return Unsupported("ORDER BY, GROUP BY or DISTINCT on the ENUM or SET column `%s` across shards (MariaDB orders it by position in its type: write `%s`+0 for that order, CAST(`%s` AS CHAR) for the order of the text)", name, name, name)
	}
	for _, keys := range [...][]SortKey{sm.MergeKeys, sm.GroupKeys, sm.PostSort} {
		for _, k := range keys {
			if err := check(k.Col); err != nil {
				return err
			}
		}
	}
	for _, a := range sm.Aggs {
		for _, c := range a.DistinctCols {
			if err := check(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// trim hides the columns from n on.
type trim struct {
	in stream
	n  int
}

func (t *trim) Fields() []*wire.Field { return t.in.Fields()[:t.n] }

func (t *trim) Next() (row, error) {
	r, err := t.in.Next()
	if r == nil || err != nil {
		return r, err
	}
	return r[:t.n], nil
}

func (t *trim) Close() { t.in.Close() }

func absCol(i, n int) int {
	switch {
	case i == NoCol:
		return -1
	case i < 0:
		return n + i
	}
	return i
}

func absKeys(keys []SortKey, n int) []SortKey {
	out := make([]SortKey, len(keys))
	for i, k := range keys {
		out[i] = SortKey{Col: absCol(k.Col, n), Weight: absCol(k.Weight, n), Desc: k.Desc}
	}
	return out
}

// writeStream sends the first visible columns of a stream to the client.
func writeStream(vc VCursor, s stream, visible int) error {
	fields := s.Fields()[:visible]
	if err := vc.Write(wire.AppendLenEncInt(nil, uint64(visible))); err != nil {
		return err
	}
	var buf []byte
	for _, f := range fields {
		buf = wire.AppendField(buf[:0], f)
		if err := vc.Write(buf); err != nil {
			return err
		}
	}
	if err := vc.WriteEOF(0); err != nil {
		return err
	}
	var text, bin []byte
	for {
		r, err := s.Next()
		if err != nil {
			return err // sent in place of the next row
		}
		if r == nil {
			break
		}
		text = text[:0]
		for _, v := range r[:visible] {
			text = wire.AppendTextValue(text, v, v == nil)
		}
		out := text
		if vc.Prepared() {
			if bin, err = TextRowToBinary(bin[:0], text, fields); err != nil {
				return err
			}
			out = bin
		}
		vc.AddRows(1)
		if err := vc.Write(out); err != nil {
			return err
		}
	}
	return vc.WriteEOF(0)
}

// Describe implements Primitive.
func (sm *SelectMerge) Describe() string {
	var b strings.Builder
	if sm.Join != nil {
		fmt.Fprintf(&b, "SelectMerge over a join\n  %s\n", strings.ReplaceAll(sm.Join.Describe(), "\n", "\n  "))
		fmt.Fprintf(&b, "  Sort keys=[%s] (in memory)\n", describeKeys(sm.MergeKeys))
	} else {
		fmt.Fprintf(&b, "SelectMerge (one shard: %s)\n", sm.Route.Describe())
		fmt.Fprintf(&b, "  shards run: %q\n", sm.Shard.String())
		fmt.Fprintf(&b, "  MergeSort keys=[%s]\n", describeKeys(sm.MergeKeys))
		if sm.ProbeRows > 0 {
			probe, _ := sm.probeQuery()
			fmt.Fprintf(&b, "  (first, up to %d rows a shard sorted at the proxy: %q)\n", sm.ProbeRows, probe.String())
		}
	}
	if sm.Aggregating() {
		fmt.Fprintf(&b, "  Aggregate group=[%s] %s", describeKeys(sm.GroupKeys), describeAggs(sm.Aggs))
		if sm.Tag != NoCol {
			fmt.Fprintf(&b, " (DISTINCT argument sets tagged by col%d)", sm.Tag)
		}
		b.WriteString("\n")
	}
	if sm.Having != nil {
		b.WriteString("  Filter (HAVING)\n")
	}
	if len(sm.PostSort) > 0 {
		fmt.Fprintf(&b, "  Sort keys=[%s] (in memory, max %d rows)\n", describeKeys(sm.PostSort), sm.MaxRows)
	}
	if sm.Count != nil {
		off := "0"
		if sm.Offset != nil {
			off = sm.Offset.String()
		}
		fmt.Fprintf(&b, "  Limit count=%s offset=%s\n", sm.Count, off)
	}
	if sm.Hidden > 0 {
		fmt.Fprintf(&b, "  Trim %d hidden columns\n", sm.Hidden)
	}
	return strings.TrimRight(b.String(), "\n")
}
