package topo

import (
	"context"
	"errors"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// The keys of online workflows (package workflow) under the prefix P:
//
//	P/wf/state/<keyspace>/<name>           the workflow: its definition, phase, commands, results (JSON)
//	P/wf/stream/<keyspace>/<name>/<stream> one stream's copy progress and binlog position (JSON)
//	P/wf/ack/<keyspace>/<name>/<proxy>     a proxy applied a traffic switch's hold (JSON)
//	P/wf/lock/<keyspace>/<name>/…          the lock of the proxy that runs the workflow (an etcd mutex)
//
// <keyspace> is the workflow's target keyspace. A switch's flip writes the
// workflow and the keyspace documents (keyspaces/<name>) in one
// transaction (Etcd.Commit).
const (
	etcdWFState  = "/wf/state/"
	etcdWFStream = "/wf/stream/"
	etcdWFAck    = "/wf/ack/"
	etcdWFLock   = "/wf/lock/"
)

// WorkflowKey is the key of a workflow's state.
func (e *Etcd) WorkflowKey(keyspace, name string) string {
	return e.prefix + etcdWFState + keyspace + "/" + name
}

// StreamKey is the key of one stream of a workflow.
func (e *Etcd) StreamKey(keyspace, name, stream string) string {
	return e.prefix + etcdWFStream + keyspace + "/" + name + "/" + stream
}

// AckKey is the key where a proxy acknowledges a workflow's switch hold.
func (e *Etcd) AckKey(keyspace, name, proxy string) string {
	return e.prefix + etcdWFAck + keyspace + "/" + name + "/" + proxy
}

// Record is a value read from etcd with its modification revision.
type Record struct {
	Key    string
	Value  []byte
	ModRev int64
}

// Get reads one key (a nil Value and ModRev 0 when it does not exist).
func (e *Etcd) Get(ctx context.Context, key string) (Record, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, key)
	if err != nil {
		return Record{Key: key}, e.wrap(err)
	}
	if len(resp.Kvs) == 0 {
		return Record{Key: key}, nil
	}
	return Record{Key: key, Value: resp.Kvs[0].Value, ModRev: resp.Kvs[0].ModRevision}, nil
}

// List reads every key under prefix, in key order, and the revision read.
func (e *Etcd) List(ctx context.Context, prefix string) ([]Record, int64, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, 0, e.wrap(err)
	}
	out := make([]Record, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		out[i] = Record{Key: string(kv.Key), Value: kv.Value, ModRev: kv.ModRevision}
	}
	return out, resp.Header.Revision, nil
}

// WorkflowsPrefix is the prefix of every workflow's state key.
func (e *Etcd) WorkflowsPrefix() string { return e.prefix + etcdWFState }

// StreamsPrefix is the prefix of a workflow's stream keys.
func (e *Etcd) StreamsPrefix(keyspace, name string) string {
	return e.prefix + etcdWFStream + keyspace + "/" + name + "/"
}

// AcksPrefix is the prefix of a workflow's acknowledgement keys.
func (e *Etcd) AcksPrefix(keyspace, name string) string {
	return e.prefix + etcdWFAck + keyspace + "/" + name + "/"
}

// Put writes one key unconditionally.
func (e *Etcd) Put(ctx context.Context, key string, value []byte) error {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	_, err := e.cli.Put(ctx, key, string(value))
	return e.wrap(err)
}

// Write is one change of a Commit: a put (or a delete) of Key, on the
// condition that Key's modification revision is still ModRev (0: the key
// does not exist) unless Any is set.
type Write struct {
	Key    string
	Value  []byte
	Delete bool
	ModRev int64
	Any    bool // no condition on this key
	// Prefix, with Delete, deletes every key under Key.
	Prefix bool
}

// KeyspaceWrite is a conditional put of a keyspace's document.
func (e *Etcd) KeyspaceWrite(name string, doc []byte, modRev int64) Write {
	return Write{Key: e.KeyspaceKey(name), Value: doc, ModRev: modRev}
}

