// Package workflow moves data online, as Vitess' VReplication does, for
// plain MariaDB servers without a sidecar: Reshard (a sharded keyspace from
// one set of shards to another covering the same key range) and MoveTables
// (tables from one keyspace to another). A workflow copies the rows from a
// consistent snapshot of each source in primary-key chunks (copy.go),
// applies every later change from the sources' binary logs (stream.go),
// compares both sides at one consistent point (diff.go), and switches
// traffic with every proxy holding the moving tables, the old side fenced
// and a flip of the routing in one etcd transaction, and back
// (switch.go).
//
// Its state lives in etcd (topo's wf keys): every proxy runs a Manager,
// exactly one proxy (the holder of the workflow's etcd lock) runs each
// workflow, and a proxy that dies is replaced by another that resumes from
// the positions saved in etcd. Commands (vdiff, switchtraffic, …) reach
// the runner as a request in the workflow's record.
//
// workflow uses backend, config, topo and vindex, never router or proxy: the
// router sees a workflow only in the topology (serving shards, routed
// tables, holds).
package workflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/topo"
)

// Config is what a Manager works with.
type Config struct {
	// Etcd is the topology store; workflows need one.
	Etcd *topo.Etcd
	// Watcher is this proxy's topology watcher: a switch's hold is
	// acknowledged once it has applied it.
	Watcher *topo.Watcher
	// ProxyID names this proxy in etcd (its registration under P/proxies).
	ProxyID string
	// Snapshot returns the topology in force (router.Router.Snapshot).
	Snapshot func() *topo.Snapshot
	// Pools returns the router's pools: a switch waits until this proxy's
	// connections to the serving shards are back (transactions finished).
	Pools func() []*backend.Pool
	// HA is what the workflow's own pools wait on while a shard has no
	// primary (the HA buffer).
	HA       backend.HA
	Settings config.WorkflowConfig
	// Pool configures the workflow's own connections (its size is capped).
	Pool config.PoolConfig
	// GlobalKeyspace holds the sequences of moved tables.
	GlobalKeyspace string
	// LockTTL is how long a dead runner's lock outlives it (default 5s).
	LockTTL time.Duration
	Log     *zap.Logger
	// BeforeStep, when set (tests), runs before each step of a switch and
	// each chunk of a copy ("copy-chunk", "switch-catchup", …).
	BeforeStep func(ctx context.Context, workflow, step string)
}

// Manager is a proxy's part in the online workflows: it runs those whose
// lock it holds, acknowledges the holds of traffic switches, and serves
// the commands of the HTTP API.
type Manager struct {
	cfg     Config
	log     *zap.Logger
	pools   *poolSet
	metrics *metrics

	mu      sync.Mutex
	known   map[string]*known  // "ks/name" -> the record last seen
	runners map[string]*runner // those this proxy runs
	acked   map[string]string  // "ks/name" -> the switch id acknowledged
	watched chan struct{}      // closed after the first full read of the records

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type known struct {
	wf     *Workflow
	modRev int64
}

// New returns a manager; Start starts it.
func New(cfg Config) *Manager {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 5 * time.Second
	}
	if cfg.Settings.CopyChunkRows <= 0 {
		cfg.Settings.CopyChunkRows = config.DefaultCopyChunkRows
	}
	if cfg.Settings.SwitchTimeout <= 0 {
		cfg.Settings.SwitchTimeout = config.DefaultSwitchTimeout
	}
	if cfg.Settings.SwitchMaxLag <= 0 {
		cfg.Settings.SwitchMaxLag = config.DefaultSwitchMaxLag
	}
	pc := cfg.Pool
	pc.Size = min(max(pc.Size, 4), 16)
	pc.MaxIdle = pc.Size
	m := &Manager{cfg: cfg, log: cfg.Log.Named("workflow"), known: map[string]*known{}, runners: map[string]*runner{},
		acked: map[string]string{}, watched: make(chan struct{}), metrics: newMetrics()}
	m.pools = newPoolSet(pc, cfg.HA)
	return m
}

