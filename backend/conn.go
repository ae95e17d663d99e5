// Package backend keeps pools of connections to the shards' MySQL servers and
// speaks the client side of the protocol on them: commands out, result
// packets in, relayed as bytes by the caller.
package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Conn is one connection to a shard's server. It belongs to one session at a
// time; it is not safe for concurrent use.
type Conn struct {
	*wire.Conn
	pool      *server // the server's pool it belongs to (pool.go)
	ThreadID  uint32  // server's connection id, for KILL
	foundRows bool

	// Settings is the session-variable assignment ("SET ...") last applied on
	// this connection; sessions compare it to their own to skip re-applying.
	Settings string

	// stmts maps SQL text to the server's prepared statement on this
	// connection; at most maxStmts, the least recently used evicted first.
	stmts    map[string]*Stmt
	maxStmts int
	stmtTick uint64

	// pending reads the rest of a result that is still being read on this
	// connection when another command must go out on it (a cross-shard
	// join's inner query on a shard the transaction has pinned). See Spooler.
	pending Spooler

	// queued is a statement written but not flushed (Queue): it goes out
	// with the next command and its response comes before that command's.
	queued string

	// Reserved: a session keeps this connection for its whole life (it
	// holds a temporary table): it is never reset to another session's
	// settings and never pooled (txn.Tx.Reserve).
	Reserved bool

	broken   bool
	lastUsed time.Time

	kc       *killConn
	deadline time.Time // set by setDeadline when kc.changes was deadlineAt
	// deadlineAt is kc.changes right after setDeadline's last change.
	deadlineAt uint64
}

// Stmt is a statement prepared on one backend connection.
type Stmt struct {
	ID     uint32
	Params uint16
	Cols   uint16
	used   uint64 // Conn.stmtTick at the last use, for eviction
}

// Spooler reads a result that is not read to its end when its connection
// must take another command. A connection carries one response at a time:
// inside a transaction each shard has one pinned connection, and a
// cross-shard join queries the inner side while the outer rows still arrive
// on it. Spool reads the rest of the result into the reader's memory
// (bounded) so that the next command can go out.
type Spooler interface {
	Spool() error
}

// SetPending registers s as the reader of the result now being read on c;
// ClearPending(s) when it is read to its end. The next command on c calls
// s.Spool first.
func (c *Conn) SetPending(s Spooler) { c.pending = s }

// ClearPending forgets s if it is the pending reader.
func (c *Conn) ClearPending(s Spooler) {
	if c.pending == s {
		c.pending = nil
	}
}

// settle spools a pending result before a new command goes out. A failure
// (the spool's bound, an I/O error) leaves the result unread: the connection
// is broken.
func (c *Conn) settle() error {
	s := c.pending
	c.pending = nil
	if err := s.Spool(); err != nil {
		c.broken = true
		return err
	}
	return nil
}

// dial connects and authenticates. The connection negotiates no
// CLIENT_DEPRECATE_EOF, so its result packets can be relayed unchanged to
// clients, which are offered none either.
func dial(ctx context.Context, addr, network, user, password, db string, timeout time.Duration, foundRows bool, bt *topo.BackendTLS) (*Conn, error) {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tc, err := tlsConfig(bt, addr) // killconn.go
	if err != nil {
		return nil, err
	}
	kc := &killConn{kill: killer(network, addr, user, password, timeout, tc)} // statement timeouts: killconn.go
	dialKC := func(ctx context.Context, network, address string) (net.Conn, error) {
		nc, err := dialer.DialContext(ctx, network, address)
		if err == nil { // go-mysql's handshake ignores ctx: bound it (a hung server accepts, then says nothing)
			_ = nc.SetDeadline(time.Now().Add(timeout))
		}
		kc.Conn = nc
		return kc, err
	}
	cc, err := client.ConnectWithDialer(ctx, network, addr, user, password, db, dialKC,
		func(c *client.Conn) error {
			c.UnsetCapability(mysql.CLIENT_DEPRECATE_EOF | mysql.CLIENT_QUERY_ATTRIBUTES)
			_ = c.SetCapability(mysql.CLIENT_MULTI_RESULTS)
			_ = c.SetCapability(mysql.CLIENT_PS_MULTI_RESULTS)
			_ = c.SetCapability(mysql.CLIENT_MULTI_STATEMENTS)
			if foundRows {
				_ = c.SetCapability(mysql.CLIENT_FOUND_ROWS)
			}
			c.SetAttributes(map[string]string{"program_name": "shardgate"})
			if tc != nil {
				c.SetTLSConfig(tc)
			}
			return c.SetCollation("utf8mb4_general_ci")
		})
	if err != nil {
		return nil, err
	}
	nc := cc.Conn.Conn // take over the socket; go-mysql's buffers hold nothing after the handshake
	_ = nc.SetDeadline(time.Time{})
	kc.tid = cc.GetConnectionID()
	if tc, ok := kc.Conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &Conn{Conn: wire.NewConn(nc), ThreadID: cc.GetConnectionID(), foundRows: foundRows, stmts: map[string]*Stmt{}, kc: kc}, nil
}

