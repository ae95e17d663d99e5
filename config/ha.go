package config

import "time"

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
		b.Errorf("ha.failover", "must be auto or off, not %q", raw.Failover)
	}
	if raw.Replication != nil {
		h.ReplUser, h.ReplPassword = raw.Replication.User, raw.Replication.Password
	}
	if raw.Admin != nil {
		h.AdminUser, h.AdminPassword = raw.Admin.User, raw.Admin.Password
		if h.AdminUser == "" {
			b.Errorf("ha.admin.user", "the account name is required (or leave ha.admin out to use each shard's user)")
		}
	}
	if h.Auto() && h.ReplUser == "" {
		b.Errorf("ha.replication.user", "failover: auto needs the account replicas replicate with (ha.replication: {user: repl, password: …}) to repoint them to a new primary")
	}
	h.ProbeInterval = b.duration("ha.probe_interval", raw.ProbeInterval, DefaultProbeInterval, false)
	if h.ProbeInterval < 10*time.Millisecond {
		b.Errorf("ha.probe_interval", "must be at least 10ms, not %s", h.ProbeInterval)
	}
	h.ProbeTimeout = b.duration("ha.probe_timeout", raw.ProbeTimeout, max(time.Second, 2*h.ProbeInterval), false)
	h.BufferWindow = b.duration("ha.buffer_window", raw.BufferWindow, DefaultBufferWindow, true)
	h.BufferSize = DefaultBufferSize
	if v := raw.BufferSize; v != nil {
		if *v < 0 {
			b.Errorf("ha.buffer_size", "must be 0 (no buffering) or a positive number, not %d", *v)
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
