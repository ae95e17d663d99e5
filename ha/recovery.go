package ha

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Recovery steps, in order (failover; reparent uses some of them and
// drain, wait_catchup).
const (
	StepLock          = "lock"
	StepCheck         = "check"
	StepDrain         = "drain"
	StepFence         = "fence_old_primary"
	StepStopIO        = "stop_replica_io"
	StepChoose        = "choose_candidate"
	StepWaitRelay     = "wait_relay_log"
	StepWaitCatchup   = "wait_catchup"
	StepPromote       = "promote"
	StepRepoint       = "repoint_replicas"
	StepResolveXA     = "resolve_prepared_xa"
	StepPublish       = "publish"
	StepDemoteReplica = "demote_old_primary"
)

// errLockLost stops a recovery whose proxy no longer holds the shard's lock.
var errLockLost = errors.New("this proxy no longer holds the shard's recovery lock (another proxy took over)")

// errSkip ends a recovery that turned out unnecessary.
type errSkip struct{ why string }

func (e errSkip) Error() string { return e.why }

// lockState is the recovery lock: etcd's when the topology is there; a
// proxy without etcd is the only one recovering its shards.
type lockState struct {
	l *topo.ShardLock
}

func (w *shardWatch) lock(ctx context.Context) (*lockState, error) {
	e := w.m.cfg.Etcd
	if e == nil {
		return &lockState{}, nil
	}
	l, err := e.TryLockShard(ctx, w.ks, w.name, w.m.cfg.LockTTL)
	if err != nil {
		return nil, err
	}
	return &lockState{l: l}, nil
}

func (l *lockState) held(ctx context.Context) bool { return l.l == nil || l.l.Held(ctx) }

func (l *lockState) release(ctx context.Context) {
	if l.l != nil {
		l.l.Release(ctx)
	}
}

// setRecovering publishes that the shard has no primary while a recovery
// runs: requests for it wait in the buffer.
func (w *shardWatch) setRecovering(on bool, why string) {
	w.mu.Lock()
	w.recovering = on
	w.mu.Unlock()
	if on {
		cur := w.cell.Load()
		next := &topo.ShardRoles{Recovering: true, Why: why, Term: w.term}
		if cur != nil {
			next.Replicas = cur.Replicas
		}
		if cur == nil || !sameRoles(cur, next) {
			w.cell.Publish(next)
		}
	}
}

// failover replaces the dead primary old (see the package documentation and
// docs/ha.md for the steps).
// kind is "failover" (automatic) or "emergency_reparent" (an operator's
// reparent of a shard whose primary is down). It returns the record, nil
// when another proxy holds the lock.
func (w *shardWatch) failover(ctx context.Context, states map[string]*ServerState, old, kind string) (*live, error) {
	m := w.m
	cfg := m.cfg.HA
	w.setRecovering(true, "primary "+old+" is down: failover in progress")
	l, err := w.lock(ctx)
	if err != nil {
		if !errors.Is(err, topo.ErrLocked) {
			m.log.Warn("ha: cannot take the shard's recovery lock", zap.String("shard", w.key), zap.Error(err))
		}
		return nil, err // another proxy recovers; its record arrives through etcd
	}
	defer l.release(ctx)
	reason := "primary " + old + " down: " + states[old].Err
	if kind != "failover" {
		reason = "operator's reparent of a shard whose primary is down: " + states[old].Err
	}
	r := newRecovery(kind, w.ks, w.name, m.cfg.ProxyID, reason, old)
	r.save = m.saver()
	m.addRecovery(r)
	m.stats.recoveryStarted()
	r.step(StepLock, func() (string, error) { return "held", nil })
	dom := w.domain(states)

	var cand string
	var newTerm uint64
	err = func() error {
		// check: is it still needed?
		if err := w.stepChecked(ctx, r, l, StepCheck, func() (string, error) {
			if e := m.cfg.Etcd; e != nil {
				rec, _, err := e.PrimaryRecord(ctx, w.ks, w.name)
				if err != nil {
					return "", err
				}
				if rec != nil {
					w.setRecord(*rec)
					if rec.Term > w.term || rec.Primary != old {
						return "", errSkip{fmt.Sprintf("etcd records primary %s at term %d: another proxy recovered the shard", rec.Primary, rec.Term)}
					}
				}
			}
			if st := states[old]; st.Refused || time.Since(st.At.Add(st.Latency)) > 2*cfg.ProbeInterval {
				// A refused connection is probed again at once (cheap); a
				// timeout that just ended (the decision's own) is not.
				if st = w.conns[old].probe(ctx); st.Up && st.Writable() {
					return "", errSkip{"primary " + old + " answers again"}
				}
			}
			return "primary " + old + " still down", nil
		}); err != nil {
			return err
		}
		var others []string
		for _, a := range w.servers {
			if a != old {
				others = append(others, a)
			}
		}
		// Fence the old primary and stop the replicas' IO threads at once:
		// with a hung primary each waits for a timeout (STOP SLAVE IO_THREAD
		// waits rpl_semi_sync_slave_kill_conn_timeout to kill its dump
		// thread on the primary).
		if !l.held(ctx) {
			return errLockLost
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.step(StepFence, func() (string, error) { return w.fenceOld(ctx, old, true), nil })
		}()
		err := w.stepChecked(ctx, r, l, StepStopIO, func() (string, error) {
			var mu sync.Mutex
			var done, slow []string
			var swg sync.WaitGroup
			for _, a := range others {
				swg.Add(1)
				go func() {
					defer swg.Done()
					st := w.conns[a].probe(ctx)
					if !st.Up || !st.Replicating {
						return
					}
					err := w.execTimeout(ctx, a, "STOP SLAVE IO_THREAD", 1500*time.Millisecond)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						done = append(done, a)
					} else {
						slow = append(slow, a+" ("+err.Error()+")")
					}
				}()
			}
			swg.Wait()
			s := "stopped on " + strings.Join(done, ", ")
			if len(slow) > 0 {
				s += "; not confirmed on " + strings.Join(slow, ", ")
			}
			return s, nil
		})
		wg.Wait()
		if err != nil {
			return err
		}
		var cst *ServerState
		if err := w.stepChecked(ctx, r, l, StepChoose, func() (string, error) {
			var detail string
			cand, cst, detail = w.choose(ctx, others, dom)
			if cand == "" {
				return detail, errors.New("no replica can be promoted")
			}
			return detail, nil
		}); err != nil {
			return err
		}
		if cst.Replicating {
			pos := cst.Received()
			if err := w.stepChecked(ctx, r, l, StepWaitRelay, func() (string, error) {
				if !cst.SQLRunning {
					_ = w.exec(ctx, cand, "START SLAVE SQL_THREAD")
				}
				return w.gtidWait(ctx, cand, pos.String(), cfg.RelayWaitTimeout)
			}); err != nil {
				return err
			}
		}
		if err := w.stepChecked(ctx, r, l, StepPromote, func() (string, error) {
			return "", w.promote(ctx, cand)
		}); err != nil {
			return err
		}
		if err := w.stepChecked(ctx, r, l, StepRepoint, func() (string, error) {
			return w.repoint(ctx, cand, others), nil
		}); err != nil {
			return err
		}
		if err := w.stepChecked(ctx, r, l, StepResolveXA, func() (string, error) { return w.resolveXA(ctx, cand) }); err != nil {
			m.log.Warn("ha: prepared XA branches on the new primary are left to the resolver", zap.String("shard", w.key), zap.Error(err))
		}
		return w.stepChecked(ctx, r, l, StepPublish, func() (string, error) {
			var err error
			newTerm, err = w.publishPrimary(ctx, l, cand, "failover")
			return fmt.Sprintf("primary %s, term %d", cand, newTerm), err
		})
	}()
	w.endRecovery(r, err, cand, newTerm, kind == "failover")
	return r, err
}

