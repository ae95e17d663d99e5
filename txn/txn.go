// Package txn tracks the shard connections a client session holds and ends
// its transactions on them. Outside a transaction a statement borrows a
// connection per shard and returns it at once (so sessions share backends);
// inside one, each shard's connection is pinned until COMMIT or ROLLBACK.
//
// In twopc mode every branch runs under XA; COMMIT of a transaction on
// several shards prepares every branch, records the decision in the global
// keyspace and commits the branches (two-phase commit); a Resolver finishes
// the branches that a crash left prepared. See docs/transactions.md.
package txn

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/wire"
)

// Mode is a session's transaction_mode.
type Mode string

const (
	Single Mode = "single" // refuse a transaction's second shard
	Multi  Mode = "multi"  // commit shard by shard, best effort
	TwoPC  Mode = "twopc"  // atomic two-phase commit on XA
)

// ParseMode checks a transaction_mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(s)); m {
	case Single, Multi, TwoPC:
		return m, nil
	}
	return "", wire.Errorf(mysql.ER_WRONG_VALUE_FOR_VAR, "Variable 'transaction_mode' can't be set to the value of '%s' (use single, multi or twopc)", s)
}

// Tx is the transaction state of one client session.
type Tx struct {
	Mode Mode
	// Setup prepares a connection before it joins the transaction (the
	// router applies the session's variables, the isolation level above all).
	Setup func(ctx context.Context, c *backend.Conn) error
	// Coordinator records twopc decisions in the global keyspace; the router
	// sets it (nil without a global keyspace: twopc then refuses to start).
	Coordinator *Coordinator

	active bool
	// begin is what a shard runs as it joins: START TRANSACTION with its
	// characteristics, maybe after SET TRANSACTION ISOLATION LEVEL.
	begin   string
	dtid    string // twopc: the distributed transaction id, set when the first branch starts
	shards  []held // pinned connections, in the order the shards joined
	warning string // of the last COMMIT: it succeeded, but not everything is confirmed
	// reserved are connections the session keeps for its whole life, in
	// and out of transactions: they hold its state (a temporary table).
	reserved []*backend.Conn

	// mu guards active, id and shards against readers on other goroutines
	// (Branches, for the deadlock detector). Only the session's goroutine
	// changes them, under mu, and it reads them without: the lock is taken
	// when a transaction begins, a shard joins it and it ends, never by a
	// statement on a shard already joined.
	mu sync.Mutex
	id uint64 // counts the transactions begun on the session
}

// Branch is one shard connection of an open transaction, as Branches
// reports it.
type Branch struct {
	Shard    string // keyspace/shard
	Server   string // address of the shard's server
	ThreadID uint32 // the server's id of the connection (CONNECTION_ID())
}

type held struct {
	pool *backend.Pool
	conn *backend.Conn
	xa   *xid // twopc branch; nil for a plain transaction
	// prepared: XA PREPARE succeeded; unsure: it may have (I/O error).
	prepared, unsure bool
	// wrote: a statement that may write ran on the branch.
	wrote bool
}

// Active reports whether a transaction is open.
func (t *Tx) Active() bool { return t.active }

// Begin opens a transaction; begin is the statement each shard runs when it
// joins ("START TRANSACTION", "START TRANSACTION READ ONLY", ...).
func (t *Tx) Begin(begin string) {
	t.mu.Lock()
	t.active = true
	t.id++
	t.mu.Unlock()
	t.begin = begin
	t.dtid = ""
	t.warning = ""
}

// ID identifies the session's current transaction (or its last one, once
// it ended): it grows by one at every Begin. For the session's goroutine.
func (t *Tx) ID() uint64 { return t.id }

// Branches appends the shard connections of the open transaction to dst and
// returns them with the transaction's ID. ok is false outside a transaction
// and from the moment its COMMIT or ROLLBACK begins: a transaction that is
// committing (in twopc, preparing or past PREPARE) shows no branches. Safe
// for use by other goroutines.
func (t *Tx) Branches(dst []Branch) (id uint64, branches []Branch, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.active {
		return t.id, dst, false
	}
	for _, h := range t.shards {
		dst = append(dst, Branch{Shard: h.pool.Name(), Server: h.conn.Server(), ThreadID: h.conn.ThreadID})
	}
	return t.id, dst, true
}

// Current reports whether the transaction with this ID is open and not
// yet ending. Safe for use by other goroutines.
func (t *Tx) Current(id uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active && t.id == id
}

// end closes the transaction to other goroutines' view and returns its
// branches, which the caller then commits or rolls back.
func (t *Tx) end() []held {
	t.mu.Lock()
	shards := t.shards
	t.shards, t.active = nil, false
	t.mu.Unlock()
	t.dtid = ""
	return shards
}

// DTID is the distributed transaction id of the open twopc transaction ("" if
// none, or before its first shard joined).
func (t *Tx) DTID() string { return t.dtid }

// Warning returns what the last COMMIT wants the client to know although it
// succeeded ("" when nothing): a twopc commit whose decision is recorded but
// whose branches were not all confirmed committed.
func (t *Tx) Warning() string { return t.warning }

