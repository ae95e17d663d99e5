package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/topo"
)

// A traffic switch moves the moving tables' traffic from the side that
// serves them to the other (SwitchTraffic: sources to targets;
// ReverseTraffic: back), bounded in time at every waiting step:
//
//  1. hold: the workflow's mark in the keyspace documents gets the
//     switch's id: every proxy holds new statements on the moving tables
//     in its buffer (transactions already on the serving shards go on),
//     and acknowledges once its connections to the serving shards are
//     back;
//  2. fence: RENAME TABLE t TO _sg_t on every serving shard (it waits for
//     the transactions that hold the tables; a statement that still
//     arrives fails): nothing more changes there;
//  3. catch up: the streams apply the serving shards' binary logs up to
//     their positions after the fence;
//  4. the other side's copies are renamed back to their names, sequences
//     are moved above the table's ids, and
//  5. flip: one etcd transaction writes the new routing (serving flags or
//     routed tables), ends the hold and records the streams of the new
//     direction at the other side's positions; every proxy applies it at
//     once and the held statements run on the new side.
//
// Any step that does not finish within workflow.switch_timeout aborts the
// switch: the fence is undone, the hold ends, traffic stays where it was.

func (r *runner) switchTraffic(ctx context.Context, wf *Workflow, forward bool) (string, error) {
	dir := "forward"
	if !forward {
		dir = "reverse"
	}
	switch {
	case forward && wf.Phase != PhaseRunning && wf.Phase != PhaseReversed:
		return "", fmt.Errorf("%w: switchtraffic needs a workflow whose streams run with traffic on the sources (phase running or reversed), not %s", ErrConflict, wf.Phase)
	case !forward && wf.Phase != PhaseSwitched:
		return "", fmt.Errorf("%w: reversetraffic needs a workflow whose traffic is on the targets (phase switched), not %s", ErrConflict, wf.Phase)
	}
	src, dst, err := r.endpoints(wf)
	if err != nil {
		return "", err
	}
	serving, other := src, dst
	if !forward {
		serving, other = dst, src
	}
	streams, err := r.waitStreams(ctx, wf, len(serving))
	if err != nil {
		return "", err
	}
	cfg := r.m.cfg.Settings
	for _, s := range streams {
		if l := s.lag(); l > cfg.SwitchMaxLag {
			return "", fmt.Errorf("%w: stream %s lags %s behind its source (workflow.switch_max_lag %s): wait until it caught up and try again", ErrConflict, s.id, l.Round(time.Millisecond), cfg.SwitchMaxLag)
		}
	}

	rec := &SwitchRecord{ID: newID(), Direction: dir, Started: time.Now().UTC(), Steps: map[string]float64{}}
	sw := &Switching{ID: rec.ID, Direction: dir, Started: rec.Started, Keyspaces: holdKeyspaces(wf, forward)}
	for _, e := range serving {
		sw.Shards = append(sw.Shards, e.String())
	}
	start := time.Now()
	step := func(name string, t time.Time) { rec.Steps[name] = msSince(t) }

	// 1. hold
	r.m.step(ctx, r.key, "switch-hold")
	t := time.Now()
	if err := r.setHold(ctx, wf, sw); err != nil {
		return "", fmt.Errorf("cannot announce the switch in etcd (traffic stays where it was): %w", err)
	}
	step("hold", t)
	held := time.Now()
	t = time.Now()
	rec.NoAck = r.waitAcks(ctx, sw.ID, cfg.SwitchTimeout)
	step("acks", t)

	// From here on a failure undoes what was done.
	var fenced, unfencedOther []*endpoint
	abort := func(cause error) (string, error) {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		var undo []string
		if len(unfencedOther) > 0 {
			if err := renameAll(actx, unfencedOther, wf.Tables, true, 0); err != nil {
				undo = append(undo, "fencing the other side again: "+err.Error())
			}
		}
		if len(fenced) > 0 {
			if err := renameAll(actx, fenced, wf.Tables, false, 0); err != nil {
				undo = append(undo, "renaming the tables back on the serving side: "+err.Error())
			}
		}
		rec.Error = cause.Error()
		rec.HeldMS = msSince(held)
		rec.DurationMS = msSince(start)
		if err := r.endHold(actx, wf, rec); err != nil {
			undo = append(undo, "ending the hold in etcd: "+err.Error())
		}
		r.m.metrics.switches.WithLabelValues(r.key, dir, "aborted").Inc()
		r.m.metrics.held.WithLabelValues(dir).Observe(rec.HeldMS / 1000)
		r.log.Warn("traffic switch aborted", zap.String("direction", dir), zap.Error(cause), zap.Strings("undo_errors", undo))
		r.poke() // the streams start again
		if len(undo) > 0 {
			return "", fmt.Errorf("switch aborted: %v; and undoing it failed (%s): the workflow retries when its runner starts again; check the tables (%s) on both sides", cause, strings.Join(undo, "; "), strings.Join(wf.Tables, ", "))
		}
		return "", fmt.Errorf("switch aborted, traffic stays on the %s: %w", map[bool]string{true: "sources", false: "targets"}[forward], cause)
	}

	// 2. fence
	r.m.step(ctx, r.key, "switch-fence")
	t = time.Now()
	if err := renameAll(ctx, serving, wf.Tables, true, cfg.SwitchTimeout); err != nil {
		// renameAll undid its own partial work.
		return abort(fmt.Errorf("fencing %s: %w", joinNames(serving), err))
	}
	fenced = serving
	step("fence", t)

	// 3. catch up
	t = time.Now()
	positions, err := gtidPositions(ctx, serving)
	if err != nil {
		return abort(err)
	}
	r.m.step(ctx, r.key, "switch-catchup")
	cctx, cancel := context.WithTimeout(ctx, cfg.SwitchTimeout)
	for _, s := range streams {
		p := positions[s.src.String()]
		if err = s.waitFor(cctx, p); err != nil {
			err = fmt.Errorf("stream %s did not reach %s (the serving side's position after the fence) within workflow.switch_timeout %s: it is at %s", s.id, p, cfg.SwitchTimeout, s.position())
			break
		}
	}
	cancel()
	if err != nil {
		return abort(err)
	}
	step("catchup", t)
	r.stopActivity()

	// 4. the other side's copies become the tables, sequences move on
	t = time.Now()
	if unfencedOther, err = unfence(ctx, other, wf.Tables); err != nil {
		return abort(err)
	}
	if forward {
		if err := r.bumpSequences(ctx, wf, serving); err != nil {
			return abort(err)
		}
	}
	otherPos, err := gtidPositions(ctx, other)
	if err != nil {
		return abort(err)
	}
	step("prepare_other_side", t)

	// 5. flip
	r.m.step(ctx, r.key, "switch-flip")
	t = time.Now()
	rec.OK = true
	if err := r.flip(ctx, wf, forward, rec, other, otherPos, held); err != nil {
		// The transaction may have been applied although its answer was
		// lost: then the switch is done and must not be undone.
		if w, _, gerr := r.m.get(ctx, r.ks, r.name); gerr != nil || w.Switching != nil || w.Phase.onSources() == forward {
			rec.OK = false
			return abort(fmt.Errorf("the flip in etcd failed: %w", err))
		}
	}
	step("flip", t)
	r.recordFlipTime(ctx, rec)
	r.m.metrics.switches.WithLabelValues(r.key, dir, "ok").Inc()
	r.m.metrics.switchTime.WithLabelValues(dir).Observe(time.Since(start).Seconds())
	r.m.metrics.held.WithLabelValues(dir).Observe(rec.HeldMS / 1000)
	r.log.Info("traffic switched", zap.String("direction", dir), zap.Float64("held_ms", rec.HeldMS), zap.Any("steps_ms", rec.Steps))
	r.poke()
	return fmt.Sprintf("traffic of %s now on the %s; statements held %.0f ms", strings.Join(wf.Tables, ", "),
		map[bool]string{true: "targets", false: "sources"}[forward], rec.HeldMS), nil
}