// Commit makes every write in one etcd transaction, if each key is still at
// the revision given and, when lock is not nil, the lock is still held. It
// reports false (and writes nothing) otherwise, and the revision of the
// transaction.
func (e *Etcd) Commit(ctx context.Context, writes []Write, lock *Lock) (bool, int64, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	for _, w := range writes {
		if !w.Any {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(w.Key), "=", w.ModRev))
		}
		switch {
		case w.Delete && w.Prefix:
			ops = append(ops, clientv3.OpDelete(w.Key, clientv3.WithPrefix()))
		case w.Delete:
			ops = append(ops, clientv3.OpDelete(w.Key))
		default:
			ops = append(ops, clientv3.OpPut(w.Key, string(w.Value)))
		}
	}
	if lock != nil {
		cmps = append(cmps, lock.m.IsOwner())
	}
	resp, err := e.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, 0, e.wrap(err)
	}
	return resp.Succeeded, resp.Header.Revision, nil
}

// Event is a change seen by Watch.
type Event struct {
	Key     string
	Value   []byte // nil when deleted
	Deleted bool
	ModRev  int64
}

// Watch calls fn with every key under prefix now in etcd (Event per key,
// and then a nil Event meaning "that was all") and then with every change,
// until ctx ends; after an interruption it reads everything again. fn runs
// on Watch's goroutine.
func (e *Etcd) Watch(ctx context.Context, prefix string, fn func(*Event)) {
	b := newBackoff()
	for ctx.Err() == nil {
		recs, rev, err := e.List(ctx, prefix)
		if err != nil {
			b.wait(ctx)
			continue
		}
		for _, r := range recs {
			fn(&Event{Key: r.Key, Value: r.Value, ModRev: r.ModRev})
		}
		fn(nil)
		wch := e.cli.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for wr := range wch {
			if wr.Err() != nil {
				break
			}
			b.reset()
			for _, ev := range wr.Events {
				ce := &Event{Key: string(ev.Kv.Key), ModRev: ev.Kv.ModRevision}
				if ev.Type == clientv3.EventTypeDelete {
					ce.Deleted = true
				} else {
					ce.Value = ev.Kv.Value
				}
				fn(ce)
			}
		}
		b.wait(ctx)
	}
}

// Lock is an etcd mutex on a lease that expires ttl after its holder stops
// renewing it (the holder died): a shard's recovery lock, the lock of the
// proxy that runs a workflow.
type Lock = ShardLock

// TryLockWorkflow takes the lock of the proxy that runs a workflow without
// waiting; ErrLocked when another proxy holds it.
func (e *Etcd) TryLockWorkflow(ctx context.Context, keyspace, name string, ttl time.Duration) (*Lock, error) {
	return e.tryLock(ctx, e.prefix+etcdWFLock+keyspace+"/"+name, ttl)
}

func (e *Etcd) tryLock(ctx context.Context, key string, ttl time.Duration) (*Lock, error) {
	secs := int((ttl + time.Second - 1) / time.Second)
	s, err := concurrency.NewSession(e.cli, concurrency.WithTTL(max(secs, 2)), concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return nil, e.wrap(err)
	}
	m := concurrency.NewMutex(s, key)
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	if err := m.TryLock(ctx); err != nil {
		_ = s.Close()
		if errors.Is(err, concurrency.ErrLocked) {
			return nil, ErrLocked
		}
		return nil, e.wrap(err)
	}
	return &ShardLock{s: s, m: m}, nil
}

// Lost is closed when the lock's lease is lost (etcd unreachable for
// longer than its ttl, or revoked).
func (l *ShardLock) Lost() <-chan struct{} { return l.s.Done() }

// SplitWorkflowKey returns the keyspace and name of a state key under
// WorkflowsPrefix (ok false for another key).
func (e *Etcd) SplitWorkflowKey(key string) (keyspace, name string, ok bool) {
	rest, found := strings.CutPrefix(key, e.prefix+etcdWFState)
	if !found {
		return "", "", false
	}
	keyspace, name, ok = strings.Cut(rest, "/")
	if !ok || keyspace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return keyspace, name, true
}
