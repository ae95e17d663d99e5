package planner

import (
	"sync/atomic"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/topo"
)

// Plan is an immutable, cached execution plan of one normalized statement.
type Plan struct {
	Kind      Kind             // what the statement is
	Prim      engine.Primitive // root primitive
	Write     bool             // changes data or schema
	Keyspaces []string         // keyspaces it touches (access checks)
	Cacheable bool
	// Meta is the shard that describes a prepared statement's parameters
	// and columns; nil for statements the proxy answers itself.
	Meta *topo.Shard
	Tx   TxBehavior
	// MultiShardWrite: the statement may write on several shards; in twopc
	// mode an autocommit one runs in its own distributed transaction.
	MultiShardWrite bool
	// Locks: a locking read, refused to read-only users (checkAccess).
	Locks bool
	// Reserve: the statement leaves state on its shard connection (a
	// temporary table): the session keeps that connection (txn.Tx.Reserve).
	Reserve bool
	// Tables: "keyspace.table" of every table the statement names.
	Tables []string
	// Held: keyspaces whose tables the statement names that a traffic
	// switch holds (switch.go).
	Held []string
	// Observed holds the Observer's own state for this plan (its metrics
	// collectors), so a statement finds them without a map lookup.
	Observed atomic.Value
}

// TxBehavior is how a statement relates to the session's transaction.
type TxBehavior uint8

const (
	TxNone        TxBehavior = iota // session statements
	TxJoin                          // joins the transaction (starts one when autocommit=0)
	TxCommitFirst                   // DDL: commits an open transaction first, as MySQL does
)

// Kind is what a statement is, for access checks, transactions and
// metrics; String is the name the metrics and messages use.
type Kind uint8

const (
	KindSelect Kind = iota
	KindInsert
	KindReplace
	KindUpdate
	KindDelete
	KindDDL
	KindExplain
	KindShow
	KindShowWarnings
	KindSet
	KindUse
	KindBegin
	KindCommit
	KindRollback
	KindKill
	KindMulti
)

var kindNames = [...]string{"select", "insert", "replace", "update", "delete", "ddl", "explain", "show", "show warnings",
	"set", "use", "begin", "commit", "rollback", "kill", "multi"}

func (k Kind) String() string { return kindNames[k] }
