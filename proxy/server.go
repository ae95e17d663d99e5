// Package proxy is shardgate's MySQL front end: it accepts client
// connections, authenticates them, and runs each session's command loop,
// handing statements to the router.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// Server accepts MySQL clients and serves them through a router.
type Server struct {
	cfg    *topo.Config
	router *router.Router
	log    *zap.Logger
	users  map[string]*topo.User

	nextID  atomic.Uint32
	started time.Time
	queries atomic.Uint64

	mu       sync.Mutex
	sessions map[uint32]*clientConn
	wg       sync.WaitGroup
}

// New returns a server for cfg.
func New(cfg *topo.Config, r *router.Router, log *zap.Logger) *Server {
	users := make(map[string]*topo.User, len(cfg.Users))
	for i := range cfg.Users {
		users[cfg.Users[i].Name] = &cfg.Users[i]
	}
	return &Server{cfg: cfg, router: r, log: log, users: users, sessions: map[uint32]*clientConn{}, started: time.Now()}
}

// Serve accepts connections on ln until ctx is done, then stops accepting,
// waits up to drain for sessions to finish their statements, and closes
// the rest.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		max := s.cfg.Limits.MaxConnections
		s.mu.Lock()
		n := len(s.sessions)
		s.mu.Unlock()
		if max > 0 && n >= max {
			refuse(nc, wire.Errorf(mysql.ER_CON_COUNT_ERROR, "Too many connections (shardgate limits.max_connections = %d)", max))
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, nc)
		}()
	}
	s.shutdown(drain)
	return nil
}

// shutdown waits for idle sessions to go, then closes what is left.
func (s *Server) shutdown(drain time.Duration) {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	s.mu.Lock()
	for _, c := range s.sessions {
		c.closeWhenIdle()
	}
	s.mu.Unlock()
	select {
	case <-done:
	case <-time.After(drain):
		s.mu.Lock()
		for _, c := range s.sessions {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
	}
}

func refuse(nc net.Conn, e *wire.Error) {
	c := wire.NewConn(nc)
	_ = nc.SetDeadline(time.Now().Add(time.Second))
	_ = c.WritePacket(wire.AppendError(nil, e))
	_ = c.Flush()
	nc.Close()
}

// clientConn is one client session.
type clientConn struct {
	srv  *Server
	nc   net.Conn
	conn *wire.Conn
	sess *router.Session
	log  *zap.Logger

	busy    atomic.Bool // running a command
	closing atomic.Bool // close as soon as idle
}

func (c *clientConn) closeWhenIdle() {
	c.closing.Store(true)
	if !c.busy.Load() {
		c.nc.Close()
	}
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	id := s.nextID.Add(1)
	log := s.log.With(zap.Uint32("session", id), zap.String("client", nc.RemoteAddr().String()))
	conn := wire.NewConn(nc)
	conn.MaxPacket = s.cfg.Limits.MaxPacketSize
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second)) // handshake must be quick
	salt, err := newSalt()
	if err != nil {
		log.Error("salt", zap.Error(err))
		return
	}
	if err := writeGreeting(conn, id, salt, mysql.SERVER_STATUS_AUTOCOMMIT); err != nil {
		return
	}
	hs, err := readHandshake(conn, salt, s.users)
	if err != nil {
		var e *wire.Error
		if errors.As(err, &e) {
			log.Info("login refused", zap.String("reason", e.Message))
			_ = conn.WritePacket(wire.AppendError(nil, e))
			_ = conn.Flush()
		} else if !errors.Is(err, io.EOF) {
			log.Info("bad handshake", zap.Error(err))
			_ = conn.WritePacket(wire.AppendError(nil, wire.Errorf(mysql.ER_HANDSHAKE_ERROR, "Bad handshake")))
			_ = conn.Flush()
		}
		return
	}
	_ = nc.SetDeadline(time.Time{})
	mode := txn.Mode(s.cfg.TransactionMode)
	if mode == "" {
		mode = txn.Multi
	}
	sess := router.NewSession(id, hs.user, "", mode)
	sess.FoundRows = hs.caps&mysql.CLIENT_FOUND_ROWS != 0
	if names := namesForCollation(hs.collation); names != "" {
		sess.SetNames(names)
	}
	c := &clientConn{srv: s, nc: nc, conn: conn, sess: sess, log: log}
	s.mu.Lock()
	s.sessions[id] = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, id)
		s.mu.Unlock()
		sess.Tx.Close(context.Background())
	}()

	db := hs.db
	if db == "" {
		db = s.cfg.DefaultKeyspace
	}
	if db != "" {
		if err := s.router.Use(ctx, sess, db, discardConn(conn)); err != nil || sess.Keyspace == "" {
			if hs.db != "" {
				_ = conn.WritePacket(wire.AppendError(nil, wire.Errorf(mysql.ER_BAD_DB_ERROR, "Unknown database '%s'", hs.db)))
				_ = conn.Flush()
				return
			}
		}
	}
	if err := c.writeOK(); err != nil {
		return
	}
	c.loop(ctx)
}

// discardConn returns a wire.Conn that drops what the router writes (used
// to run USE during login, where the answer is the login's own OK).
func discardConn(c *wire.Conn) *wire.Conn { return wire.NewConn(discard{c.NetConn()}) }

type discard struct{ net.Conn }

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (c *clientConn) writeOK() error {
	ok := wire.OK{Status: c.sess.Status()}
	if err := c.conn.WritePacket(wire.AppendOK(nil, &ok)); err != nil {
		return err
	}
	return c.conn.Flush()
}