// MarkBroken makes Release close the connection instead of pooling it. Call it
// whenever the protocol state is unknown (I/O error, abandoned result).
func (c *Conn) MarkBroken() { c.broken = true }

// Broken reports whether the connection must not be reused.
func (c *Conn) Broken() bool { return c.broken }

// Shard names the shard this connection belongs to.
func (c *Conn) Shard() string { return c.pool.name }

// Pool is the pool the connection belongs to.
func (c *Conn) Pool() *Pool { return c.pool.handle() }

// Reset ends the connection's session state on the server
// (COM_RESET_CONNECTION: variables, temporary tables, locks, prepared
// statements) and forgets the settings and statements it held.
func (c *Conn) Reset(ctx context.Context) error {
	if err := c.WriteCommand(ctx, mysql.COM_RESET_CONNECTION, nil); err != nil {
		return err
	}
	if _, err := c.ReadResultDiscard(); err != nil {
		c.MarkBroken()
		return err
	}
	c.ForgetStatements()
	c.Settings = ""
	return nil
}

// Release returns the connection to its pool (or closes it when broken).
func (c *Conn) Release() { c.pool.put(c) }

// setDeadline applies ctx's deadline, if any, to the socket, unless the
// socket has it already.
func (c *Conn) setDeadline(ctx context.Context) {
	trackShard(ctx, c) // killconn.go
	d, _ := ctx.Deadline()
	if c.kc != nil && d.Equal(c.deadline) && c.kc.changes.Load() == c.deadlineAt {
		return
	}
	_ = c.NetConn().SetDeadline(d)
	c.deadline = d
	if c.kc != nil {
		c.deadlineAt = c.kc.changes.Load()
	}
}

// WriteCommand sends one command packet (seq 0) and flushes.
func (c *Conn) WriteCommand(ctx context.Context, cmd byte, arg []byte) error {
	if c.pending != nil {
		if err := c.settle(); err != nil {
			return err
		}
	}
	c.setDeadline(ctx)
	c.Seq = 0
	if err := c.WriteCommandPacket(cmd, arg); err != nil {
		c.broken = true
		return c.ioError(err)
	}
	if err := c.Flush(); err != nil {
		c.broken = true
		return c.ioError(err)
	}
	return nil
}

// WriteQuery sends COM_QUERY without copying sql into a temporary buffer twice.
func (c *Conn) WriteQuery(ctx context.Context, sql string) error {
	if c.pending != nil {
		if err := c.settle(); err != nil {
			return err
		}
	}
	c.setDeadline(ctx)
	c.Seq = 0
	if err := c.WriteCommandString(mysql.COM_QUERY, sql); err != nil {
		c.broken = true
		return c.ioError(err)
	}
	if err := c.Flush(); err != nil {
		c.broken = true
		return c.ioError(err)
	}
	return nil
}

// Queue writes sql as a COM_QUERY without flushing it: it reaches the
// server with the next command, one round trip instead of two. The next Read
// first reads and checks its response; if sql failed, that Read fails and
// the connection is broken, since the next command then ran without what sql
// was to set up. Only a statement whose failure leaves the next one harmless
// (a read after BEGIN) may be queued.
func (c *Conn) Queue(ctx context.Context, sql string) error {
	if c.pending != nil {
		if err := c.settle(); err != nil {
			return err
		}
	}
	c.setDeadline(ctx)
	c.Seq = 0
	if err := c.WriteCommandString(mysql.COM_QUERY, sql); err != nil {
		c.broken = true
		return c.ioError(err)
	}
	c.queued = sql
	return nil
}

// readQueued reads the response to the queued statement.
func (c *Conn) readQueued() error {
	sql := c.queued
	c.queued = ""
	if _, err := c.ReadResultDiscard(); err != nil {
		c.broken = true
		return fmt.Errorf("%s on shard %s: %w", sql, c.pool.name, err)
	}
	return nil
}

// Read reads the next packet of a response.
func (c *Conn) Read() ([]byte, error) {
	if c.queued != "" {
		if err := c.readQueued(); err != nil {
			return nil, err
		}
	}
	p, err := c.ReadPacket()
	if err != nil {
		c.broken = true
		return nil, c.ioError(err)
	}
	return p, nil
}