// endRecovery records the outcome and what it changes in the watch.
func (w *shardWatch) endRecovery(r *live, err error, cand string, term uint64, failover bool) {
	m := w.m
	var skip errSkip
	switch {
	case err == nil:
		r.mu.Lock()
		r.r.NewPrimary, r.r.Term = cand, term
		r.mu.Unlock()
		w.primary, w.term = cand, term
		w.samples, w.semiSync = nil, semiUnknown
		if failover {
			w.lastFailover = time.Now()
		}
		w.failedAt = time.Time{}
		r.finish(OutcomeSuccess, nil, m.log)
		m.stats.primaryChange(w.key, r.r.Kind)
	case errors.As(err, &skip):
		r.finish(OutcomeSkipped, err, m.log)
	case errors.Is(err, errLockLost):
		r.finish(OutcomeAbandoned, err, m.log)
	default:
		w.failedAt = time.Now()
		w.setNoRecovery("failover failed (" + err.Error() + "); the next attempt in " + failedRetry.String())
		r.finish(OutcomeFailed, err, m.log)
	}
	c := r.snapshot()
	m.stats.recoveryDone(w.key, c.Kind, c.Outcome, time.Since(c.Start))
	w.mu.Lock()
	w.recovering = false
	w.mu.Unlock()
	if err == nil {
		w.cell.Publish(&topo.ShardRoles{Primary: cand, Term: term})
	}
}

