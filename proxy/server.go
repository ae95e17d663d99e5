// Package proxy is shardgate's MySQL front end: it accepts client
// connections, authenticates them (TLS, mysql_native_password,
// caching_sha2_password), enforces the connection limits, and runs each
// session's command loop, handing statements to the router.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/deadlock"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// Error codes MySQL uses that go-mysql does not name.
const (
	erClientInteractionTimeout = 4031 // MySQL 8: disconnected for inactivity
	erSecureTransportRequired  = 3159
)

// handshakeTimeout bounds greeting, TLS and authentication.
const handshakeTimeout = 10 * time.Second

// Server accepts MySQL clients and serves them through a router.
type Server struct {
	router *router.Router
	log    *zap.Logger
	hk     Hooks // set before Serve

	cur     atomic.Pointer[settings] // replaced by Reload
	addr    atomic.Pointer[string]   // the listener's address, set by Serve
	initErr error
	limiter *loginLimiter

	nextID   atomic.Uint32
	started  time.Time
	queries  atomic.Uint64
	conns    atomic.Int64 // open client connections, logged in or not
	draining atomic.Bool

	mu       sync.Mutex
	sessions map[uint32]*clientConn
	wg       sync.WaitGroup

	// detector breaks deadlocks across shards among the sessions; Serve
	// runs it (deadlock.go).
	detector *deadlock.Detector
}

// settings is what Reload replaces: accounts, limits, TLS.
type settings struct {
	cfg   *config.Config
	users map[string]*config.User
	tls   *tls.Config // nil = no TLS
	gen   uint64
}

// New returns a server for cfg; it registers itself with r for SHOW
// PROCESSLIST and KILL. A TLS certificate that cannot be loaded is reported
// by Serve.
func New(cfg *config.Config, r *router.Router, log *zap.Logger) *Server {
	s := &Server{router: r, log: log, hk: nopHooks{}, limiter: newLoginLimiter(), sessions: map[uint32]*clientConn{}, started: time.Now()}
	set, err := newSettings(cfg, 1)
	if err != nil {
		s.initErr = err
		set, _ = newSettings(&config.Config{Limits: cfg.Limits}, 1)
		set.cfg = cfg
	}
	s.cur.Store(set)
	r.SetSessions(s)
	s.detector = deadlock.New(deadlockSessions{s}, r.Pools, deadlock.Options{Threshold: cfg.Deadlock.Threshold, Log: log.Named("deadlock")})
	return s
}

func newSettings(cfg *config.Config, gen uint64) (*settings, error) {
	set := &settings{cfg: cfg, users: make(map[string]*config.User, len(cfg.Users)), gen: gen}
	for i := range cfg.Users {
		set.users[cfg.Users[i].Name] = &cfg.Users[i]
	}
	if t := cfg.Listen.TLS; t != nil {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("listen.tls: %w", err)
		}
		set.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return set, nil
}

// SetHooks installs the event receiver (metrics); call it before Serve.
func (s *Server) SetHooks(h Hooks) {
	if h == nil {
		h = nopHooks{}
	}
	s.hk = h
}

// Reload puts the users, limits and TLS certificate of cfg in force
// (SIGHUP). Sessions keep running: each picks the new settings up at its
// next command (its account's keyspaces and read-only flag, the packet and
// idle limits); a session whose account was removed ends with an error.
// Listen addresses and the topology are not changed by Reload.
func (s *Server) Reload(cfg *config.Config) error {
	old := s.cur.Load()
	set, err := newSettings(cfg, old.gen+1)
	if err != nil {
		return err
	}
	s.cur.Store(set)
	s.detector.SetThreshold(cfg.Deadlock.Threshold)
	return nil
}

// Config returns the configuration in force.
func (s *Server) Config() *config.Config { return s.cur.Load().cfg }

// Draining reports whether the server is shutting down.
func (s *Server) Draining() bool { return s.draining.Load() }

// Connections returns the open client connections (logged in or not).
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Sessions returns the number of logged-in sessions.
func (s *Server) Sessions() int { return s.sessionCount() }

// ListenAddr is the address clients connect to: the listener's once Serve
// runs (listen.mysql may say port 0), else the configured one.
func (s *Server) ListenAddr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return s.Config().Listen.MySQL
}