func (c *Conn) ioError(err error) error { return c.pool.ioError(err) } // group.go

// Exec runs sql and returns its OK (the last one for multi-statements).
// Rows of any result set are discarded.
func (c *Conn) Exec(ctx context.Context, sql string) (wire.OK, error) {
	if err := c.WriteQuery(ctx, sql); err != nil {
		return wire.OK{}, err
	}
	return c.ReadResultDiscard()
}

// ReadResultDiscard reads a whole response, discarding rows, and returns its
// final OK or the error.
func (c *Conn) ReadResultDiscard() (wire.OK, error) {
	for {
		p, err := c.Read()
		if err != nil {
			return wire.OK{}, err
		}
		var status uint16
		switch p[0] {
		case wire.OKHeader:
			ok, err := wire.ParseOK(p)
			if err != nil {
				c.broken = true
				return ok, err
			}
			if ok.Status&mysql.SERVER_MORE_RESULTS_EXISTS != 0 {
				continue
			}
			return ok, nil
		case wire.ErrHeader:
			return wire.OK{}, wire.ParseError(p)
		default:
			// Result set: skip column definitions and rows.
			if status, err = c.skipResultSet(); err != nil {
				return wire.OK{}, err
			}
			if status&mysql.SERVER_MORE_RESULTS_EXISTS == 0 {
				return wire.OK{Status: status}, nil
			}
		}
	}
}

func (c *Conn) skipResultSet() (uint16, error) {
	eofs := 0
	for {
		p, err := c.Read()
		if err != nil {
			return 0, err
		}
		if p[0] == wire.ErrHeader {
			return 0, wire.ParseError(p)
		}
		if wire.IsEOF(p) {
			eofs++
			if eofs == 2 {
				return uint16(p[3]) | uint16(p[4])<<8, nil
			}
		}
	}
}

// Prepared returns the statement prepared for sql on this connection,
// preparing it first if needed.
func (c *Conn) Prepared(ctx context.Context, sql string) (*Stmt, error) {
	if st, ok := c.stmts[sql]; ok {
		c.stmtTick++
		st.used = c.stmtTick
		return st, nil
	}
	if err := c.PrepareRelay(ctx, sql, func([]byte, bool) error { return nil }); err != nil {
		return nil, err
	}
	return c.stmts[sql], nil
}

// ForgetStatements drops the connection's prepared-statement cache after a
// COM_RESET_CONNECTION, which closes them on the server.
func (c *Conn) ForgetStatements() { clear(c.stmts) }

func (c *Conn) closeStmt(ctx context.Context, st *Stmt) error {
	var b [4]byte
	b[0], b[1], b[2], b[3] = byte(st.ID), byte(st.ID>>8), byte(st.ID>>16), byte(st.ID>>24)
	return c.WriteCommand(ctx, mysql.COM_STMT_CLOSE, b[:]) // no response
}

// evictStmts closes the n least recently used statements. A shard counts
// prepared statements server-wide (max_prepared_stmt_count, 16382 by
// default, shared by every client of the server), so each connection keeps
// few: a full cache costs the server maxStmts slots per pooled connection.
func (c *Conn) evictStmts(ctx context.Context, n int) error {
	for ; n > 0 && len(c.stmts) > 0; n-- {
		var oldest string
		var ost *Stmt
		for q, st := range c.stmts {
			if ost == nil || st.used < ost.used {
				oldest, ost = q, st
			}
		}
		delete(c.stmts, oldest)
		if err := c.closeStmt(ctx, ost); err != nil {
			return err
		}
	}
	return nil
}

// MaxStmtsPerConn is how many prepared statements one backend connection
// keeps for a pool of size connections: at most 4096 per pool (a quarter of
// MariaDB's default max_prepared_stmt_count, leaving room for other proxies
// and clients of the server), between 16 and 256 per connection.
func MaxStmtsPerConn(size int) int {
	if size <= 0 {
		size = 64
	}
	return min(max(4096/size, 16), 256)
}

func addrNetwork(host string, port int, socket string) (string, string) {
	if socket != "" {
		return socket, "unix"
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), "tcp"
}

// ReadResultDiscardRest reads the rest of a result set whose header (ncols)
// was read, discarding it.
func (c *Conn) ReadResultDiscardRest(ncols int) (uint16, error) {
	for i := 0; i < ncols; i++ {
		if _, err := c.Read(); err != nil {
			return 0, err
		}
	}
	return c.skipResultSet()
}