// recordFlipTime adds the flip's own duration to the switch record the flip
// wrote (it could not know it then). The switch is done: a failure here
// only loses that figure.
func (r *runner) recordFlipTime(ctx context.Context, rec *SwitchRecord) {
	ms := rec.Steps["flip"]
	_, err := r.update(ctx, func(w *Workflow) error {
		for _, sr := range w.Switches {
			if sr.ID == rec.ID {
				if sr.Steps == nil {
					sr.Steps = map[string]float64{}
				}
				sr.Steps["flip"] = ms
			}
		}
		return nil
	})
	if err != nil {
		r.log.Warn("could not record the flip's duration in the switch record", zap.Error(err))
	}
}

// holdKeyspaces are the keyspaces whose documents hold the moving tables:
// where their statements resolve to while traffic is on the serving side.
func holdKeyspaces(wf *Workflow, forward bool) []string {
	if wf.Type == TypeReshard {
		return []string{wf.Keyspace}
	}
	if forward {
		return []string{wf.SourceKeyspace}
	}
	return []string{wf.Keyspace}
}

// docs reads keyspace documents with their revisions.
func (r *runner) docs(ctx context.Context, names []string) (map[string]*topo.KeyspaceDoc, map[string]int64, error) {
	docs := map[string]*topo.KeyspaceDoc{}
	revs := map[string]int64{}
	for _, n := range names {
		if _, ok := docs[n]; ok {
			continue
		}
		data, rev, err := r.m.cfg.Etcd.Keyspace(ctx, n)
		if err != nil {
			return nil, nil, err
		}
		if data == nil {
			return nil, nil, fmt.Errorf("keyspace %s is not in etcd", n)
		}
		d, err := topo.ParseKeyspaceDoc(data)
		if err != nil {
			return nil, nil, fmt.Errorf("the document of keyspace %s in etcd does not load: %w", n, err)
		}
		docs[n], revs[n] = d, rev
	}
	return docs, revs, nil
}