// Serve accepts connections on ln until ctx is done, then stops accepting,
// lets sessions finish their statements and open transactions for up to
// drain, and closes the rest.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	if s.initErr != nil {
		ln.Close()
		return s.initErr
	}
	addr := ln.Addr().String()
	s.addr.Store(&addr)
	stop := context.AfterFunc(ctx, func() { s.draining.Store(true); ln.Close() })
	defer stop()
	// The deadlock detector runs until the last session is gone: draining
	// sessions still finish their transactions.
	dctx, stopDetector := context.WithCancel(context.Background())
	detectorDone := make(chan struct{})
	go func() {
		defer close(detectorDone)
		s.detector.Run(dctx)
	}()
	defer func() {
		stopDetector()
		<-detectorDone
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		set := s.cur.Load()
		if max := set.cfg.Limits.MaxConnections; max > 0 && s.conns.Load() >= int64(max) {
			s.hk.ClientRefused("max_connections")
			go refuse(nc, wire.Errorf(mysql.ER_CON_COUNT_ERROR, "Too many connections (shardgate limits.max_connections = %d)", max))
			continue
		}
		rl := set.cfg.LoginRateLimit
		if blocked, until := s.limiter.blocked(hostOf(nc.RemoteAddr()), rl.MaxFailures, rl.Window, time.Now()); blocked {
			s.hk.ClientRefused("login_rate_limit")
			go refuse(nc, wire.Errorf(mysql.ER_HOST_IS_BLOCKED, "Host '%s' is blocked after %d failed logins; it may try again in %s (shardgate login_rate_limit)",
				hostOf(nc.RemoteAddr()), rl.MaxFailures, time.Until(until).Round(time.Second)))
			continue
		}
		s.conns.Add(1)
		s.hk.ClientConnected()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.conns.Add(-1)
				s.hk.ClientDisconnected()
			}()
			s.serveConn(ctx, nc)
		}()
	}
	s.draining.Store(true)
	s.shutdown(drain)
	return nil
}

// shutdown closes idle sessions at once, lets busy ones finish their
// statement and open transactions finish (COMMIT/ROLLBACK) within drain,
// then closes what is left.
func (s *Server) shutdown(drain time.Duration) {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	s.mu.Lock()
	n := len(s.sessions)
	for _, c := range s.sessions {
		c.closeWhenIdle()
	}
	s.mu.Unlock()
	if n > 0 {
		s.log.Info("draining sessions", zap.Int("sessions", n), zap.Duration("drain_timeout", drain))
	}
	select {
	case <-done:
	case <-time.After(drain):
		s.mu.Lock()
		s.log.Warn("drain timeout: closing sessions", zap.Int("sessions", len(s.sessions)))
		for _, c := range s.sessions {
			c.sess.Interrupt() // a statement waiting on a shard stops now
			c.nc.Close()
		}
		s.mu.Unlock()
		// Every wait on a shard has a deadline (a killed statement's answer,
		// the rollback at session end), so this is a bound, not a hope; past
		// it the process stops without the stragglers.
		select {
		case <-done:
		case <-time.After(closeGrace):
			s.log.Error("drain: sessions still running after their connections were closed; stopping without them",
				zap.Int("sessions", s.sessionCount()), zap.Duration("waited", drain+closeGrace))
		}
	}
}

// closeGrace is how long shutdown waits, after the drain timeout closed the
// sessions' connections, for them to end: an interrupted statement's answer
// (KILL QUERY and its grace), then the rollback (txn.CloseTimeout).
var closeGrace = 2*txn.CloseTimeout + 5*time.Second

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
	nc   net.Conn // the socket, for closing and deadlines (TLS: the tls.Conn)
	conn *wire.Conn
	sess *router.Session
	log  *zap.Logger
	ctx  context.Context // carries shards, the statement shard tracker
	set  *settings       // settings this session last applied
	host string

	shards shardSet

	salt []byte // of the greeting, for COM_CHANGE_USER

	mu      sync.Mutex
	user    string    // the session's user name (sess.User changes on its own goroutine)
	seq     uint64    // counts the commands run, for the deadlock detector
	victim  bool      // the running command was made a deadlock victim
	query   string    // last COM_QUERY, for SHOW PROCESSLIST
	since   time.Time // when the current command (or idleness) began
	db      string    // keyspace at the last command
	busy    bool      // running a command
	inTx    bool      // a transaction is open (after the last command)
	txSince time.Time // start of the command that opened the transaction
	closing bool      // shutting down: close as soon as idle outside a transaction
	killed  bool      // KILL <id>: run no further command
}

