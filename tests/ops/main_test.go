// Package ops tests shardgate's production operations end to end, against
// real mariadbd servers: metrics, the status page, TLS, both authentication
// plugins, access control, limits, and the process lifecycle (SIGTERM
// drain, SIGHUP reload, many clients) with the real binary.
package ops

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// servers: 0 = global keyspace "commerce", 1-2 = shards of "customer".
var servers []*mariadbd.Server

// binary is the shardgate binary built for the process tests.
var binary string

func TestMain(m *testing.M) {
	if !testenv.Skipped() {
		dir, err := os.MkdirTemp("", "shardgate-ops-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if binary, err = testenv.BuildShardgate(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
	}
	rc := testenv.Main(m, 3, &servers)
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(rc)
}

const testVSchema = `vindexes:
  hash: {type: hash}
tables:
  ops_t:
    column_vindexes: [{column: id, name: hash}]
  drain_t:
    column_vindexes: [{column: id, name: hash}]
  acl_t:
    column_vindexes: [{column: id, name: hash}]
  lock_t:
    column_vindexes: [{column: id, name: hash}]
  busy_t:
    column_vindexes: [{column: id, name: hash}]
`

// Users besides testenv's app/secret and reader/reader (read-only).
const extraUsers = `  - name: cust
    password: custpw
    keyspaces: [customer]
  - name: hashed
    password_hash: "*4711B9BC4A54EF2F53E2C7B140018001892B71FC"
`

// hashedPassword is the password of user "hashed" (MySQL PASSWORD('reporting')).
const hashedPassword = "reporting"

// options shape a test proxy's configuration.
type options struct {
	extra       string // top-level YAML (limits, login_rate_limit, ...)
	listenExtra string // lines under listen: (indented by 2)
	users       string // more users (YAML list items)
}

// configYAML renders a configuration over the package's servers.
func configYAML(t testing.TB, o options) string {
	t.Helper()
	testenv.RequireMariaDB(t)
	y := testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: testVSchema, Extra: o.extra}.YAML()
	y = strings.Replace(y, "users:\n", "users:\n"+extraUsers+o.users, 1)
	y = strings.Replace(y, "  http: 127.0.0.1:0\n", "  http: 127.0.0.1:0\n"+o.listenExtra, 1)
	return y
}

func writeConfig(t testing.TB, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "shardgate.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var createDBs sync.Once

func ensureDatabases(t testing.TB) {
	t.Helper()
	var err error
	createDBs.Do(func() {
		ctx := context.Background()
		if err = servers[0].Exec(ctx, "CREATE DATABASE IF NOT EXISTS commerce"); err != nil {
			return
		}
		if err = servers[0].Exec(ctx, "CREATE TABLE IF NOT EXISTS commerce.g_t (id BIGINT PRIMARY KEY, v VARCHAR(20))"); err != nil {
			return
		}
		for _, s := range servers[1:3] {
			if err = s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS customer"); err != nil {
				return
			}
			for _, tbl := range []string{"ops_t", "drain_t", "acl_t", "lock_t", "busy_t"} {
				if err = s.Exec(ctx, "CREATE TABLE IF NOT EXISTS customer."+tbl+" (id BIGINT PRIMARY KEY, v VARCHAR(64))"); err != nil {
					return
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// inproc is a proxy in the test process with metrics and the admin
// endpoints wired as `shardgate serve` wires them.
type inproc = testenv.Proxy

func startInproc(t testing.TB, o options) *inproc {
	t.Helper()
	return startInprocYAML(t, configYAML(t, o))
}

func startInprocYAML(t testing.TB, yaml string) *inproc {
	t.Helper()
	ensureDatabases(t)
	return testenv.StartProxyYAMLWith(t, yaml, testenv.Options{Ops: true})
}

// dsn and openDB: the harness's (a go-sql-driver DSN for user:pw on db;
// a handle closed with the test).
var (
	dsn    = testenv.DSN
	openDB = testenv.OpenDB
)

// mysqlCode returns the MySQL error number of err, or 0.
func mysqlCode(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func mustExec(t testing.TB, db interface {
	Exec(string, ...any) (sql.Result, error)
}, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// ---- metrics scraping ----

type scrape map[string]*dto.MetricFamily

func getMetrics(t testing.TB, base string) scrape {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the metric name whose labels include labels
// ("k=v" pairs), summed over the other labels; missing = 0.
func (s scrape) value(name string, labels ...string) float64 {
	f, ok := s[name]
	if !ok {
		return 0
	}
	var sum float64
outer:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			if have[k] != v {
				continue outer
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getStatus(t testing.TB, base string) admin.Status {
	t.Helper()
	code, body := httpGet(t, base+"/debug/status?format=json")
	if code != 200 {
		t.Fatalf("status: %d %s", code, body)
	}
	var st admin.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// ---- TLS ----

// selfSigned writes a self-signed certificate for 127.0.0.1/localhost and
// its key into dir and returns their paths.
func selfSigned(t testing.TB, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "shardgate-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// ---- mariadb CLI ----

// cli runs the mariadb client against addr and returns stdout, stderr and
// the exit error.
func cli(t testing.TB, addr, user, pw, db string, args ...string) (string, string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	a := []string{"--no-defaults", "-h", host, "-P", port, "-u", user, "--batch", "--skip-column-names"}
	if pw != "" {
		a = append(a, "-p"+pw)
	}
	if db != "" {
		a = append(a, "-D", db)
	}
	a = append(a, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mariadb", a...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// ---- the binary ----

// proc is the shardgate binary running as its own process.
type proc struct {
	cmd       *exec.Cmd
	MySQL     string
	HTTP      string
	Path      string
	mu        sync.Mutex
	lines     []string
	exited    chan struct{}
	exitState *os.ProcessState
}

// startProc runs `shardgate serve` with the configuration text (JSON logs
// are switched on) and waits until it listens.
func startProc(t testing.TB, yaml string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, yaml, nil, args...)
}

// startProcEnv is startProc with extra environment variables.
func startProcEnv(t testing.TB, yaml string, env []string, args ...string) *proc {
	t.Helper()
	ensureDatabases(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, yaml+"\nlog: {json: true}\n")
	p := &proc{Path: path, exited: make(chan struct{})}
	p.cmd = exec.Command(binary, append([]string{"serve", "--config", path}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var once sync.Once
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.lines = append(p.lines, line)
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil {
				if a, ok := rec["mysql"].(string); ok && rec["msg"] == "shardgate listening" {
					p.MySQL = a
				}
				if a, ok := rec["http"].(string); ok && rec["msg"] == "admin listening" {
					p.HTTP = "http://" + a
				}
				if p.MySQL != "" && p.HTTP != "" {
					once.Do(func() { close(ready) })
				}
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		// Wait closes the pipe: read the log to its end first, or its last
		// lines (the ones written at exit) may be lost.
		<-logDone
		_ = p.cmd.Wait()
		p.exitState = p.cmd.ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("shardgate log:\n%s", p.log())
		}
	})
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("shardgate exited: %v\n%s", p.exitState, p.log())
	case <-time.After(20 * time.Second):
		t.Fatalf("shardgate did not start\n%s", p.log())
	}
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// logged reports whether a log line contains s.
func (p *proc) logged(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func (p *proc) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// rssKiB returns the process's resident set size.
func rssKiB(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var n int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%d", &n)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// eventually polls f until it is true or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
