package topo

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// ShardRoles is what the HA prober publishes about one shard: which server
// is its primary now and which replicas serve reads. Values are immutable;
// a change publishes a new one.
type ShardRoles struct {
	// Primary is the address of the server that takes writes; "" while the
	// shard has none (a failover is running, or no writable server is known).
	Primary string
	// Replicas are the replicas fit for reads now (replicating from Primary,
	// within ha.replica_max_lag), in the order reads should prefer them.
	Replicas []string
	// Term grows by one on every promotion; with an etcd topology it is the
	// term recorded there.
	Term uint64
	// Recovering: a failover of this shard is running; requests that need
	// the primary wait for it (buffer) instead of failing.
	Recovering bool
	// Why the shard has no primary, for error messages ("" when it has one).
	Why string
}

// RoleCell holds the roles last published for one shard. Readers (the
// backend pools, per query) load it with one atomic read; the HA prober
// publishes. The zero value is ready to use.
type RoleCell struct {
	cur atomic.Pointer[ShardRoles]
	mu  sync.Mutex
	ch  chan struct{} // closed by the next Publish
}

// Load returns the roles in force (nil before the first Publish).
func (c *RoleCell) Load() *ShardRoles { return c.cur.Load() }

// Publish puts r in force and wakes every Changed waiter.
func (c *RoleCell) Publish(r *ShardRoles) {
	c.mu.Lock()
	c.cur.Store(r)
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
	c.mu.Unlock()
}

// Changed returns a channel closed at the next Publish. Load after taking
// it to avoid missing a change.
func (c *RoleCell) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// HA reports whether the shard is a replication group of several servers,
// watched by the HA prober.
func (s *Shard) HA() bool { return len(s.Servers) > 1 }

// checkServerAddr checks one servers: entry.
func checkServerAddr(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", v)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", v)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("port %q of %q is not a number from 1 to 65535", port, v)
	}
	return nil
}