// namesForCollation maps the handshake's collation to SET NAMES, or "" for
// the backends' own default (utf8mb4_general_ci).
func namesForCollation(id byte) string {
	if id == 0 || id == 45 {
		return ""
	}
	coll, err := charset.GetCollationByID(int(id))
	if err != nil || id == 255 { // MySQL 8's utf8mb4_0900_ai_ci is unknown to MariaDB
		return "NAMES utf8mb4"
	}
	return "NAMES " + coll.CharsetName + " COLLATE " + coll.Name
}

func (c *clientConn) loop(ctx context.Context) {
	for {
		if c.closing.Load() {
			return
		}
		p, err := c.conn.ReadPacket()
		if err != nil {
			if errors.Is(err, wire.ErrPacketTooLarge) {
				_ = c.conn.WritePacket(wire.AppendError(nil, wire.Errorf(mysql.ER_NET_PACKET_TOO_LARGE, "Got a packet bigger than 'max_allowed_packet' bytes (shardgate limits.max_packet_size = %d)", c.srv.cfg.Limits.MaxPacketSize)))
				if c.conn.Flush() != nil {
					return
				}
				continue
			}
			return
		}
		if len(p) == 0 {
			continue
		}
		c.busy.Store(true)
		quit, err := c.dispatch(ctx, p)
		c.busy.Store(false)
		if quit || err != nil {
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.log.Debug("session ends", zap.Error(err))
			}
			return
		}
	}
}

// dispatch runs one command. A panic ends only this command.
func (c *clientConn) dispatch(ctx context.Context, p []byte) (quit bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in session", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			e := wire.Errorf(mysql.ER_UNKNOWN_ERROR, "internal error in shardgate (logged as session %d): %v", c.sess.ID, r)
			_ = c.conn.WritePacket(wire.AppendError(nil, e))
			err = c.conn.Flush()
		}
	}()
	r := c.srv.router
	s := c.sess
	c.srv.queries.Add(1)
	switch p[0] {
	case mysql.COM_QUIT:
		return true, nil
	case mysql.COM_QUERY:
		return false, r.Execute(ctx, s, string(p[1:]), c.conn)
	case mysql.COM_PING:
		return false, c.writeOK()
	case mysql.COM_INIT_DB:
		return false, r.Use(ctx, s, string(p[1:]), c.conn)
	case mysql.COM_STMT_PREPARE:
		return false, r.Prepare(ctx, s, string(p[1:]), c.conn)
	case mysql.COM_STMT_EXECUTE:
		return false, r.ExecuteStmt(ctx, s, p[1:], c.conn)
	case mysql.COM_STMT_CLOSE:
		if len(p) >= 5 {
			r.CloseStmt(s, uint32(p[1])|uint32(p[2])<<8|uint32(p[3])<<16|uint32(p[4])<<24)
		}
		return false, nil
	case mysql.COM_STMT_RESET:
		if len(p) < 5 {
			return false, c.writeError(wire.Errorf(mysql.ER_MALFORMED_PACKET, "Malformed communication packet"))
		}
		return false, r.ResetStmt(s, uint32(p[1])|uint32(p[2])<<8|uint32(p[3])<<16|uint32(p[4])<<24, c.conn)
	case mysql.COM_STMT_SEND_LONG_DATA:
		r.SendLongData(s, p[1:])
		return false, nil
	case mysql.COM_FIELD_LIST:
		return false, r.FieldList(ctx, s, p[1:], c.conn)
	case mysql.COM_STATISTICS:
		stats := fmt.Sprintf("Uptime: %d  Threads: %d  Questions: %d  Slow queries: 0  Opens: 0  Open tables: 0  Queries per second avg: %.3f",
			int(time.Since(c.srv.started).Seconds()), c.srv.sessionCount(), c.srv.queries.Load(),
			float64(c.srv.queries.Load())/max(time.Since(c.srv.started).Seconds(), 1))
		if err := c.conn.WritePacket([]byte(stats)); err != nil {
			return false, err
		}
		return false, c.conn.Flush()
	case mysql.COM_RESET_CONNECTION:
		s.Tx.Close(ctx)
		s.ResetState()
		return false, c.writeOK()
	case mysql.COM_SET_OPTION:
		// Multi-statements on/off: acknowledged with EOF, as MySQL does.
		if err := c.conn.WritePacket(wire.AppendEOF(nil, 0, s.Status())); err != nil {
			return false, err
		}
		return false, c.conn.Flush()
	}
	return false, c.writeError(wire.Errorf(mysql.ER_UNKNOWN_COM_ERROR, "Unknown command %d (%s is not supported by shardgate)", p[0], commandName(p[0])))
}

func (c *clientConn) writeError(e *wire.Error) error {
	if err := c.conn.WritePacket(wire.AppendError(nil, e)); err != nil {
		return err
	}
	return c.conn.Flush()
}

func (s *Server) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func commandName(b byte) string {
	names := map[byte]string{
		mysql.COM_CHANGE_USER: "COM_CHANGE_USER", mysql.COM_PROCESS_KILL: "COM_PROCESS_KILL",
		mysql.COM_BINLOG_DUMP: "COM_BINLOG_DUMP", mysql.COM_REGISTER_SLAVE: "COM_REGISTER_SLAVE",
		mysql.COM_STMT_FETCH: "COM_STMT_FETCH", mysql.COM_PROCESS_INFO: "COM_PROCESS_INFO",
		mysql.COM_DEBUG: "COM_DEBUG", mysql.COM_SHUTDOWN: "COM_SHUTDOWN",
	}
	if n, ok := names[b]; ok {
		return n
	}
	return strings.ToUpper(fmt.Sprintf("command 0x%02x", b))
}