// commitDocs writes the workflow record changed by fnWF and the keyspace
// documents changed by fnDocs in one etcd transaction, retrying while
// others write them.
func (r *runner) commitDocs(ctx context.Context, kss []string, fnDocs func(map[string]*topo.KeyspaceDoc) error, fnWF func(*Workflow) error, extra []topo.Write) error {
	for attempt := 0; attempt < 20; attempt++ {
		docs, revs, err := r.docs(ctx, kss)
		if err != nil {
			return err
		}
		if err := fnDocs(docs); err != nil {
			return err
		}
		wf, rev, err := r.m.get(ctx, r.ks, r.name)
		if err != nil {
			return err
		}
		if err := fnWF(wf); err != nil {
			return err
		}
		wf.Updated = time.Now().UTC()
		writes := []topo.Write{{Key: r.m.cfg.Etcd.WorkflowKey(r.ks, r.name), Value: mustJSON(wf), ModRev: rev}}
		names := make([]string, 0, len(docs))
		for n := range docs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			writes = append(writes, r.m.cfg.Etcd.KeyspaceWrite(n, docs[n].Marshal(), revs[n]))
		}
		writes = append(writes, extra...)
		ok, _, err := r.m.cfg.Etcd.Commit(ctx, writes, r.lock)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if !r.lock.Held(ctx) {
			return errors.New("this proxy no longer holds the workflow's lock")
		}
	}
	return errors.New("the keyspace documents kept changing in etcd")
}

func (r *runner) setHold(ctx context.Context, wf *Workflow, sw *Switching) error {
	return r.commitDocs(ctx, sw.Keyspaces, func(docs map[string]*topo.KeyspaceDoc) error {
		for _, n := range sw.Keyspaces {
			m := docs[n].Workflows[r.name]
			if m == nil {
				return fmt.Errorf("keyspace %s has no mark of workflow %s in etcd (was it put again with topo put?)", n, r.name)
			}
			m.Hold = sw.ID
		}
		return nil
	}, func(w *Workflow) error {
		w.Switching = sw
		return nil
	}, nil)
}

