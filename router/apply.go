package router

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/topo"
)

// Apply puts a new topology in force without disturbing client sessions.
// It builds a new state and swaps it in as a whole:
//
//   - a shard whose keyspace, name, address, user, password and database are
//     unchanged keeps its *topo.Shard and its pool, so plans made before
//     (prepared statements, sequences) still find it, and a transaction
//     holding one of its connections goes on using it;
//   - a new or changed shard gets a new pool;
//   - pools no longer used are closed: idle connections at once, connections
//     in use (a transaction in flight on a moved shard) when they are
//     released, so that transaction finishes on the connection it holds;
//   - the plan cache starts empty (plans depend on the vschema).
//
// Statements that started before keep the state they loaded. snap is not
// modified (the Snapshot put in force is a copy sharing its tables).
//
// A prepared statement planned before the change keeps its plan: when its
// shards were moved or removed it fails ("no pool for shard") until the
// client prepares it again.
func (r *Router) Apply(snap *topo.Snapshot) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	old := r.state.Load()

	type shardKey struct{ ks, shard string }
	oldShards := map[shardKey]*topo.Shard{}
	for name, ks := range old.snap.Keyspaces {
		for _, sh := range ks.AllShards() {
			oldShards[shardKey{name, sh.Name}] = sh
		}
	}

	st := &state{snap: &topo.Snapshot{Keyspaces: make(map[string]*topo.Keyspace, len(snap.Keyspaces))},
		pools: map[*topo.Shard]*backend.Pool{}, cache: newPlanCache(old.cache.max, old.cache.maxBytes), changed: make(chan struct{})}
	st.cache.evictions = &r.evictions
	var added, kept []string
	for name, ks := range snap.Keyspaces {
		nk := *ks
		nk.Shards = make([]*topo.Shard, len(ks.Shards))
		for i, sh := range ks.Shards {
			// An unchanged shard keeps its *topo.Shard (and RoleCell), also
			// one that starts serving after a reshard's switch.
			if o := oldShards[shardKey{name, sh.Name}]; o != nil && sameShard(o, sh) {
				nk.Shards[i] = o
				if p := old.pools[o]; p != nil {
					st.pools[o] = p
					kept = append(kept, name+"/"+sh.Name)
					continue
				}
				st.pools[o] = r.newPool(name, o)
				added = append(added, name+"/"+sh.Name+"@"+sh.Addr())
				continue
			}
			nk.Shards[i] = sh
			st.pools[sh] = r.newPool(name, sh)
			added = append(added, name+"/"+sh.Name+"@"+sh.Addr())
		}
		// Shards that serve no traffic get no pool (online workflows use
		// their own) but keep their identity too.
		if len(ks.NonServing) > 0 {
			nk.NonServing = make([]*topo.Shard, len(ks.NonServing))
			for i, sh := range ks.NonServing {
				if o := oldShards[shardKey{name, sh.Name}]; o != nil && sameShard(o, sh) {
					sh = o
				}
				nk.NonServing[i] = sh
			}
		}
		st.snap.Keyspaces[name] = &nk
	}
	inUse := map[*backend.Pool]bool{}
	for _, p := range st.pools {
		inUse[p] = true
	}
	var retired []*backend.Pool
	var removed []string
	for _, p := range old.pools {
		if !inUse[p] {
			retired = append(retired, p)
			removed = append(removed, p.Name()+"@"+p.Addr())
		}
	}

	st.coord = st.newCoordinator(r.cfg, old.coord)
	r.state.Store(st)
	close(old.changed) // statements held by a traffic switch look again (switch.go)
	r.forgetStaleSequences(st)
	if hasWorkflows(old.snap) || hasWorkflows(st.snap) {
		// An online workflow's switch may move a table onto a sequence
		// (MoveTables) and back: blocks reserved before are not used
		// after it (their ids may have been taken by the table's own
		// AUTO_INCREMENT meanwhile); the next use reserves a new block.
		r.seqs.mu.Lock()
		clear(r.seqs.seqs)
		r.seqs.mu.Unlock()
	}
	// A statement that loaded the old state just before the swap may still
	// register a sequence of the old topology: look once more a bit later.
	time.AfterFunc(time.Second, func() { r.forgetStaleSequences(r.state.Load()) })
	for _, p := range retired {
		p.Close()
	}
	sort.Strings(added)
	sort.Strings(removed)
	r.log.Info("topology applied", zap.Strings("keyspaces", st.snap.Names()), zap.Int("shards_kept", len(kept)),
		zap.Strings("shards_new", added), zap.Strings("pools_closed", removed))

	// Auto-vschema keyspaces: their tables (new keyspace, moved shard,
	// vschema now listing a table) are read again in the background.
	r.background(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for _, name := range st.snap.Names() {
			if ks := st.snap.Keyspaces[name]; ks.AutoVSchema && r.state.Load() == st {
				if err := r.reloadKeyspace(ctx, st, ks); err != nil {
					r.log.Warn("schema tracking after a topology change", zap.String("keyspace", name), zap.Error(err))
				}
			}
		}
	})
}

