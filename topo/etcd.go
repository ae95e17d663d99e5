package topo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The layout of shardgate's keys under the prefix P:
//
//	P/keyspaces/<name>  a KeyspaceDoc (JSON), one per keyspace
//	P/proxies/<id>      a ProxyInfo (JSON) per live proxy, on a lease
//	P/schema/<name>     a SchemaNotice (JSON): a proxy ran DDL on an
//	                    auto_vschema keyspace; the others re-read its tables
const (
	etcdKeyspaces = "/keyspaces/"
	etcdProxies   = "/proxies/"
	etcdSchema    = "/schema/"
)

// Etcd is shardgate's view of an etcd cluster: the keys under one prefix.
type Etcd struct {
	cli    *clientv3.Client
	prefix string
	cfg    EtcdConfig
}

// DialEtcd returns a client for c. It does not wait for a connection: the
// first request fails if etcd is unreachable. log may be nil.
func DialEtcd(c EtcdConfig, log *zap.Logger) (*Etcd, error) {
	if len(c.Endpoints) == 0 {
		return nil, errors.New("no etcd endpoint given")
	}
	prefix, msg := NormalizeEtcdPrefix(c.Prefix)
	if msg != "" {
		return nil, fmt.Errorf("etcd prefix %q: %s", c.Prefix, msg)
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultEtcdDialTimeout
	}
	if log == nil {
		log = zap.NewNop()
	}
	cc := clientv3.Config{
		Endpoints:            c.Endpoints,
		DialTimeout:          c.DialTimeout,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		// The client logs every retry at warn level; shardgate logs what
		// matters (unreachable, back) itself.
		Logger: log.Named("etcd").WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel)),
	}
	if c.TLS != nil {
		info := transport.TLSInfo{TrustedCAFile: c.TLS.CA, CertFile: c.TLS.Cert, KeyFile: c.TLS.Key}
		tc, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd TLS: %w", err)
		}
		cc.TLS = tc
	}
	cli, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("etcd at %s: %w", strings.Join(c.Endpoints, ","), err)
	}
	c.Prefix = prefix
	return &Etcd{cli: cli, prefix: prefix, cfg: c}, nil
}

// Close closes the client.
func (e *Etcd) Close() error { return e.cli.Close() }

// Client is the etcd client (for tests and tools).
func (e *Etcd) Client() *clientv3.Client { return e.cli }

// Prefix is the key prefix, without trailing slash.
func (e *Etcd) Prefix() string { return e.prefix }

// Endpoints are the configured endpoints, comma-separated (for messages).
func (e *Etcd) Endpoints() string { return strings.Join(e.cfg.Endpoints, ",") }

// Source names the store in errors: "etcd <endpoints> <prefix>".
func (e *Etcd) Source() string { return "etcd " + e.prefix }

// KeyspaceKey is the key of a keyspace's document.
func (e *Etcd) KeyspaceKey(name string) string { return e.prefix + etcdKeyspaces + name }

func (e *Etcd) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, e.cfg.DialTimeout)
}

// Keyspaces reads every keyspace document and the store's revision.
func (e *Etcd) Keyspaces(ctx context.Context) (map[string][]byte, int64, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	p := e.prefix + etcdKeyspaces
	resp, err := e.cli.Get(ctx, p, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, e.wrap(err)
	}
	docs := map[string][]byte{}
	for _, kv := range resp.Kvs {
		name := strings.TrimPrefix(string(kv.Key), p)
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		docs[name] = kv.Value
	}
	return docs, resp.Header.Revision, nil
}

// Keyspace reads one keyspace document and its modification revision
// (0 when the key does not exist).
func (e *Etcd) Keyspace(ctx context.Context, name string) ([]byte, int64, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.KeyspaceKey(name))
	if err != nil {
		return nil, 0, e.wrap(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	return resp.Kvs[0].Value, resp.Kvs[0].ModRevision, nil
}

// PutKeyspaces writes documents in one transaction; with prune, keyspaces
// not in docs are deleted in it too.
func (e *Etcd) PutKeyspaces(ctx context.Context, docs map[string][]byte, prune bool) error {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	var ops []clientv3.Op
	if prune {
		have, _, err := e.Keyspaces(ctx)
		if err != nil {
			return err
		}
		for name := range have {
			if _, keep := docs[name]; !keep {
				ops = append(ops, clientv3.OpDelete(e.KeyspaceKey(name)))
			}
		}
	}
	for _, name := range sortedKeys(docs) {
		ops = append(ops, clientv3.OpPut(e.KeyspaceKey(name), string(docs[name])))
	}
	if _, err := e.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
		return e.wrap(err)
	}
	return nil
}