// endHold ends a hold without a flip (an abort) and records the switch.
func (r *runner) endHold(ctx context.Context, wf *Workflow, rec *SwitchRecord) error {
	var kss []string
	for _, n := range []string{wf.Keyspace, wf.SourceKeyspace} {
		if n != "" {
			kss = append(kss, n)
		}
	}
	return r.commitDocs(ctx, kss, func(docs map[string]*topo.KeyspaceDoc) error {
		for _, d := range docs {
			if m := d.Workflows[r.name]; m != nil {
				m.Hold = ""
			}
		}
		return nil
	}, func(w *Workflow) error {
		w.Switching = nil
		if rec != nil {
			w.Switches = appendSwitch(w.Switches, rec)
		}
		return nil
	}, nil)
}

func appendSwitch(list []*SwitchRecord, rec *SwitchRecord) []*SwitchRecord {
	list = append(list, rec)
	if n := len(list); n > 20 {
		list = list[n-20:]
	}
	return list
}

// waitAcks waits until every live proxy (and this one) acknowledged the
// hold, or until timeout; it returns those that did not.
func (r *runner) waitAcks(ctx context.Context, id string, timeout time.Duration) []string {
	e := r.m.cfg.Etcd
	want := map[string]bool{r.m.cfg.ProxyID: true}
	if ps, err := e.Proxies(ctx); err == nil {
		for _, p := range ps {
			want[p.ID] = true
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		recs, _, err := e.List(ctx, e.AcksPrefix(r.ks, r.name))
		if err == nil {
			for _, rec := range recs {
				var a ackRecord
				if json.Unmarshal(rec.Value, &a) == nil && a.Switch == id && a.Applied {
					delete(want, a.Proxy)
				}
			}
		}
		if len(want) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(3 * time.Millisecond)
	}
	var missing []string
	for p := range want {
		missing = append(missing, p)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		r.log.Warn("proxies did not acknowledge the switch's hold in time; the fence protects the data, their clients may see errors", zap.Strings("proxies", missing))
	}
	return missing
}

// renameAll fences (t → _sg_t) or unfences (_sg_t → t) the tables on every
// shard in parallel, each shard in one atomic RENAME. With a timeout, a
// RENAME that waits for locks longer than 150ms is killed and tried again
// until the timeout; on failure the shards already renamed are renamed
// back.
func renameAll(ctx context.Context, eps []*endpoint, tables []string, fence bool, timeout time.Duration) error {
	var wg sync.WaitGroup
	errs := make([]error, len(eps))
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for i, e := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = renameOn(ctx, e, tables, fence, deadline)
		}()
	}
	wg.Wait()
	var done []*endpoint
	var first error
	for i, err := range errs {
		if err != nil {
			if first == nil {
				first = err
			}
		} else {
			done = append(done, eps[i])
		}
	}
	if first != nil && len(done) > 0 {
		_ = renameAll(context.WithoutCancel(ctx), done, tables, !fence, 0)
	}
	return first
}

