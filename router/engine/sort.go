package engine

import (
	"slices"
	"sync"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// memSort sorts a stream at the proxy: needed only when the order is not the
// one the shards can produce (ORDER BY an aggregate). It holds every row, so
// it is bounded by limits.max_memory_rows and fails loudly past it.
type memSort struct {
	in      stream
	keys    []SortKey
	maxRows int
	sorted  *bufferedRows
}

func (s *memSort) Fields() []*wire.Field { return s.in.Fields() }

func (s *memSort) Next() (row, error) {
	if s.sorted == nil {
		buf := rowBuffers.Get().(*rowBuffer)
		for {
			r, err := s.in.Next()
			if err != nil {
				buf.release()
				return nil, err
			}
			if r == nil {
				break
			}
			if s.maxRows > 0 && len(buf.rows) >= s.maxRows {
				buf.release()
				return nil, LimitErrorf("max_memory_rows", mysql.ER_OUT_OF_RESOURCES, "shardgate: this query must sort more than %d rows at the proxy (limits.max_memory_rows); add a LIMIT or a routing condition", s.maxRows)
			}
			buf.add(r)
		}
		s.sorted = buf.sort(s.in.Fields(), s.keys)
	}
	return s.sorted.Next()
}

func (s *memSort) Close() {
	if s.sorted != nil {
		s.sorted.Close()
	}
	s.in.Close()
}

// rowBuffer holds rows copied out of streams for an in-memory sort: their
// values in one byte slice, their cells in one slice of cells. Buffers are
// pooled.
type rowBuffer struct {
	data  []byte
	cells [][]byte
	rows  []row
	order []int32 // rows' indexes in sorted order
	kinds []sqlval.Ordering
}

var rowBuffers = sync.Pool{New: func() any { return &rowBuffer{data: make([]byte, 0, 16<<10)} }}

func (b *rowBuffer) add(r row) {
	start := len(b.cells)
	for _, v := range r {
		if v == nil {
			b.cells = append(b.cells, nil)
			continue
		}
		off := len(b.data)
		b.data = append(b.data, v...)
		b.cells = append(b.cells, b.data[off:len(b.data):len(b.data)])
	}
	// A row keeps pointing at the slices it was given when data or cells
	// grow: the old arrays stay alive and unchanged.
	b.rows = append(b.rows, b.cells[start:len(b.cells):len(b.cells)])
}

// sort orders the rows by keys (ties keep their order) and returns a stream
// of them that owns b. It sorts indexes with pdqsort and breaks ties by
// index: fewer comparisons and moves than a stable sort of the rows.
func (b *rowBuffer) sort(fields []*wire.Field, keys []SortKey) *bufferedRows {
	b.kinds = b.kinds[:0]
	for _, f := range fields {
		b.kinds = append(b.kinds, sqlval.OrderingOf(f))
	}
	b.order = b.order[:0]
	for i := range b.rows {
		b.order = append(b.order, int32(i))
	}
	rows, kinds := b.rows, b.kinds
	slices.SortFunc(b.order, func(x, y int32) int {
		if c := compareRows(keys, kinds, rows[x], rows[y]); c != 0 {
			return c
		}
		return int(x - y)
	})
	return &bufferedRows{fields: fields, buf: b}
}

func (b *rowBuffer) release() {
	if cap(b.data) > 1<<20 || cap(b.rows) > 1<<14 {
		return // let an outsized buffer go
	}
	b.data, b.cells, b.rows, b.order = b.data[:0], b.cells[:0], b.rows[:0], b.order[:0]
	rowBuffers.Put(b)
}

// bufferedRows serves a rowBuffer's rows in order.
type bufferedRows struct {
	fields []*wire.Field
	buf    *rowBuffer
	pos    int
}

func (s *bufferedRows) Fields() []*wire.Field { return s.fields }

func (s *bufferedRows) Next() (row, error) {
	if s.buf == nil || s.pos >= len(s.buf.order) {
		return nil, nil
	}
	s.pos++
	return s.buf.rows[s.buf.order[s.pos-1]], nil
}

func (s *bufferedRows) Close() {
	if s.buf != nil {
		s.buf.release()
		s.buf = nil
	}
}

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
