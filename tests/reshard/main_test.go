// Package reshard tests the online workflows (Reshard, MoveTables) end to
// end: real mariadbd servers with binary logs, an embedded etcd, and
// proxies as their own OS processes (the shardgate binary, built by
// TestMain), driven through the CLI as an operator would, while clients
// write through the proxies. The runner of a workflow is killed with
// SIGKILL in some tests.
package reshard

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/internal/testetcd"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/vindex"
	"github.com/shardgate/shardgate/workflow"
)

// servers: 0 = the global keyspace, 1-4 shard servers (each may hold
// several shards' databases).
var servers []*mariadbd.Server

var shardgateBin string

func TestMain(m *testing.M) {
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	if testenv.Skipped() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "shardgate-reshard-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if shardgateBin, err = testenv.BuildShardgate(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testenv.MainWithOptions(m, 5, mariadbd.Options{Binlog: true, Args: []string{"--max-allowed-packet=64M"}}, &servers)
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd starts an embedded etcd for the test.
func startEtcd(t *testing.T) string { return testetcd.ForTest(t).Endpoint() }

// shardSpec places one shard: a server and a database on it.
type shardSpec struct {
	name    string
	server  int
	db      string
	serving bool
}

// cluster is one test's deployment: databases named after the test, an
// etcd, proxies.
type cluster struct {
	t          *testing.T
	name       string
	etcd       string
	etcdServer *testetcd.Server
	prefix     string
	gdb        string // the global keyspace's database
	dir        string
	admin      *topo.Etcd
	shards     []shardSpec // customer's shards, as declared
	extra      string      // more YAML for the proxies' config (workflow: …)
	hash       vindex.Vindex

	mu      sync.Mutex
	proxies []*proxyProc
}

func newCluster(t *testing.T, shards []shardSpec) *cluster {
	t.Helper()
	testenv.RequireMariaDB(t)
	name := strings.ToLower(strings.TrimPrefix(t.Name(), "Test"))
	c := &cluster{t: t, name: name, prefix: "/sg_" + name, gdb: "g_" + name, dir: t.TempDir(), shards: shards}
	c.etcdServer = testetcd.ForTest(t)
	c.etcd = c.etcdServer.Endpoint()
	c.hash, _ = vindex.New("hash", nil)
	ctx := context.Background()
	if err := servers[0].Exec(ctx, "DROP DATABASE IF EXISTS "+c.gdb, "CREATE DATABASE "+c.gdb); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range shards {
		key := fmt.Sprintf("%d/%s", s.server, s.db)
		if seen[key] {
			continue
		}
		seen[key] = true
		if err := servers[s.server].Exec(ctx, "DROP DATABASE IF EXISTS "+s.db, "CREATE DATABASE "+s.db); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	c.admin, err = topo.DialEtcd(topo.EtcdConfig{Endpoints: []string{c.etcd}, Prefix: c.prefix, DialTimeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.admin.Close() })
	return c
}

const customerVSchema = `
      vindexes: {hash: {type: hash}}
      tables:
        accounts: {column_vindexes: [{column: id, name: hash}]}
        ledger: {column_vindexes: [{column: account_id, name: hash}]}
        events: {column_vindexes: [{column: id, name: hash}]}
`

// topologyYAML is the keyspaces as an operator writes them for topo put.
func (c *cluster) topologyYAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_keyspace: commerce\nkeyspaces:\n  commerce:\n    sharded: false\n    shards:\n      \"0\": {host: 127.0.0.1, port: %d, user: root, password: \"\", database: %s}\n", servers[0].Port, c.gdb)
	b.WriteString("  customer:\n    sharded: true\n    shards:\n")
	for _, s := range c.shards {
		serving := ""
		if !s.serving {
			serving = ", serving: false"
		}
		fmt.Fprintf(&b, "      %q: {host: 127.0.0.1, port: %d, user: root, password: \"\", database: %s%s}\n", s.name, servers[s.server].Port, s.db, serving)
	}
	b.WriteString("    vschema:" + customerVSchema)
	return b.String()
}

// put uploads the keyspaces (topo put).
func (c *cluster) put() {
	c.t.Helper()
	p := filepath.Join(c.dir, "topology.yaml")
	if err := os.WriteFile(p, []byte(c.topologyYAML()), 0o600); err != nil {
		c.t.Fatal(err)
	}
	docs, cfg, err := config.ExportKeyspaces(p)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := topo.PutKeyspaceDocs(context.Background(), c.admin, docs, topo.SnapshotOptions{GlobalKeyspace: cfg.GlobalKeyspace}, false); err != nil {
		c.t.Fatal(err)
	}
}

