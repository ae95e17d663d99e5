package backend

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Pool holds the connections to one shard. Get blocks while Size connections
// are checked out; no lock is held across I/O.
type Pool struct {
	name    string // "keyspace/shard", used in errors
	addr    string
	network string
	user    string
	pass    string
	db      string
	cfg     topo.PoolConfig
	tls     *topo.BackendTLS // nil = plaintext

	waits, waitNanos atomic.Int64 // checkouts that had to wait for a free connection, and how long

	slots chan struct{} // one token per connection that may be open

	mu     sync.Mutex
	idle   [2][]*Conn // by foundRows
	closed bool
}

// NewPool returns a pool for shard of keyspace ks. It dials lazily.
func NewPool(ks string, shard *topo.Shard, cfg topo.PoolConfig) *Pool {
	addr, network := addrNetwork(shard.Host, shard.Port, shard.Socket)
	if cfg.Size <= 0 {
		cfg.Size = 64
	}
	return &Pool{
		name: ks + "/" + shard.Name, addr: addr, network: network,
		user: shard.User, pass: shard.Password, db: shard.Database,
		cfg: cfg, slots: make(chan struct{}, cfg.Size), tls: shard.TLS,
	}
}

// Name is "keyspace/shard".
func (p *Pool) Name() string { return p.name }

// Addr is the server address the pool dials.
func (p *Pool) Addr() string { return p.addr }

// Get checks out a connection. foundRows selects connections negotiated with
// CLIENT_FOUND_ROWS, so UPDATE counts match what the client asked for.
func (p *Pool) Get(ctx context.Context, foundRows bool) (*Conn, error) {
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
			p.noteWait(start)
		case <-t.C:
			p.noteWait(start)
			return nil, wire.Errorf(mysql.ER_CON_COUNT_ERROR, "shard %s: no free backend connection within %s (pool size %d)", p.name, wait, p.cfg.Size)
		case <-ctx.Done():
			t.Stop()
			p.noteWait(start)
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
		if c.alive() {
			return c, nil
		}
		c.Close()
	}
	c, err := p.dial(ctx, foundRows)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// GetPlain checks out a connection for the proxy's own work (sequences,
// two-phase-commit decisions, schema reads): one that still carries a
// session's settings (a read-only user's tx_read_only, its sql_mode) is
// reset first.
func (p *Pool) GetPlain(ctx context.Context) (*Conn, error) {
	c, err := p.Get(ctx, false)
	if err != nil {
		return nil, err
	}
	if c.Settings != "" {
		if err := c.Reset(ctx); err != nil {
			c.Release()
			return nil, err
		}
	}
	return c, nil
}

func (p *Pool) dial(ctx context.Context, foundRows bool) (*Conn, error) {
	timeout := p.cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	c, err := dial(ctx, p.addr, p.network, p.user, p.pass, p.db, timeout, foundRows, p.tls)
	if err != nil {
		return nil, wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shard %s unavailable: connect to %s: %v", p.name, p.addr, err)
	}
	c.pool = p
	c.maxStmts = MaxStmtsPerConn(p.cfg.Size)
	return c, nil
}

func (p *Pool) popIdle(fr int) *Conn {
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

func (p *Pool) put(c *Conn) {
	if c.broken || c.queued != "" || c.pending != nil {
		c.Close()
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
	}
	p.mu.Unlock()
	<-p.slots
	if drop != nil {
		drop.Close()
	}
}

// Close closes idle connections; checked-out ones close on Release.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	idle := append(p.idle[0], p.idle[1]...)
	p.idle = [2][]*Conn{}
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// Stats reports idle connections and how many are checked out.
func (p *Pool) Stats() (idle, inUse int) {
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

func (p *Pool) noteWait(start time.Time) {
	p.waits.Add(1)
	p.waitNanos.Add(int64(time.Since(start)))
}

// WaitStats reports how many checkouts found every connection in use and
// had to wait, and their total wait (metrics).
func (p *Pool) WaitStats() (waits int64, total time.Duration) {
	return p.waits.Load(), time.Duration(p.waitNanos.Load())
}

// alive checks, without blocking, that an idle connection was not closed by
// the server (restart, wait_timeout): a readable socket of an idle
// connection means EOF or an error packet. Recently used ones are trusted.
func (c *Conn) alive() bool {
	if time.Since(c.lastUsed) < 250*time.Millisecond {
		return true
	}
	if c.Buffered() > 0 {
		return false
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
func (p *Pool) String() string { return fmt.Sprintf("pool %s (%s)", p.name, p.addr) }
