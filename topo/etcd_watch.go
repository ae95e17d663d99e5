package topo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Follower is what a Watcher keeps up to date (router.Router is one).
type Follower interface {
	// Apply puts a new topology in force. It must not block on I/O for long.
	Apply(snap *Snapshot)
	// ReloadSchema re-reads the tables of an auto_vschema keyspace after
	// another proxy ran DDL on it.
	ReloadSchema(ctx context.Context, keyspace string) error
}

// Watcher reads the keyspaces from etcd, watches them, and hands each valid
// new topology to a Follower. A document that does not load (invalid JSON,
// unknown vindex type, shards not covering the key range, a deletion that
// leaves a sequence without its keyspace...) is refused: it is logged and
// counted (Rejected), and the keyspace keeps its last good version while the
// other keyspaces still follow etcd. When etcd is unreachable the proxy keeps
// the topology in force and the Watcher retries; when it is back the Watcher
// catches up.
type Watcher struct {
	etcd      *Etcd
	opts      SnapshotOptions
	cacheFile string
	self      string
	log       *zap.Logger

	mu       sync.Mutex
	current  map[string][]byte // keyspace documents in etcd, as last read
	accepted map[string][]byte // the documents of the topology in force
	rejected map[string]string // name -> version already reported as refused
	snap     *Snapshot
	rev      int64 // etcd revision current reflects
	synced   bool  // current reflects etcd at rev (false: read everything again)

	rejects   atomic.Uint64
	updates   atomic.Uint64
	applied   atomic.Int64 // the etcd revision the follower's topology reflects (Applied)
	appliedMu sync.Mutex
	appliedCh chan struct{} // closed when applied grows
	connected atomic.Bool
	lastErr   atomic.Pointer[string]
}

// NewWatcher returns a watcher of e's keyspaces for a proxy whose
// global_keyspace is globalKeyspace (sequences named without keyspace are
// there); self is the proxy's ID (its own schema notices are ignored). The
// topology cache is e's topology.etcd.cache_file.
func NewWatcher(e *Etcd, globalKeyspace, self string, log *zap.Logger) *Watcher {
	if log == nil {
		log = zap.NewNop()
	}
	w := &Watcher{
		etcd:      e,
		opts:      SnapshotOptions{Source: e.Source(), GlobalKeyspace: globalKeyspace},
		cacheFile: e.cfg.CacheFile,
		self:      self,
		log:       log,
		current:   map[string][]byte{},
		accepted:  map[string][]byte{},
		rejected:  map[string]string{},
	}
	return w
}

// Rejected counts refused documents (each version once).
func (w *Watcher) Rejected() uint64 { return w.rejects.Load() }

// Updates counts topologies handed to the follower after the first.
func (w *Watcher) Updates() uint64 { return w.updates.Load() }

// Connected reports whether the last request to etcd succeeded.
func (w *Watcher) Connected() bool { return w.connected.Load() }

// LastRejection is the error of the last refused document ("" if none).
func (w *Watcher) LastRejection() string {
	if p := w.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// Snapshot is the topology in force.
func (w *Watcher) Snapshot() *Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snap
}

// Revision is the etcd revision the topology in force was read at.
func (w *Watcher) Revision() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rev
}