// putDoc rewrites customer's document with fn (as an operator editing it).
func (c *cluster) editDoc(name string, fn func(d *topo.KeyspaceDoc)) {
	c.t.Helper()
	data, rev, err := c.admin.Keyspace(context.Background(), name)
	if err != nil {
		c.t.Fatal(err)
	}
	d, err := topo.ParseKeyspaceDoc(data)
	if err != nil {
		c.t.Fatal(err)
	}
	fn(d)
	ok, err := c.admin.PutKeyspaceIf(context.Background(), name, d.Marshal(), rev)
	if err != nil || !ok {
		c.t.Fatalf("put %s: %v %v", name, ok, err)
	}
}

// shardDB opens a shard's database directly.
func (c *cluster) shardDB(s shardSpec) *sql.DB {
	c.t.Helper()
	db, err := servers[s.server].DB(s.db)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { db.Close() })
	return db
}

func (c *cluster) spec(name string) shardSpec {
	for _, s := range c.shards {
		if s.name == name {
			return s
		}
	}
	c.t.Fatalf("no shard %s", name)
	return shardSpec{}
}

// proxyProc is a shardgate serve process.
type proxyProc struct {
	c      *cluster
	n      int
	config string
	mysql  string
	http   string
	logf   string
	cmd    *exec.Cmd
	done   chan struct{}
	starts int
}

func (c *cluster) proxyConfig(mysqlAddr, httpAddr string) string {
	return fmt.Sprintf(`listen: {mysql: %q, http: %q}
users:
  - {name: app, password: secret}
  - {name: ops, password: ops, admin: true}
default_keyspace: customer
global_keyspace: commerce
transaction_mode: twopc
topology:
  source: etcd
  etcd: {endpoints: [%s], prefix: %s, dial_timeout: 2s}
pool: {size: 32}
%s`, mysqlAddr, httpAddr, c.etcd, c.prefix, c.extra)
}

// startProxy starts a proxy process; it is killed when the test ends.
func (c *cluster) startProxy() *proxyProc { return c.startProxyWith("") }

// startProxyWith starts a proxy with more configuration (replacing the
// cluster's extra).
func (c *cluster) startProxyWith(extra string) *proxyProc {
	c.t.Helper()
	c.mu.Lock()
	n := len(c.proxies)
	c.mu.Unlock()
	p := &proxyProc{c: c, n: n, mysql: fmt.Sprintf("127.0.0.1:%d", freePort(c.t)), http: fmt.Sprintf("127.0.0.1:%d", freePort(c.t))}
	p.config = filepath.Join(c.dir, fmt.Sprintf("proxy%d.yaml", n))
	cfg := c.proxyConfig(p.mysql, p.http)
	if extra != "" {
		cfg = strings.Replace(cfg, c.extra, extra, 1)
		if c.extra == "" {
			cfg += extra
		}
	}
	if err := os.WriteFile(p.config, []byte(cfg), 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.proxies = append(c.proxies, p)
	c.mu.Unlock()
	p.start()
	c.t.Cleanup(p.stop)
	return p
}

func (p *proxyProc) start() {
	t := p.c.t
	t.Helper()
	p.starts++
	p.logf = filepath.Join(p.c.dir, fmt.Sprintf("proxy%d-%d.log", p.n, p.starts))
	f, err := os.Create(p.logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shardgateBin, "serve", "--config", p.config, "--twopc-abort-timeout=2s", "--twopc-resolve-interval=250ms")
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}(p.done)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", p.mysql, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("proxy %d exited at start:\n%s", p.n, p.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy %d does not listen:\n%s", p.n, p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proxyProc) kill9() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proxyProc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill9()
	}
}

func (p *proxyProc) logs() string {
	var all []byte
	for i := 1; i <= p.starts; i++ {
		b, _ := os.ReadFile(filepath.Join(p.c.dir, fmt.Sprintf("proxy%d-%d.log", p.n, i)))
		all = append(all, b...)
	}
	return string(all)
}

