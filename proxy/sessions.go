package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/wire"
)

// List implements router.Sessions: the proxy's client sessions.
func (s *Server) List() []router.ProcessInfo {
	s.mu.Lock()
	conns := make([]*clientConn, 0, len(s.sessions))
	for _, c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]router.ProcessInfo, 0, len(conns))
	for _, c := range conns {
		c.mu.Lock()
		p := router.ProcessInfo{ID: c.sess.ID, Host: c.host, Command: "Sleep", Time: time.Since(c.since), Info: c.query}
		if c.busy {
			p.Command, p.State = "Query", "executing"
		}
		if u := c.sess.User; u != nil {
			p.User = u.Name
		}
		p.DB = c.db
		if c.inTx {
			p.TransactionStart = c.txSince
		}
		c.mu.Unlock()
		out = append(out, p)
	}
	return out
}

// Kill implements router.Sessions. A user may kill its own sessions (as
// MySQL without the PROCESS and SUPER privileges), an admin user (admin:
// true) every session; by nil is the proxy itself (the console, after its
// own admin login).
func (s *Server) Kill(id uint32, query bool, by *router.Session) error {
	s.mu.Lock()
	c := s.sessions[id]
	s.mu.Unlock()
	if c == nil || (by != nil && by.User != nil && !by.User.Admin && c.sess.User != nil && by.User.Name != c.sess.User.Name) {
		return wire.Errorf(mysql.ER_NO_SUCH_THREAD, "Unknown thread id: %d", id)
	}
	if !query {
		// A command read before the kill must not start either (MySQL
		// checks its thread's killed flag).
		c.mu.Lock()
		c.killed = true
		c.mu.Unlock()
	}
	c.sess.Interrupt()
	if !query {
		c.nc.Close() // the session's loop ends and rolls back its transaction
	}
	return nil
}

// noteCommand records what the session runs, for SHOW PROCESSLIST.
func (c *clientConn) noteCommand(query string) {
	c.mu.Lock()
	c.query, c.since, c.db = query, time.Now(), c.sess.Keyspace
	c.mu.Unlock()
}

// errChangeUserFailed ends a session whose COM_CHANGE_USER failed, after
// the error was sent: as MySQL, which closes the connection, the session
// does not go on as its old user (nor as the new one without its
// database).
var errChangeUserFailed = errors.New("COM_CHANGE_USER failed: session closed")

// changeUser answers COM_CHANGE_USER: authenticate the new user against the
// connection's salt and check the database, then start a fresh session
// state (the transaction is rolled back, variables and prepared statements
// forgotten). Any failure ends the session.
func (c *clientConn) changeUser(p []byte) error {
	hs, e := parseChangeUser(p)
	if e != nil {
		return c.endSession(e)
	}
	set := c.srv.cur.Load()
	// The same login rate limit as a new connection: COM_CHANGE_USER must
	// not be a way to guess passwords without reconnecting.
	_, hs.secure = c.nc.(*tls.Conn)
	rl := set.cfg.LoginRateLimit
	if blocked, until := c.srv.limiter.blocked(c.host, rl.MaxFailures, rl.Window, time.Now()); blocked {
		c.srv.hk.ClientRefused("login_rate_limit")
		return c.endSession(wire.Errorf(mysql.ER_HOST_IS_BLOCKED, "Host '%s' is blocked after %d failed logins; it may try again in %s (shardgate login_rate_limit)",
			c.host, rl.MaxFailures, time.Until(until).Round(time.Second)))
	}
	if err := authenticate(c.conn, hs, c.salt, set.users); err != nil {
		e, ok := err.(*wire.Error)
		if !ok {
			return err
		}
		if e.Code == mysql.ER_ACCESS_DENIED_ERROR {
			c.srv.limiter.fail(c.host, rl.MaxFailures, rl.Window, time.Now())
			c.srv.hk.Login(false, hs.plugin, hs.secure)
		}
		return c.endSession(e)
	}
	// The database, before anything changes: the new user gets it or the
	// session ends.
	if hs.db != "" {
		ks, ok := c.srv.router.Snapshot().Keyspace(hs.db)
		if !ok {
			return c.endSession(wire.Errorf(mysql.ER_BAD_DB_ERROR, "Unknown database '%s'", hs.db))
		}
		if !hs.user.MayUse(ks.Name) {
			return c.endSession(wire.Errorf(mysql.ER_DBACCESS_DENIED_ERROR, "Access denied for user '%s' to database '%s'", hs.userName, ks.Name))
		}
	}
	c.srv.hk.Login(true, hs.method, hs.secure)
	c.sess.Tx.Close(c.ctx)
	c.sess.ResetState()
	c.sess.SetUser(hs.user)
	c.mu.Lock()
	c.user = userName(hs.user)
	c.mu.Unlock()
	c.sess.Keyspace = ""
	if hs.names != "" {
		c.sess.SetNames(hs.names)
	}
	if hs.db == "" {
		// As at login: the default keyspace, if the new user may use it.
		if def := set.cfg.DefaultKeyspace; def != "" {
			_ = c.srv.router.Use(c.ctx, c.sess, def, wire.Discard(c.conn.NetConn()))
		}
		return c.writeOK()
	}
	if err := c.srv.router.Use(c.ctx, c.sess, hs.db, c.conn); err != nil {
		return err
	}
	if c.sess.Keyspace == "" {
		return errChangeUserFailed // Use sent its error (the topology changed meanwhile)
	}
	return nil
}

// endSession sends e and ends the session.
func (c *clientConn) endSession(e *wire.Error) error {
	if err := c.writeError(e); err != nil {
		return err
	}
	return errChangeUserFailed
}

// parseChangeUser reads a COM_CHANGE_USER payload (after the command byte).
func parseChangeUser(p []byte) (*handshakeResult, *wire.Error) {
	hs := &handshakeResult{caps: mysql.CLIENT_PROTOCOL_41 | mysql.CLIENT_SECURE_CONNECTION, plugin: nativePlugin}
	malformed := wire.Errorf(mysql.ER_MALFORMED_PACKET, "Malformed COM_CHANGE_USER")
	end := bytes.IndexByte(p, 0)
	if end < 0 {
		return nil, malformed
	}
	hs.userName = string(p[:end])
	p = p[end+1:]
	if len(p) == 0 || len(p) < 1+int(p[0]) {
		return nil, malformed
	}
	hs.auth = bytes.Clone(p[1 : 1+int(p[0])])
	p = p[1+int(p[0]):]
	if end = bytes.IndexByte(p, 0); end >= 0 {
		hs.db = string(p[:end])
		p = p[end+1:]
		if len(p) >= 2 {
			names, e := namesForCollation(p[0])
			if e != nil {
				return nil, e
			}
			hs.names = names
			p = p[2:]
		}
		if end = bytes.IndexByte(p, 0); end > 0 {
			hs.plugin = string(p[:end])
		}
	}
	return hs, nil
}