// PrepareRelay prepares sql and hands every packet of the response to fn
// (first is the COM_STMT_PREPARE_OK header), keeping the statement cached on
// this connection. When the server has no statement slot left (1461,
// max_prepared_stmt_count is server-wide), it closes half of this
// connection's statements and tries once more.
func (c *Conn) PrepareRelay(ctx context.Context, sql string, fn func(p []byte, first bool) error) error {
	if old, ok := c.stmts[sql]; ok {
		delete(c.stmts, sql)
		if err := c.closeStmt(ctx, old); err != nil {
			return err
		}
	}
	if len(c.stmts) >= c.stmtLimit() {
		if err := c.evictStmts(ctx, len(c.stmts)-c.stmtLimit()+1); err != nil {
			return err
		}
	}
	st, err := c.prepare(ctx, sql, fn)
	if e := (*wire.Error)(nil); errors.As(err, &e) && e.Code == mysql.ER_MAX_PREPARED_STMT_COUNT_REACHED && len(c.stmts) > 0 {
		if err := c.evictStmts(ctx, (len(c.stmts)+1)/2); err != nil {
			return err
		}
		st, err = c.prepare(ctx, sql, fn)
	}
	if err != nil {
		return err
	}
	c.stmtTick++
	st.used = c.stmtTick
	c.stmts[sql] = st
	return nil
}

func (c *Conn) stmtLimit() int {
	if c.maxStmts > 0 {
		return c.maxStmts
	}
	return MaxStmtsPerConn(0)
}

// prepare sends COM_STMT_PREPARE and reads the answer.
func (c *Conn) prepare(ctx context.Context, sql string, fn func(p []byte, first bool) error) (*Stmt, error) {
	if err := c.WriteCommand(ctx, mysql.COM_STMT_PREPARE, []byte(sql)); err != nil {
		return nil, err
	}
	p, err := c.Read()
	if err != nil {
		return nil, err
	}
	if p[0] == wire.ErrHeader {
		return nil, wire.ParseError(p)
	}
	if p[0] != wire.OKHeader || len(p) < 12 {
		c.broken = true
		return nil, fmt.Errorf("shard %s: malformed prepare response", c.pool.name)
	}
	st := &Stmt{
		ID:     uint32(p[1]) | uint32(p[2])<<8 | uint32(p[3])<<16 | uint32(p[4])<<24,
		Cols:   uint16(p[5]) | uint16(p[6])<<8,
		Params: uint16(p[7]) | uint16(p[8])<<8,
	}
	if err := fn(p, true); err != nil {
		c.broken = true
		return nil, err
	}
	for _, n := range []uint16{st.Params, st.Cols} {
		if n == 0 {
			continue
		}
		for i := 0; i <= int(n); i++ {
			q, err := c.Read()
			if err != nil {
				return nil, err
			}
			if err := fn(q, false); err != nil {
				c.broken = true
				return nil, err
			}
		}
	}
	return st, nil
}

// QueryStrings runs a small query and returns its rows as strings (NULL as
// ""), for the proxy's own lookups; never for client results.
func (c *Conn) QueryStrings(ctx context.Context, sql string) ([][]string, error) {
	if err := c.WriteQuery(ctx, sql); err != nil {
		return nil, err
	}
	p, err := c.Read()
	if err != nil {
		return nil, err
	}
	switch p[0] {
	case wire.ErrHeader:
		return nil, wire.ParseError(p)
	case wire.OKHeader:
		return nil, nil
	}
	n, _, _ := mysql.LengthEncodedInt(p)
	for i := 0; i <= int(n); i++ { // definitions and EOF
		if _, err := c.Read(); err != nil {
			return nil, err
		}
	}
	var rows [][]string
	for {
		p, err := c.Read()
		if err != nil {
			return nil, err
		}
		if wire.IsEOF(p) {
			return rows, nil
		}
		if p[0] == wire.ErrHeader {
			return nil, wire.ParseError(p)
		}
		row := make([]string, 0, n)
		pos := 0
		for i := 0; i < int(n); i++ {
			v, isNull, w, err := mysql.LengthEncodedString(p[pos:])
			if err != nil {
				c.broken = true
				return nil, err
			}
			pos += w
			if isNull {
				row = append(row, "")
			} else {
				row = append(row, string(v))
			}
		}
		rows = append(rows, row)
	}
}

// DiscardRows reads and drops at most max rows of a result set up to its
// final EOF; it reports whether the result ended cleanly.
func (c *Conn) DiscardRows(max int) bool {
	for i := 0; i <= max; i++ {
		p, err := c.Read()
		if err != nil {
			return false
		}
		if wire.IsEOF(p) {
			return (uint16(p[3])|uint16(p[4])<<8)&mysql.SERVER_MORE_RESULTS_EXISTS == 0
		}
		if p[0] == wire.ErrHeader {
			return true
		}
	}
	return false
}