// Conn returns the connection to use on pool's shard: the pinned one inside a
// transaction (starting the shard's branch on first use), else a pooled one
// that the caller gives back with Done. With queueBegin (the caller's next
// command only reads) a new branch's BEGIN goes out with that command
// instead of taking a round trip of its own.
func (t *Tx) Conn(ctx context.Context, pool *backend.Pool, foundRows, queueBegin bool) (*backend.Conn, error) {
	if !t.active {
		if c := t.reservedOn(pool); c != nil {
			return c, nil
		}
		return pool.Get(ctx, foundRows)
	}
	for i := range t.shards {
		if h := &t.shards[i]; h.pool == pool {
			if h.conn.Broken() {
				// Its protocol state is unknown (an I/O error, a result
				// abandoned): another command on it would read an old answer.
				return nil, wire.Errorf(mysql.ER_UNKNOWN_ERROR,
					"shard %s: the transaction's connection to it broke in an earlier statement, so the transaction cannot go on there; ROLLBACK and retry the transaction", pool.Name())
			}
			h.wrote = h.wrote || !queueBegin
			return h.conn, nil
		}
	}
	if t.Mode == Single && len(t.shards) > 0 {
		return nil, wire.Errorf(mysql.ER_NOT_SUPPORTED_YET,
			"not supported by shardgate: transaction_mode 'single' allows one shard per transaction; this statement needs shard %s after %s (SET transaction_mode='multi' or 'twopc' to allow it)",
			pool.Name(), t.shards[0].pool.Name())
	}
	begin := t.begin
	var x *xid
	if t.Mode == TwoPC && !readOnly(begin) {
		if t.Coordinator == nil {
			return nil, wire.Errorf(mysql.ER_NOT_SUPPORTED_YET,
				"not supported by shardgate: transaction_mode 'twopc' needs a global keyspace (global_keyspace in the configuration) to record its commit decisions")
		}
		if t.dtid == "" {
			t.dtid = t.Coordinator.newDTID()
		}
		x = &xid{gtrid: t.dtid, bqual: bqualOf(pool.Name())}
		begin = xaBegin(begin, *x)
	}
	c := t.reservedOn(pool)
	if c == nil {
		var err error
		if c, err = pool.Get(ctx, foundRows); err != nil {
			return nil, err
		}
	}
	if t.Setup != nil {
		if err := t.Setup(ctx, c); err != nil {
			t.giveBack(c)
			return nil, err
		}
	}
	var err error
	if queueBegin {
		err = c.Queue(ctx, begin)
	} else {
		_, err = c.Exec(ctx, begin)
	}
	if err != nil {
		t.giveBack(c)
		return nil, fmt.Errorf("begin on shard %s: %w", pool.Name(), err)
	}
	t.mu.Lock()
	t.shards = append(t.shards, held{pool: pool, conn: c, xa: x, wrote: !queueBegin})
	t.mu.Unlock()
	return c, nil
}

// readOnly reports a START TRANSACTION READ ONLY: its branches write
// nothing, so they need no two-phase commit and run as plain transactions.
func readOnly(begin string) bool { return strings.Contains(begin, "READ ONLY") }

// xaBegin turns a begin statement into XA START, keeping a SET TRANSACTION
// ISOLATION LEVEL prefix. WITH CONSISTENT SNAPSHOT has no XA form: the
// snapshot is then taken at the branch's first read, as InnoDB does anyway.
func xaBegin(begin string, x xid) string {
	prefix := ""
	if i := strings.LastIndex(begin, "START TRANSACTION"); i >= 0 {
		prefix = begin[:i]
	}
	return prefix + "XA START " + x.String()
}

// Reserve keeps c for the rest of the session: it now holds session state
// that a pooled connection must not carry to another session (a temporary
// table). Statements in and out of transactions on its shard use it, and
// Close closes it.
func (t *Tx) Reserve(c *backend.Conn) {
	if c.Reserved {
		return
	}
	c.Reserved = true
	t.reserved = append(t.reserved, c)
}

func (t *Tx) reservedOn(pool *backend.Pool) *backend.Conn {
	for _, c := range t.reserved {
		if c.Pool() == pool {
			return c
		}
	}
	return nil
}

// giveBack returns c to its pool unless the session keeps it.
func (t *Tx) giveBack(c *backend.Conn) {
	if c.Reserved {
		if c.Broken() {
			t.dropReserved(c)
		}
		return
	}
	c.Release()
}

// dropReserved closes a reserved connection (broken, or the session ends).
func (t *Tx) dropReserved(c *backend.Conn) {
	for i, r := range t.reserved {
		if r == c {
			t.reserved = append(t.reserved[:i], t.reserved[i+1:]...)
			break
		}
	}
	c.Reserved = false
	c.MarkBroken() // its state must not reach the pool
	c.Release()
}

// Done gives back a connection obtained by Conn outside a transaction.
func (t *Tx) Done(c *backend.Conn) {
	if !t.active {
		t.giveBack(c)
		return
	}
	// Inside a transaction it stays pinned, unless it broke: then the
	// transaction on that shard is lost and COMMIT must fail.
}

