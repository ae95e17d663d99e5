package planner

import (
	"context"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/topo"
)

// Env is what the planner may know of the world: the topology, the
// session's keyspace, the configured limits and policy, and the tables'
// columns. The planner does no I/O of its own; TableColumns is the one call
// that may reach a shard, under the statement's context. The router
// implements Env over a session; plan tests implement it over a config.
type Env interface {
	// Keyspace returns the keyspace named name.
	Keyspace(name string) (*topo.Keyspace, bool)
	// KeyspaceNames lists the keyspaces, sorted.
	KeyspaceNames() []string
	// SessionKeyspace is the session's keyspace ("" when none is selected).
	SessionKeyspace() string
	// GlobalKeyspace names the unsharded keyspace of sequences and
	// reference-table copies ("" when none is configured).
	GlobalKeyspace() string
	Limits() *config.Limits
	Security() *config.Security
	// DerivedTable is the entry schema tracking derived for a table of an
	// auto_vschema keyspace.
	DerivedTable(ks, name string) (*topo.Table, bool)
	// KnowsAutoIncrement reports whether schema tracking knows every
	// AUTO_INCREMENT column of ks.
	KnowsAutoIncrement(ks *topo.Keyspace) bool
	// TableColumns returns a table's columns in order and its
	// AUTO_INCREMENT column ("" if none).
	TableColumns(ctx context.Context, ks *topo.Keyspace, table string) (names []string, autoInc string, err error)
}
