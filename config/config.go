// Package config reads the proxy's configuration file (shardgate.yaml): Load
// and Parse check it whole and build a Config, every error naming the file,
// the key path and the reason. Config holds the proxy's own settings
// (listeners, users, security, limits, logs, pools, TLS, ha, workflow) and
// its keyspaces as a topo.Snapshot, which package topo builds and checks
// like the keyspace documents of etcd; config imports topo, never the
// reverse.
package config

import (
	"time"

	"github.com/shardgate/shardgate/topo"
)

// Config is the parsed and validated configuration file.
type Config struct {
	Path            string // file it was read from
	Listen          Listen
	Users           []User
	DefaultKeyspace string // "" = none; else the name of a keyspace (as spelled in Keyspaces)
	GlobalKeyspace  string // "" = none; else an unsharded keyspace
	TransactionMode string // single | multi | twopc (default multi)
	Pool            PoolConfig
	Limits          Limits
	Topology        TopologySource
	Keyspaces       *topo.Snapshot
	HA              HAConfig // ha: replication groups, failover, reads on replicas (ha.go)
	// Workflow: online workflows (Reshard, MoveTables) (workflow.go).
	Workflow WorkflowConfig

	LoginRateLimit LoginRateLimit
	Log            LogConfig
	SlowQueryLog   SlowQueryLog
	Deadlock       Deadlock
	// BackendTLS is backend_tls: TLS towards every shard that has no tls
	// of its own (nil = plaintext).
	BackendTLS *topo.BackendTLS
	Security   Security
}

// Security widens what clients may run on the shards (see the trust model
// in docs/operations.md): by default only MariaDB's built-in functions and
// a list of session variables that affect nothing but the session.
type Security struct {
	// AllowFunctions are stored functions or UDFs clients may call, lower
	// case, as name or database.name.
	AllowFunctions []string
	// AllowSessionVariables are session variables clients may SET beyond
	// the built-in list, lower case.
	AllowSessionVariables []string
}

// LoginRateLimit blocks a source address after MaxFailures failed logins
// within Window, until the window has passed (login_rate_limit).
type LoginRateLimit struct {
	MaxFailures int           // default 20; 0 = no limit
	Window      time.Duration // default 1m
}

// LogConfig is the log section: JSON lines instead of console text, and the
// level (debug, info, warn, error).
type LogConfig struct {
	JSON  bool
	Level string // default info
}

// SlowQueryLog logs statements that take longer than Threshold (0 = off)
// with their normalized SQL and shards.
type SlowQueryLog struct {
	Threshold time.Duration
}

// Deadlock configures the detection of deadlocks across shards (package
// deadlock): a cycle of lock waits whose parts lie on different shards,
// which no single shard's InnoDB can see.
type Deadlock struct {
	// Threshold: a statement that has waited this long makes the proxy ask
	// the shards who waits for whom (default 200ms; 0 turns detection off,
	// and such cycles end in innodb_lock_wait_timeout).
	Threshold time.Duration
}

type Listen struct {
	MySQL string // default 127.0.0.1:15306
	HTTP  string // default 127.0.0.1:15000
	// Admin, when set, is a second HTTP listener that alone serves what
	// changes state (POST /api/…) and pprof; HTTP then serves only pages
	// and JSON that read.
	Admin string
	TLS   *TLSConfig
	// HTTPTLS, when set, makes HTTP and Admin serve HTTPS with its
	// certificate (Require is not used).
	HTTPTLS *TLSConfig
	// DefaultAuth is the authentication plugin the greeting announces:
	// mysql_native_password (default) or caching_sha2_password. A client
	// may answer with either.
	DefaultAuth string
}

// TLSConfig is the client-facing TLS of the MySQL listener. Cert and Key are
// resolved against the config file's folder when relative, and exist.
// Require (listen.tls.require, MySQL's require_secure_transport) refuses
// clients that do not switch to TLS.
type TLSConfig struct {
	Cert, Key string
	Require   bool
}

// User is a client account of the proxy.
//
// Both hashes are nil for an account with an empty password.
type User struct {
	Name string
	// NativeHash is SHA1(SHA1(password)) (20 bytes), from `password` or
	// `password_hash: "*<40 hex>"`.
	NativeHash []byte
	// SHA2Hash is SHA256(SHA256(password)) (32 bytes) for caching_sha2_password.
	// Only set when the config gives `password`: an account configured by
	// password_hash authenticates with mysql_native_password only.
	SHA2Hash  []byte
	Keyspaces []string // allowed keyspaces (names as defined); empty = all
	ReadOnly  bool
	// Admin may call the HTTP endpoints that change state (reparent), with
	// HTTP basic auth.
	Admin bool
}

// MayUse reports whether the user may use the keyspace named ks: the one
// check of keyspace access, for the handshake's database, USE, and every
// plan (a nil user, inside the proxy, may use all).
func (u *User) MayUse(ks string) bool {
	if u == nil || len(u.Keyspaces) == 0 {
		return true
	}
	for _, k := range u.Keyspaces {
		if k == ks {
			return true
		}
	}
	return false
}

type PoolConfig struct {
	Size           int           // max open connections per shard (default 64)
	MaxIdle        int           // idle connections kept per shard (default = Size)
	WaitTimeout    time.Duration // max wait for a free connection (default 5s)
	ConnectTimeout time.Duration // dial + handshake (default 3s)
	IdleTimeout    time.Duration // close idle connections older than this (default 5m; 0 = never)
}

type Limits struct {
	MaxConnections int // client connections (default 4096)
	// MaxPacketSize is the largest client packet, and the most long data
	// (COM_STMT_SEND_LONG_DATA) a session may hold for its prepared
	// statements (default 64 MiB).
	MaxPacketSize int
	MaxMemoryRows int // rows a proxy-side operation may hold (default 300000)
	// PlanCacheBytes bounds the plan cache's estimated size (default 64
	// MiB); a statement whose plan would take more than 1/64 of it is
	// planned at every run instead.
	PlanCacheBytes int64
	// MaxPreparedStmtsPerSession bounds a session's open prepared
	// statements (default 1024; MySQL has only the server-wide
	// max_prepared_stmt_count, which one session could exhaust on a shard).
	MaxPreparedStmtsPerSession int
	// ProxySortRows: a scatter ORDER BY or DISTINCT first asks each shard
	// for at most this many rows unsorted and sorts them at the proxy, which
	// costs the shards less than a sort each; a shard with more makes the
	// shards sort (default 256, 0: shards always sort).
	ProxySortRows int
	// IdleTimeout closes a client connection that sends nothing for this
	// long (default 0 = never; MySQL's wait_timeout is 8h).
	IdleTimeout time.Duration
	// QueryTimeout bounds each statement (default 0 = none); a session
	// changes its own with SET max_execution_time = <ms>. On timeout the
	// shard query is killed (KILL QUERY).
	QueryTimeout time.Duration
}

type TopologySource struct {
	Source string          // file | etcd (default file)
	Etcd   topo.EtcdConfig // topology.etcd (etcd.go)
}
