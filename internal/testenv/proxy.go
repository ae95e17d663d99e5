package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver for tests
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/proxy"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/vindex"
)

// Proxy is a shardgate running inside the test process.
type Proxy struct {
	Addr   string
	Config *config.Config
	Router *router.Router
	HA     *ha.Manager   // the HA layer (prober, failover, buffer)
	Server *proxy.Server // the MySQL front end
	Path   string        // the configuration file (StartProxyYAML)

	// With Options.Ops: the metrics and the admin endpoints, wired as
	// serve wires them; HTTP serves the admin handler.
	Metrics *metrics.Metrics
	Admin   *admin.Server
	HTTP    *httptest.Server

	stop context.CancelFunc
	done chan error
}

// Options tune RunProxyWith.
type Options struct {
	// Etcd, when set, is where the HA layer records primaries and terms and
	// takes its recovery lock (several proxies share it).
	Etcd *topo.Etcd
	// ID names the proxy in etcd records.
	ID string
	// BeforeStep is the HA layer's test hook (ha.Config.BeforeStep).
	BeforeStep func(ctx context.Context, keyspace, shard, step string)
	// LockTTL is ha.Config.LockTTL.
	LockTTL time.Duration
	// TwoPC configures the two-phase-commit resolver (zero: the TwoPC
	// variable's).
	TwoPC *txn.Config
	Log   *zap.Logger
	// Ops wires metrics and the admin HTTP endpoints (Proxy.Metrics,
	// .Admin, .HTTP).
	Ops bool
}

// Topology describes a test deployment: a global (unsharded) keyspace
// "commerce" on Global and a sharded keyspace "customer" with one shard per
// server in Shards (named -80,80- for 2; -40,40-80,80-c0,c0- for 4).
type Topology struct {
	Global  *mariadbd.Server
	Shards  []*mariadbd.Server
	VSchema string // YAML of the customer keyspace's vschema (indented by 6 spaces is not needed: it is re-indented)
	Extra   string // extra top-level YAML (limits, pool...)
	// ShardUser and ShardPassword are the account the proxy uses on the
	// shards (default root with an empty password).
	ShardUser, ShardPassword string
	// NoAutoVSchema leaves auto_vschema off for customer: only the tables
	// its vschema lists are routable, and the proxy creates no sequences.
	NoAutoVSchema bool
}

// ShardNames returns Vitess key-range names for n equal shards.
func ShardNames(n int) []string {
	if n == 1 {
		return []string{"0"}
	}
	names := make([]string, n)
	step := 256 / n
	for i := range names {
		start, end := "", ""
		if i > 0 {
			start = fmt.Sprintf("%02x", i*step)
		}
		if i < n-1 {
			end = fmt.Sprintf("%02x", (i+1)*step)
		}
		names[i] = start + "-" + end
	}
	return names
}

