// Package ha keeps the shards that are replication groups (a primary and
// its replicas, topo.Shard.Servers) available: a prober reads every server's
// role and replication state every ha.probe_interval, an analyzer decides
// which server is the primary and which replicas may serve reads, and
// publishes that in the shard's topo.RoleCell (and, with an etcd topology,
// in etcd with a term); a recovery replaces a dead or hung primary
// (ha.failover: auto) or moves the role on request (reparent); a per-shard
// buffer holds requests while a shard has no primary.
//
// ha uses backend, config, topo and wire, never router or proxy: the pools ask it
// through backend.HA (Manager implements it).
package ha

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/topo"
)

// Querier runs statements on one server (the promoted primary); the
// two-phase-commit resolver finishes prepared XA branches through it.
type Querier interface {
	QueryStrings(ctx context.Context, sql string) ([][]string, error)
	Exec(ctx context.Context, sql string) error
}

// Config is what a Manager works with.
type Config struct {
	HA config.HAConfig
	// Snapshot returns the topology in force (router.Router.Snapshot).
	Snapshot func() *topo.Snapshot
	// Pools returns the shards' pools (router.Router.Pools): a planned
	// switch waits for the old primary's connections to come back.
	Pools func() []*backend.Pool
	// Etcd, when not nil, records primaries and terms, the recovery lock and
	// recovery records (topology.source: etcd).
	Etcd *topo.Etcd
	// ProxyID names this proxy in etcd records.
	ProxyID string
	// ResolvePrepared finishes the prepared XA branches found on a newly
	// promoted primary with the two-phase-commit decision log
	// (txn.Coordinator.ResolveOn); nil when there is none. It returns a
	// summary for the recovery record.
	ResolvePrepared func(ctx context.Context, q Querier) (string, error)
	// LockTTL is how long a recovery lock outlives a proxy that died
	// holding it (default 5s).
	LockTTL time.Duration
	// BeforeStep, when set (tests), runs before each recovery step.
	BeforeStep func(ctx context.Context, keyspace, shard, step string)
	Log        *zap.Logger
}

// Manager runs the prober, analyzer and recoveries of every shard that is a
// replication group, and the buffer. Make one with New, Start it, Close it.
type Manager struct {
	cfg Config
	log *zap.Logger

	mu      sync.Mutex
	watches map[string]*shardWatch // "keyspace/shard"

	buffered atomic.Int64 // requests waiting now
	stats    counters

	recMu      sync.Mutex
	recoveries []*live // newest last, at most maxRecoveries

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const maxRecoveries = 200

// New returns a manager; Start starts it.
func New(cfg Config) *Manager {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 5 * time.Second
	}
	if cfg.HA.ProbeInterval <= 0 {
		cfg.HA.ProbeInterval = config.DefaultProbeInterval
	}
	if cfg.HA.ProbeTimeout <= 0 {
		cfg.HA.ProbeTimeout = max(time.Second, 2*cfg.HA.ProbeInterval)
	}
	if cfg.HA.RelayWaitTimeout <= 0 {
		cfg.HA.RelayWaitTimeout = config.DefaultRelayWaitTimeout
	}
	return &Manager{cfg: cfg, log: cfg.Log.Named("ha"), watches: map[string]*shardWatch{}}
}

// Start probes every shard once (so roles are published before clients
// come), then keeps probing in the background until Close or ctx ends.
func (m *Manager) Start(ctx context.Context) {
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.sync()
	var wg sync.WaitGroup
	for _, w := range m.watchList() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.round(m.ctx)
		}()
	}
	wg.Wait()
	for _, w := range m.watchList() {
		m.startWatch(w)
	}
	m.wg.Add(1)
	go func() { // follow topology changes (new shards, servers added)
		defer m.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-m.ctx.Done():
				return
			case <-t.C:
			}
			for _, w := range m.sync() {
				m.startWatch(w)
			}
		}
	}()
	if m.cfg.Etcd != nil {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.cfg.Etcd.WatchPrimaries(m.ctx, m.etcdChange)
		}()
	}
	m.log.Info("ha started", zap.String("failover", m.cfg.HA.Failover), zap.Duration("probe_interval", m.cfg.HA.ProbeInterval),
		zap.Int("shards", len(m.watchList())), zap.Bool("etcd", m.cfg.Etcd != nil))
}