// Load reads the topology at startup. When etcd does not answer within the
// dial timeout it fails, unless a cache file (topology.etcd.cache_file) holds
// a topology: then it starts from that and Run catches up later.
func (w *Watcher) Load(ctx context.Context) (*Snapshot, error) {
	var cached map[string][]byte
	var cacheErr error = errors.New("no cache file configured")
	if w.cacheFile != "" {
		cached, cacheErr = readCache(w.cacheFile)
	}
	docs, rev, err := w.etcd.Keyspaces(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.connected.Store(false)
		if w.cacheFile == "" {
			return nil, fmt.Errorf("topology.source is etcd, but %v: start etcd, check topology.etcd.endpoints, or set topology.etcd.cache_file so that a proxy can start from the last topology it saw", err)
		}
		if cacheErr != nil {
			return nil, fmt.Errorf("topology.source is etcd, but %v; and the topology cache %s cannot be used: %v", err, w.cacheFile, cacheErr)
		}
		snap, berr := BuildSnapshot(cached, SnapshotOptions{Source: w.cacheFile, GlobalKeyspace: w.opts.GlobalKeyspace})
		if berr != nil {
			return nil, fmt.Errorf("topology.source is etcd, but %v; and the topology cache does not load: %w", err, berr)
		}
		w.accepted, w.current, w.snap = cached, clone(cached), snap
		w.log.Warn("etcd unreachable at startup: serving the topology of the cache file until it answers",
			zap.String("cache_file", w.cacheFile), zap.Strings("keyspaces", snap.Names()), zap.Error(err))
		return snap, nil
	}
	w.connected.Store(true)
	if cacheErr == nil {
		// The last good version of a document that is bad now.
		w.accepted = cached
	}
	w.current, w.rev, w.synced = docs, rev, true
	if len(docs) == 0 {
		return nil, fmt.Errorf("etcd at %s has no keyspace under %s: upload them with `shardgate topo put --etcd %s --prefix %s --config FILE`",
			w.etcd.Endpoints(), w.etcd.prefix+etcdKeyspaces, w.etcd.Endpoints(), w.etcd.prefix)
	}
	w.reconcile()
	if w.snap == nil || len(w.snap.Keyspaces) == 0 {
		return nil, fmt.Errorf("no keyspace in etcd at %s loads: %s", w.etcd.Endpoints(), w.LastRejection())
	}
	w.writeCache()
	w.applied.Store(rev) // the router is built on this snapshot
	return w.snap, nil
}

// reconcile makes the topology follow w.current as far as it loads, and
// returns the new snapshot if the topology changed. w.mu is held.
func (w *Watcher) reconcile() *Snapshot {
	defer func() {
		for name := range w.rejected {
			if sameDoc(w.current, w.accepted, name) {
				delete(w.rejected, name) // in force now, or back to what is
			}
		}
	}()
	if w.snap != nil && sameDocs(w.current, w.accepted) {
		return nil
	}
	if snap, err := BuildSnapshot(w.current, w.opts); err == nil {
		w.accepted, w.snap = clone(w.current), snap
		return snap
	}
	// One change at a time, until none more loads: a bad document does not
	// hold back good ones.
	acc := clone(w.accepted)
	var accSnap *Snapshot
	var changes []string
	for name := range union(w.current, acc) {
		cur, inCur := w.current[name]
		old, inAcc := acc[name]
		if inCur != inAcc || !bytes.Equal(cur, old) {
			changes = append(changes, name)
		}
	}
	sort.Strings(changes)
	failed := map[string]error{}
	for progress := true; progress; {
		progress = false
		for _, name := range changes {
			if sameDoc(acc, w.current, name) {
				continue // taken
			}
			try := clone(acc)
			if doc, ok := w.current[name]; ok {
				try[name] = doc
			} else {
				delete(try, name)
			}
			snap, err := BuildSnapshot(try, w.opts)
			if err != nil {
				failed[name] = err
				continue
			}
			delete(failed, name)
			acc, accSnap, progress = try, snap, true
		}
	}
	for _, name := range sortedKeys(failed) {
		w.refuse(name, failed[name])
	}
	if accSnap == nil && w.snap == nil && len(acc) > 0 {
		accSnap, _ = BuildSnapshot(acc, w.opts)
	}
	if accSnap == nil {
		return nil
	}
	w.accepted, w.snap = acc, accSnap
	return accSnap
}

// refuse reports a document (or deletion) that does not load, once per version.
func (w *Watcher) refuse(name string, err error) {
	doc, present := w.current[name]
	version := "\x00deleted"
	what := "keyspace document"
	if present {
		version = string(doc)
	} else {
		what = "deletion of keyspace"
	}
	if w.rejected[name] == version {
		return
	}
	w.rejected[name] = version
	msg := fmt.Sprintf("%s %s refused: %v", what, w.etcd.KeyspaceKey(name), err)
	w.lastErr.Store(&msg)
	state := "keeps its last good version"
	if _, ok := w.accepted[name]; !ok {
		state = "stays undefined"
	}
	w.log.Error("etcd: refused a topology change; the keyspace "+state,
		zap.String("keyspace", name), zap.Int64("revision", w.rev), zap.String("error", err.Error()))
	// Counted last: whoever sees the count (metrics, tests) finds the
	// message and the log line of this refusal already there.
	w.rejects.Add(1)
}