// closeWhenIdle closes the session now if it is waiting for a command
// outside a transaction; otherwise the session ends itself when it is.
func (c *clientConn) closeWhenIdle() {
	c.mu.Lock()
	c.closing = true
	idle := !c.busy && !c.inTx
	c.mu.Unlock()
	if idle {
		c.nc.Close()
	}
}

// begin marks the session busy; false when the session was killed, or the
// server is shutting down and the session has no transaction to finish.
func (c *clientConn) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed || (c.closing && !c.inTx) {
		return false
	}
	c.busy = true
	c.seq++
	return true
}

// end marks the session idle; true when it must close now (shutdown and
// no transaction open).
func (c *clientConn) end() bool {
	inTx := c.sess.InTransaction()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = false
	if inTx && !c.inTx {
		c.txSince = c.since
	}
	c.inTx = inTx
	if c.victim { // the command ended before the interruption reached it
		c.victim = false
		c.sess.ClearDeadlocked()
	}
	return c.closing && !inTx
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	id := s.nextID.Add(1)
	log := s.log.With(zap.Uint32("session", id), zap.String("client", nc.RemoteAddr().String()))
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic in session", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		}
	}()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	set := s.cur.Load()
	host := hostOf(nc.RemoteAddr())
	conn := wire.NewConn(nc)
	conn.MaxPacket = maxHandshakePacket
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	salt, err := newSalt()
	if err != nil {
		log.Error("salt", zap.Error(err))
		return
	}
	plugin := set.cfg.Listen.DefaultAuth
	if plugin == "" {
		plugin = nativePlugin
	}
	if err := writeGreeting(conn, id, salt, mysql.SERVER_STATUS_AUTOCOMMIT, set.tls != nil, plugin); err != nil {
		return
	}
	fail := func(e *wire.Error) {
		_ = conn.WritePacket(wire.AppendError(nil, e))
		_ = conn.Flush()
	}
	hs, err := handshake(conn, set.tls)
	if err == nil && set.cfg.Listen.TLS != nil && set.cfg.Listen.TLS.Require && !hs.secure {
		s.hk.ClientRefused("require_secure_transport")
		log.Info("login refused: TLS required", zap.String("user", hs.userName))
		fail(wire.Errorf(erSecureTransportRequired, "Connections using insecure transport are prohibited while --require_secure_transport=ON (shardgate listen.tls.require: connect with TLS, e.g. --ssl / tls=true)"))
		return
	}
	if err == nil {
		err = authenticate(conn, hs, salt, set.users)
		var e *wire.Error
		if errors.As(err, &e) && e.Code == mysql.ER_ACCESS_DENIED_ERROR {
			rl := set.cfg.LoginRateLimit
			s.limiter.fail(host, rl.MaxFailures, rl.Window, time.Now())
			s.hk.Login(false, hs.plugin, hs.secure)
		}
	}
	if err != nil {
		var e *wire.Error
		switch {
		case errors.As(err, &e):
			log.Info("login refused", zap.String("reason", e.Message))
			fail(e)
		case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
			s.hk.ClientRefused("bad_handshake")
		default:
			s.hk.ClientRefused("bad_handshake")
			log.Info("bad handshake", zap.Error(err))
			fail(wire.Errorf(mysql.ER_HANDSHAKE_ERROR, "Bad handshake"))
		}
		return
	}
	s.hk.Login(true, hs.method, hs.secure)
	nc = conn.NetConn() // the tls.Conn after a TLS upgrade
	_ = nc.SetDeadline(time.Time{})
	conn.MaxPacket = set.cfg.Limits.MaxPacketSize
	mode := txn.Mode(set.cfg.TransactionMode)
	if mode == "" {
		mode = txn.Multi
	}
	sess := router.NewSession(id, hs.user, "", mode)
	sess.FoundRows = hs.caps&mysql.CLIENT_FOUND_ROWS != 0
	sess.MultiStatements = hs.caps&mysql.CLIENT_MULTI_STATEMENTS != 0
	sess.Host = host
	sess.Limits = set.cfg.Limits
	names, nerr := namesForCollation(hs.collation)
	if nerr != nil {
		fail(nerr)
		return
	}
	if names != "" {
		sess.SetNames(names)
	}
	c := &clientConn{srv: s, nc: nc, conn: conn, sess: sess, log: log, set: set, host: host, salt: salt, since: time.Now(), user: userName(hs.user)}
	// Not canceled by shutdown: open transactions may still commit while draining.
	c.ctx = withShardSet(context.WithoutCancel(ctx), &c.shards)
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		s.hk.ClientRefused("shutdown")
		fail(wire.Errorf(mysql.ER_SERVER_SHUTDOWN, "Server shutdown in progress"))
		return
	}
	s.sessions[id] = c
	s.mu.Unlock()
	defer func() {
		// Roll back first (bounded: txn.CloseTimeout), then leave the
		// session list: a session counts until its shard connections are
		// back in their pools.
		sess.Tx.Close(context.Background())
		s.mu.Lock()
		delete(s.sessions, id)
		s.mu.Unlock()
	}()

	db := hs.db
	if db != "" {
		if ks, ok := s.router.Snapshot().Keyspace(router.KeyspaceOf(db)); ok && !hs.user.MayUse(ks.Name) {
			fail(wire.Errorf(mysql.ER_DBACCESS_DENIED_ERROR, "Access denied for user '%s' to database '%s'", hs.userName, ks.Name))
			return
		}
	} else {
		db = set.cfg.DefaultKeyspace
	}
	if db != "" {
		if err := s.router.Use(c.ctx, sess, db, wire.Discard(conn.NetConn())); err != nil || sess.Keyspace == "" {
			if hs.db != "" {
				fail(wire.Errorf(mysql.ER_BAD_DB_ERROR, "Unknown database '%s'", hs.db))
				return
			}
		}
	}
	if err := c.writeOK(); err != nil {
		return
	}
	c.loop()
}

