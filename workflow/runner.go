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

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/topo"
)

// runner runs one workflow on the proxy that holds its lock: the copy or
// the binlog streams its phase calls for, and the commands it is sent.
type runner struct {
	m             *Manager
	ks, name, key string
	lock          *topo.Lock
	kick          chan struct{}
	log           *zap.Logger

	// The activity of the phase: the copy, the forward streams or the
	// reverse streams (at most one at a time).
	actKind   string
	actCancel context.CancelFunc
	actDone   chan struct{}
	actErr    chan error // a permanent failure of the activity

	mu      sync.Mutex
	streams map[string]*stream // the running streams, by id
}

func (r *runner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *runner) run(ctx context.Context) {
	r.log = r.m.log.With(zap.String("workflow", r.key))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.lock.Lost():
			r.log.Warn("lost the workflow's lock in etcd: another proxy takes over")
			cancel()
		case <-ctx.Done():
		}
	}()
	r.actErr = make(chan error, 1)
	defer r.stopActivity()
	if _, err := r.update(ctx, func(wf *Workflow) error { wf.Runner = r.m.cfg.ProxyID; return nil }); err != nil && ctx.Err() == nil {
		r.log.Warn("cannot record this proxy as the workflow's runner", zap.Error(err))
	}
	recovered := false
	for ctx.Err() == nil {
		wf, rev, err := r.m.get(ctx, r.ks, r.name)
		if errors.Is(err, ErrNotFound) {
			return
		}
		if err != nil {
			r.sleep(ctx, time.Second)
			continue
		}
		if wf.Phase.terminal() {
			return
		}
		if err := r.m.waitTopology(ctx, rev); err != nil {
			if ctx.Err() == nil {
				r.log.Warn("the topology has not caught up with the workflow's record; waiting", zap.Int64("revision", rev), zap.Error(err))
			}
			continue
		}
		if !recovered {
			// A switch interrupted by the death of the proxy that ran it.
			if wf.Switching != nil {
				if err := r.abortInterruptedSwitch(ctx, wf); err != nil {
					r.log.Error("cannot undo an interrupted traffic switch; retrying", zap.Error(err))
					r.sleep(ctx, time.Second)
					continue
				}
				continue
			}
			recovered = true
		}
		if wf.Request != nil {
			r.handle(ctx, wf)
			continue
		}
		r.ensureActivity(ctx, wf)
		select {
		case <-r.kick:
		case err := <-r.actErr:
			r.fail(ctx, err)
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func (r *runner) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// update changes the workflow's record with fn, conditionally on the
// record not having changed and the lock still being held; it retries
// when another writer (a command) was faster.
func (r *runner) update(ctx context.Context, fn func(wf *Workflow) error, extra ...topo.Write) (*Workflow, error) {
	for attempt := 0; attempt < 50; attempt++ {
		wf, rev, err := r.m.get(ctx, r.ks, r.name)
		if err != nil {
			return nil, err
		}
		if err := fn(wf); err != nil {
			return nil, err
		}
		wf.Updated = time.Now().UTC()
		writes := append([]topo.Write{{Key: r.m.cfg.Etcd.WorkflowKey(r.ks, r.name), Value: mustJSON(wf), ModRev: rev}}, extra...)
		ok, _, err := r.m.cfg.Etcd.Commit(ctx, writes, r.lock)
		if err != nil {
			return nil, err
		}
		if ok {
			return wf, nil
		}
		if !r.lock.Held(ctx) {
			return nil, errors.New("this proxy no longer holds the workflow's lock")
		}
	}
	return nil, fmt.Errorf("workflow %s kept changing in etcd", r.key)
}

// fail records a permanent error: the workflow stops in phase error.
func (r *runner) fail(ctx context.Context, err error) {
	r.log.Error("workflow stopped on an error", zap.Error(err))
	r.stopActivity()
	_, uerr := r.update(ctx, func(wf *Workflow) error {
		if wf.Phase.terminal() {
			return nil
		}
		wf.Error = err.Error()
		if wf.Phase != PhaseError {
			wf.Stopped = wf.Phase
		}
		wf.Phase = PhaseError
		return nil
	})
	if uerr != nil {
		r.log.Warn("cannot record the workflow's error", zap.Error(uerr))
	}
}

// handle carries out the request of the record and records its result.
func (r *runner) handle(ctx context.Context, wf *Workflow) {
	req := wf.Request
	r.log.Info("command", zap.String("verb", req.Verb), zap.String("by", req.By))
	var msg string
	var err error
	switch req.Verb {
	case "vdiff":
		msg, err = r.vdiff(ctx, wf)
	case "switchtraffic":
		msg, err = r.switchTraffic(ctx, wf, true)
	case "reversetraffic":
		msg, err = r.switchTraffic(ctx, wf, false)
	case "complete":
		msg, err = r.complete(ctx, wf)
	case "cancel":
		msg, err = r.cancelWorkflow(ctx, wf)
	case "start":
		msg, err = r.restart(ctx, wf)
	default:
		err = fmt.Errorf("unknown command %q", req.Verb)
	}
	if ctx.Err() != nil {
		return // lost the lock or stopping: the next runner sees the request
	}
	res := &Result{ID: req.ID, Verb: req.Verb, OK: err == nil, Message: msg, Done: time.Now().UTC()}
	if err != nil {
		res.Error = err.Error()
		r.log.Warn("command failed", zap.String("verb", req.Verb), zap.Error(err))
	}
	_, uerr := r.update(ctx, func(w *Workflow) error {
		if w.Request != nil && w.Request.ID == req.ID {
			w.Request = nil
		}
		w.Results = append(w.Results, res)
		if n := len(w.Results); n > 10 {
			w.Results = w.Results[n-10:]
		}
		return nil
	})
	if uerr != nil && ctx.Err() == nil {
		r.log.Warn("cannot record a command's result", zap.Error(uerr))
	}
}

// ensureActivity starts what the phase calls for, stopping anything else.
func (r *runner) ensureActivity(ctx context.Context, wf *Workflow) {
	want := ""
	switch wf.Phase {
	case PhaseCopying:
		want = "copy"
	case PhaseRunning, PhaseReversed:
		want = "forward"
	case PhaseSwitched:
		want = "reverse"
	}
	if r.actKind == want && r.actDone != nil {
		select {
		case <-r.actDone:
			// It ended (the copy finished): start what comes next.
		default:
			return
		}
	}
	r.stopActivity()
	if want == "" {
		return
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	r.actKind, r.actCancel, r.actDone = want, cancel, done
	go func() {
		defer close(done)
		var err error
		switch want {
		case "copy":
			err = r.copyAll(actx, wf)
		default:
			err = r.runStreams(actx, wf, want)
		}
		if err != nil && actx.Err() == nil {
			var pe permanentError
			if !errors.As(err, &pe) {
				// A server or etcd that did not answer, XA transactions
				// that stay prepared: try again a bit later.
				r.log.Warn("workflow activity failed; retrying", zap.String("activity", want), zap.Error(err))
				_, _ = r.update(actx, func(w *Workflow) error {
					if w.Phase != PhaseError {
						w.Error = "retrying after: " + err.Error()
					}
					return nil
				})
				r.sleep(actx, 2*time.Second)
				r.poke()
				return
			}
			select {
			case r.actErr <- err:
			default:
			}
		}
		r.poke()
	}()
}

func (r *runner) stopActivity() {
	if r.actCancel != nil {
		r.actCancel()
		<-r.actDone
	}
	r.actKind, r.actCancel, r.actDone = "", nil, nil
	r.mu.Lock()
	r.streams = nil
	r.mu.Unlock()
}

// endpoint is one shard a workflow reads or writes, through the workflow's
// own pool.
type endpoint struct {
	ks    *topo.Keyspace
	shard *topo.Shard
	pool  *backend.Pool
}

func (e *endpoint) String() string { return e.ks.Name + "/" + e.shard.Name }
func (e *endpoint) db() string     { return e.shard.Database }

// conn takes a connection of the workflow's pool with its settings.
func (e *endpoint) conn(ctx context.Context) (*backend.Conn, error) {
	c, err := e.pool.GetPlain(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	if err := prepare(ctx, c); err != nil {
		c.MarkBroken()
		c.Release()
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	return c, nil
}

// endpoints resolves the workflow's source and target shards in the
// topology in force.
func (r *runner) endpoints(wf *Workflow) (src, dst []*endpoint, err error) {
	return r.m.endpoints(wf)
}

func (m *Manager) endpoints(wf *Workflow) (src, dst []*endpoint, err error) {
	snap := m.cfg.Snapshot()
	get := func(ksName string, names []string) ([]*endpoint, error) {
		ks, ok := snap.Keyspace(ksName)
		if !ok {
			return nil, fmt.Errorf("keyspace %s is not in the topology", ksName)
		}
		var out []*endpoint
		for _, n := range names {
			sh := ks.FindShard(n)
			if sh == nil {
				return nil, fmt.Errorf("shard %s/%s is not in the topology (declare it in the keyspace, serving: false for a reshard's targets)", ksName, n)
			}
			out = append(out, &endpoint{ks: ks, shard: sh, pool: m.pools.get(ks.Name, sh)})
		}
		return out, nil
	}
	if src, err = get(wf.SourceKeyspace, wf.SourceShards); err != nil {
		return nil, nil, err
	}
	if dst, err = get(wf.Keyspace, wf.TargetShards); err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

// putStream writes a stream's record (with the lock held).
func (r *runner) putStream(ctx context.Context, st *StreamState) error {
	st.Updated = time.Now().UTC()
	ok, _, err := r.m.cfg.Etcd.Commit(ctx, []topo.Write{{Key: r.m.cfg.Etcd.StreamKey(r.ks, r.name, st.ID), Value: mustJSON(st), Any: true}}, r.lock)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("this proxy no longer holds the workflow's lock")
	}
	return nil
}

// getStream reads a stream's record (nil when there is none).
func (r *runner) getStream(ctx context.Context, id string) (*StreamState, error) {
	rec, err := r.m.cfg.Etcd.Get(ctx, r.m.cfg.Etcd.StreamKey(r.ks, r.name, id))
	if err != nil || rec.Value == nil {
		return nil, err
	}
	var st StreamState
	if err := json.Unmarshal(rec.Value, &st); err != nil {
		return nil, fmt.Errorf("stream %s: %w", id, err)
	}
	return &st, nil
}

// streamID names the stream reading shard in a direction.
func streamID(dir, shard string) string {
	if dir == "forward" {
		return "fwd" + shard
	}
	return "rev" + shard
}

// runStreams runs a binlog stream from every shard of the serving side
// (the sources for forward, the targets for reverse) until ctx ends or one
// fails for good.
func (r *runner) runStreams(ctx context.Context, wf *Workflow, dir string) error {
	src, dst, err := r.endpoints(wf)
	if err != nil {
		return err
	}
	if dir == "reverse" {
		src, dst = dst, src
	}
	var streams []*stream
	for _, e := range src {
		s, err := r.newStream(ctx, wf, dir, e, dst)
		if err != nil {
			return err
		}
		streams = append(streams, s)
	}
	r.mu.Lock()
	r.streams = map[string]*stream{}
	for _, s := range streams {
		r.streams[s.id] = s
	}
	r.mu.Unlock()
	errs := make(chan error, len(streams))
	for _, s := range streams {
		go func() { errs <- s.run(ctx) }()
	}
	var first error
	for range streams {
		if err := <-errs; err != nil && first == nil {
			first = err
			// One failed for good: stop the others (they save their
			// positions on the way out).
			for _, o := range streams {
				o.cancel()
			}
		}
	}
	return first
}

// running returns the streams running now, sorted by id.
func (r *runner) running() []*stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*stream, 0, len(r.streams))
	for _, s := range r.streams {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// waitStreams waits until the streams of the phase are running (after a
// phase change the activity starts them).
func (r *runner) waitStreams(ctx context.Context, wf *Workflow, n int) ([]*stream, error) {
	r.ensureActivity(ctx, wf)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ss := r.running()
		ready := len(ss) == n
		for _, s := range ss {
			ready = ready && s.started()
		}
		if ready {
			return ss, nil
		}
		select {
		case err := <-r.actErr:
			r.actErr <- err
			return nil, err
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the binlog streams did not start within 30s (see the stream errors in show)")
		}
		r.sleep(ctx, 20*time.Millisecond)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

func joinNames(eps []*endpoint) string {
	n := make([]string, len(eps))
	for i, e := range eps {
		n[i] = e.String()
	}
	return strings.Join(n, ", ")
}

// restart takes a workflow stopped on an error back to the phase it
// stopped in (after the operator fixed the cause).
func (r *runner) restart(ctx context.Context, wf *Workflow) (string, error) {
	if wf.Phase != PhaseError {
		return "", fmt.Errorf("%w: start restarts a workflow stopped on an error; this one is %s", ErrConflict, wf.Phase)
	}
	back := wf.Stopped
	if back == "" {
		back = PhaseRunning
	}
	_, err := r.update(ctx, func(w *Workflow) error {
		w.Phase, w.Error, w.Stopped = back, "", ""
		return nil
	})
	if err != nil {
		return "", err
	}
	r.stopActivity()
	return fmt.Sprintf("started again in phase %s", back), nil
}
