package txn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/wire"
)

// commitXA ends a twopc transaction. One branch: XA END + XA COMMIT ONE
// PHASE in one round trip. Several: XA END + XA PREPARE on every branch in
// parallel; the decision "commit" recorded first-wins in the global
// keyspace; XA COMMIT on every branch in parallel; the decision deleted in
// the background. Once the decision is recorded the transaction is committed
// whatever happens next: a branch that does not confirm is committed by a
// resolver, and the client gets success with a warning.
func (t *Tx) commitXA(ctx context.Context) error {
	dtid := t.dtid
	bs := t.end()
	c := t.Coordinator
	defer func() {
		for _, h := range bs {
			t.giveBack(h.conn)
		}
	}()
	for _, h := range bs {
		if h.conn.Broken() {
			c.rollbackAll(context.WithoutCancel(ctx), dtid, bs)
			return wire.Errorf(mysql.ER_XA_RBROLLBACK,
				"commit failed: the connection to shard %s broke during the transaction, so its work there is lost; distributed transaction %s was rolled back on every shard (%s)",
				h.pool.Name(), dtid, shardList(bs))
		}
	}
	if len(bs) == 1 {
		return c.commitOnePhase(ctx, &bs[0])
	}
	cfg := c.Config()
	// Work on: a client that disconnects now must not leave the commit half way.
	base := context.WithoutCancel(ctx)
	start := time.Now()
	pctx, cancel := context.WithTimeout(base, cfg.AbortTimeout/2)
	errs := make([]error, len(bs))
	parallel(len(bs), func(i int) {
		h := &bs[i]
		_, errs[i] = h.conn.Exec(pctx, "XA END "+h.xa.String()+"; XA PREPARE "+h.xa.String())
		switch {
		case errs[i] == nil:
			h.prepared = true
		case h.conn.Broken():
			h.unsure = true
		}
	})
	cancel()
	for i, err := range errs {
		if err == nil {
			continue
		}
		c.n.prepareFail.Add(1)
		c.rollbackAll(base, dtid, bs)
		e := wire.AsError(err)
		c.logger().Info("twopc: prepare failed, rolled back", zap.String("dtid", dtid), zap.String("shard", bs[i].pool.Name()), zap.Error(err))
		return wire.Errorf(e.Code, "commit failed: XA PREPARE on shard %s: %s; distributed transaction %s was rolled back on every shard (%s)",
			bs[i].pool.Name(), e.Message, dtid, shardList(bs))
	}

	var decision string
	var err error
	// Late (a resolver may be about to abort it): abort first-wins rather
	// than race it.
	late := time.Since(start) > cfg.AbortTimeout/2
	if !late && testHookBeforeDecision != nil {
		testHookBeforeDecision(dtid)
	}
	dctx, cancel := context.WithTimeout(base, cfg.AbortTimeout/2)
	if late {
		decision, _, err = c.decide(dctx, dtid, DecisionAbort, nil)
	} else {
		decision, _, err = c.decide(dctx, dtid, DecisionCommit, bquals(bs))
	}
	cancel()
	if err != nil {
		if !errors.Is(err, errUnknown) {
			c.n.prepareFail.Add(1)
			c.rollbackAll(base, dtid, bs)
			e := wire.AsError(err)
			return wire.Errorf(e.Code, "commit failed: recording the decision in %s.%s: %s; distributed transaction %s was rolled back on every shard (%s)",
				c.database, DecisionTable, e.Message, dtid, shardList(bs))
		}
		// Maybe recorded, maybe not: leave the prepared branches to the
		// resolver, which commits them if the decision is there and aborts
		// them otherwise.
		c.n.unknown.Add(1)
		for _, h := range bs {
			h.conn.MarkBroken() // closing detaches the prepared branch
		}
		c.logger().Warn("twopc: commit outcome unknown, left to the resolver", zap.String("dtid", dtid), zap.Error(err))
		return wire.Errorf(mysql.ER_XAER_RMERR,
			"commit outcome unknown: distributed transaction %s is prepared on every shard (%s) but its decision could not be recorded in %s.%s (%v); a resolver commits it if the decision was recorded and rolls it back otherwise, within %s",
			dtid, shardList(bs), c.database, DecisionTable, err, cfg.AbortTimeout+cfg.ResolveInterval)
	}
	if decision != DecisionCommit {
		c.n.lost.Add(1)
		c.rollbackAll(base, dtid, bs)
		c.logger().Info("twopc: aborted by a resolver before the commit decision", zap.String("dtid", dtid), zap.Duration("since_prepare", time.Since(start)))
		return wire.Errorf(mysql.ER_XA_RBTIMEOUT,
			"XA_RBTIMEOUT: distributed transaction %s was rolled back: it stayed prepared without a decision for too long (abort timeout %s), so a resolver aborted it",
			dtid, cfg.AbortTimeout)
	}

	// Committed. Tell the branches.
	c.n.twoPhase.Add(1)
	cctx, cancel := context.WithTimeout(base, cfg.CommitTimeout)
	parallel(len(bs), func(i int) {
		h := &bs[i]
		if _, errs[i] = h.conn.Exec(cctx, "XA COMMIT "+h.xa.String()); errs[i] != nil {
			h.conn.MarkBroken() // detach whatever is left for the resolver
		}
	})
	cancel()
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, bs[i].pool.Name()+": "+wire.AsError(err).Message)
		}
	}
	if len(failed) == 0 {
		c.forget(dtid)
		return nil
	}
	c.n.incomplete.Add(1)
	c.logger().Warn("twopc: committed, but some branches did not confirm; the resolver finishes them", zap.String("dtid", dtid), zap.Strings("failed", failed))
	t.warning = fmt.Sprintf("distributed transaction %s is committed, but %d of %d shards did not confirm their branch (%s); a resolver commits them",
		dtid, len(failed), len(bs), strings.Join(failed, "; "))
	return nil
}

