// Package topo holds the topology: keyspaces, their shards and vschemas, as
// an immutable Snapshot that readers share without locks. A Builder checks
// keyspaces as written (the keyspaces of the config file, which package
// config reads, or documents in etcd) and builds the Snapshot; the etcd
// store (Etcd, Watcher) keeps the topology shared by several proxies, with
// the records of HA (primaries, recoveries) and online workflows. The
// shards' roles (RoleCell) are the only part that changes in place.
package topo

import (
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/shardgate/shardgate/vindex"
)

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
	// vindex): set in a sharded keyspace that has a hash vindex, which the Builder
	// adds (named "hash") when auto_vschema is on and the vschema has none.
	DefaultVindex string

	ranges []vindex.KeyRange // ranges[i] is Shards[i].KeyRange (set by the Builder)
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
	Sequence string // "keyspace.table": the Builder qualifies a bare "table" with the global keyspace
}
