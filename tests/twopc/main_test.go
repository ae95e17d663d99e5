// Package twopc tests atomic cross-shard writes (transaction_mode twopc)
// end to end: real mariadbd servers, the proxy in-process for the session
// tests and as its own OS process (the shardgate binary, built by TestMain)
// for the crash tests, which kill -9 it.
package twopc

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/vindex"
)

// servers: 0 = global keyspace, 1-4 = customer shards.
var servers []*mariadbd.Server

// shardgateBin is the proxy binary built by TestMain.
var shardgateBin string

func TestMain(m *testing.M) {
	_ = mysql.SetLogger(log.New(io.Discard, "", 0)) // the driver logs every connection the kills break
	if !testenv.Skipped() {
		dir, err := os.MkdirTemp("", "shardgate-twopc-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if shardgateBin, err = testenv.BuildShardgate(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		code := testenv.Main(m, 5, &servers)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(testenv.Main(m, 5, &servers))
}

const bankVSchema = `vindexes:
  hash: {type: hash}
tables:
  accounts:
    column_vindexes: [{column: id, name: hash}]
  ledger:
    column_vindexes: [{column: account_id, name: hash}]
  kv:
    column_vindexes: [{column: k, name: hash}]
  sbtest1:
    column_vindexes: [{column: id, name: hash}]
`

// deployment is one proxy configuration over servers[0] (global) and
// servers[1:1+nshards], with databases of its own so that tests do not see
// each other's tables or decision tables.
type deployment struct {
	name    string // suffix of the databases
	nshards int
	mode    string // transaction_mode default
	port    int    // proxy MySQL port (0 = any)
	gdb     string // database of the global keyspace
	sdb     string // database of the customer shards
	ranges  []vindex.KeyRange
	hash    vindex.Vindex
	dbs     map[int]*sql.DB // shardDB cache
	// user and password are the shard account (default root, no password).
	user, password string
}

func newDeployment(t testing.TB, name string, nshards int, mode string) *deployment {
	t.Helper()
	testenv.RequireMariaDB(t)
	d := &deployment{name: name, nshards: nshards, mode: mode, gdb: "g_" + name, sdb: "c_" + name}
	var err error
	if _, d.ranges, err = vindex.SortShards(testenv.ShardNames(nshards)); err != nil {
		t.Fatal(err)
	}
	if d.hash, err = vindex.New("hash", nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := servers[0].Exec(ctx, "DROP DATABASE IF EXISTS "+d.gdb, "CREATE DATABASE "+d.gdb); err != nil {
		t.Fatal(err)
	}
	for _, s := range d.shards() {
		if err := s.Exec(ctx, "DROP DATABASE IF EXISTS "+d.sdb, "CREATE DATABASE "+d.sdb,
			"CREATE TABLE "+d.sdb+".accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)",
			"CREATE TABLE "+d.sdb+".ledger (account_id BIGINT NOT NULL, transfer_id BIGINT NOT NULL, delta BIGINT NOT NULL, PRIMARY KEY (account_id, transfer_id))",
			"CREATE TABLE "+d.sdb+".kv (k BIGINT PRIMARY KEY, v BIGINT NOT NULL)",
		); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d *deployment) shards() []*mariadbd.Server { return servers[1 : 1+d.nshards] }

// shardOf returns the index of the shard holding sharding key id.
func (d *deployment) shardOf(id int64) int {
	ksid, err := d.hash.Map(id)
	if err != nil {
		panic(err)
	}
	return vindex.ShardIndex(d.ranges, ksid)
}

// yaml renders the configuration (user app/secret).
func (d *deployment) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen:\n  mysql: 127.0.0.1:%d\n  http: 127.0.0.1:0\n", d.port)
	b.WriteString("users:\n  - name: app\n    password: secret\n")
	b.WriteString("default_keyspace: customer\nglobal_keyspace: commerce\n")
	fmt.Fprintf(&b, "transaction_mode: %s\n", d.mode)
	user := d.user
	if user == "" {
		user = "root"
	}
	b.WriteString("keyspaces:\n  commerce:\n    sharded: false\n    shards:\n")
	fmt.Fprintf(&b, "      \"0\": {host: 127.0.0.1, port: %d, user: %s, password: %q, database: %s}\n", servers[0].Port, user, d.password, d.gdb)
	b.WriteString("  customer:\n    sharded: true\n    shards:\n")
	for i, name := range testenv.ShardNames(d.nshards) {
		fmt.Fprintf(&b, "      %q: {host: 127.0.0.1, port: %d, user: %s, password: %q, database: %s}\n", name, d.shards()[i].Port, user, d.password, d.sdb)
	}
	b.WriteString("    vschema:\n")
	for _, line := range strings.Split(strings.TrimRight(bankVSchema, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

func (d *deployment) writeConfig(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shardgate.yaml")
	if err := os.WriteFile(path, []byte(d.yaml()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// inProcess starts the proxy inside the test process.
func (d *deployment) inProcess(t testing.TB) *testenv.Proxy {
	t.Helper()
	cfg, err := config.Load(d.writeConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.RunProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// shardDB opens shard i's database directly (once per deployment).
func (d *deployment) shardDB(t testing.TB, i int) *sql.DB {
	t.Helper()
	if db, ok := d.dbs[i]; ok {
		return db
	}
	db, err := d.shards()[i].DB(d.sdb)
	if err != nil {
		t.Fatal(err)
	}
	if d.dbs == nil {
		d.dbs = map[int]*sql.DB{}
	}
	d.dbs[i] = db
	t.Cleanup(func() { db.Close() })
	return db
}

func (d *deployment) globalDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := servers[0].DB(d.gdb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// xaRecover lists every prepared XA branch on the deployment's servers.
func (d *deployment) xaRecover(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, s := range append([]*mariadbd.Server{servers[0]}, d.shards()...) {
		db, err := s.DB("")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query("XA RECOVER")
		if err != nil {
			db.Close()
			t.Fatalf("XA RECOVER on %s: %v", s.Addr(), err)
		}
		for rows.Next() {
			var f, gl, bl int
			var data string
			if err := rows.Scan(&f, &gl, &bl, &data); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s: '%s','%s',%d", s.Addr(), data[:gl], data[gl:gl+bl], f))
		}
		rows.Close()
		db.Close()
	}
	return out
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proxyProc is shardgate running as its own process, on a fixed port so
// that clients find it again after a restart.
type proxyProc struct {
	t      testing.TB
	config string
	addr   string
	args   []string
	logDir string
	cmd    *exec.Cmd
	done   chan struct{}
	starts int
}

func (d *deployment) process(t testing.TB, args ...string) *proxyProc {
	t.Helper()
	d.port = freePort(t)
	p := &proxyProc{t: t, config: d.writeConfig(t), addr: fmt.Sprintf("127.0.0.1:%d", d.port), args: args, logDir: t.TempDir()}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *proxyProc) logPath(n int) string {
	return filepath.Join(p.logDir, fmt.Sprintf("proxy-%d.log", n))
}

func (p *proxyProc) start() {
	p.t.Helper()
	p.starts++
	logf, err := os.Create(p.logPath(p.starts))
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(shardgateBin, append([]string{"serve", "--config", p.config, "--debug"}, p.args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}(p.done)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			p.t.Fatalf("shardgate exited at start:\n%s", p.logTail(p.starts, 40))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("shardgate does not listen on %s:\n%s", p.addr, p.logTail(p.starts, 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill9 kills the proxy with SIGKILL and waits for it to be gone.
func (p *proxyProc) kill9() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

func (p *proxyProc) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill9()
	}
	p.cmd = nil
}

// logs returns the text of every log of this proxy (all starts).
func (p *proxyProc) logs() string {
	var b strings.Builder
	for i := 1; i <= p.starts; i++ {
		data, _ := os.ReadFile(p.logPath(i))
		b.Write(data)
	}
	return b.String()
}

func (p *proxyProc) logTail(n, lines int) string {
	data, _ := os.ReadFile(p.logPath(n))
	ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

func (p *proxyProc) dsn(params ...string) string {
	dsn := "app:secret@tcp(" + p.addr + ")/customer"
	if len(params) > 0 {
		dsn += "?" + strings.Join(params, "&")
	}
	return dsn
}
