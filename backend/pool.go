package backend

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// server holds the connections to one server of a shard for one use (the
// primary's writes, or reads on a replica). get blocks while cfg.Size
// connections are checked out; no lock is held across I/O.
type server struct {
	name    string // "keyspace/shard", used in errors
	addr    string
	network string
	user    string
	pass    string
	db      string
	cfg     config.PoolConfig
	tls     *topo.BackendTLS // nil = plaintext
	g       *group           // the shard's pool
	reads   bool             // the pool of reads on this server as a replica

	slots chan struct{} // one token per connection that may be open

	// suspectUntil (unix nanoseconds, 0 = not suspect): a connection to this
	// server broke or could not be made; until then every idle connection
	// is checked before use, so that a killed server's pooled connections
	// are not handed out one statement at a time.
	suspectUntil atomic.Int64

	mu     sync.Mutex
	idle   [2][]*Conn // by foundRows
	all    map[*Conn]struct{}
	closed bool
}

func newServer(g *group, addr, network string, shard *topo.Shard, cfg config.PoolConfig, reads bool) *server {
	return &server{
		name: g.name, addr: addr, network: network,
		user: shard.User, pass: shard.Password, db: shard.Database,
		cfg: cfg, slots: make(chan struct{}, cfg.Size), tls: shard.TLS, g: g, reads: reads,
		all: map[*Conn]struct{}{},
	}
}

// get checks out a connection. foundRows selects connections negotiated with
// CLIENT_FOUND_ROWS, so UPDATE counts match what the client asked for.
func (p *server) get(ctx context.Context, foundRows bool) (*Conn, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		wait := p.cfg.WaitTimeout
		if wait <= 0 {
			wait = 5 * time.Second
		}
		start := time.Now()
		t := time.NewTimer(wait)
		select {
		case p.slots <- struct{}{}:
			t.Stop()
			p.g.noteWait(start)
		case <-t.C:
			p.g.noteWait(start)
			return nil, wire.Errorf(mysql.ER_CON_COUNT_ERROR, "shard %s: no free backend connection within %s (pool size %d)", p.name, wait, p.cfg.Size)
		case <-ctx.Done():
			t.Stop()
			p.g.noteWait(start)
			return nil, ctx.Err()
		}
	}
	fr := 0
	if foundRows {
		fr = 1
	}
	for {
		c := p.popIdle(fr)
		if c == nil {
			break
		}
		if c.alive(p.suspect()) {
			return c, nil
		}
		p.drop(c)
	}
	c, err := p.dial(ctx, foundRows)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

func (p *server) dial(ctx context.Context, foundRows bool) (*Conn, error) {
	timeout := p.cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	c, err := dial(ctx, p.addr, p.network, p.user, p.pass, p.db, timeout, foundRows, p.tls)
	if err != nil {
		return nil, unavailable(p, err)
	}
	c.pool = p
	c.maxStmts = MaxStmtsPerConn(p.cfg.Size)
	p.mu.Lock()
	p.all[c] = struct{}{}
	p.mu.Unlock()
	return c, nil
}

func (p *server) popIdle(fr int) *Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle[fr])
	if n == 0 {
		return nil
	}
	c := p.idle[fr][n-1]
	p.idle[fr][n-1] = nil
	p.idle[fr] = p.idle[fr][:n-1]
	return c
}

// suspect reports whether connections to the server broke lately.
func (p *server) suspect() bool {
	u := p.suspectUntil.Load()
	if u == 0 {
		return false
	}
	if time.Now().UnixNano() < u {
		return true
	}
	p.suspectUntil.CompareAndSwap(u, 0)
	return false
}

func (p *server) markSuspect() {
	p.suspectUntil.Store(time.Now().Add(2 * time.Second).UnixNano())
}

// handle is the shard's pool handle this server's connections come from
// (Conn.Pool): the replica handle for the pool of reads.
func (p *server) handle() *Pool {
	if p.reads {
		return &p.g.handles[1]
	}
	return &p.g.handles[0]
}

// drop closes a connection that is not checked out and forgets it.
func (p *server) drop(c *Conn) {
	p.mu.Lock()
	delete(p.all, c)
	p.mu.Unlock()
	c.Close()
}

func (p *server) put(c *Conn) {
	if c.broken || c.queued != "" || c.pending != nil {
		p.drop(c)
		<-p.slots
		return
	}
	c.lastUsed = time.Now()
	fr := 0
	if c.foundRows {
		fr = 1
	}
	p.mu.Lock()
	if p.closed {
		delete(p.all, c)
		p.mu.Unlock()
		c.Close()
		<-p.slots
		return
	}
	p.idle[fr] = append(p.idle[fr], c)
	// Keep at most MaxIdle idle: the oldest go first.
	var drop *Conn
	if p.cfg.MaxIdle > 0 && len(p.idle[0])+len(p.idle[1]) > p.cfg.MaxIdle {
		drop = p.idle[fr][0]
		p.idle[fr] = append(p.idle[fr][:0], p.idle[fr][1:]...)
		delete(p.all, drop)
	}
	p.mu.Unlock()
	<-p.slots
	if drop != nil {
		drop.Close()
	}
}

// close closes idle connections; checked-out ones close on Release.
func (p *server) close() {
	p.mu.Lock()
	p.closed = true
	idle := append(p.idle[0], p.idle[1]...)
	p.idle = [2][]*Conn{}
	for _, c := range idle {
		delete(p.all, c)
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// closeAll closes the socket of every connection, idle or checked out: a
// statement waiting on one fails at once, a transaction holding one fails
// at its next statement, and none is pooled again. The server was the
// shard's primary and no longer is.
func (p *server) closeAll() int {
	p.mu.Lock()
	conns := make([]*Conn, 0, len(p.all))
	for c := range p.all {
		conns = append(conns, c)
	}
	idle := append(p.idle[0], p.idle[1]...)
	p.idle = [2][]*Conn{}
	for _, c := range idle {
		delete(p.all, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.NetConn().Close() // safe while another goroutine reads or writes it
	}
	return len(conns)
}

// stats reports idle connections and how many are checked out.
func (p *server) stats() (idle, inUse int) {
	p.mu.Lock()
	idle = len(p.idle[0]) + len(p.idle[1])
	p.mu.Unlock()
	inUse = len(p.slots)
	// A connection being given back is already idle while it still holds its
	// slot, and a checkout holds a slot before it takes an idle connection:
	// do not count either twice.
	if idle+inUse > cap(p.slots) {
		inUse = max(cap(p.slots)-idle, 0)
	}
	return idle, inUse
}

// alive checks, without blocking, that an idle connection was not closed by
// the server (restart, kill, wait_timeout): it peeks at the socket, where an
// idle connection has nothing to read unless the server closed it (EOF) or
// sent an error packet. Connections used in the last 250ms are trusted,
// unless always (the server is suspect: one of its connections just broke),
// so that after a server died the next statements find out before they are
// sent rather than on the dead socket.
func (c *Conn) alive(always bool) bool {
	if !always && time.Since(c.lastUsed) < 250*time.Millisecond {
		return true
	}
	if c.Buffered() > 0 {
		return false
	}
	if c.kc != nil {
		if ok, checked := c.kc.peekAlive(); checked {
			return ok
		}
	}
	nc := c.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(-time.Second))
	var b [1]byte
	n, err := nc.Read(b[:])
	_ = nc.SetReadDeadline(time.Time{})
	if n > 0 {
		return false
	}
	if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		return true
	}
	return false
}

// String is for logs.
func (p *server) String() string { return fmt.Sprintf("pool %s (%s)", p.name, p.addr) }