func renameOn(ctx context.Context, e *endpoint, tables []string, fence bool, deadline time.Time) error {
	c, err := e.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	var parts []string
	for _, t := range tables {
		from, to := t, fenceName(t)
		if !fence {
			from, to = to, from
		}
		// Idempotent: a shard already renamed (a retry after a crash) is
		// skipped.
		ok, err := tableExists(ctx, c, e.db(), from)
		if err != nil {
			return err
		}
		if !ok {
			if done, err := tableExists(ctx, c, e.db(), to); err != nil || done {
				if err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%s: neither %s nor %s exists", e, from, to)
		}
		parts = append(parts, quoteID(e.db())+"."+quoteID(from)+" TO "+quoteID(e.db())+"."+quoteID(to))
	}
	if len(parts) == 0 {
		return nil
	}
	q := "RENAME " + fenceMarker + " TABLE " + strings.Join(parts, ", ")
	for {
		actx := ctx
		var cancel context.CancelFunc = func() {}
		if !deadline.IsZero() {
			actx, cancel = context.WithTimeout(ctx, 150*time.Millisecond)
		}
		_, err := c.Exec(actx, q)
		cancel()
		if err == nil {
			return nil
		}
		if c.Broken() || deadline.IsZero() || time.Now().After(deadline) || ctx.Err() != nil {
			if !deadline.IsZero() && !c.Broken() {
				return fmt.Errorf("%s: RENAME TABLE kept waiting for the tables' locks (transactions in flight on them) for longer than workflow.switch_timeout: %w", e, err)
			}
			return fmt.Errorf("%s: %w", e, err)
		}
	}
}

// unfence renames the other side's fenced copies back, the shards in
// parallel; it returns the shards it renamed (a first switch finds the
// targets unfenced).
func unfence(ctx context.Context, eps []*endpoint, tables []string) ([]*endpoint, error) {
	var wg sync.WaitGroup
	renamed := make([]bool, len(eps))
	errs := make([]error, len(eps))
	for i, e := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.conn(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			fenced, err := tableExists(ctx, c, e.db(), fenceName(tables[0]))
			c.Release()
			if err != nil || !fenced {
				errs[i] = err
				return
			}
			if errs[i] = renameOn(ctx, e, tables, false, time.Time{}); errs[i] == nil {
				renamed[i] = true
			}
		}()
	}
	wg.Wait()
	var done []*endpoint
	for i, e := range eps {
		if renamed[i] {
			done = append(done, e)
		}
	}
	for _, err := range errs {
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// gtidPositions reads @@gtid_binlog_pos on each shard's primary, the
// shards in parallel.
func gtidPositions(ctx context.Context, eps []*endpoint) (map[string]position, error) {
	var wg sync.WaitGroup
	pos := make([]position, len(eps))
	errs := make([]error, len(eps))
	for i, e := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.conn(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			rows, err := queryStrings(ctx, c, "SELECT @@gtid_binlog_pos")
			c.Release()
			if err != nil {
				errs[i] = err
				return
			}
			if pos[i], err = parsePosition(rows[0][0]); err != nil {
				errs[i] = fmt.Errorf("%s: %w", e, err)
			}
		}()
	}
	wg.Wait()
	out := map[string]position{}
	for i, e := range eps {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out[e.String()] = pos[i]
	}
	return out, nil
}

// flip writes the new routing, ends the hold, moves the phase and records
// the streams of the new direction, in one etcd transaction.
func (r *runner) flip(ctx context.Context, wf *Workflow, forward bool, rec *SwitchRecord, other []*endpoint, otherPos map[string]position, held time.Time) error {
	newDir := "reverse"
	if !forward {
		newDir = "forward"
	}
	var extra []topo.Write
	for _, e := range other {
		id := streamID(newDir, e.shard.Name)
		st, err := r.getStream(ctx, id)
		if err != nil {
			return err
		}
		if st == nil {
			st = &StreamState{ID: id}
		}
		st.Direction, st.Source = newDir, e.String()
		p := otherPos[e.String()].String()
		st.Pos, st.Applied, st.Error, st.Running = p, p, "", false
		if st.Start == "" {
			st.Start = p
		}
		st.Updated = time.Now().UTC()
		extra = append(extra, topo.Write{Key: r.m.cfg.Etcd.StreamKey(r.ks, r.name, id), Value: mustJSON(st), Any: true})
	}
	kss := []string{wf.Keyspace}
	if wf.SourceKeyspace != wf.Keyspace {
		kss = append(kss, wf.SourceKeyspace)
	}
	return r.commitDocs(ctx, kss, func(docs map[string]*topo.KeyspaceDoc) error {
		for _, d := range docs {
			if m := d.Workflows[r.name]; m != nil {
				m.Hold = ""
			}
		}
		switch wf.Type {
		case TypeReshard:
			d := docs[wf.Keyspace]
			off, on := wf.SourceShards, wf.TargetShards
			if !forward {
				off, on = on, off
			}
			f := false
			for _, n := range off {
				if d.Shards[n] == nil {
					return fmt.Errorf("shard %s is no longer in keyspace %s's document", n, wf.Keyspace)
				}
				d.Shards[n].Serving = &f
			}
			for _, n := range on {
				if d.Shards[n] == nil {
					return fmt.Errorf("shard %s is no longer in keyspace %s's document", n, wf.Keyspace)
				}
				d.Shards[n].Serving = nil
			}
		case TypeMoveTables:
			from, to := docs[wf.SourceKeyspace], docs[wf.Keyspace]
			toName := wf.Keyspace
			if !forward {
				from, to = to, from
				toName = wf.SourceKeyspace
			}
			if from.RoutedTables == nil {
				from.RoutedTables = map[string]string{}
			}
			for _, t := range wf.Tables {
				from.RoutedTables[strings.ToLower(t)] = toName
				delete(to.RoutedTables, strings.ToLower(t))
			}
			if len(to.RoutedTables) == 0 {
				to.RoutedTables = nil
			}
		}
		return nil
	}, func(w *Workflow) error {
		if w.Switching == nil || w.Switching.ID != rec.ID {
			return errors.New("the switch's record changed in etcd under it")
		}
		w.Switching = nil
		if forward {
			w.Phase = PhaseSwitched
		} else {
			w.Phase = PhaseReversed
		}
		rec.HeldMS = msSince(held)
		rec.DurationMS = msSince(rec.Started)
		w.Switches = appendSwitch(w.Switches, rec)
		return nil
	}, extra)
}

// bumpSequences moves the sequences of moved tables above the ids the
// tables hold (read on the fenced serving side: nothing changes there any
// more), so that ids handed out after the flip are new.
func (r *runner) bumpSequences(ctx context.Context, wf *Workflow, serving []*endpoint) error {
	if len(wf.Sequences) == 0 {
		return nil
	}
	snap := r.m.cfg.Snapshot()
	for _, table := range wf.Tables {
		seq := wf.Sequences[table]
		if seq == "" {
			continue
		}
		var maxID int64
		for _, e := range serving {
			c, err := e.conn(ctx)
			if err != nil {
				return err
			}
			info, err := loadTable(ctx, c, e.db(), fenceName(table))
			if err != nil {
				c.Release()
				return err
			}
			if info.AutoInc == "" {
				c.Release()
				continue
			}
			rows, err := queryStrings(ctx, c, "SELECT IFNULL(MAX("+quoteID(info.AutoInc)+"), 0) FROM "+quoteID(e.db())+"."+quoteID(fenceName(table)))
			c.Release()
			if err != nil {
				return err
			}
			var n int64
			fmt.Sscan(rows[0][0], &n)
			maxID = max(maxID, n)
		}
		ksName, seqTable, _ := strings.Cut(seq, ".")
		ks, ok := snap.Keyspace(ksName)
		if !ok || len(ks.Shards) == 0 {
			return fmt.Errorf("sequence %s: keyspace %s is not in the topology", seq, ksName)
		}
		g := &endpoint{ks: ks, shard: ks.Shards[0], pool: r.m.pools.get(ks.Name, ks.Shards[0])}
		c, err := g.conn(ctx)
		if err != nil {
			return err
		}
		err = exec(ctx, c, fmt.Sprintf("UPDATE %s.%s SET next_id = GREATEST(next_id, %d) WHERE id = 0", quoteID(g.db()), quoteID(seqTable), maxID+1))
		c.Release()
		if err != nil {
			return fmt.Errorf("sequence %s: %w", seq, err)
		}
	}
	return nil
}

// abortInterruptedSwitch undoes a switch whose runner died before its
// flip: the serving side's tables are renamed back and the hold ends.
func (r *runner) abortInterruptedSwitch(ctx context.Context, wf *Workflow) error {
	r.log.Warn("undoing a traffic switch interrupted before its flip", zap.String("switch", wf.Switching.ID))
	src, dst, err := r.endpoints(wf)
	if err != nil {
		return err
	}
	serving := src
	if !wf.Phase.onSources() {
		serving = dst
	}
	if err := renameAll(ctx, serving, wf.Tables, false, 0); err != nil {
		return err
	}
	rec := &SwitchRecord{ID: wf.Switching.ID, Direction: wf.Switching.Direction, Started: wf.Switching.Started,
		Error: "the proxy that ran the switch stopped before its flip; undone by " + r.m.cfg.ProxyID, Steps: map[string]float64{}}
	return r.endHold(ctx, wf, rec)
}
