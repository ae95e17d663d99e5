package router

import (
	"sync/atomic"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/topo"
)

// Plan is an immutable, cached execution plan of one normalized statement.
type Plan struct {
	Kind      Kind             // what the statement is
	Prim      engine.Primitive // root primitive
	write     bool             // changes data or schema
	keyspaces []string         // keyspaces it touches (access checks)
	cacheable bool
	// meta is the shard that describes a prepared statement's parameters
	// and columns; nil for statements the proxy answers itself.
	meta *topo.Shard
	tx   txBehavior
	// multiShardWrite: the statement may write on several shards; in twopc
	// mode an autocommit one runs in its own distributed transaction.
	multiShardWrite bool
	// locks: a locking read, refused to read-only users (checkAccess).
	locks bool
	// reserve: the statement leaves state on its shard connection (a
	// temporary table): the session keeps that connection (txn.Tx.Reserve).
	reserve bool
	// tables: "keyspace.table" of every table the statement names.
	tables []string
	// held: keyspaces whose tables the statement names that a traffic
	// switch holds (switch.go).
	held []string
	// Observed holds the Observer's own state for this plan (its metrics
	// collectors), so a statement finds them without a map lookup.
	Observed atomic.Value
}

// txBehavior is how a statement relates to the session's transaction.
type txBehavior uint8

const (
	txNone        txBehavior = iota // session statements
	txJoin                          // joins the transaction (starts one when autocommit=0)
	txCommitFirst                   // DDL: commits an open transaction first, as MySQL does
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
