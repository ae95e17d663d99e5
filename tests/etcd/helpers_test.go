// Package etcd tests the topology shared through etcd: an embedded etcd
// (go.etcd.io/etcd/server/v3/embed) on free loopback ports, real mariadbd
// servers, and several proxies in this process following the same prefix.
package etcd

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/internal/testetcd"
	"github.com/shardgate/shardgate/proxy"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/vindex"
)

// servers: 0 = global keyspace, 1-2 = customer shards -80 and 80-, 3 = a
// spare server a shard moves to.
var servers []*mariadbd.Server

func TestMain(m *testing.M) {
	code := testenv.Main(m, 4, &servers)
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath)) // cli_test.go's build
	}
	os.Exit(code)
}

// logger returns a logger that records what it logs (at info and above), and
// also prints it when SHARDGATE_TEST_LOG is set.
func logger() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	if os.Getenv("SHARDGATE_TEST_LOG") != "" {
		dev, _ := zap.NewDevelopment()
		core = zapcore.NewTee(core, dev.Core())
	}
	return zap.New(core), logs
}

// etcdServer is an embedded single-member etcd that can be stopped and
// started again on the same ports and data.
type etcdServer struct{ *testetcd.Server }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startEtcd(t testing.TB) *etcdServer {
	t.Helper()
	return &etcdServer{testetcd.ForTest(t)}
}

func (s *etcdServer) start() {
	if err := s.Restart(); err != nil {
		panic(fmt.Sprintf("embedded etcd: %v", err)) // the test's goroutine has stopped it; no t here
	}
}

func (s *etcdServer) stop() { s.Stop() }

func (s *etcdServer) endpoint() string { return s.Endpoint() }

// cluster is one test's deployment: databases named after the test on the
// shared MariaDB servers, and an etcd prefix.
type cluster struct {
	t      *testing.T
	etcd   *etcdServer
	prefix string
	db     string // database name prefix: <db>_commerce, <db>_customer
	admin  *topo.Etcd
	dir    string
}