func sameDoc(a, b map[string][]byte, name string) bool {
	x, okA := a[name]
	y, okB := b[name]
	return okA == okB && bytes.Equal(x, y)
}

func sameDocs(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for name := range a {
		if !sameDoc(a, b, name) {
			return false
		}
	}
	return true
}

func clone(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func union(a, b map[string][]byte) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// Run watches etcd until ctx ends and hands every new topology to f;
// other proxies' schema notices make f re-read that keyspace's tables.
func (w *Watcher) Run(ctx context.Context, f Follower) {
	go w.probe(ctx)
	bo := newBackoff()
	resynced := false
	for ctx.Err() == nil {
		w.mu.Lock()
		synced, rev := w.synced, w.rev
		w.mu.Unlock()
		if !synced {
			docs, rev2, err := w.etcd.Keyspaces(ctx)
			if err != nil {
				w.setConnected(false, err)
				bo.wait(ctx)
				continue
			}
			w.setConnected(true, nil)
			w.mu.Lock()
			w.current, w.rev, w.synced = docs, rev2, true
			snap := w.reconcile()
			w.mu.Unlock()
			w.apply(f, snap, rev2)
			w.setApplied(rev2)
			if resynced {
				// Schema notices written while this proxy was not
				// watching are lost: re-read every auto_vschema keyspace.
				w.reloadAll(ctx, f)
			}
			rev = rev2
		}
		resynced = true
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := w.etcd.cli.Watch(wctx, w.etcd.prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for resp := range wch {
			if err := resp.Err(); err != nil {
				if ctx.Err() == nil {
					w.log.Warn("etcd: watch interrupted; reading the topology again", zap.Error(err))
				}
				break
			}
			bo.reset()
			w.setConnected(true, nil)
			var notices []string
			w.mu.Lock()
			for _, ev := range resp.Events {
				key := string(ev.Kv.Key)
				switch {
				case strings.HasPrefix(key, w.etcd.prefix+etcdKeyspaces):
					name := strings.TrimPrefix(key, w.etcd.prefix+etcdKeyspaces)
					if name == "" || strings.Contains(name, "/") {
						continue
					}
					if ev.Type == clientv3.EventTypeDelete {
						delete(w.current, name)
					} else {
						w.current[name] = ev.Kv.Value
					}
				case strings.HasPrefix(key, w.etcd.prefix+etcdSchema) && ev.Type == clientv3.EventTypePut:
					var n SchemaNotice
					if json.Unmarshal(ev.Kv.Value, &n) == nil && n.Proxy != w.self {
						notices = append(notices, strings.TrimPrefix(key, w.etcd.prefix+etcdSchema))
					}
				}
			}
			w.rev = resp.Header.Revision
			snap := w.reconcile()
			w.mu.Unlock()
			w.apply(f, snap, resp.Header.Revision)
			w.setApplied(resp.Header.Revision)
			for _, ks := range notices {
				go w.reloadSchema(ctx, f, ks)
			}
		}
		cancel()
		w.mu.Lock()
		w.synced = false
		w.mu.Unlock()
		bo.wait(ctx)
	}
}

// Applied is the etcd revision up to which the follower has been given
// every keyspace change (0 before Run caught up).
func (w *Watcher) Applied() int64 { return w.applied.Load() }

// WaitApplied waits until Applied reaches rev or ctx ends: a workflow's
// traffic switch waits for every proxy to apply its hold.
func (w *Watcher) WaitApplied(ctx context.Context, rev int64) error {
	for {
		w.appliedMu.Lock()
		if w.appliedCh == nil {
			w.appliedCh = make(chan struct{})
		}
		ch := w.appliedCh
		w.appliedMu.Unlock()
		if w.applied.Load() >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *Watcher) setApplied(rev int64) {
	w.applied.Store(rev)
	w.appliedMu.Lock()
	if w.appliedCh != nil {
		close(w.appliedCh)
		w.appliedCh = nil
	}
	w.appliedMu.Unlock()
}

func (w *Watcher) apply(f Follower, snap *Snapshot, rev int64) {
	if snap == nil {
		return
	}
	f.Apply(snap)
	w.updates.Add(1)
	w.log.Info("etcd: topology applied", zap.Int64("revision", rev), zap.Strings("keyspaces", snap.Names()))
	w.mu.Lock()
	w.writeCache()
	w.mu.Unlock()
}

func (w *Watcher) reloadSchema(ctx context.Context, f Follower, ks string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.ReloadSchema(ctx, ks); err != nil {
		w.log.Warn("etcd: re-reading tables after another proxy's DDL failed", zap.String("keyspace", ks), zap.Error(err))
	}
}

func (w *Watcher) reloadAll(ctx context.Context, f Follower) {
	snap := w.Snapshot()
	for _, name := range snap.Names() {
		if ks, _ := snap.Keyspace(name); ks.AutoVSchema {
			go w.reloadSchema(ctx, f, name)
		}
	}
}

// probe checks every 2s that etcd answers, to log when it goes away and
// comes back (the watch itself retries silently).
func (w *Watcher) probe(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := w.etcd.cli.Get(pctx, w.etcd.prefix+etcdKeyspaces, clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		if ctx.Err() == nil {
			w.setConnected(err == nil, err)
		}
	}
}

func (w *Watcher) setConnected(ok bool, err error) {
	was := w.connected.Swap(ok)
	switch {
	case was && !ok:
		w.log.Warn("etcd unreachable: serving the last topology, retrying", zap.String("endpoints", w.etcd.Endpoints()), zap.Error(err))
	case !was && ok:
		w.log.Info("etcd reachable", zap.String("endpoints", w.etcd.Endpoints()))
	}
}

// PublishSchema tells the other proxies that this one ran DDL on an
// auto_vschema keyspace (tables: what it derived, for people reading etcd).
func (w *Watcher) PublishSchema(ctx context.Context, keyspace string, tables map[string]*Table) error {
	n := SchemaNotice{Proxy: w.self, At: time.Now().UTC(), Tables: map[string]string{}}
	for name, t := range tables {
		s := t.Column
		if t.AutoIncrement != nil {
			s += " seq=" + t.AutoIncrement.Sequence
		}
		n.Tables[name] = s
	}
	return w.etcd.PutSchemaNotice(ctx, keyspace, n)
}

// topoCache is the cache file: the last topology accepted from etcd. The
// documents are kept as strings, byte for byte as in etcd, so that a proxy
// started from the cache sees no change when etcd has the same.
type topoCache struct {
	Prefix    string            `json:"prefix"`
	Revision  int64             `json:"revision"`
	Written   time.Time         `json:"written"`
	Keyspaces map[string]string `json:"keyspaces"`
}

// writeCache saves w.accepted (w.mu held); errors are logged.
func (w *Watcher) writeCache() {
	if w.cacheFile == "" {
		return
	}
	c := topoCache{Prefix: w.etcd.prefix, Revision: w.rev, Written: time.Now().UTC(), Keyspaces: map[string]string{}}
	for name, doc := range w.accepted {
		c.Keyspaces[name] = string(doc)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err == nil {
		err = writeFileAtomic(w.cacheFile, append(data, '\n'))
	}
	if err != nil {
		w.log.Warn("etcd: cannot write the topology cache file", zap.String("cache_file", w.cacheFile), zap.Error(err))
	}
}

func readCache(path string) (map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c topoCache
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Keyspaces) == 0 {
		return nil, fmt.Errorf("%s holds no keyspace", path)
	}
	docs := map[string][]byte{}
	for name, doc := range c.Keyspaces {
		docs[name] = []byte(doc)
	}
	return docs, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