// stepChecked runs a step after checking that the lock is still held and
// calling the test hook.
func (w *shardWatch) stepChecked(ctx context.Context, r *live, l *lockState, name string, f func() (string, error)) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if h := w.m.cfg.BeforeStep; h != nil {
		h(ctx, w.ks, w.name, name)
	}
	if !l.held(ctx) {
		r.step(name, func() (string, error) { return "", errLockLost })
		return errLockLost
	}
	return r.step(name, f)
}

// exec runs one statement on a server with the probe connection.
func (w *shardWatch) exec(ctx context.Context, addr, sql string) error {
	return w.execTimeout(ctx, addr, sql, max(w.m.cfg.HA.ProbeTimeout, 2*time.Second))
}

func (w *shardWatch) execTimeout(ctx context.Context, addr, sql string, timeout time.Duration) error {
	c := w.conns[addr]
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.exec(ctx, timeout, sql)
	return err
}

// fenceOld makes the old primary read-only and, for a failover, kills its
// client connections, where it can be reached (quickly: a hung server is
// fenced by the prober when it comes back).
func (w *shardWatch) fenceOld(ctx context.Context, old string, kill bool) string {
	c := w.conns[old]
	c.mu.Lock()
	defer c.mu.Unlock()
	t := min(w.m.cfg.HA.ProbeTimeout, 500*time.Millisecond)
	if _, err := c.exec(ctx, t, "SET GLOBAL read_only=1"); err != nil {
		return "unreachable (" + err.Error() + "); the prober fences it when it answers again"
	}
	if !kill {
		return "read_only=1"
	}
	r, err := c.exec(ctx, t, "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Binlog Dump', 'Daemon') AND USER NOT IN ('system user', 'event_scheduler')")
	if err != nil {
		return "read_only=1; listing connections failed: " + err.Error()
	}
	killed := 0
	for i := range r.RowNumber() {
		id, _ := r.GetInt(i, 0)
		if _, err := c.exec(ctx, t, "KILL CONNECTION "+strconv.FormatInt(id, 10)); err == nil {
			killed++
		}
	}
	return fmt.Sprintf("read_only=1, %d connections killed", killed)
}

// choose picks the replica with the highest received GTID, refusing one
// that diverged (errant transactions of its own, or a primary that told it
// its position is unknown: error 1236).
func (w *shardWatch) choose(ctx context.Context, others []string, dom uint32) (string, *ServerState, string) {
	type cand struct {
		addr string
		st   *ServerState
		seq  uint64
		idx  int
	}
	var cs []cand
	var notes []string
	for i, a := range others {
		st := w.conns[a].probe(ctx)
		switch {
		case !st.Up:
			notes = append(notes, a+": down")
		case st.LastIOErrno == 1236:
			notes = append(notes, a+": diverged (1236: "+st.LastIOError+")")
		case errant(st.BinlogPos, st.SlavePos, st.ServerID, dom):
			notes = append(notes, a+": diverged (transactions of its own: "+st.BinlogPos.String()+" past "+st.SlavePos.String()+")")
		case !st.Replicating && st.ReadOnly:
			notes = append(notes, a+": replicates from no one and is read-only (drained)")
		default:
			cs = append(cs, cand{a, st, st.Received().Seq(dom), i})
			notes = append(notes, a+": received "+st.Received().String())
		}
	}
	if len(cs) == 0 {
		return "", nil, strings.Join(notes, "; ")
	}
	// Highest received first; on a tie, one already promoted by a recovery
	// that was interrupted, then the order of servers:.
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].seq != cs[j].seq {
			return cs[i].seq > cs[j].seq
		}
		return !cs[i].st.Replicating && cs[j].st.Replicating
	})
	return cs[0].addr, cs[0].st, "chose " + cs[0].addr + " (" + strings.Join(notes, "; ") + ")"
}

