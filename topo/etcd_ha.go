package topo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// The HA keys under the prefix P:
//
//	P/ha/primary/<keyspace>/<shard>      a PrimaryRecord: the shard's primary and term
//	P/ha/lock/<keyspace>/<shard>/…       the recovery lock (an etcd mutex on a lease)
//	P/ha/recoveries/<keyspace>/<shard>/<id>  one JSON record per recovery
const (
	etcdHAPrimary    = "/ha/primary/"
	etcdHALock       = "/ha/lock/"
	etcdHARecoveries = "/ha/recoveries/"
)

// PrimaryRecord is the primary of a shard as recorded in etcd. Term grows by
// one on every promotion; a record is only replaced by one with a higher
// term, written by the holder of the shard's recovery lock.
type PrimaryRecord struct {
	Primary string    `json:"primary"`
	Term    uint64    `json:"term"`
	At      time.Time `json:"at"`
	By      string    `json:"by,omitempty"`     // proxy that wrote it
	Reason  string    `json:"reason,omitempty"` // discovered, failover, reparent
	// Switching names the server a planned switch is moving the role to:
	// every proxy holds the shard's statements in its buffer meanwhile.
	Switching string `json:"switching,omitempty"`
}

func (e *Etcd) primaryKey(keyspace, shard string) string {
	return e.prefix + etcdHAPrimary + keyspace + "/" + shard
}

// PrimaryRecord reads a shard's record and its modification revision (nil
// and 0 when there is none).
func (e *Etcd) PrimaryRecord(ctx context.Context, keyspace, shard string) (*PrimaryRecord, int64, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.primaryKey(keyspace, shard))
	if err != nil {
		return nil, 0, e.wrap(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	var r PrimaryRecord
	if err := json.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", e.primaryKey(keyspace, shard), err)
	}
	return &r, resp.Kvs[0].ModRevision, nil
}

// PutPrimaryIf writes rec if the record's modification revision is still
// modRev (0: no record yet) and, when lock is not nil, the lock is still
// held. It reports false when either changed.
func (e *Etcd) PutPrimaryIf(ctx context.Context, keyspace, shard string, rec PrimaryRecord, modRev int64, lock *ShardLock) (bool, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	key := e.primaryKey(keyspace, shard)
	val, _ := json.Marshal(rec)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", modRev)}
	if lock != nil {
		cmps = append(cmps, lock.m.IsOwner())
	}
	resp, err := e.cli.Txn(ctx).If(cmps...).Then(clientv3.OpPut(key, string(val))).Commit()
	if err != nil {
		return false, e.wrap(err)
	}
	return resp.Succeeded, nil
}

// PrimaryChange is a shard's record as a watch delivers it.
type PrimaryChange struct {
	Keyspace, Shard string
	Record          PrimaryRecord
}

// WatchPrimaries calls fn with every primary record now in etcd and then
// with every change, until ctx ends; it reconnects by itself. fn runs on
// WatchPrimaries' goroutine.
func (e *Etcd) WatchPrimaries(ctx context.Context, fn func(PrimaryChange)) {
	p := e.prefix + etcdHAPrimary
	b := newBackoff()
	for ctx.Err() == nil {
		gctx, cancel := e.ctx(ctx)
		resp, err := e.cli.Get(gctx, p, clientv3.WithPrefix())
		cancel()
		if err != nil {
			b.wait(ctx)
			continue
		}
		for _, kv := range resp.Kvs {
			if c, ok := parsePrimaryKV(p, kv.Key, kv.Value); ok {
				fn(c)
			}
		}
		wch := e.cli.Watch(clientv3.WithRequireLeader(ctx), p, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		for wr := range wch {
			if wr.Err() != nil {
				break
			}
			b.reset()
			for _, ev := range wr.Events {
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				if c, ok := parsePrimaryKV(p, ev.Kv.Key, ev.Kv.Value); ok {
					fn(c)
				}
			}
		}
		b.wait(ctx)
	}
}

func parsePrimaryKV(prefix string, key, val []byte) (PrimaryChange, bool) {
	rest := strings.TrimPrefix(string(key), prefix)
	ks, shard, ok := strings.Cut(rest, "/")
	if !ok || ks == "" || shard == "" {
		return PrimaryChange{}, false
	}
	var r PrimaryRecord
	if json.Unmarshal(val, &r) != nil {
		return PrimaryChange{}, false
	}
	return PrimaryChange{Keyspace: ks, Shard: shard, Record: r}, true
}

// ShardLock is the recovery lock of one shard: an etcd mutex on a lease
// that expires ttl after its holder stops renewing it (the holder died).
type ShardLock struct {
	s *concurrency.Session
	m *concurrency.Mutex
}

// ErrLocked is TryLockShard's answer when another proxy holds the lock.
var ErrLocked = errors.New("the shard's recovery lock is held by another proxy")

// TryLockShard takes a shard's recovery lock without waiting; it returns
// ErrLocked when another proxy holds it.
func (e *Etcd) TryLockShard(ctx context.Context, keyspace, shard string, ttl time.Duration) (*ShardLock, error) {
	return e.tryLock(ctx, e.prefix+etcdHALock+keyspace+"/"+shard, ttl)
}

// Held checks with etcd that the lock is still this holder's (its lease
// alive and its key the oldest).
func (l *ShardLock) Held(ctx context.Context) bool {
	select {
	case <-l.s.Done():
		return false
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := l.s.Client().Txn(ctx).If(l.m.IsOwner()).Commit()
	return err == nil && resp.Succeeded
}

// Release unlocks and ends the lease.
func (l *ShardLock) Release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = l.m.Unlock(ctx)
	_ = l.s.Close()
}

// Abandon stops renewing the lease without unlocking: the lock is freed
// when the lease expires, as when its holder dies (tests use it).
func (l *ShardLock) Abandon() { l.s.Orphan() }

// PutRecovery stores a recovery record (JSON) under its id.
func (e *Etcd) PutRecovery(ctx context.Context, keyspace, shard, id string, doc []byte) error {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	_, err := e.cli.Put(ctx, e.prefix+etcdHARecoveries+keyspace+"/"+shard+"/"+id, string(doc))
	return e.wrap(err)
}

// Recoveries returns the recovery records (JSON), oldest id first.
func (e *Etcd) Recoveries(ctx context.Context) ([][]byte, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.prefix+etcdHARecoveries, clientv3.WithPrefix())
	if err != nil {
		return nil, e.wrap(err)
	}
	type kv struct {
		id  string
		val []byte
	}
	var all []kv
	for _, x := range resp.Kvs {
		k := string(x.Key)
		all = append(all, kv{k[strings.LastIndexByte(k, '/')+1:], x.Value})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	out := make([][]byte, len(all))
	for i, x := range all {
		out[i] = x.val
	}
	return out, nil
}
