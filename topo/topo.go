// Package topo holds the proxy's configuration and topology: listeners, users,
// keyspaces, their shards and vschemas. It loads them from a YAML file (and
// later etcd) and checks them, so the rest of the proxy sees only a valid,
// immutable Snapshot.
package topo

import (
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shardgate/shardgate/vindex"
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
	Keyspaces       *Snapshot
	HA              HAConfig // ha: replication groups, failover, reads on replicas (ha.go)
	// Workflow: online workflows (Reshard, MoveTables) (workflow.go).
	Workflow WorkflowConfig

	LoginRateLimit LoginRateLimit
	Log            LogConfig
	SlowQueryLog   SlowQueryLog
	Deadlock       Deadlock
	// BackendTLS is backend_tls: TLS towards every shard that has no tls
	// of its own (nil = plaintext).
	BackendTLS *BackendTLS
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

// BackendTLS is how the proxy connects to a shard over TLS (shards[].tls,
// backend_tls). Files are resolved against the config file's folder and
// exist. Without CA the system's roots verify the shard's certificate;
// SkipVerify accepts any certificate (encryption without authentication).
type BackendTLS struct {
	CA         string // PEM file of the CA(s) that signed the shards' certificates
	Cert, Key  string // optional client certificate
	ServerName string // name to verify (default: the shard's host)
	SkipVerify bool
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
	Source string     // file | etcd (default file)
	Etcd   EtcdConfig // topology.etcd (see etcd_config.go)
}

// Snapshot is an immutable view of all keyspaces. Readers share it without locks;
// a topology change builds a new Snapshot.
type Snapshot struct {
	Keyspaces map[string]*Keyspace // by name
}

// Keyspace returns the keyspace of that name; the lookup ignores case when no
// keyspace has exactly that name.
func (s *Snapshot) Keyspace(name string) (*Keyspace, bool) {
	if s == nil {
		return nil, false
	}
	if k, ok := s.Keyspaces[name]; ok {
		return k, true
	}
	for n, k := range s.Keyspaces {
		if strings.EqualFold(n, name) {
			return k, true
		}
	}
	return nil, false
}

// Names returns the keyspace names, sorted.
func (s *Snapshot) Names() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.Keyspaces))
	for n := range s.Keyspaces {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Keyspace is a logical database.
type Keyspace struct {
	Name        string
	Sharded     bool
	AutoVSchema bool
	Shards      []*Shard // the serving shards, sorted by key range start: what routing uses
	// NonServing are shards declared serving: false (sorted by key range
	// start): the targets of a reshard before its switch, its sources
	// after. Routing never sees them; online workflows and the HA prober
	// do.
	NonServing []*Shard
	// RoutedTables maps a table (lower case) named in this keyspace to the
	// keyspace that serves it (MoveTables: before its switch the target
	// names the source, after it the source names the target).
	RoutedTables map[string]string
	// Workflows are the online workflows moving tables of this keyspace,
	// by name (workflow.go).
	Workflows map[string]*WorkflowMark
	Tables    map[string]*Table // lower-case table name -> table (vschema)
	Vindexes  map[string]vindex.Vindex
	// DefaultVindex is the vindex auto-vschema uses (the keyspace's hash
	// vindex): set in a sharded keyspace that has a hash vindex, which Load
	// adds (named "hash") when auto_vschema is on and the vschema has none.
	DefaultVindex string

	ranges []vindex.KeyRange // ranges[i] is Shards[i].KeyRange (set by Load)
}

// Table returns the vschema entry of a table, ignoring case.
func (k *Keyspace) Table(name string) (*Table, bool) {
	if t, ok := k.Tables[name]; ok {
		return t, true
	}
	t, ok := k.Tables[strings.ToLower(name)]
	return t, ok
}

// ShardFor returns the shard whose key range holds the keyspace id, or nil if
// none does (only possible for a hand-built Keyspace). An unsharded keyspace
// returns its only shard whatever ksid is.
func (k *Keyspace) ShardFor(ksid []byte) *Shard {
	switch {
	case len(k.Shards) == 0:
		return nil
	case !k.Sharded || len(k.Shards) == 1:
		return k.Shards[0]
	case len(k.ranges) == len(k.Shards):
		if i := vindex.ShardIndex(k.ranges, ksid); i >= 0 {
			return k.Shards[i]
		}
		return nil
	}
	for _, s := range k.Shards {
		if s.KeyRange.Contains(ksid) {
			return s
		}
	}
	return nil
}

// Shard is one backend database holding a key range of a keyspace: one
// server, or a replication group (a primary and its replicas) listed in
// Servers.
type Shard struct {
	Name     string          // "-80", "80-", "0"
	KeyRange vindex.KeyRange // full range for unsharded
	Host     string          // a shard of one server; "" when Servers lists several
	Port     int             // default 3306 when Host is set
	Socket   string          // unix socket, used instead of host:port when set
	// Servers lists the addresses (host:port) of the shard's servers: the
	// config's servers:, or the one host:port. Which one is the primary is
	// found by the HA prober and published in Roles.
	Servers []string
	// Roles is where the HA prober publishes the shard's primary and
	// healthy replicas: the only part of a Shard that changes, read with an
	// atomic load. Shards of one server need none.
	Roles    *RoleCell
	User     string
	Password string
	Database string      // database on that server (default: the keyspace name)
	TLS      *BackendTLS // nil = plaintext
}

// Addr is the address to dial: host:port, or the socket path when Socket is
// set (go-mysql's client takes either; see Network). For a replication
// group it is the first server listed (the primary is in Roles).
func (s *Shard) Addr() string {
	if s.Socket != "" {
		return s.Socket
	}
	if s.Host == "" && len(s.Servers) > 0 {
		return s.Servers[0]
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// Network is "unix" when the shard is reached by Socket, else "tcp".
func (s *Shard) Network() string {
	if s.Socket != "" {
		return "unix"
	}
	return "tcp"
}

type TableType int

const (
	// TableSharded is a table spread by its vindex in a sharded keyspace, and
	// any plain table of an unsharded keyspace.
	TableSharded TableType = iota
	TableReference
	TableSequence
)

func (t TableType) String() string {
	switch t {
	case TableSharded:
		return ""
	case TableReference:
		return "reference"
	case TableSequence:
		return "sequence"
	}
	return "TableType(" + strconv.Itoa(int(t)) + ")"
}

// Table is a vschema table entry.
type Table struct {
	Name          string // as written in the vschema
	Type          TableType
	Column        string // sharding column (lower case), sharded tables only
	VindexName    string
	Vindex        vindex.Vindex
	AutoIncrement *AutoIncrement
}

type AutoIncrement struct {
	Column   string // lower case
	Sequence string // "keyspace.table": Load qualifies a bare "table" with the global keyspace
}
