package engine

import (
	"context"
	"encoding/binary"
	"math"

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
	open(ctx context.Context, vc VCursor) (stream, error)
	Describe() string
}

// shardStream reads one shard's text result.
type shardStream struct {
	vc     VCursor
	conn   *backend.Conn
	fields []*wire.Field
	cur    row
	done   bool
	err    error
	// spool holds the rest of the result once Spool has read it off the
	// connection: each packet after its 4-byte length; next is where Next
	// reads.
	spool   []byte
	next    int
	spooled bool
}

// openShards sends sql to each shard and reads the column definitions of
// each result. All queries are sent before any result is read, so the
// shards work in parallel.
func openShards(ctx context.Context, vc VCursor, calls []ShardCall) ([]*shardStream, error) {
	streams := make([]*shardStream, len(calls))
	var firstErr error
	for i := range calls {
		c := &calls[i]
		s := &shardStream{vc: vc}
		streams[i] = s
		conn, err := vc.Conn(ctx, c.shard)
		if err != nil {
			s.err = err
			continue
		}
		s.conn = conn
		vc.Trace(conn.Shard(), c.SQL)
		if err := conn.WriteCommand(ctx, mysql.COM_QUERY, c.SQL); err != nil {
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
	s.conn.SetPending(s) // the rows are still to come
	return nil
}

// Spool implements backend.Spooler: another command must go out on this
// stream's connection (a shard pinned by the transaction, queried again by a
// cross-shard join), so the rest of the result is read into memory, at most
// limits.max_memory_rows rows.
func (s *shardStream) Spool() error {
	limit := s.vc.MaxMemoryRows()
	for rows := 0; ; rows++ {
		p, err := s.conn.Read()
		if err != nil {
			s.end(err)
			return err
		}
		if limit > 0 && rows >= limit && !wire.IsEOF(p) && p[0] != wire.ErrHeader {
			s.spool = nil
			err := LimitErrorf("max_memory_rows", mysql.ER_OUT_OF_RESOURCES,
				"shardgate: a query inside a transaction must hold more than %d rows of shard %s's result in memory (limits.max_memory_rows) while it queries that shard again (a cross-shard join); add conditions, or run it outside the transaction",
				limit, s.conn.Shard())
			s.end(err)
			return err
		}
		s.spool = binary.LittleEndian.AppendUint32(s.spool, uint32(len(p)))
		s.spool = append(s.spool, p...)
		if wire.IsEOF(p) || p[0] == wire.ErrHeader {
			s.spooled = true
			return nil
		}
	}
}

// end marks the result read to its end (or failed).
func (s *shardStream) end(err error) {
	s.done, s.err = true, err
	if s.conn != nil {
		s.conn.ClearPending(s)
	}
}

// packet returns the next packet of the result: from the connection, or
// from the spool once the result was spooled.
func (s *shardStream) packet() ([]byte, error) {
	if !s.spooled {
		return s.conn.Read()
	}
	if s.next+4 > len(s.spool) {
		return nil, wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shardgate: a spooled result of shard %s ended early", s.conn.Shard())
	}
	n := int(binary.LittleEndian.Uint32(s.spool[s.next:]))
	p := s.spool[s.next+4 : s.next+4+n]
	s.next += 4 + n
	return p, nil
}

func (s *shardStream) Fields() []*wire.Field { return s.fields }

func (s *shardStream) Next() (row, error) {
	if s.done {
		return nil, s.err
	}
	p, err := s.packet()
	if err != nil {
		s.end(err)
		return nil, err
	}
	if wire.IsEOF(p) {
		s.end(nil)
		if st := uint16(p[3]) | uint16(p[4])<<8; st&mysql.SERVER_MORE_RESULTS_EXISTS != 0 {
			s.conn.MarkBroken()
		}
		return nil, nil
	}
	if p[0] == wire.ErrHeader {
		s.end(wire.ParseError(p))
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
			s.end(err)
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
	s.conn.ClearPending(s)
	if !s.done && s.err == nil && !s.spooled {
		// Unread rows: read a bounded amount, else drop the connection
		// (the server stops when it cannot send). A connection the
		// transaction pinned cannot be replaced: read all of it.
		max := 10000
		if s.vc.Facts().InTransaction {
			max = math.MaxInt - 1
		}
		if !s.conn.DiscardRows(max) {
			s.conn.MarkBroken()
		}
	}
	s.spool = nil
	s.vc.Done(s.conn)
	s.conn = nil
}
