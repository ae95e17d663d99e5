package router

import (
	"sort"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

// memSort sorts a stream at the proxy: needed only when the order is not the
// one the shards can produce (ORDER BY an aggregate). It holds every row, so
// it is bounded by limits.max_memory_rows and fails loudly past it.
type memSort struct {
	in      stream
	keys    []sortKey
	maxRows int
	rows    []row
	pos     int
	loaded  bool
}

func (s *memSort) Fields() []*wire.Field { return s.in.Fields() }

func (s *memSort) Next() (row, error) {
	if !s.loaded {
		s.loaded = true
		for {
			r, err := s.in.Next()
			if err != nil {
				return nil, err
			}
			if r == nil {
				break
			}
			if s.maxRows > 0 && len(s.rows) >= s.maxRows {
				return nil, wire.Errorf(mysql.ER_OUT_OF_RESOURCES, "shardgate: this query must sort more than %d rows at the proxy (limits.max_memory_rows); add a LIMIT or a routing condition", s.maxRows)
			}
			s.rows = append(s.rows, copyRow(nil, r))
		}
		fields := s.in.Fields()
		kinds := make([]cmpKind, len(fields))
		for i, f := range fields {
			kinds[i] = kindOf(f)
		}
		sort.SliceStable(s.rows, func(i, j int) bool { return compareRows(s.keys, kinds, s.rows[i], s.rows[j]) < 0 })
	}
	if s.pos >= len(s.rows) {
		return nil, nil
	}
	s.pos++
	return s.rows[s.pos-1], nil
}

func (s *memSort) Close() { s.in.Close() }

// filter keeps the rows for which keep is true (HAVING).
type filter struct {
	in   stream
	keep func(row) (bool, error)
}

func (f *filter) Fields() []*wire.Field { return f.in.Fields() }

func (f *filter) Next() (row, error) {
	for {
		r, err := f.in.Next()
		if r == nil || err != nil {
			return r, err
		}
		ok, err := f.keep(r)
		if err != nil {
			return nil, err
		}
		if ok {
			return r, nil
		}
	}
}

func (f *filter) Close() { f.in.Close() }