// hasWorkflows reports whether an online workflow marks or routes tables
// of some keyspace.
func hasWorkflows(snap *topo.Snapshot) bool {
	for _, ks := range snap.Keyspaces {
		if len(ks.Workflows) > 0 || len(ks.RoutedTables) > 0 {
			return true
		}
	}
	return false
}

// sameShard reports whether two shards reach the same database the same way.
func sameShard(a, b *topo.Shard) bool {
	return a.Name == b.Name && a.Host == b.Host && a.Port == b.Port && a.Socket == b.Socket && slices.Equal(a.Servers, b.Servers) &&
		a.User == b.User && a.Password == b.Password && a.Database == b.Database &&
		a.KeyRange.String() == b.KeyRange.String()
}

// forgetStaleSequences drops cached sequences whose keyspace's shard is not
// in st (moved or removed): the next use registers them again on the shard
// in force. Their unused reserved ids are skipped, never handed out twice.
func (r *Router) forgetStaleSequences(st *state) {
	r.seqs.mu.Lock()
	defer r.seqs.mu.Unlock()
	for name, sq := range r.seqs.seqs {
		if len(sq.ks.Shards) == 0 || st.pools[sq.ks.Shards[0]] == nil {
			delete(r.seqs.seqs, name)
		}
	}
}

// ReloadSchema re-reads the tables of an auto_vschema keyspace (another
// proxy ran DDL on it) and empties the plan cache, as DDL run here does.
func (r *Router) ReloadSchema(ctx context.Context, keyspace string) error {
	st := r.state.Load()
	ks, ok := st.snap.Keyspace(keyspace)
	if !ok {
		return fmt.Errorf("keyspace %s is not in the topology", keyspace)
	}
	if !ks.AutoVSchema {
		return nil
	}
	if err := r.reloadKeyspace(ctx, st, ks); err != nil {
		return err
	}
	r.state.Load().cache.clear()
	return nil
}

// AutoTables returns the tables schema tracking derived for an auto_vschema
// keyspace (lower-case name -> entry); callers must not modify it.
func (r *Router) AutoTables(keyspace string) map[string]*topo.Table {
	return r.schema.all(keyspace)
}

// OnDDL makes fn run after every DDL statement that succeeded, with the
// keyspace it ran on (schema changes shared through etcd use it). It wraps
// the Observer installed so far, which keeps being called: call OnDDL after
// SetObserver, and before serving.
func (r *Router) OnDDL(fn func(keyspace string)) {
	r.obs = &ddlObserver{next: r.obs, fn: fn}
}

type ddlObserver struct {
	next Observer
	fn   func(keyspace string)
}

func (o *ddlObserver) StatementDone(ctx context.Context, s *Session, plan *planner.Plan, sql, keyspace string, d time.Duration, err error) {
	if o.next != nil {
		o.next.StatementDone(ctx, s, plan, sql, keyspace, d, err)
	}
	if err == nil && plan != nil && plan.Kind == planner.KindDDL && keyspace != "" {
		o.fn(keyspace)
	}
}

// FollowEtcd keeps r on w's topology until ctx ends: every change that loads
// is applied (w.Load must have been called, and r built on its snapshot);
// DDL this proxy runs on an auto_vschema keyspace is announced through etcd,
// and the other proxies' announcements make r re-read that keyspace's
// tables, so a table created through one proxy routes on all of them at
// once. It installs an OnDDL hook (call it after SetObserver) and returns at
// once; wait blocks until it has stopped.
func (r *Router) FollowEtcd(ctx context.Context, w *topo.Watcher) (wait func()) {
	r.OnDDL(func(keyspace string) {
		if ks, ok := r.Snapshot().Keyspace(keyspace); !ok || !ks.AutoVSchema {
			return
		}
		r.background(func(ctx context.Context) {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := w.PublishSchema(pctx, keyspace, r.AutoTables(keyspace)); err != nil {
				r.log.Warn("etcd: cannot tell the other proxies about DDL", zap.String("keyspace", keyspace), zap.Error(err))
			}
		})
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, r)
	}()
	return func() { <-done }
}
