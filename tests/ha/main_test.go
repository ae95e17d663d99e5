// Package ha tests high availability with real MariaDB GTID replication
// groups: reads on replicas, failover of a killed (kill -9) or hung
// (SIGSTOP) primary under load through one or two proxies, the bank test
// with a participant's primary killed, a proxy killed while it leads a
// recovery, and a returning old primary that diverged. Every test checks the
// data: each acknowledged write is on the new primary, nothing is applied
// twice, no prepared XA branch is left.
package ha

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/internal/testetcd"
	"github.com/shardgate/shardgate/topo"
)

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// cluster is one test's deployment: a global server (keyspace commerce) and
// one replication group per customer shard.
type cluster struct {
	t      *testing.T
	global *mariadbd.Server
	groups []*mariadbd.Group
	names  []string // shard names
	mode   string   // transaction_mode
	extra  string   // more top-level YAML
	ha     string   // the ha section's body
}

const vschema = `      vindexes: {hash: {type: hash}}
      tables:
        t: {column_vindexes: [{column: id, name: hash}]}
        accounts: {column_vindexes: [{column: id, name: hash}]}
        ledger: {column_vindexes: [{column: account_id, name: hash}]}
`

// defaultHA is the test's ha section: fast probes, failover on, no block.
const defaultHA = `  failover: auto
  replication: {user: repl, password: repl}
  admin: {user: root, password: ""}
  probe_interval: 100ms
  probe_timeout: 1s
  buffer_window: 10s
  replica_max_lag: 1s
  recovery_block_period: 0s
  relay_wait_timeout: 20s
`