// Start follows the workflows in etcd until Close or ctx ends.
func (m *Manager) Start(ctx context.Context) {
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		first := true
		m.cfg.Etcd.Watch(m.ctx, m.cfg.Etcd.WorkflowsPrefix(), func(ev *topo.Event) {
			if ev == nil {
				if first {
					first = false
					close(m.watched)
				}
				return
			}
			m.event(ev)
		})
	}()
	go func() { // claim workflows nobody runs (a runner died, a new one)
		defer m.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-m.ctx.Done():
				return
			case <-t.C:
				m.claimAll()
			}
		}
	}()
}

// Close stops the runners (their workflows are taken over by another
// proxy, or by this one when it starts again) and waits for them.
func (m *Manager) Close() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.wg.Wait()
	m.pools.close()
}

func (m *Manager) event(ev *topo.Event) {
	ks, name, ok := m.cfg.Etcd.SplitWorkflowKey(ev.Key)
	if !ok {
		return
	}
	key := ks + "/" + name
	m.mu.Lock()
	if ev.Deleted {
		delete(m.known, key)
		m.mu.Unlock()
		return
	}
	var wf Workflow
	if err := json.Unmarshal(ev.Value, &wf); err != nil {
		m.mu.Unlock()
		m.log.Warn("workflow record does not decode", zap.String("key", ev.Key), zap.Error(err))
		return
	}
	m.known[key] = &known{wf: &wf, modRev: ev.ModRev}
	r := m.runners[key]
	ack := wf.Switching != nil && m.acked[key] != wf.Switching.ID
	if ack {
		m.acked[key] = wf.Switching.ID
	}
	m.mu.Unlock()
	if r != nil {
		r.poke()
	}
	if ack {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.ack(m.ctx, &wf, ev.ModRev)
		}()
	}
	if !wf.Phase.terminal() && r == nil {
		m.claim(key, &wf)
	}
}

func (m *Manager) claimAll() {
	m.mu.Lock()
	var todo []*known
	var keys []string
	for key, k := range m.known {
		if !k.wf.Phase.terminal() && m.runners[key] == nil {
			todo = append(todo, k)
			keys = append(keys, key)
		}
	}
	m.mu.Unlock()
	for i, k := range todo {
		m.claim(keys[i], k.wf)
	}
}

// claim takes the workflow's lock if nobody holds it and runs it here.
func (m *Manager) claim(key string, wf *Workflow) {
	if m.ctx.Err() != nil || !m.cfg.Settings.Runner {
		return
	}
	m.mu.Lock()
	if m.runners[key] != nil {
		m.mu.Unlock()
		return
	}
	r := &runner{m: m, ks: wf.Keyspace, name: wf.Name, key: key, kick: make(chan struct{}, 1)}
	m.runners[key] = r // reserved while the lock is tried
	m.mu.Unlock()
	lock, err := m.cfg.Etcd.TryLockWorkflow(m.ctx, wf.Keyspace, wf.Name, m.cfg.LockTTL)
	if err != nil {
		m.mu.Lock()
		delete(m.runners, key)
		m.mu.Unlock()
		if !errors.Is(err, topo.ErrLocked) && m.ctx.Err() == nil {
			m.log.Warn("cannot take a workflow's lock", zap.String("workflow", key), zap.Error(err))
		}
		return
	}
	r.lock = lock
	m.log.Info("running workflow", zap.String("workflow", key))
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		r.run(m.ctx)
		lock.Release(context.Background())
		m.mu.Lock()
		delete(m.runners, key)
		m.mu.Unlock()
	}()
}

// get returns the record of a workflow and its modification revision.
func (m *Manager) get(ctx context.Context, ks, name string) (*Workflow, int64, error) {
	rec, err := m.cfg.Etcd.Get(ctx, m.cfg.Etcd.WorkflowKey(ks, name))
	if err != nil {
		return nil, 0, err
	}
	if rec.Value == nil {
		return nil, 0, fmt.Errorf("%w: no workflow %s in keyspace %s (shardgate reshard|movetables … show lists them)", ErrNotFound, name, ks)
	}
	var wf Workflow
	if err := json.Unmarshal(rec.Value, &wf); err != nil {
		return nil, 0, fmt.Errorf("workflow %s/%s: the record in etcd does not decode: %w", ks, name, err)
	}
	return &wf, rec.ModRev, nil
}

// ErrNotFound is returned for a workflow that does not exist.
var ErrNotFound = errors.New("workflow not found")

// ErrConflict is returned when a command cannot run in the workflow's
// state (another command runs, wrong phase).
var ErrConflict = errors.New("conflict")