func (c *clientConn) writeOK() error {
	ok := wire.OK{Status: c.sess.Status()}
	if err := c.conn.WritePacket(wire.AppendOK(nil, &ok)); err != nil {
		return err
	}
	return c.conn.Flush()
}

// namesForCollation maps the handshake's collation to SET NAMES, or "" for
// the backends' own default (utf8mb4_general_ci).
// A character set the proxy cannot read statements in safely
// (router.ClientCharsetAllowed) is refused with an error.
func namesForCollation(id byte) (string, *wire.Error) {
	if id == 0 || id == 45 {
		return "", nil
	}
	coll, err := charset.GetCollationByID(int(id))
	if err != nil || id == 255 { // MySQL 8's utf8mb4_0900_ai_ci is unknown to MariaDB
		return "NAMES utf8mb4", nil
	}
	if !router.ClientCharsetAllowed(coll.CharsetName) {
		return "", wire.Errorf(mysql.ER_UNKNOWN_CHARACTER_SET, "Unknown character set: '%s' (shardgate does not accept client character sets whose multi-byte characters can hide a quote or a backslash; use utf8mb4)", coll.CharsetName)
	}
	return "NAMES " + coll.CharsetName + " COLLATE " + coll.Name, nil
}

// refresh applies reloaded settings; false when the session's account is
// gone.
func (c *clientConn) refresh(set *settings) bool {
	c.set = set
	c.conn.MaxPacket = set.cfg.Limits.MaxPacketSize
	c.sess.Limits = set.cfg.Limits
	if c.sess.User == nil {
		return true
	}
	u, ok := set.users[c.sess.User.Name]
	if !ok {
		return false
	}
	c.sess.SetUser(u)
	c.mu.Lock()
	c.user = userName(u)
	c.mu.Unlock()
	return true
}

