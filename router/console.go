package router

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// What the HTTP side (metrics, the console) reads of plans, sessions and
// the router, and the one way it runs a statement.

// StatementRows returns what the session's last statement did: result rows
// sent to the client and rows affected (0 after a result set).
func (s *Session) StatementRows() (returned int64, affected int64) {
	return s.vc.rows, max(s.RowCount, 0)
}

// CacheEvictions counts plans the plan cache dropped to make room for
// others (limits.plan_cache_bytes or its entry count).
func (r *Router) CacheEvictions() uint64 { return r.evictions.Load() }

// Result is the text result of a statement run by Query.
type Result struct {
	Columns  []string   `json:"columns"`
	Rows     [][]string `json:"rows"`
	Affected uint64     `json:"affected"`
}

// maxQueryResult bounds what Query keeps of a result.
const maxQueryResult = 8 << 20

// Query runs one statement for user as a client of that account would:
// in a session of its own on keyspace ("" = none), through the same
// comment resolution, policy, access checks (keyspaces, read-only) and
// plan cache, with the shards' account never lent to anything the account
// could not run over SQL. The session ends with the call (an open
// transaction is rolled back). The console runs VEXPLAIN this way for the
// admin who is logged in. A statement's error is returned as *wire.Error.
func (r *Router) Query(ctx context.Context, user *config.User, keyspace, sql string) (*Result, error) {
	mode := txn.Mode(r.cfg.TransactionMode)
	if mode == "" {
		mode = txn.Multi
	}
	s := NewSession(0, user, "", mode)
	s.Limits = r.cfg.Limits
	s.Host = "console"
	defer s.Tx.Close(ctx)
	buf := &memConn{max: maxQueryResult}
	out := wire.NewConn(buf)
	if keyspace != "" {
		if err := r.Use(ctx, s, keyspace, out); err != nil {
			return nil, err
		}
		if _, err := readResult(buf); err != nil {
			return nil, err
		}
	}
	if err := r.Execute(ctx, s, sql, out); err != nil {
		return nil, fmt.Errorf("run %q: %w", sql, err)
	}
	return readResult(buf)
}

// readResult decodes one text-protocol response from buf.
func readResult(buf *memConn) (*Result, error) {
	if buf.over {
		return nil, wire.Errorf(mysql.ER_TOO_BIG_SELECT, "the result is larger than %d bytes: not shown", maxQueryResult)
	}
	in := wire.NewConn(buf)
	p, err := in.ReadPacket()
	if err != nil {
		return nil, fmt.Errorf("read the result: %w", err)
	}
	switch p[0] {
	case wire.OKHeader:
		ok, err := wire.ParseOK(p)
		if err != nil {
			return nil, err
		}
		return &Result{Affected: ok.AffectedRows}, nil
	case wire.ErrHeader:
		return nil, wire.ParseError(p)
	}
	n, _, _ := mysql.LengthEncodedInt(p)
	res := &Result{Rows: [][]string{}}
	for i := 0; i < int(n); i++ {
		f, err := in.ReadPacket()
		if err != nil {
			return nil, fmt.Errorf("read the result: %w", err)
		}
		fd, err := wire.ParseField(f)
		if err != nil {
			return nil, err
		}
		res.Columns = append(res.Columns, fd.Name)
	}
	if _, err := in.ReadPacket(); err != nil { // EOF after the definitions
		return nil, fmt.Errorf("read the result: %w", err)
	}
	for {
		p, err := in.ReadPacket()
		if err != nil {
			return nil, fmt.Errorf("read the result: %w", err)
		}
		if wire.IsEOF(p) {
			return res, nil
		}
		if p[0] == wire.ErrHeader {
			return nil, wire.ParseError(p)
		}
		row := make([]string, 0, n)
		for pos := 0; pos < len(p); {
			if p[pos] == 0xfb {
				row = append(row, "NULL")
				pos++
				continue
			}
			v, isNull, w, err := mysql.LengthEncodedString(p[pos:])
			if err != nil {
				return nil, fmt.Errorf("read a row: %w", err)
			}
			if isNull {
				row = append(row, "NULL")
			} else {
				row = append(row, string(v))
			}
			pos += w
		}
		res.Rows = append(res.Rows, row)
	}
}

// memConn is a net.Conn over a buffer: what is written is read back.
type memConn struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (c *memConn) Read(p []byte) (int, error) {
	if c.b.Len() == 0 {
		return 0, io.EOF
	}
	return c.b.Read(p)
}

func (c *memConn) Write(p []byte) (int, error) {
	if c.b.Len()+len(p) > c.max {
		c.over = true
		return len(p), nil
	}
	return c.b.Write(p)
}

func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "console" }
