package router

import (
	"context"
	"errors"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// A cross-shard deadlock victim (package deadlock finds the cycles): the
// detector marks the session with the transaction it chose and interrupts
// the statement waiting in the cycle; that statement's failure rolls the
// whole transaction back (so the other transactions' lock waits end) and
// reaches the client as the mark's error, 1213 ER_LOCK_DEADLOCK.

// deadlockMark is the transaction chosen as a deadlock victim and the error
// its statement ends with.
type deadlockMark struct {
	tx  uint64 // txn.Tx.ID of the victim transaction
	err *wire.Error
}

// AbortDeadlocked makes the running statement of transaction tx fail with
// e and roll the transaction back on every shard: it is a deadlock victim.
// It returns false, and does nothing, when that transaction is no longer
// open or has begun to commit or roll back (in twopc a transaction being
// prepared or past PREPARE is never a victim). The front end calls it from
// another goroutine, only while the session runs the very command the
// detector found waiting, and holds the session's command lock meanwhile
// so that the command cannot end in between.
func (s *Session) AbortDeadlocked(tx uint64, e *wire.Error) bool {
	if !s.Tx.Current(tx) {
		return false
	}
	s.deadlock.Store(&deadlockMark{tx: tx, err: e})
	s.Interrupt() // the waiting read ends: KILL QUERY on its shard
	return true
}

// ClearDeadlocked forgets a victim mark that no statement used (the
// statement had finished by itself before it could be interrupted). The
// front end calls it when the command ends.
func (s *Session) ClearDeadlocked() { s.deadlock.Store(nil) }

// deadlockVictim turns the failure of a statement of a transaction chosen
// as deadlock victim into that outcome: the transaction is rolled back on
// every shard and the client gets the detector's 1213. Called on the error
// path only; without a mark (always, but for victims) it returns err as is.
// A statement that finished on its own with success keeps its result (the
// cycle was broken by something else), and so does a failure that is no
// lock wait or interruption (a duplicate key found once the lock came).
func (vc *vcursor) deadlockVictim(ctx context.Context, err error) error {
	m := vc.s.deadlock.Load()
	if m == nil {
		return err
	}
	var ce engine.ClientError
	if m.tx != vc.s.Tx.ID() || errors.As(err, &ce) || !interrupted(err) {
		return err
	}
	vc.s.deadlock.Store(nil)
	if vc.s.Tx.Active() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), txn.CloseTimeout)
		_ = vc.s.Tx.Rollback(rctx) // a branch that fails to roll back is closed, which rolls it back
		cancel()
	}
	return m.err
}

// interrupted reports the errors a statement ends with when the detector
// stops it: KILL QUERY's 1317, a connection lost or abandoned by the
// interruption, or a lock error the shard itself reached at the same time.
func interrupted(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	switch wire.AsError(err).Code {
	case mysql.ER_QUERY_INTERRUPTED, mysql.ER_LOCK_WAIT_TIMEOUT, mysql.ER_LOCK_DEADLOCK, mysql.ER_UNKNOWN_ERROR:
		return true
	}
	return false
}