// gtidWait waits until addr has applied pos.
func (w *shardWatch) gtidWait(ctx context.Context, addr, pos string, timeout time.Duration) (string, error) {
	c := w.conns[addr]
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	r, err := c.exec(ctx, timeout+5*time.Second, fmt.Sprintf("SELECT MASTER_GTID_WAIT('%s', %.3f)", pos, timeout.Seconds()))
	if err != nil {
		return "", err
	}
	v, _ := r.GetInt(0, 0)
	if v != 0 {
		return "", fmt.Errorf("%s did not apply %s within %s", addr, pos, timeout)
	}
	return fmt.Sprintf("applied %s in %s", pos, time.Since(start).Round(time.Millisecond)), nil
}

// promote makes addr the primary: no replication, semi-sync primary side
// on, writable.
func (w *shardWatch) promote(ctx context.Context, addr string) error {
	for _, q := range []string{"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL rpl_semi_sync_master_enabled=ON", "SET GLOBAL read_only=OFF"} {
		if err := w.exec(ctx, addr, q); err != nil {
			return fmt.Errorf("%s on %s: %w", q, addr, err)
		}
	}
	return nil
}

// changeMaster is CHANGE MASTER TO primary for a replica.
func (w *shardWatch) changeMaster(primary string, demote bool) string {
	host, port, _ := net.SplitHostPort(primary)
	q := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%s, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
		sqlEscape(host), port, sqlEscape(w.m.cfg.HA.ReplUser), sqlEscape(w.m.cfg.HA.ReplPassword))
	if demote {
		q += ", MASTER_DEMOTE_TO_SLAVE=1"
	}
	return q
}

func sqlEscape(s string) string { return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) }

// repoint makes the other reachable replicas replicate from the new
// primary.
func (w *shardWatch) repoint(ctx context.Context, primary string, others []string) string {
	var done, failed []string
	for _, a := range others {
		if a == primary {
			continue
		}
		st := w.conns[a].probe(ctx)
		if !st.Up || !st.Replicating {
			continue
		}
		var err error
		for _, q := range []string{"STOP SLAVE", w.changeMaster(primary, false), "START SLAVE", "SET GLOBAL rpl_semi_sync_master_enabled=OFF"} {
			if err = w.exec(ctx, a, q); err != nil {
				break
			}
		}
		if err != nil {
			failed = append(failed, a+": "+err.Error())
		} else {
			done = append(done, a)
		}
	}
	s := "replicating from " + primary + ": " + strings.Join(done, ", ")
	if len(failed) > 0 {
		s += "; failed: " + strings.Join(failed, "; ")
	}
	return s
}

// resolveXA finishes prepared XA branches on the new primary with the
// two-phase-commit decision log.
func (w *shardWatch) resolveXA(ctx context.Context, addr string) (string, error) {
	f := w.m.cfg.ResolvePrepared
	if f == nil {
		return "no two-phase-commit coordinator", nil
	}
	return f(ctx, sqlConn{c: w.conns[addr], timeout: 5 * time.Second})
}

// publishPrimary records the new primary with the next term (in etcd under
// the lock when there) and returns the term.
func (w *shardWatch) publishPrimary(ctx context.Context, l *lockState, addr, reason string) (uint64, error) {
	term := w.term + 1
	if e := w.m.cfg.Etcd; e != nil {
		rec, rev, err := e.PrimaryRecord(ctx, w.ks, w.name)
		if err != nil {
			return 0, err
		}
		if rec != nil && rec.Term >= term {
			term = rec.Term + 1
		}
		nr := topo.PrimaryRecord{Primary: addr, Term: term, At: time.Now().UTC(), By: w.m.cfg.ProxyID, Reason: reason}
		ok, err := e.PutPrimaryIf(ctx, w.ks, w.name, nr, rev, l.l)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, errLockLost
		}
		w.setRecord(nr)
	}
	return term, nil
}