// testHookBeforeDecision, when set by a test, runs between PREPARE and the
// commit decision.
var testHookBeforeDecision func(dtid string)

// commitOnePhase commits a twopc transaction that touched one shard: no
// prepare, no decision.
func (c *Coordinator) commitOnePhase(ctx context.Context, h *held) error {
	_, err := h.conn.Exec(ctx, "XA END "+h.xa.String()+"; XA COMMIT "+h.xa.String()+" ONE PHASE")
	if err == nil {
		c.n.onePhase.Add(1)
		return nil
	}
	e := wire.AsError(err)
	if h.conn.Broken() {
		return wire.Errorf(e.Code, "commit failed on shard %s: %s; the outcome on that shard is unknown (the connection was lost during COMMIT)", h.pool.Name(), e.Message)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CloseTimeout)
	defer cancel()
	c.rollbackBranch(rctx, h)
	return wire.Errorf(e.Code, "commit failed on shard %s: %s; the transaction was rolled back", h.pool.Name(), e.Message)
}

// rollbackXA is ROLLBACK (or a disconnect) of a twopc transaction.
func (t *Tx) rollbackXA(ctx context.Context) error {
	dtid := t.dtid
	bs := t.end()
	c := t.Coordinator
	c.rollbackAll(context.WithoutCancel(ctx), dtid, bs)
	for _, h := range bs {
		t.giveBack(h.conn)
	}
	c.n.rollbacks.Add(1)
	return nil
}

// rollbackAll rolls every branch back. A branch that may be prepared and
// could not be rolled back is left to the resolver, with an abort decision
// recorded so that it acts at its next scan rather than after the timeout.
func (c *Coordinator) rollbackAll(ctx context.Context, dtid string, bs []held) {
	// Callers detach ctx from the client (WithoutCancel), which also drops
	// its deadline: bound the branches' rollback here.
	rctx, cancel := context.WithTimeout(ctx, CloseTimeout)
	defer cancel()
	var mu sync.Mutex
	var left []string
	parallel(len(bs), func(i int) {
		if !c.rollbackBranch(rctx, &bs[i]) {
			mu.Lock()
			left = append(left, bs[i].pool.Name())
			mu.Unlock()
		}
	})
	if len(left) == 0 || dtid == "" {
		return
	}
	dctx, cancel := context.WithTimeout(ctx, c.Config().AbortTimeout)
	defer cancel()
	if d, _, err := c.decide(dctx, dtid, DecisionAbort, nil); err != nil || d != DecisionAbort {
		c.logger().Warn("twopc: could not record the abort of a branch that may be prepared; the resolver aborts it after the timeout",
			zap.String("dtid", dtid), zap.Strings("shards", left), zap.String("decision", d), zap.Error(err))
	}
}

// rollbackBranch rolls back one branch and reports whether it is surely no
// longer prepared. A branch that is not prepared is also gone when its
// connection closes, so a failure just closes the connection.
func (c *Coordinator) rollbackBranch(ctx context.Context, h *held) bool {
	if h.xa == nil {
		if h.conn.Broken() {
			return true // closing it rolls back
		}
		if _, err := h.conn.Exec(ctx, "ROLLBACK"); err != nil {
			h.conn.MarkBroken()
		}
		return true
	}
	if h.conn.Broken() {
		return !h.prepared && !h.unsure
	}
	x := h.xa.String()
	if h.prepared {
		_, err := h.conn.Exec(ctx, "XA ROLLBACK "+x)
		if err == nil || isGone(err) {
			return true
		}
		h.conn.MarkBroken()
		return false
	}
	if _, err := h.conn.Exec(ctx, "XA END "+x+"; XA ROLLBACK "+x); err == nil {
		return true
	}
	// Step by step: XA END fails on a branch already ended or marked
	// rollback-only (deadlock), XA ROLLBACK then still works.
	if !h.conn.Broken() {
		_, _ = h.conn.Exec(ctx, "XA END "+x)
	}
	if !h.conn.Broken() {
		if _, err := h.conn.Exec(ctx, "XA ROLLBACK "+x); err == nil || isGone(err) {
			return true
		}
	}
	h.conn.MarkBroken()
	return !h.unsure
}

// isGone reports XA errors meaning the branch no longer exists: unknown XID,
// or rolled back already (MariaDB answers XA_RBROLLBACK for a read-only
// branch it dropped at PREPARE).
func isGone(err error) bool {
	code := wire.AsError(err).Code
	return code == mysql.ER_XAER_NOTA || code == mysql.ER_XA_RBROLLBACK
}

func parallel(n int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
}

func shardList(bs []held) string {
	names := make([]string, len(bs))
	for i, h := range bs {
		names[i] = h.pool.Name()
	}
	return strings.Join(names, ", ")
}

func bquals(bs []held) []string {
	names := make([]string, len(bs))
	for i, h := range bs {
		names[i] = h.xa.bqual
	}
	return names
}