// newCluster starts a global server and len(sizes) groups (sizes[i]
// servers for shard i), creates the databases and tables t, accounts,
// ledger.
func newCluster(t *testing.T, mode string, sizes ...int) *cluster {
	t.Helper()
	testenv.RequireMariaDB(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := &cluster{t: t, mode: mode, names: testenv.ShardNames(len(sizes)), ha: defaultHA}
	var wg sync.WaitGroup
	errs := make([]error, len(sizes)+1)
	c.groups = make([]*mariadbd.Group, len(sizes))
	for i, n := range sizes {
		wg.Go(func() {
			c.groups[i], errs[i] = mariadbd.StartGroup(ctx, filepath.Join(dir, fmt.Sprintf("g%d", i)), n, i+1)
		})
	}
	wg.Go(func() { c.global, errs[len(sizes)] = mariadbd.Start(ctx, filepath.Join(dir, "global")) })
	wg.Wait()
	t.Cleanup(func() {
		for _, g := range c.groups {
			if g != nil {
				for _, s := range g.Servers {
					_ = s.Resume() // a paused server cannot be killed cleanly otherwise
				}
				g.Kill()
			}
		}
		if c.global != nil {
			c.global.Kill()
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := c.global.Exec(ctx, "CREATE DATABASE commerce"); err != nil {
		t.Fatal(err)
	}
	for _, g := range c.groups {
		if err := g.Primary().Exec(ctx, "CREATE DATABASE customer",
			"CREATE TABLE customer.t (id BIGINT PRIMARY KEY, v VARCHAR(40), p INT NOT NULL DEFAULT 0)",
			"CREATE TABLE customer.accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)",
			"CREATE TABLE customer.ledger (account_id BIGINT NOT NULL, transfer_id BIGINT NOT NULL, delta BIGINT NOT NULL, PRIMARY KEY (account_id, transfer_id))"); err != nil {
			t.Fatal(err)
		}
		if err := g.WaitCaughtUp(ctx, g.Primary()); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *cluster) resumeAll() {
	for _, g := range c.groups {
		for _, s := range g.Servers {
			if s.Running() {
				_ = s.Resume()
			}
		}
	}
}

// yaml is the proxy configuration of the cluster.
func (c *cluster) yaml() string {
	var b strings.Builder
	b.WriteString("listen: {mysql: 127.0.0.1:0, http: 127.0.0.1:0}\n")
	b.WriteString("users:\n  - {name: app, password: secret}\n  - {name: limited, password: limited, keyspaces: [commerce]}\n  - {name: ops, password: opspw, admin: true}\n")
	b.WriteString("default_keyspace: customer\nglobal_keyspace: commerce\n")
	fmt.Fprintf(&b, "transaction_mode: %s\npool: {connect_timeout: 1s, wait_timeout: 10s}\n", c.mode)
	b.WriteString(c.extra)
	b.WriteString("ha:\n" + c.ha)
	b.WriteString("keyspaces:\n  commerce:\n    sharded: false\n    shards:\n")
	fmt.Fprintf(&b, "      \"0\": {host: 127.0.0.1, port: %d, user: root, password: \"\", database: commerce}\n", c.global.Port)
	b.WriteString("  customer:\n    sharded: true\n    shards:\n")
	for i, g := range c.groups {
		fmt.Fprintf(&b, "      %q: {servers: [\"%s\"], user: %s, password: \"\", database: customer}\n", c.names[i], strings.Join(g.Addrs(), `", "`), mariadbd.AppUser)
	}
	b.WriteString("    vschema:\n" + vschema)
	return b.String()
}

func (c *cluster) config() *config.Config {
	c.t.Helper()
	path := filepath.Join(c.t.TempDir(), "shardgate.yaml")
	if err := os.WriteFile(path, []byte(c.yaml()), 0o600); err != nil {
		c.t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, c.yaml())
	}
	return cfg
}

// proxy starts an in-process proxy on the cluster; it stops when the test ends.
func (c *cluster) proxy(o testenv.Options) *testenv.Proxy {
	c.t.Helper()
	if o.Log == nil && os.Getenv("SHARDGATE_TEST_LOG") != "" {
		o.Log, _ = zap.NewDevelopment()
	}
	p, err := testenv.RunProxyWith(c.config(), o)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		c.resumeAll() // sessions waiting on a paused server would hold the proxy's drain
		p.Stop()
	})
	return p
}

// shardOf is the index of the shard holding id.
func (c *cluster) shardOf(id int64) int {
	i, err := testenv.ShardOf(id, c.names)
	if err != nil {
		c.t.Fatal(err)
	}
	return i
}

// idsOn returns n ids (from start) that the hash vindex places on shard i.
func (c *cluster) idsOn(i int, start int64, n int) []int64 {
	var ids []int64
	for id := start; len(ids) < n; id++ {
		if c.shardOf(id) == i {
			ids = append(ids, id)
		}
	}
	return ids
}

func testOptions() testenv.Options { return testenv.Options{} }

func sqlOpen(dsn string) (*sql.DB, error) { return sql.Open("mysql", dsn) }

// open returns a database/sql handle through a proxy.
func open(t *testing.T, p *testenv.Proxy, db string, params ...string) *sql.DB {
	t.Helper()
	params = append([]string{"interpolateParams=true", "timeout=2s", "readTimeout=30s", "writeTimeout=5s"}, params...)
	h, err := sql.Open("mysql", p.DSN(db, params...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// direct opens a handle on one server as root.
func direct(t *testing.T, s *mariadbd.Server) *sql.DB {
	t.Helper()
	h, err := sql.Open("mysql", s.DSN("customer")+"&timeout=2s&readTimeout=10s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// primaryOf returns the server of group g the proxy routes writes to.
func primaryOf(t *testing.T, p *testenv.Proxy, g *mariadbd.Group, shard string) *mariadbd.Server {
	t.Helper()
	for _, s := range p.HA.Shards() {
		if s.Keyspace == "customer" && s.Shard == shard {
			for _, srv := range g.Servers {
				if srv.Addr() == s.Primary {
					return srv
				}
			}
			t.Fatalf("shard %s: primary %q is not a server of the group", shard, s.Primary)
		}
	}
	t.Fatalf("shard %s not reported", shard)
	return nil
}

// roleOf is the role the proxy reports for a server.
func roleOf(p *testenv.Proxy, shard, addr string) string {
	for _, s := range p.HA.Shards() {
		if s.Keyspace == "customer" && s.Shard == shard {
			for _, srv := range s.Servers {
				if srv.Addr == addr {
					return srv.Role
				}
			}
		}
	}
	return ""
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mysqlErr(err error) *mysql.MySQLError {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me
	}
	return nil
}

// errKind names an error for the tallies: its MySQL code, or "io".
func errKind(err error) string {
	if me := mysqlErr(err); me != nil {
		return fmt.Sprint(me.Number)
	}
	return "io: " + err.Error()
}

// etcdServer is an embedded single-member etcd.
type etcdServer struct{ endpoint string }

func startEtcd(t *testing.T) *etcdServer {
	t.Helper()
	return &etcdServer{endpoint: testetcd.ForTest(t).Endpoint()}
}

// client dials etcd for one proxy (each has its own, as separate processes
// would).
func (s *etcdServer) client(t *testing.T, prefix string) *topo.Etcd {
	t.Helper()
	e, err := topo.DialEtcd(topo.EtcdConfig{Endpoints: []string{s.endpoint}, Prefix: prefix, DialTimeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