// YAML renders the configuration file. Every shard uses database
// "customer"; the global keyspace uses "commerce". Users: app/secret (all),
// reader/reader (read-only).
func (t Topology) YAML() string {
	var b strings.Builder
	b.WriteString("listen:\n  mysql: 127.0.0.1:0\n  http: 127.0.0.1:0\n")
	b.WriteString("users:\n  - name: app\n    password: secret\n  - name: reader\n    password: reader\n    read_only: true\n")
	b.WriteString("default_keyspace: customer\nglobal_keyspace: commerce\n")
	b.WriteString(t.Extra)
	user := t.ShardUser
	if user == "" {
		user = "root"
	}
	account := fmt.Sprintf("user: %s, password: %q", user, t.ShardPassword)
	b.WriteString("\nkeyspaces:\n  commerce:\n    sharded: false\n    shards:\n")
	fmt.Fprintf(&b, "      \"0\": {host: 127.0.0.1, port: %d, %s, database: commerce}\n", t.Global.Port, account)
	fmt.Fprintf(&b, "  customer:\n    sharded: true\n    auto_vschema: %v\n    shards:\n", !t.NoAutoVSchema)
	for i, name := range ShardNames(len(t.Shards)) {
		fmt.Fprintf(&b, "      %q: {host: 127.0.0.1, port: %d, %s, database: customer}\n", name, t.Shards[i].Port, account)
	}
	b.WriteString("    vschema:\n")
	for _, line := range strings.Split(strings.TrimRight(t.VSchema, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

// StartProxy creates the databases, writes the config of t and starts a
// proxy on a free port; it stops when the test ends.
func StartProxy(tb testing.TB, t Topology) *Proxy {
	tb.Helper()
	ctx := context.Background()
	if err := t.Global.Exec(ctx, "CREATE DATABASE IF NOT EXISTS commerce"); err != nil {
		tb.Fatal(err)
	}
	for _, s := range t.Shards {
		if err := s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS customer"); err != nil {
			tb.Fatal(err)
		}
	}
	return StartProxyYAML(tb, t.YAML())
}

// StartProxyYAML writes yaml as a configuration file and starts a proxy for
// it; it stops when the test ends.
func StartProxyYAML(tb testing.TB, yaml string) *Proxy {
	tb.Helper()
	return StartProxyYAMLWith(tb, yaml, Options{})
}

// StartProxyYAMLWith is StartProxyYAML with Options.
func StartProxyYAMLWith(tb testing.TB, yaml string, o Options) *Proxy {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "shardgate.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := RunProxyWith(cfg, o)
	if err != nil {
		tb.Fatal(err)
	}
	p.Path = path
	tb.Cleanup(p.Stop)
	return p
}

// TwoPC configures the two-phase-commit resolver of the proxies RunProxy
// starts (zero values: txn's defaults).
var TwoPC txn.Config

// RunProxy starts a proxy for cfg (its listen address may use port 0).
func RunProxy(cfg *config.Config) (*Proxy, error) { return RunProxyWith(cfg, Options{}) }

// RunProxyWith is RunProxy with Options.
func RunProxyWith(cfg *config.Config, o Options) (*Proxy, error) {
	ln, err := net.Listen("tcp", cfg.Listen.MySQL)
	if err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
		if os.Getenv("SHARDGATE_TEST_LOG") != "" {
			log, _ = zap.NewDevelopment()
		}
	}
	r := router.New(cfg, log)
	ctx, cancel := context.WithCancel(context.Background())
	// The HA layer, as serve runs it.
	hc := ha.Config{HA: cfg.HA, Snapshot: r.Snapshot, Pools: r.Pools, Etcd: o.Etcd, ProxyID: o.ID, Log: log,
		BeforeStep: o.BeforeStep, LockTTL: o.LockTTL}
	if hc.ProxyID == "" {
		hc.ProxyID = ln.Addr().String()
	}
	hc.ResolvePrepared = func(ctx context.Context, q ha.Querier) (string, error) {
		if c := r.Coordinator(); c != nil {
			return c.ResolveOn(ctx, q)
		}
		return "no coordinator", nil
	}
	hm := ha.New(hc)
	r.SetHA(hm)
	r.SetHolder(hm) // statements held by a traffic switch wait in the same buffer
	hm.Start(ctx)
	r.LoadSchema(ctx)
	srv := proxy.New(cfg, r, log)
	p := &Proxy{Addr: ln.Addr().String(), Config: cfg, Router: r, HA: hm, Server: srv, stop: cancel, done: make(chan error, 1)}
	if o.Ops {
		p.wireOps(log)
	}
	resolverDone := make(chan struct{})
	if c := r.Coordinator(); c != nil { // the two-phase-commit resolver, as in serve
		tc := TwoPC
		if o.TwoPC != nil {
			tc = *o.TwoPC
		}
		res := txn.NewResolver(c, r.Pools, tc, log)
		go func() {
			defer close(resolverDone)
			res.Run(ctx)
		}()
	} else {
		close(resolverDone)
	}
	go func() {
		err := srv.Serve(ctx, ln, 5*time.Second)
		<-resolverDone
		hm.Close()
		r.Close()
		p.done <- err
	}()
	return p, nil
}

// wireOps adds metrics and the admin endpoints, as serve's startOps does.
func (p *Proxy) wireOps(log *zap.Logger) {
	m := metrics.New(p.Router, log)
	m.SetSlowQueryThreshold(p.Config.SlowQueryLog.Threshold)
	p.Router.SetObserver(m)
	p.Server.SetHooks(m)
	p.Server.SetDeadlockObserver(m)
	a := admin.New(p.Server, p.Router, m, log, "test")
	a.SetHA(p.HA)
	p.Metrics, p.Admin, p.HTTP = m, a, httptest.NewServer(a.Handler())
}

// Stop stops the proxy and waits for it.
func (p *Proxy) Stop() { _, _ = p.StopWithin(0) }

// StopWithin stops the proxy as SIGTERM stops serve (drain, then close)
// and waits up to within (0: no bound) for it: how long the drain took,
// and Serve's error or the drain's overrun.
func (p *Proxy) StopWithin(within time.Duration) (time.Duration, error) {
	if p.stop == nil {
		return 0, nil
	}
	if p.HTTP != nil {
		p.HTTP.Close()
	}
	start := time.Now()
	p.stop()
	p.stop = nil
	var bound <-chan time.Time
	if within > 0 {
		t := time.NewTimer(within)
		defer t.Stop()
		bound = t.C
	}
	select {
	case err := <-p.done:
		return time.Since(start), err
	case <-bound:
		return time.Since(start), fmt.Errorf("the drain did not finish within %s", within)
	}
}

// DSN is a go-sql-driver DSN for user app on keyspace db.
func (p *Proxy) DSN(db string, params ...string) string {
	return DSN(p.Addr, "app", "secret", db, params...)
}

// DSN is a go-sql-driver DSN for user:pw at addr on db.
func DSN(addr, user, pw, db string, params ...string) string {
	d := user + ":" + pw + "@tcp(" + addr + ")/" + db
	if len(params) > 0 {
		d += "?" + strings.Join(params, "&")
	}
	return d
}

// OpenDB opens a database/sql handle for dsn; it is closed with the test.
func OpenDB(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	h, err := sql.Open("mysql", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// DB opens a database/sql handle through the proxy.
func (p *Proxy) DB(tb testing.TB, db string, params ...string) *sql.DB {
	tb.Helper()
	return OpenDB(tb, p.DSN(db, params...))
}

// ShardOf returns the index into names (Vitess key-range shard names) of
// the shard that owns id under the hash vindex.
func ShardOf(id any, names []string) (int, error) {
	h, err := vindex.New("hash", nil)
	if err != nil {
		return -1, err
	}
	ksid, err := h.Map(id)
	if err != nil {
		return -1, err
	}
	for i, n := range names {
		kr, err := vindex.ParseKeyRange(n)
		if err != nil {
			return -1, err
		}
		if kr.Contains(ksid) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("no shard of %v owns keyspace id %x of %v", names, ksid, id)
}