func newCluster(t *testing.T) *cluster {
	testenv.RequireMariaDB(t)
	name := strings.ToLower(strings.TrimPrefix(t.Name(), "Test"))
	c := &cluster{t: t, etcd: startEtcd(t), prefix: "/sg_" + name, db: "e_" + name, dir: t.TempDir()}
	ctx := context.Background()
	if err := servers[0].Exec(ctx, "DROP DATABASE IF EXISTS "+c.db+"_commerce", "CREATE DATABASE "+c.db+"_commerce"); err != nil {
		t.Fatal(err)
	}
	for _, s := range servers[1:] {
		if err := s.Exec(ctx, "DROP DATABASE IF EXISTS "+c.db+"_customer", "CREATE DATABASE "+c.db+"_customer"); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	c.admin, err = topo.DialEtcd(topo.EtcdConfig{Endpoints: []string{c.etcd.endpoint()}, Prefix: c.prefix, DialTimeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.admin.Close() })
	return c
}

const testVSchema = `
      vindexes: {hash: {type: hash}}
      tables:
        customer: {column_vindexes: [{column: customer_id, name: hash}]}
`

// seedYAML is a config file with the test's keyspaces, as an operator would
// upload it with `shardgate topo put`.
func (c *cluster) seedYAML() string {
	return fmt.Sprintf(`global_keyspace: commerce
keyspaces:
  commerce:
    sharded: false
    shards:
      "0": {host: 127.0.0.1, port: %d, user: root, password: "", database: %s_commerce}
  customer:
    sharded: true
    auto_vschema: true
    shards:
      "-80": {host: 127.0.0.1, port: %d, user: root, password: "", database: %s_customer}
      "80-": {host: 127.0.0.1, port: %d, user: root, password: "", database: %s_customer}
    vschema:%s`, servers[0].Port, c.db, servers[1].Port, c.db, servers[2].Port, c.db, testVSchema)
}

func (c *cluster) writeFile(name, text string) string {
	c.t.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// put uploads the seed config's keyspaces: the code path of `topo put`.
func (c *cluster) put() {
	c.t.Helper()
	path := c.writeFile("seed.yaml", c.seedYAML())
	docs, cfg, err := config.ExportKeyspaces(path)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := topo.PutKeyspaceDocs(context.Background(), c.admin, docs, topo.SnapshotOptions{GlobalKeyspace: cfg.GlobalKeyspace}, false); err != nil {
		c.t.Fatal(err)
	}
}

// doc reads a keyspace document.
func (c *cluster) doc(name string) *topo.KeyspaceDoc {
	c.t.Helper()
	data, _, err := c.admin.Keyspace(context.Background(), name)
	if err != nil {
		c.t.Fatal(err)
	}
	d, err := topo.ParseKeyspaceDoc(data)
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

// rawPut writes a document as is, unchecked (as etcdctl would).
func (c *cluster) rawPut(name string, doc []byte) {
	c.t.Helper()
	if err := c.admin.PutKeyspaces(context.Background(), map[string][]byte{name: doc}, false); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) proxyConfig(cacheFile string) string {
	extra := ""
	if cacheFile != "" {
		extra = ", cache_file: " + cacheFile
	}
	return fmt.Sprintf(`listen: {mysql: "127.0.0.1:0", http: "127.0.0.1:0"}
users:
  - {name: app, password: secret}
default_keyspace: customer
global_keyspace: commerce
topology:
  source: etcd
  etcd: {endpoints: [%s], prefix: %s, dial_timeout: 2s%s}
`, c.etcd.endpoint(), c.prefix, extra)
}

// testProxy is a proxy in this process following the cluster's prefix.
type testProxy struct {
	Addr   string
	R      *router.Router
	W      *topo.Watcher
	Logs   *observer.ObservedLogs
	cancel context.CancelFunc
	done   chan struct{}
}

// startProxy starts a proxy as `shardgate serve` does with topology.source
// etcd; it stops when the test ends.
func (c *cluster) startProxy(cacheFile string) (*testProxy, error) {
	c.t.Helper()
	path := c.writeFile(fmt.Sprintf("proxy-%d.yaml", time.Now().UnixNano()), c.proxyConfig(cacheFile))
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	log, logs := logger()
	ln, err := net.Listen("tcp", cfg.Listen.MySQL)
	if err != nil {
		return nil, err
	}
	e, err := topo.DialEtcd(cfg.Topology.Etcd, log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	id := "test-" + ln.Addr().String()
	w := topo.NewWatcher(e, cfg.GlobalKeyspace, id, log)
	ctx, cancel := context.WithCancel(context.Background())
	lctx, lcancel := context.WithTimeout(ctx, cfg.Topology.Etcd.DialTimeout)
	snap, err := w.Load(lctx)
	lcancel()
	if err != nil {
		cancel()
		ln.Close()
		e.Close()
		return nil, err
	}
	cfg.Keyspaces = snap
	r := router.New(cfg, log)
	r.LoadSchema(ctx)
	wait := r.FollowEtcd(ctx, w)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.Register(ctx, topo.ProxyInfo{ID: id, MySQL: ln.Addr().String(), PID: os.Getpid(), Started: time.Now()}, 3*time.Second, log)
	}()
	srv := proxy.New(cfg, r, log)
	p := &testProxy{Addr: ln.Addr().String(), R: r, W: w, Logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = srv.Serve(ctx, ln, 5*time.Second)
		wait()
		wg.Wait()
		r.Close()
		e.Close()
	}()
	c.t.Cleanup(p.stop)
	return p, nil
}

func (c *cluster) mustProxy(cacheFile string) *testProxy {
	c.t.Helper()
	p, err := c.startProxy(cacheFile)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (p *testProxy) stop() {
	p.cancel()
	<-p.done
}

func (p *testProxy) db(t testing.TB) *sql.DB {
	t.Helper()
	h, err := sql.Open("mysql", "app:secret@tcp("+p.Addr+")/customer?interpolateParams=true&timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	h.SetMaxIdleConns(8)
	t.Cleanup(func() { h.Close() })
	return h
}

func mustExec(t testing.TB, db interface {
	Exec(string, ...any) (sql.Result, error)
}, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// direct opens a shard server's database without the proxy.
func direct(t testing.TB, s *mariadbd.Server, db string) *sql.DB {
	t.Helper()
	h, err := s.DB(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func count(t testing.TB, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// eventually polls cond every 10ms for up to d and returns how long it took.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shardIndex is the index of the shard (of -80, 80-) the hash vindex puts id on.
func shardIndex(t testing.TB, id int64) int {
	t.Helper()
	h, _ := vindex.New("hash", nil)
	ksid, err := h.Map(id)
	if err != nil {
		t.Fatal(err)
	}
	if ksid[0] < 0x80 {
		return 0
	}
	return 1
}

// idOn returns an id >= from that the hash vindex puts on shard idx.
func idOn(t testing.TB, idx int, from int64) int64 {
	for id := from; ; id++ {
		if shardIndex(t, id) == idx {
			return id
		}
	}
}

// load runs client traffic (reads and writes of customer rows) through the
// proxies until stopped, and counts failed queries.
type load struct {
	stopc  chan struct{}
	wg     sync.WaitGroup
	ok     atomic.Int64
	failed atomic.Int64
	mu     sync.Mutex
	errs   []string
}

func startLoad(t *testing.T, base int64, dbs ...*sql.DB) *load {
	l := &load{stopc: make(chan struct{})}
	for i, db := range dbs {
		for g := 0; g < 2; g++ {
			l.wg.Add(1)
			go func(db *sql.DB, worker int64) {
				defer l.wg.Done()
				id := base + worker*1_000_000
				for n := 0; ; n++ {
					select {
					case <-l.stopc:
						return
					default:
					}
					var err error
					if n%2 == 0 {
						id++
						_, err = db.Exec("INSERT INTO customer (customer_id, name) VALUES (?, ?)", id, fmt.Sprintf("load-%d", id))
					} else {
						var name string
						err = db.QueryRow("SELECT name FROM customer WHERE customer_id = ?", id).Scan(&name)
					}
					if err != nil {
						l.failed.Add(1)
						l.mu.Lock()
						if len(l.errs) < 10 {
							l.errs = append(l.errs, err.Error())
						}
						l.mu.Unlock()
					} else {
						l.ok.Add(1)
					}
					time.Sleep(2 * time.Millisecond)
				}
			}(db, int64(i*2+g))
		}
	}
	return l
}

// stop stops the traffic and fails the test if a query failed.
func (l *load) stop(t *testing.T) {
	t.Helper()
	close(l.stopc)
	l.wg.Wait()
	if l.failed.Load() > 0 {
		t.Errorf("%d of %d client queries failed: %v", l.failed.Load(), l.failed.Load()+l.ok.Load(), l.errs)
	}
	if l.ok.Load() == 0 {
		t.Errorf("no client query succeeded")
	}
	t.Logf("load: %d queries, %d failed", l.ok.Load()+l.failed.Load(), l.failed.Load())
}