// reparent moves the primary role to newPrimary (planned switch).
func (w *shardWatch) reparent(ctx context.Context, newPrimary string) (*Recovery, error) {
	m := w.m
	old := w.primary
	states := w.probeAll(ctx)
	if old != "" && !states[old].Up && newPrimary == "" {
		// The primary is down and the operator asks for a new one: an
		// emergency reparent, whatever ha.failover, the block period and
		// semi-sync say (the operator accepts what it may lose).
		r, err := w.failover(ctx, states, old, "emergency_reparent")
		if r == nil {
			return nil, fmt.Errorf("shard %s: %w", w.key, err)
		}
		snap := r.snapshot()
		return &snap, err
	}
	if old == "" || !states[old].Up || !states[old].Writable() {
		return nil, fmt.Errorf("shard %s has no healthy primary to move the role from; with its primary down, reparent without --new-primary promotes the most up-to-date replica", w.key)
	}
	dom := w.domain(states)
	if newPrimary == "" {
		// The most up-to-date healthy replica.
		best := ""
		var seq uint64
		for _, a := range w.servers {
			st := states[a]
			if a == old || !st.Up || !st.Replicating || st.MasterAddr != old || !st.SQLRunning {
				continue
			}
			if s := st.CurrentPos.Seq(dom); best == "" || s > seq {
				best, seq = a, s
			}
		}
		if best == "" {
			return nil, fmt.Errorf("shard %s has no healthy replica of %s to promote", w.key, old)
		}
		newPrimary = best
	}
	if newPrimary == old {
		return nil, fmt.Errorf("%s is already the primary of %s", newPrimary, w.key)
	}
	st := states[newPrimary]
	if st == nil {
		return nil, fmt.Errorf("%s is not a server of shard %s (servers: %s)", newPrimary, w.key, strings.Join(w.servers, ", "))
	}
	if !st.Up || !st.Replicating || st.MasterAddr != old || errant(st.BinlogPos, st.SlavePos, st.ServerID, dom) || st.LastIOErrno != 0 {
		return nil, fmt.Errorf("%s is not a healthy replica of the primary %s (role %s)", newPrimary, old, w.roleOf(newPrimary))
	}
	l, err := w.lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", w.key, err)
	}
	defer l.release(ctx)
	r := newRecovery("reparent", w.ks, w.name, m.cfg.ProxyID, "planned switch requested", old)
	r.save = m.saver()
	m.addRecovery(r)
	m.stats.recoveryStarted()
	r.step(StepLock, func() (string, error) { return "held", nil })
	var newTerm uint64
	err = func() error {
		// Hold new requests in the buffer (on every proxy: etcd's record
		// says a switch is running) and let the work on the old primary
		// finish.
		w.setRecovering(true, "planned switch from "+old+" to "+newPrimary)
		if err := w.stepChecked(ctx, r, l, StepDrain, func() (string, error) {
			if err := w.announceSwitch(ctx, l, old, newPrimary); err != nil {
				return "", err
			}
			return w.drain(ctx, old), nil
		}); err != nil {
			return err
		}
		if err := w.stepChecked(ctx, r, l, StepFence, func() (string, error) { return w.fenceOld(ctx, old, false), nil }); err != nil {
			return err
		}
		if err := w.stepChecked(ctx, r, l, StepWaitCatchup, func() (string, error) {
			ps := w.conns[old].probe(ctx)
			if !ps.Up {
				return "", errors.New("the old primary stopped answering: " + ps.Err)
			}
			return w.gtidWait(ctx, newPrimary, ps.BinlogPos.String(), m.cfg.HA.RelayWaitTimeout)
		}); err != nil {
			_ = w.exec(ctx, old, "SET GLOBAL read_only=0") // undo the fence: the old primary stays
			return err
		}
		if err := w.stepChecked(ctx, r, l, StepPromote, func() (string, error) { return "", w.promote(ctx, newPrimary) }); err != nil {
			return err
		}
		if err := w.stepChecked(ctx, r, l, StepRepoint, func() (string, error) {
			var others []string
			for _, a := range w.servers {
				if a != old {
					others = append(others, a)
				}
			}
			return w.repoint(ctx, newPrimary, others), nil
		}); err != nil {
			return err
		}
		if err := w.stepChecked(ctx, r, l, StepDemoteReplica, func() (string, error) {
			for _, q := range []string{"SET GLOBAL rpl_semi_sync_master_enabled=OFF", w.changeMaster(newPrimary, true), "START SLAVE"} {
				if err := w.exec(ctx, old, q); err != nil {
					return "", fmt.Errorf("%s: %w", q, err)
				}
			}
			return old + " replicates from " + newPrimary, nil
		}); err != nil {
			m.log.Warn("ha: the old primary could not be made a replica; it stays drained", zap.String("shard", w.key), zap.Error(err))
		}
		if err := w.stepChecked(ctx, r, l, StepResolveXA, func() (string, error) { return w.resolveXA(ctx, newPrimary) }); err != nil {
			m.log.Warn("ha: prepared XA branches on the new primary are left to the resolver", zap.String("shard", w.key), zap.Error(err))
		}
		return w.stepChecked(ctx, r, l, StepPublish, func() (string, error) {
			var err error
			newTerm, err = w.publishPrimary(ctx, l, newPrimary, "reparent")
			return fmt.Sprintf("primary %s, term %d", newPrimary, newTerm), err
		})
	}()
	w.endRecovery(r, err, newPrimary, newTerm, false)
	if err != nil {
		_ = w.announceSwitch(ctx, l, old, "")                              // the other proxies use the old primary again
		w.cell.Publish(&topo.ShardRoles{Primary: w.primary, Term: w.term}) // the old primary serves again
		snap := r.snapshot()
		return &snap, err
	}
	w.round(ctx)
	snap := r.snapshot()
	return &snap, nil
}