// db opens a client handle on the proxy.
func (p *proxyProc) db(keyspace string, params ...string) *sql.DB {
	p.c.t.Helper()
	dsn := "app:secret@tcp(" + p.mysql + ")/" + keyspace + "?interpolateParams=true&timeout=5s&readTimeout=30s"
	if len(params) > 0 {
		dsn += "&" + strings.Join(params, "&")
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		p.c.t.Fatal(err)
	}
	p.c.t.Cleanup(func() { db.Close() })
	return db
}

// cli runs `shardgate args…` as the admin user ops.
func (c *cluster) cli(args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, shardgateBin, args...)
	cmd.Env = append(os.Environ(), "SHARDGATE_PASSWORD=ops")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// wf runs a reshard/movetables command of workflow name (into keyspace
// customer, or the keyspace given as "ks:name") through proxy p.
func (c *cluster) wf(p *proxyProc, typ, name string, args ...string) (string, error) {
	ksFlag := "--keyspace"
	if typ == "movetables" {
		ksFlag = "--target-keyspace"
	}
	ks := "customer"
	if k, n, ok := strings.Cut(name, ":"); ok {
		ks, name = k, n
	}
	return c.cli(append([]string{typ, "--server", p.http, "--user", "ops", ksFlag, ks, "--workflow", name}, args...)...)
}

func (c *cluster) mustWF(p *proxyProc, typ, name string, args ...string) string {
	c.t.Helper()
	out, err := c.wf(p, typ, name, args...)
	if err != nil {
		c.t.Fatalf("%s %s %v: %v\n%s", typ, name, args, err, out)
	}
	return out
}

// show returns a workflow's status (show --json).
func (c *cluster) show(p *proxyProc, typ, name string) *workflow.Status {
	c.t.Helper()
	out := c.mustWF(p, typ, name, "show", "--json")
	var st workflow.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		c.t.Fatalf("show --json: %v\n%s", err, out)
	}
	return &st
}

// waitPhase waits until the workflow reaches phase.
func (c *cluster) waitPhase(p *proxyProc, typ, name string, phase workflow.Phase, within time.Duration) *workflow.Status {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := c.show(p, typ, name)
		if st.Phase == phase {
			return st
		}
		if st.Phase == workflow.PhaseError {
			c.t.Fatalf("workflow %s stopped on an error: %s", name, st.Error)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("workflow %s: phase %s, not %s within %s (rows copied %d)", name, st.Phase, phase, within, st.RowsCopied)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitCaughtUp waits until every running stream's lag is small.
func (c *cluster) waitCaughtUp(p *proxyProc, typ, name string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := c.show(p, typ, name)
		ok := len(st.Streams) > 0
		for _, s := range st.Streams {
			if s.Running && s.LagSeconds > 0.5 {
				ok = false
			}
		}
		running := 0
		for _, s := range st.Streams {
			if s.Running {
				running++
			}
		}
		if ok && running > 0 {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, s := range st.Streams {
				fmt.Fprintf(&b, "\n  %s running=%v lag=%.3f pos=%s error=%s", s.ID, s.Running, s.LagSeconds, s.Pos, s.Error)
			}
			c.t.Fatalf("workflow %s (phase %s, error %q): streams not caught up within 60s:%s", name, st.Phase, st.Error, b.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// shardOf returns the name of the shard among names whose range holds id's keyspace id.
func (c *cluster) shardOf(id int64, names []string) string {
	ksid, err := c.hash.Map(id)
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		kr, _ := vindex.ParseKeyRange(n)
		if kr.Contains(ksid) {
			return n
		}
	}
	panic(fmt.Sprintf("no shard for %d", id))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// vdiffClean runs vdiff and fails the test on any difference.
func (c *cluster) vdiffClean(p *proxyProc, typ, name string) *workflow.VDiffReport {
	c.t.Helper()
	out, err := c.wf(p, typ, name, "vdiff", "--json")
	var rep workflow.VDiffReport
	if jerr := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); jerr != nil {
		c.t.Fatalf("vdiff: %v %v\n%s", err, jerr, out)
	}
	if err != nil || rep.Mismatched+rep.ExtraSource+rep.ExtraTarget+rep.Misplaced > 0 {
		c.t.Fatalf("vdiff of %s found differences (%v):\n%s", name, err, out)
	}
	c.t.Logf("vdiff %s: %d rows compared, no difference (%.0f rows/s)", name, rep.RowsCompared, rep.RowsPerSec)
	return &rep
}
