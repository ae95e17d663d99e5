package topo

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the ha section.
const (
	DefaultProbeInterval       = 500 * time.Millisecond
	DefaultBufferWindow        = 10 * time.Second
	DefaultBufferSize          = 1000
	DefaultReplicaMaxLag       = 5 * time.Second
	DefaultRecoveryBlockPeriod = 5 * time.Minute
	DefaultRelayWaitTimeout    = 30 * time.Second
)

// Failover modes (ha.failover).
const (
	FailoverAuto = "auto" // a dead or hung primary is replaced by a replica
	FailoverOff  = "off"  // roles are discovered and reported, nothing is promoted
)

// HAConfig is the ha section: how shards made of several servers (a primary
// and its replicas) are watched and recovered.
type HAConfig struct {
	Failover string // auto | off (default off)
	// ReplUser and ReplPassword are the account replicas use to replicate
	// from a new primary (CHANGE MASTER TO … MASTER_USER) after a promotion.
	ReplUser, ReplPassword string
	// AdminUser and AdminPassword are the account the prober and the
	// recovery use on every server (ha.admin; default: each shard's own
	// user). It needs REPLICATION SLAVE ADMIN, READ_ONLY ADMIN, CONNECTION
	// ADMIN, BINLOG MONITOR and SLAVE MONITOR; the shards' own user should
	// have neither READ_ONLY ADMIN nor SUPER, so that read_only fences it.
	AdminUser, AdminPassword string
	ProbeInterval            time.Duration // how often every server is probed (default 500ms)
	// ProbeTimeout bounds one probe; a primary that does not answer within
	// it twice in a row is taken for hung (default max(1s, 2×probe_interval)).
	ProbeTimeout time.Duration
	BufferWindow time.Duration // how long a request may wait for a new primary (default 10s)
	BufferSize   int           // requests waiting at most, per proxy (default 1000)
	// ReplicaMaxLag: a replica further behind is not used for reads (default 5s).
	ReplicaMaxLag time.Duration
	// RecoveryBlockPeriod: after an automatic failover of a shard, no other
	// automatic failover of that shard for this long (default 5m); an
	// operator's reparent is always allowed.
	RecoveryBlockPeriod time.Duration
	// RelayWaitTimeout bounds the wait for the chosen replica to apply its
	// relay log (MASTER_GTID_WAIT) during a failover (default 30s).
	RelayWaitTimeout time.Duration
	// RequireSemiSync (default true): no automatic failover of a primary
	// whose semi-synchronous replication was off (fallen back to async) at
	// its last probe, since writes it acknowledged may exist only on it;
	// an operator decides (bring it back, or reparent).
	RequireSemiSync bool
}

// Auto reports whether automatic failover is on.
func (h HAConfig) Auto() bool { return h.Failover == FailoverAuto }

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

type rawHA struct {
	Failover            string          `yaml:"failover"`
	Replication         *rawReplication `yaml:"replication"`
	Admin               *rawReplication `yaml:"admin"`
	ProbeInterval       string          `yaml:"probe_interval"`
	ProbeTimeout        string          `yaml:"probe_timeout"`
	BufferWindow        string          `yaml:"buffer_window"`
	BufferSize          *int            `yaml:"buffer_size"`
	ReplicaMaxLag       string          `yaml:"replica_max_lag"`
	RecoveryBlockPeriod string          `yaml:"recovery_block_period"`
	RelayWaitTimeout    string          `yaml:"relay_wait_timeout"`
	RequireSemiSync     *bool           `yaml:"require_semi_sync"`
}

type rawReplication struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

func (b *builder) ha(raw *rawHA) HAConfig {
	h := HAConfig{Failover: raw.Failover}
	switch raw.Failover {
	case "":
		h.Failover = FailoverOff
	case FailoverAuto, FailoverOff:
	default:
		b.errf("ha.failover", "must be auto or off, not %q", raw.Failover)
	}
	if raw.Replication != nil {
		h.ReplUser, h.ReplPassword = raw.Replication.User, raw.Replication.Password
	}
	if raw.Admin != nil {
		h.AdminUser, h.AdminPassword = raw.Admin.User, raw.Admin.Password
		if h.AdminUser == "" {
			b.errf("ha.admin.user", "the account name is required (or leave ha.admin out to use each shard's user)")
		}
	}
	if h.Auto() && h.ReplUser == "" {
		b.errf("ha.replication.user", "failover: auto needs the account replicas replicate with (ha.replication: {user: repl, password: …}) to repoint them to a new primary")
	}
	h.ProbeInterval = b.duration("ha.probe_interval", raw.ProbeInterval, DefaultProbeInterval, false)
	if h.ProbeInterval < 10*time.Millisecond {
		b.errf("ha.probe_interval", "must be at least 10ms, not %s", h.ProbeInterval)
	}
	h.ProbeTimeout = b.duration("ha.probe_timeout", raw.ProbeTimeout, max(time.Second, 2*h.ProbeInterval), false)
	h.BufferWindow = b.duration("ha.buffer_window", raw.BufferWindow, DefaultBufferWindow, true)
	h.BufferSize = DefaultBufferSize
	if v := raw.BufferSize; v != nil {
		if *v < 0 {
			b.errf("ha.buffer_size", "must be 0 (no buffering) or a positive number, not %d", *v)
		} else {
			h.BufferSize = *v
		}
	}
	h.ReplicaMaxLag = b.duration("ha.replica_max_lag", raw.ReplicaMaxLag, DefaultReplicaMaxLag, false)
	h.RecoveryBlockPeriod = b.duration("ha.recovery_block_period", raw.RecoveryBlockPeriod, DefaultRecoveryBlockPeriod, true)
	h.RelayWaitTimeout = b.duration("ha.relay_wait_timeout", raw.RelayWaitTimeout, DefaultRelayWaitTimeout, false)
	h.RequireSemiSync = raw.RequireSemiSync == nil || *raw.RequireSemiSync
	return h
}