func (m *Manager) startWatch(w *shardWatch) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		w.run(m.ctx)
	}()
}

// Close stops probing and waits for running work (a recovery in progress
// is abandoned between steps).
func (m *Manager) Close() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.wg.Wait()
	for _, w := range m.watchList() {
		w.closeConns()
	}
}

// sync makes a watch for every shard of the topology in force (and drops
// those no longer in it); it returns the new ones, not yet running.
func (m *Manager) sync() []*shardWatch {
	snap := m.cfg.Snapshot()
	if snap == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var added []*shardWatch
	for _, name := range snap.Names() {
		ks := snap.Keyspaces[name]
		for _, sh := range ks.AllShards() { // also the targets of a reshard
			key := name + "/" + sh.Name
			seen[key] = true
			if w := m.watches[key]; w != nil && w.shard == sh {
				continue
			} else if w != nil {
				w.retire()
			}
			w := newShardWatch(m, name, sh)
			m.watches[key] = w
			added = append(added, w)
		}
	}
	for key, w := range m.watches {
		if !seen[key] {
			w.retire()
			delete(m.watches, key)
		}
	}
	return added
}

func (m *Manager) watch(key string) *shardWatch {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.watches[key]
}

func (m *Manager) watchList() []*shardWatch {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := make([]*shardWatch, 0, len(m.watches))
	for _, w := range m.watches {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].key < ws[j].key })
	return ws
}

func (m *Manager) etcdChange(c topo.PrimaryChange) {
	if w := m.watch(c.Keyspace + "/" + c.Shard); w != nil {
		w.setRecord(c.Record)
	}
}

// Suspect implements backend.HA: a connection to addr failed; the shard is
// probed at once.
func (m *Manager) Suspect(shard, addr string) {
	if w := m.watch(shard); w != nil {
		w.poke()
	}
}

// ErrUnknownShard is Reparent's answer for a shard that is not a
// replication group of the topology.
var ErrUnknownShard = errors.New("no such shard, or it is not a replication group (it needs servers: with two or more)")

// Reparent moves the primary role of a shard to newPrimary (or, when "", to
// its most up-to-date healthy replica) while requests wait in the buffer: a
// planned switch. It returns the recovery record.
func (m *Manager) Reparent(ctx context.Context, keyspace, shard, newPrimary string) (*Recovery, error) {
	w := m.watch(keyspace + "/" + shard)
	if w == nil || !w.shard.HA() {
		return nil, ErrUnknownShard
	}
	req := &reparentReq{newPrimary: newPrimary, done: make(chan struct{})}
	select {
	case w.reqs <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return req.rec, req.err
}

// Shards reports every shard's servers and roles (GET /api/shards).
func (m *Manager) Shards() []ShardStatus {
	ws := m.watchList()
	out := make([]ShardStatus, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.status())
	}
	return out
}

func (m *Manager) addRecovery(r *live) {
	m.recMu.Lock()
	defer m.recMu.Unlock()
	for _, x := range m.recoveries {
		if x == r {
			return
		}
	}
	m.recoveries = append(m.recoveries, r)
	if len(m.recoveries) > maxRecoveries {
		m.recoveries = m.recoveries[len(m.recoveries)-maxRecoveries:]
	}
}

// Recoveries lists the recoveries, oldest first: from etcd when the
// topology is there (every proxy's), else this proxy's.
func (m *Manager) Recoveries(ctx context.Context) ([]Recovery, error) {
	if m.cfg.Etcd != nil {
		docs, err := m.cfg.Etcd.Recoveries(ctx)
		if err == nil {
			return parseRecoveries(docs), nil
		}
		m.log.Warn("ha: reading recoveries from etcd failed; showing this proxy's", zap.Error(err))
	}
	m.recMu.Lock()
	defer m.recMu.Unlock()
	out := make([]Recovery, len(m.recoveries))
	for i, r := range m.recoveries {
		out[i] = r.snapshot()
	}
	return out, nil
}