func (c *clientConn) loop() {
	deadline := false
	for {
		idle := c.set.cfg.Limits.IdleTimeout
		if idle > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(idle))
			deadline = true
		} else if deadline {
			_ = c.nc.SetReadDeadline(time.Time{})
			deadline = false
		}
		p, err := c.conn.ReadPacket()
		if err != nil {
			if errors.Is(err, wire.ErrPacketTooLarge) {
				c.srv.hk.LimitHit("max_packet_size")
				_ = c.conn.WritePacket(wire.AppendError(nil, wire.Errorf(mysql.ER_NET_PACKET_TOO_LARGE, "Got a packet bigger than 'max_allowed_packet' bytes (shardgate limits.max_packet_size = %d)", c.set.cfg.Limits.MaxPacketSize)))
				if c.conn.Flush() != nil {
					return
				}
				continue
			}
			if idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				c.srv.hk.LimitHit("idle_timeout")
				c.log.Info("idle timeout: session closed", zap.Duration("idle_timeout", idle))
				_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
				_ = c.writeError(wire.Errorf(erClientInteractionTimeout, "The client was disconnected by the server because of inactivity (shardgate limits.idle_timeout = %s)", idle))
			}
			return
		}
		if len(p) == 0 {
			continue
		}
		if set := c.srv.cur.Load(); set != c.set { // reloaded (SIGHUP) since the last command
			if !c.refresh(set) {
				c.log.Info("account removed by a configuration reload: session closed")
				_ = c.writeError(wire.Errorf(mysql.ER_ACCESS_DENIED_ERROR, "Access denied for user '%s': the account was removed from the shardgate configuration", c.sess.User.Name))
				return
			}
		}
		if !c.begin() {
			_ = c.writeError(wire.Errorf(mysql.ER_SERVER_SHUTDOWN, "Server shutdown in progress")) // fails if killed: the socket is closed
			return
		}
		quit, err := c.dispatch(p)
		if len(p) > router.LargeStatement && (p[0] == mysql.COM_QUERY || p[0] == mysql.COM_STMT_PREPARE) {
			c.sess.Shrink() // what parsing it grew
		}
		if c.end() {
			quit = true
		}
		if quit || err != nil {
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.log.Debug("session ends", zap.Error(err))
			}
			return
		}
	}
}

// stmtContext returns the context of one statement: the router bounds it
// by the session's statement timeout once it knows what the statement is.
func (c *clientConn) stmtContext() context.Context {
	c.shards.reset()
	return c.ctx
}

// stmtDone counts and logs a statement that ran out of its time.
func (c *clientConn) stmtDone(ctx context.Context) {
	if c.sess.TimedOut() {
		c.srv.hk.LimitHit("query_timeout")
		c.log.Info("query timeout", zap.Duration("timeout", c.sess.StatementTimeout()), zap.Strings("shards", StatementShards(ctx)))
	}
}

// dispatch runs one command. A panic ends only this command.
func (c *clientConn) dispatch(p []byte) (quit bool, err error) {
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
		sql := string(p[1:])
		c.noteCommand(sql)
		ctx := c.stmtContext()
		err := r.Execute(ctx, s, sql, c.conn)
		c.stmtDone(ctx)
		return false, err
	case mysql.COM_PING:
		return false, c.writeOK()
	case mysql.COM_CHANGE_USER:
		return false, c.changeUser(p[1:])
	case mysql.COM_PROCESS_KILL:
		if len(p) < 5 {
			return false, c.writeError(wire.Errorf(mysql.ER_MALFORMED_PACKET, "Malformed COM_PROCESS_KILL"))
		}
		id := uint32(p[1]) | uint32(p[2])<<8 | uint32(p[3])<<16 | uint32(p[4])<<24
		if err := c.srv.Kill(id, false, s); err != nil {
			return false, c.writeError(err.(*wire.Error))
		}
		return false, c.writeOK()
	case mysql.COM_INIT_DB:
		c.shards.reset()
		return false, r.Use(c.ctx, s, string(p[1:]), c.conn)
	case mysql.COM_STMT_PREPARE:
		c.shards.reset()
		return false, r.Prepare(c.ctx, s, string(p[1:]), c.conn)
	case mysql.COM_STMT_EXECUTE:
		ctx := c.stmtContext()
		err := r.ExecuteStmt(ctx, s, p[1:], c.conn)
		c.stmtDone(ctx)
		return false, err
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
		c.shards.reset()
		return false, r.FieldList(c.ctx, s, p[1:], c.conn)
	case mysql.COM_STATISTICS:
		stats := fmt.Sprintf("Uptime: %d  Threads: %d  Questions: %d  Slow queries: 0  Opens: 0  Open tables: 0  Queries per second avg: %.3f",
			int(time.Since(c.srv.started).Seconds()), c.srv.sessionCount(), c.srv.queries.Load(),
			float64(c.srv.queries.Load())/max(time.Since(c.srv.started).Seconds(), 1))
		if err := c.conn.WritePacket([]byte(stats)); err != nil {
			return false, err
		}
		return false, c.conn.Flush()
	case mysql.COM_RESET_CONNECTION:
		s.Tx.Close(c.ctx)
		s.ResetState()
		return false, c.writeOK()
	case mysql.COM_SET_OPTION:
		// Multi-statements on (0) or off (1): acknowledged with EOF, as MySQL does.
		if len(p) >= 3 {
			s.MultiStatements = p[1] == 0
		}
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