// streams reads a workflow's stream records, sorted by id.
func (m *Manager) streams(ctx context.Context, ks, name string) ([]*StreamState, error) {
	recs, _, err := m.cfg.Etcd.List(ctx, m.cfg.Etcd.StreamsPrefix(ks, name))
	if err != nil {
		return nil, err
	}
	var out []*StreamState
	for _, r := range recs {
		var s StreamState
		if json.Unmarshal(r.Value, &s) == nil {
			out = append(out, &s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Show returns a workflow's status.
func (m *Manager) Show(ctx context.Context, ks, name string) (*Status, error) {
	wf, _, err := m.get(ctx, ks, name)
	if err != nil {
		return nil, err
	}
	sts, err := m.streams(ctx, ks, name)
	if err != nil {
		return nil, err
	}
	return status(wf, sts), nil
}

func status(wf *Workflow, sts []*StreamState) *Status {
	st := &Status{Workflow: wf, Streams: sts, TrafficOn: "sources"}
	if !wf.Phase.onSources() {
		st.TrafficOn = "targets"
	}
	for _, s := range sts {
		for _, c := range s.Copy {
			st.RowsCopied += c.Rows
		}
		if s.Running && s.LagSeconds > st.LagSeconds {
			st.LagSeconds = s.LagSeconds
		}
	}
	if st.Streams == nil {
		st.Streams = []*StreamState{}
	}
	return st
}

// List returns every workflow's status (terminal ones too), by keyspace
// and name.
func (m *Manager) List(ctx context.Context) ([]*Status, error) {
	recs, _, err := m.cfg.Etcd.List(ctx, m.cfg.Etcd.WorkflowsPrefix())
	if err != nil {
		return nil, err
	}
	out := []*Status{}
	for _, r := range recs {
		ks, name, ok := m.cfg.Etcd.SplitWorkflowKey(r.Key)
		if !ok {
			continue
		}
		st, err := m.Show(ctx, ks, name)
		if err != nil {
			continue
		}
		out = append(out, st)
	}
	return out, nil
}

// Verbs a running workflow takes (Do).
var Verbs = []string{"vdiff", "switchtraffic", "reversetraffic", "complete", "cancel", "start"}

// Do asks the proxy that runs the workflow to carry out verb and waits for
// its result (until ctx ends: the command goes on, show tells its end).
func (m *Manager) Do(ctx context.Context, ks, name, verb string, args map[string]string, by string) (*Result, error) {
	if !slices.Contains(Verbs, verb) {
		return nil, fmt.Errorf("unknown command %q (known: %s)", verb, strings.Join(Verbs, ", "))
	}
	id := newID()
	for attempt := 0; ; attempt++ {
		wf, rev, err := m.get(ctx, ks, name)
		if err != nil {
			return nil, err
		}
		if wf.Phase.terminal() {
			return nil, fmt.Errorf("%w: workflow %s/%s is %s", ErrConflict, ks, name, wf.Phase)
		}
		if wf.Request != nil {
			return nil, fmt.Errorf("%w: workflow %s/%s is busy with %s (asked %s ago by %s); wait for it (show)", ErrConflict, ks, name,
				wf.Request.Verb, time.Since(wf.Request.At).Round(time.Millisecond), wf.Request.By)
		}
		wf.Request = &Request{ID: id, Verb: verb, Args: args, By: by, At: time.Now().UTC()}
		wf.Updated = time.Now().UTC()
		ok, _, err := m.cfg.Etcd.Commit(ctx, []topo.Write{{Key: m.cfg.Etcd.WorkflowKey(ks, name), Value: mustJSON(wf), ModRev: rev}}, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		if attempt > 20 {
			return nil, fmt.Errorf("workflow %s/%s kept changing in etcd: try again", ks, name)
		}
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s of workflow %s/%s still runs (request %s): see shardgate … show: %w", verb, ks, name, id, ctx.Err())
		case <-t.C:
		}
		wf, _, err := m.get(ctx, ks, name)
		if err != nil {
			if errors.Is(err, ErrNotFound) && verb == "cancel" {
				return &Result{ID: id, Verb: verb, OK: true, Done: time.Now().UTC()}, nil
			}
			continue
		}
		for _, res := range wf.Results {
			if res.ID == id {
				return res, nil
			}
		}
	}
}

// waitTopology waits until this proxy's topology has applied etcd revision
// rev. A workflow's record and the keyspace documents it changes are
// written in one transaction (create adds the moved table's vschema entry
// and routes), but reach this proxy by two watches: the runner must not
// act on a snapshot that lacks them. Bounded, so that a runner cut off
// from etcd comes back to its loop.
func (m *Manager) waitTopology(ctx context.Context, rev int64) error {
	if m.cfg.Watcher == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return m.cfg.Watcher.WaitApplied(wctx, rev)
}

// ack tells the proxy that runs a workflow that this proxy holds the
// moving tables: it has applied the hold (its topology reflects the
// record's revision) and its transactions on the serving shards finished
// (or SwitchTimeout passed).
func (m *Manager) ack(ctx context.Context, wf *Workflow, rev int64) {
	sw := wf.Switching
	start := time.Now()
	bound := m.cfg.Settings.SwitchTimeout
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	applied := true
	if m.cfg.Watcher != nil {
		applied = m.cfg.Watcher.WaitApplied(wctx, rev) == nil
	}
	drained := applied && m.drain(wctx, sw.Shards)
	a := ackRecord{Proxy: m.cfg.ProxyID, Switch: sw.ID, Applied: applied, Drained: drained, MS: msSince(start)}
	if err := m.cfg.Etcd.Put(ctx, m.cfg.Etcd.AckKey(wf.Keyspace, wf.Name, m.cfg.ProxyID), mustJSON(a)); err != nil {
		m.log.Warn("cannot acknowledge a traffic switch", zap.String("workflow", wf.Keyspace+"/"+wf.Name), zap.Error(err))
	}
}

type ackRecord struct {
	Proxy   string  `json:"proxy"`
	Switch  string  `json:"switch"`
	Applied bool    `json:"applied"`
	Drained bool    `json:"drained"`
	MS      float64 `json:"ms"`
}

// drain waits until none of this proxy's connections to shards is checked
// out: the transactions in flight there have ended.
func (m *Manager) drain(ctx context.Context, shards []string) bool {
	if m.cfg.Pools == nil || len(shards) == 0 {
		return true
	}
	for {
		busy := false
		for _, p := range m.cfg.Pools() {
			if !slices.Contains(shards, p.Name()) {
				continue
			}
			if _, inUse := p.Stats(); inUse > 0 {
				busy = true
				break
			}
		}
		if !busy {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// step runs the test hook, if any.
func (m *Manager) step(ctx context.Context, workflow, step string) {
	if m.cfg.BeforeStep != nil {
		m.cfg.BeforeStep(ctx, workflow, step)
	}
}

// poolSet holds the workflow's own connection pools, one per shard, apart
// from the router's: its sessions carry settings (sessionSettings) no
// client session must inherit.
type poolSet struct {
	cfg config.PoolConfig
	ha  backend.HA

	mu    sync.Mutex
	pools map[string]*poolEntry // "keyspace/shard"
}

type poolEntry struct {
	shard *topo.Shard
	pool  *backend.Pool
}

func newPoolSet(cfg config.PoolConfig, h backend.HA) *poolSet {
	return &poolSet{cfg: cfg, ha: h, pools: map[string]*poolEntry{}}
}

// get returns the pool of a shard (a new one when its servers or account
// changed).
func (ps *poolSet) get(ks string, sh *topo.Shard) *backend.Pool {
	key := ks + "/" + sh.Name
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if e := ps.pools[key]; e != nil {
		if e.shard == sh || sameShard(e.shard, sh) {
			return e.pool
		}
		e.pool.Close()
	}
	p := backend.NewPool(ks, sh, ps.cfg)
	if ps.ha != nil {
		p.SetHA(ps.ha)
	}
	ps.pools[key] = &poolEntry{shard: sh, pool: p}
	return p
}

func (ps *poolSet) close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, e := range ps.pools {
		e.pool.Close()
	}
	ps.pools = map[string]*poolEntry{}
}

func sameShard(a, b *topo.Shard) bool {
	return a.Host == b.Host && a.Port == b.Port && a.Socket == b.Socket && slices.Equal(a.Servers, b.Servers) &&
		a.User == b.User && a.Password == b.Password && a.Database == b.Database && a.Roles == b.Roles
}
