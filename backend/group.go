package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Pool holds the connections to one shard. A shard is one server, or a
// replication group (a primary and its replicas, topo.Shard.Servers): the
// pool keeps connections per server and, at every checkout, takes the
// primary the HA prober last published in the shard's topo.RoleCell (one
// atomic load; no lock). Get blocks while pool.size connections to that
// server are checked out; no lock is held across I/O.
//
// Replica returns a handle on the same shard whose Get takes a connection
// to a healthy replica (reads of a customer@replica session).
type Pool struct {
	g     *group
	reads bool // the Replica handle
}

// group is the state a shard's two handles share.
type group struct {
	name    string // "keyspace/shard"
	ha      bool   // several servers: a replication group
	roles   *topo.RoleCell
	writers []*server // by server, in config order: connections for the primary's work
	readers []*server // by server: reads on replicas
	byAddr  map[string]int
	static  *route // the route of a shard of one server, and of a group before the prober spoke

	route atomic.Pointer[route] // resolved from roles.Load(), lazily
	rr    atomic.Uint32         // round robin over replicas
	ha2   atomic.Pointer[haHolder]

	waits, waitNanos atomic.Int64 // checkouts that had to wait for a free connection, and how long
	dialFails        atomic.Int64 // connections that could not be made (refused, timed out, handshake failed)
	size             int          // pool.size: connections per server

	handles [2]Pool // primary, replica

	stop       chan struct{} // closed by Close: ends follow
	followDone chan struct{}
	closeOnce  sync.Once
}

// route is a topo.ShardRoles resolved to the pool's servers.
type route struct {
	src      *topo.ShardRoles
	primary  int   // index into writers, -1 = none
	replicas []int // indexes into readers
}

// HA is what a pool asks of the HA layer (the ha package implements it)
// when its shard has no reachable primary.
type HA interface {
	// Suspect tells the prober that a connection to addr, a server of
	// shard, failed: it should look at the shard now.
	Suspect(shard, addr string)
	// Wait blocks while the shard's published roles are still seen (no
	// primary, or a primary that cannot be reached), until they change, the
	// buffer gives up (window passed since since, or full) or ctx ends. A
	// nil error means: look at the roles again. A non-nil error is for the
	// client (a *wire.Error saying why); cause is the failure that made the
	// caller wait (nil when the shard has no primary at all).
	Wait(ctx context.Context, shard string, cell *topo.RoleCell, seen *topo.ShardRoles, since time.Time, cause error) error
}

type haHolder struct{ h HA }

// NewPool returns a pool for shard of keyspace ks. It dials lazily.
func NewPool(ks string, shard *topo.Shard, cfg config.PoolConfig) *Pool {
	if cfg.Size <= 0 {
		cfg.Size = 64
	}
	g := &group{name: ks + "/" + shard.Name, byAddr: map[string]int{}, stop: make(chan struct{}), followDone: make(chan struct{}), size: cfg.Size}
	g.handles[0] = Pool{g: g}
	g.handles[1] = Pool{g: g, reads: true}
	if len(shard.Servers) <= 1 {
		addr, network := addrNetwork(shard.Host, shard.Port, shard.Socket)
		g.writers = []*server{newServer(g, addr, network, shard, cfg, false)}
		g.byAddr[addr] = 0
	} else {
		g.ha = true
		g.roles = shard.Roles
		for i, a := range shard.Servers {
			g.writers = append(g.writers, newServer(g, a, "tcp", shard, cfg, false))
			g.readers = append(g.readers, newServer(g, a, "tcp", shard, cfg, true))
			g.byAddr[a] = i
		}
	}
	g.static = &route{primary: 0}
	if g.ha && g.roles != nil {
		go g.follow()
	} else {
		close(g.followDone)
	}
	return &g.handles[0]
}

// Replica returns the handle whose Get prefers the shard's healthy
// replicas (the same pool when the shard has one server).
func (p *Pool) Replica() *Pool {
	if !p.g.ha {
		return &p.g.handles[0]
	}
	return &p.g.handles[1]
}

// SetHA installs the HA layer the pool waits on when the shard has no
// reachable primary (nil: fail at once, as for a shard of one server).
func (p *Pool) SetHA(h HA) {
	if h == nil {
		p.g.ha2.Store(nil)
		return
	}
	p.g.ha2.Store(&haHolder{h})
}

// Name is "keyspace/shard" ("keyspace/shard@replica" for the replica handle).
func (p *Pool) Name() string {
	if p.reads {
		return p.g.name + "@replica"
	}
	return p.g.name
}

// Addr is the address of the shard's primary now (the first server listed
// while none is known).
func (p *Pool) Addr() string {
	g := p.g
	rt := g.current()
	if rt.primary < 0 {
		return g.writers[0].addr
	}
	return g.writers[rt.primary].addr
}

// ID names the shard's servers as a whole: the address of a shard of one
// server, or every address of a replication group. It does not change when
// the primary moves.
func (p *Pool) ID() string {
	return strings.Join(p.Servers(), ",")
}

// HA reports whether the shard is a replication group.
func (p *Pool) HA() bool { return p.g.ha }