// Shards lists the shards the transaction has touched.
func (t *Tx) Shards() []string {
	names := make([]string, len(t.shards))
	for i, h := range t.shards {
		names[i] = h.pool.Name()
	}
	return names
}

// Commit ends the transaction. multi (and single) commit shard by shard;
// when a shard fails, the error names the shards that had committed before
// it and the rest are rolled back. twopc commits atomically (commitXA).
func (t *Tx) Commit(ctx context.Context) error {
	t.warning = ""
	if t.hasXA() {
		return t.commitXA(ctx)
	}
	return t.finish(ctx, "COMMIT")
}

// Rollback rolls back every shard.
func (t *Tx) Rollback(ctx context.Context) error {
	t.warning = ""
	if t.hasXA() {
		return t.rollbackXA(ctx)
	}
	return t.finish(ctx, "ROLLBACK")
}

func (t *Tx) hasXA() bool {
	for _, h := range t.shards {
		if h.xa != nil {
			return true
		}
	}
	return false
}

func (t *Tx) finish(ctx context.Context, verb string) error {
	shards := t.end()
	if verb == "ROLLBACK" || !anyWrote(shards) {
		return t.finishAll(ctx, verb, shards)
	}
	var done []string
	var firstErr error
	for _, h := range shards {
		stmt := verb
		if firstErr != nil {
			stmt = "ROLLBACK"
		}
		var err error
		if h.conn.Broken() {
			err = errBroken(h.pool.Name())
		} else {
			_, err = h.conn.Exec(ctx, stmt)
		}
		if err != nil && firstErr == nil {
			if verb == "COMMIT" {
				firstErr = commitError(h.pool.Name(), err, done, len(shards))
			} else {
				firstErr = fmt.Errorf("rollback on shard %s: %w", h.pool.Name(), err)
			}
		}
		if err == nil && stmt == verb {
			done = append(done, h.pool.Name())
		}
		if err != nil {
			h.conn.MarkBroken()
		}
		t.giveBack(h.conn)
	}
	return firstErr
}

func anyWrote(shards []held) bool {
	for _, h := range shards {
		if h.wrote {
			return true
		}
	}
	return false
}

// finishAll ends every branch in one round trip for all: verb goes to each
// shard before any answer is read. For ROLLBACK, and for the COMMIT of
// branches that only read, the order in which shards finish does not matter.
func (t *Tx) finishAll(ctx context.Context, verb string, shards []held) error {
	var small [4]error
	errs := small[:0]
	if len(shards) > len(small) {
		errs = make([]error, 0, len(shards))
	}
	for _, h := range shards {
		var err error
		switch {
		case !h.conn.Broken():
			err = h.conn.WriteQuery(ctx, verb)
		case verb != "ROLLBACK":
			err = errBroken(h.pool.Name())
		}
		errs = append(errs, err)
	}
	var firstErr error
	for i, h := range shards {
		err := errs[i]
		if err == nil && !h.conn.Broken() {
			_, err = h.conn.ReadResultDiscard()
		}
		if err != nil {
			h.conn.MarkBroken()
			if firstErr == nil {
				firstErr = fmt.Errorf("%s on shard %s: %w", strings.ToLower(verb), h.pool.Name(), err)
			}
		}
		t.giveBack(h.conn)
	}
	return firstErr
}

// errBroken is the error of a shard whose pinned connection broke during
// the transaction. Releasing the connection closes it, and the server rolls
// the shard's work back: a ROLLBACK needs nothing more.
func errBroken(shard string) error {
	return wire.Errorf(mysql.ER_UNKNOWN_ERROR, "the connection to shard %s broke during the transaction, so its work there is lost", shard)
}

func commitError(shard string, err error, committed []string, total int) error {
	e := wire.AsError(err)
	what := "no shard had committed"
	if len(committed) > 0 {
		what = "shards " + strings.Join(committed, ", ") + " had already committed"
	}
	return wire.Errorf(e.Code, "commit failed on shard %s: %s; %s (transaction_mode multi: %d shards, not atomic), the rest were rolled back", shard, e.Message, what, total)
}

// CloseTimeout bounds the rollback of a session's transaction when the
// session ends or resets (client gone, KILL, COM_RESET_CONNECTION,
// COM_CHANGE_USER). A shard that has not answered by then has its
// connection closed, which rolls its branch back on the server: a session
// never waits on a shard without a deadline to end.
var CloseTimeout = 5 * time.Second

// Close rolls back whatever is open, within CloseTimeout even when ctx is
// already canceled, and closes the reserved connections (client disconnect,
// COM_RESET_CONNECTION, COM_CHANGE_USER).
func (t *Tx) Close(ctx context.Context) {
	if t.active || len(t.shards) > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CloseTimeout)
		defer cancel()
		_ = t.Rollback(ctx)
	}
	for len(t.reserved) > 0 {
		t.dropReserved(t.reserved[0])
	}
}
