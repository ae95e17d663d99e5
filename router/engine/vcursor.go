package engine

import (
	"context"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// VCursor is what a primitive may use of the statement it runs for: its
// bound values, the session's connections to the shards, the client it
// answers, and the session facts that change what it sends. The router's
// cursor implements it over a live session; tests implement it over rows
// held in memory, so no operator needs a MariaDB to be tested.
type VCursor interface {
	// Binds are the statement's values: the literals of the normalized
	// text, or the client's parameters.
	Binds() []sqlval.Value
	// SetBinds replaces them for the rest of the statement (INSERT fills
	// generated ids into slots the planner added).
	SetBinds([]sqlval.Value)
	// SQL is the client's statement text (or the prepared statement's).
	SQL() string
	// Prepared says the client sent COM_STMT_EXECUTE and expects rows in
	// the binary protocol.
	Prepared() bool
	// Facts are the session facts a primitive reads.
	Facts() SessionFacts

	// Conn takes the session's connection to shard sh (pinned in a
	// transaction, session variables applied); Done gives it back.
	Conn(ctx context.Context, sh *topo.Shard) (*backend.Conn, error)
	Done(c *backend.Conn)
	// Send writes one statement to c: q, or the client's own statement
	// (text or prepared) when q is nil. It traces what it sends.
	Send(ctx context.Context, c *backend.Conn, q []byte) error
	// Trace records a statement sent to a shard other than by Send.
	Trace(shard string, q []byte)
	// Calls is scratch space for n shard calls, valid until the next
	// Calls of this statement.
	Calls(n int) []ShardCall
	// RenderEnv is what a template needs to be rendered for shard sh.
	RenderEnv(sh *topo.Shard) RenderEnv

	// Write sends one packet of the response to the client; WriteOK and
	// WriteEOF end a response with the session's status.
	Write(p []byte) error
	WriteOK(ok wire.OK) error
	WriteEOF(warnings uint16) error
	// AddRows counts result rows sent to the client.
	AddRows(n int64)
	// SetWarnings records the statement's warning count (SHOW WARNINGS);
	// CollectWarnings fetches the warnings of a shard's statement.
	SetWarnings(n uint16)
	CollectWarnings(ctx context.Context, c *backend.Conn)

	// IDs is the statement's LAST_INSERT_ID state (lastid.go); ApplyIDs
	// makes its id the session's once the statement succeeded.
	IDs() *IDState
	ApplyIDs()
	// ReserveIDs takes n ids from the sequence named seq.
	ReserveIDs(ctx context.Context, seq string, n int) ([]uint64, error)
	// SchemaChanged follows a DDL that succeeded on every shard: sequences
	// dropped or created, schema tracking refreshed, plans forgotten. It
	// returns warnings for the client's OK.
	SchemaChanged(ctx context.Context, d *DDL, succeeded bool) (warnings uint16, err error)

	// MaxMemoryRows bounds the rows a primitive may hold in memory.
	MaxMemoryRows() int
	// Probes counts what the sort probes found (metrics).
	Probes() *ProbeCounters
	// Log is the router's logger.
	Log() *zap.Logger
}

// SessionFacts are the session state primitives read.
type SessionFacts struct {
	ID                uint32
	FoundRows         bool // CLIENT_FOUND_ROWS: affected rows count matched rows
	NoAutoValueOnZero bool // sql_mode NO_AUTO_VALUE_ON_ZERO
	LastInsertID      uint64
	InTransaction     bool
}

// Primitive is one step of a plan. Execute writes its result to the client
// through vc (or returns an error before writing anything).
type Primitive interface {
	Execute(ctx context.Context, vc VCursor) error
	// Describe returns the primitive's description, the body of EXPLAIN.
	Describe() string
}