// current returns the route of the roles in force: two atomic loads when
// nothing changed.
func (g *group) current() *route {
	if g.roles == nil {
		return g.static
	}
	src := g.roles.Load()
	if src == nil {
		return g.static
	}
	if rt := g.route.Load(); rt != nil && rt.src == src {
		return rt
	}
	rt := &route{src: src, primary: -1}
	if i, ok := g.byAddr[src.Primary]; ok && src.Primary != "" {
		rt.primary = i
	}
	for _, a := range src.Replicas {
		if i, ok := g.byAddr[a]; ok {
			rt.replicas = append(rt.replicas, i)
		}
	}
	g.route.Store(rt)
	return rt
}

// Get checks out a connection to the shard's primary (or, on the Replica
// handle, to a healthy replica, else the primary). foundRows selects
// connections negotiated with CLIENT_FOUND_ROWS, so UPDATE counts match what
// the client asked for. While a replication group has no reachable primary
// (a failover), Get waits on the HA layer (buffering) up to its window.
func (p *Pool) Get(ctx context.Context, foundRows bool) (*Conn, error) {
	g := p.g
	if p.reads {
		if c := g.getReplica(ctx, foundRows); c != nil {
			return c, nil
		}
	}
	rt := g.current()
	if rt.primary >= 0 {
		c, err := g.writers[rt.primary].get(ctx, foundRows)
		if err == nil && (!g.ha || g.current() == rt) {
			return c, nil
		}
		if err != nil && (!g.ha || !isUnavailable(err)) {
			return nil, err
		}
		if c != nil { // the primary changed while we dialed: not this one
			c.Release()
		}
		return g.waitPrimary(ctx, foundRows, rt, err)
	}
	return g.waitPrimary(ctx, foundRows, rt, nil)
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

// getReplica returns a connection to a healthy replica, nil when none can
// be had (the caller then uses the primary).
func (g *group) getReplica(ctx context.Context, foundRows bool) *Conn {
	rt := g.current()
	n := len(rt.replicas)
	if n == 0 {
		return nil
	}
	start := int(g.rr.Add(1))
	for i := 0; i < n; i++ {
		s := g.readers[rt.replicas[(start+i)%n]]
		c, err := s.get(ctx, foundRows)
		if err == nil {
			return c
		}
		if isUnavailable(err) {
			g.suspect(s.addr)
		}
	}
	return nil
}

// waitPrimary is Get's slow path: the shard has no primary, or it could not
// be reached (cause). It waits on the HA layer for new roles and tries
// again, until the HA layer gives up.
func (g *group) waitPrimary(ctx context.Context, foundRows bool, rt *route, cause error) (*Conn, error) {
	since := time.Now()
	for {
		h := g.ha2.Load()
		if h == nil { // no HA layer: fail now, or try the primary in force once
			if cause != nil {
				return nil, cause
			}
			if rt = g.current(); rt.primary < 0 {
				return nil, g.noPrimary(rt)
			}
			return g.writers[rt.primary].get(ctx, foundRows)
		}
		if rt.primary < 0 || cause != nil {
			if cause != nil && rt.primary >= 0 {
				h.h.Suspect(g.name, g.writers[rt.primary].addr)
			}
			if err := h.h.Wait(ctx, g.name, g.roles, rt.src, since, cause); err != nil {
				return nil, err
			}
			rt, cause = g.current(), nil
			if rt.primary < 0 {
				continue
			}
		}
		c, err := g.writers[rt.primary].get(ctx, foundRows)
		if err == nil {
			now := g.current()
			if now == rt {
				return c, nil
			}
			c.Release() // the primary changed meanwhile: use the new one
			rt = now
			continue
		}
		if !isUnavailable(err) {
			return nil, err
		}
		cause = err
	}
}

func (g *group) noPrimary(rt *route) error {
	why := "no writable server that replicates from no one was found"
	if rt.src != nil && rt.src.Why != "" {
		why = rt.src.Why
	}
	return wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shard %s unavailable: it has no primary now (%s)", g.name, why)
}

func (g *group) suspect(addr string) {
	if h := g.ha2.Load(); h != nil {
		h.h.Suspect(g.name, addr)
	}
}

// follow closes the connections of a primary the moment another server is
// published as primary: statements waiting on it fail, transactions on it
// fail at their next statement, and nothing more is sent to it. It runs
// until Close.
func (g *group) follow() {
	defer close(g.followDone)
	last := 0 // the primary before the prober spoke
	for {
		ch := g.roles.Changed()
		if r := g.roles.Load(); r != nil && r.Primary != "" {
			if i, ok := g.byAddr[r.Primary]; ok && i != last {
				g.writers[last].closeAll()
				last = i
			}
		}
		select {
		case <-ch:
		case <-g.stop:
			return
		}
	}
}

// Close closes idle connections; checked-out ones close on Release.
func (p *Pool) Close() {
	g := p.g
	g.closeOnce.Do(func() {
		close(g.stop)
		<-g.followDone
		for _, s := range g.writers {
			s.close()
		}
		for _, s := range g.readers {
			s.close()
		}
	})
}

// Stats reports idle connections and how many are checked out, over every
// server of the shard.
func (p *Pool) Stats() (idle, inUse int) {
	for _, s := range p.g.writers {
		i, u := s.stats()
		idle, inUse = idle+i, inUse+u
	}
	for _, s := range p.g.readers {
		i, u := s.stats()
		idle, inUse = idle+i, inUse+u
	}
	return idle, inUse
}

// ServerStats is one server's share of a pool.
type ServerStats struct {
	Addr                      string
	PrimaryIdle, PrimaryInUse int // connections used for the primary's work
	ReplicaIdle, ReplicaInUse int // connections used for reads on it as a replica
}

// ServerStats reports the connections per server.
func (p *Pool) ServerStats() []ServerStats {
	g := p.g
	out := make([]ServerStats, len(g.writers))
	for i, s := range g.writers {
		out[i].Addr = s.addr
		out[i].PrimaryIdle, out[i].PrimaryInUse = s.stats()
		if g.readers != nil {
			out[i].ReplicaIdle, out[i].ReplicaInUse = g.readers[i].stats()
		}
	}
	return out
}

// InUse reports how many connections for the primary's work on addr are
// checked out (a planned switch waits for them to come back).
func (p *Pool) InUse(addr string) int {
	i, ok := p.g.byAddr[addr]
	if !ok {
		return 0
	}
	_, u := p.g.writers[i].stats()
	return u
}

func (g *group) noteWait(start time.Time) {
	g.waits.Add(1)
	g.waitNanos.Add(int64(time.Since(start)))
}

// WaitStats reports how many checkouts found every connection in use and
// had to wait, and their total wait (metrics).
func (p *Pool) WaitStats() (waits int64, total time.Duration) {
	return p.g.waits.Load(), time.Duration(p.g.waitNanos.Load())
}

// Full reports whether every connection to the shard's primary is checked
// out, so that a checkout now would wait. Health probes check it and skip
// their ping rather than queue behind statements.
func (p *Pool) Full() bool {
	rt := p.g.current()
	if rt.primary < 0 {
		return false
	}
	s := p.g.writers[rt.primary]
	return len(s.slots) == cap(s.slots)
}

// Capacity is how many connections one server's pool may hold (pool.size).
func (p *Pool) Capacity() int { return p.g.size }

// DialFailures counts connections to the shard's servers that could not be
// made: refused, timed out, or a handshake the server answered with an
// error (access denied, too many connections).
func (p *Pool) DialFailures() int64 { return p.g.dialFails.Load() }

// String is for logs.
func (p *Pool) String() string { return fmt.Sprintf("pool %s (%s)", p.Name(), p.Addr()) }

// UnavailableError is a server that could not be reached: the connection
// or its handshake failed below MySQL (refused, timed out, reset). Nothing
// was sent to it, so the request may go elsewhere.
type UnavailableError struct {
	Addr string
	Err  *wire.Error
}

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// unavailable wraps a failed dial: an error packet from the server (access
// denied, too many connections) is the server answering, not unavailable.
func unavailable(p *server, err error) error {
	werr := wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shard %s unavailable: connect to %s: %v", p.name, p.addr, err)
	p.g.dialFails.Add(1)
	p.markSuspect()
	var me *mysql.MyError
	if errors.As(err, &me) {
		return werr
	}
	return &UnavailableError{Addr: p.addr, Err: werr}
}

func isUnavailable(err error) bool {
	var ue *UnavailableError
	return errors.As(err, &ue)
}

// ioError is the error of a connection that broke while in use. On a
// replication group the statement's fate is unknown and the primary may be
// failing: the client gets a retryable error (1213, SQLSTATE 40001) that
// says so, and the prober is told to look.
func (p *server) ioError(err error) error {
	g := p.g
	p.markSuspect()
	if !g.ha {
		return wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shard %s unavailable: %v", p.name, err)
	}
	g.suspect(p.addr)
	if p.reads {
		return wire.Errorf(mysql.ER_LOCK_DEADLOCK,
			"shard %s: the connection to replica %s was lost while it ran this statement (%v); retry it (reads go to another replica or the primary)", p.name, p.addr, err)
	}
	if rt := g.current(); rt.src != nil && rt.src.Primary != p.addr {
		return wire.Errorf(mysql.ER_LOCK_DEADLOCK,
			"shard %s: %s stopped being the shard's primary (failover to %q, term %d) while this statement ran on it (%v), so whether a write was applied is unknown, and a transaction open on that shard is rolled back: retry the transaction (check first whether a write without a transaction was applied)",
			p.name, p.addr, rt.src.Primary, rt.src.Term, err)
	}
	return wire.Errorf(mysql.ER_LOCK_DEADLOCK,
		"shard %s: the connection to its primary %s was lost while it ran this statement (%v), so whether a write was applied is unknown, and a transaction open on that shard is rolled back; if the primary failed, shardgate promotes a replica and holds new statements meanwhile: retry the transaction (check first whether a write without a transaction was applied)",
		p.name, p.addr, err)
}
