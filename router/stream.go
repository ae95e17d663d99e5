package router

import (
	"context"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/wire"
)

// row is one decoded text-protocol row: a value per column, nil for NULL.
// A row handed out by a stream is valid until the stream's next Next.
type row [][]byte

// stream is a result read row by row by proxy-side primitives (merge, limit,
// aggregate). Memory does not grow with the result: rows are decoded in
// place in the shard connections' buffers.
type stream interface {
	Fields() []*wire.Field
	// Next returns the next row, or nil at the end.
	Next() (row, error)
	// Close releases shard connections, draining unread results.
	Close()
}

// streamPrimitive is a primitive that produces a stream.
type streamPrimitive interface {
	open(ctx context.Context, vc *vcursor) (stream, error)
	Describe() string
}

// shardStream reads one shard's text result.
type shardStream struct {
	vc     *vcursor
	conn   *backend.Conn
	fields []*wire.Field
	cur    row
	done   bool
	err    error
}

// openShards sends sql to each shard and reads the column definitions of
// each result. All queries are sent before any result is read, so the
// shards work in parallel.
func (vc *vcursor) openShards(ctx context.Context, calls []shardCall) ([]*shardStream, error) {
	streams := make([]*shardStream, len(calls))
	var firstErr error
	for i := range calls {
		c := &calls[i]
		s := &shardStream{vc: vc}
		streams[i] = s
		conn, err := vc.conn(ctx, c.shard)
		if err != nil {
			s.err = err
			continue
		}
		s.conn = conn
		vc.traceQuery(conn.Shard(), c.sql)
		if err := conn.WriteCommand(ctx, mysql.COM_QUERY, c.sql); err != nil {
			s.err = err
		}
	}
	for _, s := range streams {
		if s.err == nil {
			s.err = s.readHeader()
		}
		if s.err != nil && firstErr == nil {
			firstErr = s.err
		}
	}
	if firstErr != nil {
		for _, s := range streams {
			s.Close()
		}
		return nil, firstErr
	}
	return streams, nil
}

func (s *shardStream) readHeader() error {
	p, err := s.conn.Read()
	if err != nil {
		return err
	}
	switch p[0] {
	case wire.ErrHeader:
		s.done = true
		return wire.ParseError(p)
	case wire.OKHeader:
		s.done = true
		return nil // no result set (cannot happen for SELECT)
	}
	n, _, _ := mysql.LengthEncodedInt(p)
	s.fields = make([]*wire.Field, n)
	for i := range s.fields {
		f, err := s.conn.Read()
		if err != nil {
			return err
		}
		if s.fields[i], err = wire.ParseField(f); err != nil {
			s.conn.MarkBroken()
			return err
		}
	}
	if _, err := s.conn.Read(); err != nil { // EOF
		return err
	}
	s.cur = make(row, n)
	return nil
}

func (s *shardStream) Fields() []*wire.Field { return s.fields }

func (s *shardStream) Next() (row, error) {
	if s.done {
		return nil, s.err
	}
	p, err := s.conn.Read()
	if err != nil {
		s.done, s.err = true, err
		return nil, err
	}
	if wire.IsEOF(p) {
		s.done = true
		if st := uint16(p[3]) | uint16(p[4])<<8; st&mysql.SERVER_MORE_RESULTS_EXISTS != 0 {
			s.conn.MarkBroken()
		}
		return nil, nil
	}
	if p[0] == wire.ErrHeader {
		s.done, s.err = true, wire.ParseError(p)
		return nil, s.err
	}
	pos := 0
	for i := range s.cur {
		if pos < len(p) && p[pos] == 0xfb {
			s.cur[i] = nil
			pos++
			continue
		}
		v, _, w, err := mysql.LengthEncodedString(p[pos:])
		if err != nil {
			s.conn.MarkBroken()
			s.done, s.err = true, err
			return nil, err
		}
		if v == nil {
			v = p[pos:pos] // empty, not NULL
		}
		s.cur[i] = v
		pos += w
	}
	return s.cur, nil
}

// Close drains what is left and gives the connection back.
func (s *shardStream) Close() {
	if s.conn == nil {
		return
	}
	if !s.done && s.err == nil {
		// Unread rows: read a bounded amount, else drop the connection
		// (the server stops when it cannot send).
		if !s.conn.DiscardRows(10000) {
			s.conn.MarkBroken()
		}
	}
	s.vc.done(s.conn)
	s.conn = nil
}
