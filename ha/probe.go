package ha

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// ServerState is what one probe found on a server.
type ServerState struct {
	Addr    string
	At      time.Time
	Latency time.Duration
	Up      bool
	Err     string // why the probe failed (Up false)
	// Refused: the failure was definite (connection refused or closed),
	// not a timeout; a hung server only times out.
	Refused bool

	ReadOnly   bool
	ServerID   uint32
	Domain     uint32
	BinlogPos  Position // @@gtid_binlog_pos
	CurrentPos Position // @@gtid_current_pos
	SlavePos   Position // @@gtid_slave_pos

	// Replication (SHOW SLAVE STATUS); Replicating is false without a row.
	Replicating  bool
	MasterAddr   string // Master_Host:Master_Port
	IORunning    string // Yes, No, Connecting
	SQLRunning   bool
	IOPos        Position // Gtid_IO_Pos: what it received
	LastIOErrno  int
	LastIOError  string
	LastSQLErrno int
	LastSQLError string

	SemiSyncPrimary bool // rpl_semi_sync_master_enabled
	// SemiSyncPrimaryActive: Rpl_semi_sync_master_status is ON and a
	// semi-sync replica is connected (with rpl_semi_sync_master_wait_no_slave
	// OFF the status stays ON while commits wait for no one).
	SemiSyncPrimaryActive bool
	SemiSyncClients       int // Rpl_semi_sync_master_clients
}

// Received is the position a replica has received (Gtid_IO_Pos, at least
// what it applied); for a server that replicates from no one, its binary log.
func (s *ServerState) Received() Position {
	if !s.Replicating {
		return s.BinlogPos
	}
	if s.IOPos.Seq(s.Domain) >= s.CurrentPos.Seq(s.Domain) {
		return s.IOPos
	}
	return s.CurrentPos
}

// Writable: up, read_only off, replicating from no one — a primary.
func (s *ServerState) Writable() bool { return s.Up && s.Err == "" && !s.ReadOnly && !s.Replicating }

// conn is a connection of the prober (or of a recovery) to one server,
// kept between probes.
type conn struct {
	addr, user, pass string
	timeout          time.Duration

	mu sync.Mutex
	c  *client.Conn
}

func (c *conn) get(ctx context.Context) (*client.Conn, error) {
	if c.c != nil {
		return c.c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	d := &net.Dialer{Timeout: c.timeout}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err == nil { // the handshake ignores ctx: a hung server accepts, then says nothing
			_ = nc.SetDeadline(time.Now().Add(c.timeout))
		}
		return nc, err
	}
	cc, err := client.ConnectWithDialer(ctx, "tcp", c.addr, c.user, c.pass, "", dial, func(cc *client.Conn) error {
		cc.SetAttributes(map[string]string{"program_name": "shardgate-ha"})
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.c = cc
	return cc, nil
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// exec runs sql with the timeout (or ctx's deadline when sooner); an I/O
// failure closes the connection.
func (c *conn) exec(ctx context.Context, timeout time.Duration, sql string) (*mysql.Result, error) {
	cc, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	dl := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = cc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = cc.SetDeadline(time.Unix(1, 0)) })
	r, err := cc.Execute(sql)
	stop()
	if err != nil {
		var me *mysql.MyError
		if !errors.As(err, &me) {
			c.close()
		}
		return nil, err
	}
	return r, nil
}

// probe reads a server's state (full: its replication too).
func (c *conn) probe(ctx context.Context) *ServerState { return c.probeFull(ctx, true) }

func (c *conn) probeFull(ctx context.Context, full bool) *ServerState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &ServerState{Addr: c.addr, At: time.Now()}
	fail := func(err error) *ServerState {
		st.Latency = time.Since(st.At)
		st.Err = err.Error()
		var me *mysql.MyError
		if errors.As(err, &me) {
			// The server answered (access denied, a missing privilege): it
			// is up, its state unknown. Never a reason to fail over.
			st.Up = true
			st.Err = "probe: " + st.Err + " (the ha.admin account needs SLAVE MONITOR, BINLOG MONITOR, READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, CONNECTION ADMIN)"
			return st
		}
		st.Refused = !isTimeout(err)
		c.close()
		return st
	}
	r, err := c.exec(ctx, c.timeout, "SELECT @@read_only, @@server_id, @@gtid_domain_id, @@gtid_binlog_pos, @@gtid_current_pos, @@gtid_slave_pos, "+
		"@@rpl_semi_sync_master_enabled, "+
		"(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='RPL_SEMI_SYNC_MASTER_STATUS'), "+
		"(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='RPL_SEMI_SYNC_MASTER_CLIENTS')")
	if err != nil {
		return fail(err)
	}
	row := func(i int) string { s, _ := r.GetString(0, i); return s }
	if r.RowNumber() != 1 {
		return fail(fmt.Errorf("probe query returned %d rows", r.RowNumber()))
	}
	st.ReadOnly = row(0) == "1"
	id, _ := strconv.ParseUint(row(1), 10, 32)
	st.ServerID = uint32(id)
	dom, _ := strconv.ParseUint(row(2), 10, 32)
	st.Domain = uint32(dom)
	st.BinlogPos, st.CurrentPos, st.SlavePos = ParsePosition(row(3)), ParsePosition(row(4)), ParsePosition(row(5))
	st.SemiSyncPrimary = row(6) == "1"
	st.SemiSyncClients, _ = strconv.Atoi(row(8))
	st.SemiSyncPrimaryActive = strings.EqualFold(row(7), "ON") && st.SemiSyncClients > 0
	if !full {
		st.Up = true
		st.Latency = time.Since(st.At)
		return st
	}

	r, err = c.exec(ctx, c.timeout, "SHOW SLAVE STATUS")
	if err != nil {
		return fail(err)
	}
	if r.RowNumber() > 0 {
		get := func(name string) string { s, _ := r.GetStringByName(0, name); return s }
		if host := get("Master_Host"); host != "" {
			st.Replicating = true
			st.MasterAddr = net.JoinHostPort(host, get("Master_Port"))
			st.IORunning = get("Slave_IO_Running")
			st.SQLRunning = get("Slave_SQL_Running") == "Yes"
			st.IOPos = ParsePosition(get("Gtid_IO_Pos"))
			st.LastIOErrno, _ = strconv.Atoi(get("Last_IO_Errno"))
			st.LastIOError = get("Last_IO_Error")
			st.LastSQLErrno, _ = strconv.Atoi(get("Last_SQL_Errno"))
			st.LastSQLError = get("Last_SQL_Error")
		}
	}
	st.Up = true
	st.Latency = time.Since(st.At)
	return st
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// go-mysql's handshake wraps errors without Unwrap.
	return strings.Contains(err.Error(), "i/o timeout")
}

// sqlConn adapts a conn to what the two-phase-commit resolver needs to
// finish prepared branches on a server (QueryStrings, Exec).
type sqlConn struct {
	c       *conn
	timeout time.Duration
}

func (s sqlConn) QueryStrings(ctx context.Context, sql string) ([][]string, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	r, err := s.c.exec(ctx, s.timeout, sql)
	if err != nil {
		return nil, asWireError(err)
	}
	var rows [][]string
	if r.Resultset == nil {
		return nil, nil
	}
	for i := range r.RowNumber() {
		row := make([]string, r.ColumnNumber())
		for j := range row {
			row[j], _ = r.GetString(i, j)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (s sqlConn) Exec(ctx context.Context, sql string) error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	_, err := s.c.exec(ctx, s.timeout, sql)
	return asWireError(err)
}
