package engine

import (
	"fmt"
	"strings"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// SortKey orders rows by one column: its value, or for collated strings the
// hidden WEIGHT_STRING column the shard computed next to it.
type SortKey struct {
	Col    int // column index in the shard result
	Weight int // index of its WEIGHT_STRING column, -1 if none
	Desc   bool
}

// compareRows orders two rows by keys with MySQL's rules: NULL first in
// ascending order, numbers as numbers, collated strings by weight.
func compareRows(keys []SortKey, kinds []sqlval.Ordering, a, b row) int {
	for _, k := range keys {
		c := compareCell(k, kinds, a, b)
		if c != 0 {
			if k.Desc {
				return -c
			}
			return c
		}
	}
	return 0
}

func compareCell(k SortKey, kinds []sqlval.Ordering, a, b row) int {
	x, y := a[k.Col], b[k.Col]
	switch {
	case x == nil && y == nil:
		return 0
	case x == nil:
		return -1
	case y == nil:
		return 1
	}
	kind := kinds[k.Col]
	if kind == sqlval.ByWeight {
		if k.Weight >= 0 {
			return sqlval.CompareWeights(x, a[k.Weight], y, b[k.Weight])
		}
		// No weight from the shard: as the default collation.
		return sqlval.CompareGeneral(x, y)
	}
	return sqlval.Compare(kind, x, y)
}

// mergeSort merges shard streams that are each sorted by keys into one
// sorted stream, holding one row per shard: memory does not grow with the
// result.
type mergeSort struct {
	streams []*shardStream
	heads   []row // current row of each stream, nil when exhausted
	keys    []SortKey
	kinds   []sqlval.Ordering
	last    int // stream whose head was returned last; advanced on Next
	started bool
}

func newMergeSort(streams []*shardStream, keys []SortKey) *mergeSort {
	m := &mergeSort{streams: streams, heads: make([]row, len(streams)), keys: keys, last: -1}
	fields := streams[0].Fields()
	m.kinds = make([]sqlval.Ordering, len(fields))
	for i, f := range fields {
		m.kinds[i] = sqlval.OrderingOf(f)
	}
	return m
}

func (m *mergeSort) Fields() []*wire.Field { return m.streams[0].Fields() }

func (m *mergeSort) Next() (row, error) {
	if !m.started {
		m.started = true
		for i, s := range m.streams {
			r, err := s.Next()
			if err != nil {
				return nil, err
			}
			m.heads[i] = r
		}
	} else if m.last >= 0 {
		r, err := m.streams[m.last].Next()
		if err != nil {
			return nil, err
		}
		m.heads[m.last] = r
	}
	best := -1
	for i, h := range m.heads {
		if h == nil {
			continue
		}
		// Ties keep shard order, so the merge is stable.
		if best < 0 || (len(m.keys) > 0 && compareRows(m.keys, m.kinds, h, m.heads[best]) < 0) {
			best = i
		}
	}
	m.last = best
	if best < 0 {
		return nil, nil
	}
	return m.heads[best], nil
}

func (m *mergeSort) Close() {
	for _, s := range m.streams {
		s.Close()
	}
}

func describeKeys(keys []SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		dir := "asc"
		if k.Desc {
			dir = "desc"
		}
		w := ""
		if k.Weight >= 0 {
			w = fmt.Sprintf(" weight=col%d", k.Weight)
		}
		parts[i] = fmt.Sprintf("col%d %s%s", k.Col, dir, w)
	}
	return strings.Join(parts, ", ")
}