// PutKeyspaceIf writes a document if the key's modification revision is
// still modRev (0: the key must not exist). It reports false when it changed.
func (e *Etcd) PutKeyspaceIf(ctx context.Context, name string, doc []byte, modRev int64) (bool, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	key := e.KeyspaceKey(name)
	resp, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
		Then(clientv3.OpPut(key, string(doc))).Commit()
	if err != nil {
		return false, e.wrap(err)
	}
	return resp.Succeeded, nil
}

// DeleteKeyspace removes a keyspace document.
func (e *Etcd) DeleteKeyspace(ctx context.Context, name string) error {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	_, err := e.cli.Delete(ctx, e.KeyspaceKey(name))
	return e.wrap(err)
}

func (e *Etcd) wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("etcd at %s did not answer within %s (unreachable?): %w", e.Endpoints(), e.cfg.DialTimeout, err)
	}
	return fmt.Errorf("etcd at %s: %w", e.Endpoints(), err)
}

// ProxyInfo is what a live proxy registers under P/proxies/<ID>.
type ProxyInfo struct {
	ID      string    `json:"id"`
	MySQL   string    `json:"mysql"`
	HTTP    string    `json:"http,omitempty"`
	Host    string    `json:"host,omitempty"`
	PID     int       `json:"pid,omitempty"`
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started"`
}

// DefaultProxyTTL is how long a proxy's registration outlives its last
// keep-alive.
const DefaultProxyTTL = 10 * time.Second

// Register keeps info under P/proxies/<info.ID> on a lease of ttl seconds
// until ctx ends, then revokes it. When etcd is unreachable or the lease is
// lost, it retries. It returns when ctx ends.
func (e *Etcd) Register(ctx context.Context, info ProxyInfo, ttl time.Duration, log *zap.Logger) {
	if log == nil {
		log = zap.NewNop()
	}
	if ttl < 2*time.Second {
		ttl = 2 * time.Second
	}
	key := e.prefix + etcdProxies + info.ID
	val, _ := json.Marshal(info)
	backoff := newBackoff()
	for ctx.Err() == nil {
		id, err := e.registerOnce(ctx, key, string(val), ttl)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("etcd: cannot register this proxy; retrying", zap.String("key", key), zap.Error(err))
				backoff.wait(ctx)
			}
			continue
		}
		backoff.reset()
		ch, err := e.cli.KeepAlive(ctx, id)
		if err == nil {
			for range ch { // drained until the lease is lost or ctx ends
			}
		}
		if ctx.Err() != nil {
			rctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, _ = e.cli.Revoke(rctx, id)
			cancel()
			return
		}
		log.Warn("etcd: this proxy's registration lease was lost; registering again", zap.String("key", key))
		backoff.wait(ctx)
	}
}

func (e *Etcd) registerOnce(ctx context.Context, key, val string, ttl time.Duration) (clientv3.LeaseID, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.DialTimeout)
	defer cancel()
	g, err := e.cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, e.wrap(err)
	}
	if _, err := e.cli.Put(ctx, key, val, clientv3.WithLease(g.ID)); err != nil {
		return 0, e.wrap(err)
	}
	return g.ID, nil
}

// Proxies lists the registered (live) proxies, by ID.
func (e *Etcd) Proxies(ctx context.Context) ([]ProxyInfo, error) {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.prefix+etcdProxies, clientv3.WithPrefix())
	if err != nil {
		return nil, e.wrap(err)
	}
	var out []ProxyInfo
	for _, kv := range resp.Kvs {
		var p ProxyInfo
		if json.Unmarshal(kv.Value, &p) != nil || p.ID == "" {
			p = ProxyInfo{ID: strings.TrimPrefix(string(kv.Key), e.prefix+etcdProxies)}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// SchemaNotice tells the other proxies that one ran DDL on an auto_vschema
// keyspace: they re-read its tables. Tables lists what the writer derived
// (table -> "column" or "column seq=<sequence>"), for people reading etcd.
type SchemaNotice struct {
	Proxy  string            `json:"proxy"`
	At     time.Time         `json:"at"`
	Tables map[string]string `json:"tables,omitempty"`
}

// PutSchemaNotice writes P/schema/<keyspace>.
func (e *Etcd) PutSchemaNotice(ctx context.Context, keyspace string, n SchemaNotice) error {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	val, _ := json.Marshal(n)
	_, err := e.cli.Put(ctx, e.prefix+etcdSchema+keyspace, string(val))
	return e.wrap(err)
}

// backoff waits 100ms, doubling to 5s, between retries.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }

func (b *backoff) reset() { b.d = 100 * time.Millisecond }

func (b *backoff) wait(ctx context.Context) {
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	b.d = min(2*b.d, 5*time.Second)
}