func (w *shardWatch) roleOf(addr string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r := w.roles[addr]; r != "" {
		return r
	}
	return "unknown"
}

// announceSwitch records in etcd (under the lock, same term) that the role
// is moving to target, or no longer ("" target): the other proxies hold or
// release the shard's statements. Without etcd it does nothing.
func (w *shardWatch) announceSwitch(ctx context.Context, l *lockState, primary, target string) error {
	e := w.m.cfg.Etcd
	if e == nil {
		return nil
	}
	rec, rev, err := e.PrimaryRecord(ctx, w.ks, w.name)
	if err != nil {
		return err
	}
	nr := topo.PrimaryRecord{Primary: primary, Term: w.term, At: time.Now().UTC(), By: w.m.cfg.ProxyID, Reason: "reparent", Switching: target}
	if rec != nil {
		nr.Reason = rec.Reason
		if rec.Primary != primary || rec.Term != w.term {
			return fmt.Errorf("etcd records primary %s at term %d, not %s at %d", rec.Primary, rec.Term, primary, w.term)
		}
	}
	ok, err := e.PutPrimaryIf(ctx, w.ks, w.name, nr, rev, l.l)
	if err != nil {
		return err
	}
	if !ok {
		return errLockLost
	}
	w.setRecord(nr)
	if target != "" {
		// Let the other proxies see it and finish what they sent before.
		time.Sleep(max(250*time.Millisecond, 2*w.m.cfg.HA.ProbeInterval))
	}
	return nil
}

// drain waits until this proxy's connections for the old primary's work
// are all back (transactions finished), up to half the buffer window.
func (w *shardWatch) drain(ctx context.Context, old string) string {
	grace := min(w.m.cfg.HA.BufferWindow/2, 5*time.Second)
	deadline := time.Now().Add(grace)
	for {
		busy := 0
		if f := w.m.cfg.Pools; f != nil {
			for _, p := range f() {
				if p.Name() == w.key {
					busy += p.InUse(old)
				}
			}
		}
		if busy == 0 {
			return "no statement or transaction in flight on " + old
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Sprintf("%d connections still busy on %s after %s; their transactions fail", busy, old, grace)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// asWireError turns a server's error into the proxy's error type, keeping
// its code (the two-phase-commit resolver reads codes).
func asWireError(err error) error {
	var me *mysql.MyError
	if errors.As(err, &me) {
		return &wire.Error{Code: me.Code, State: me.State, Message: me.Message}
	}
	return err
}
