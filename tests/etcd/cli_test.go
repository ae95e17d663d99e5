package etcd

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// shardgateBin builds cmd/shardgate once for the package.
func shardgateBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shardgate-etcd-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath, buildErr = testenv.BuildShardgate(dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// run runs the CLI with the cluster's --etcd and --prefix.
func (c *cluster) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	args = append(args, "--etcd", c.etcd.endpoint(), "--prefix", c.prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, shardgateBin(t), args...).CombinedOutput()
	return string(out), err
}

// The CLI: topo put, topo get (live proxies), vschema apply refusing what
// would not load and writing what does, topo watch, and serve with
// topology.source etcd registering itself and following etcd.
func TestCLI(t *testing.T) {
	c := newCluster(t)
	seed := c.writeFile("seed.yaml", c.seedYAML())

	out, err := c.run(t, "topo", "put", "--config", seed)
	if err != nil || !strings.Contains(out, "wrote keyspaces commerce, customer") {
		t.Fatalf("topo put: %v\n%s", err, out)
	}
	a, b := c.mustProxy(""), c.mustProxy("")
	dbA := a.db(t)
	mustExec(t, dbA, createCustomer)

	out, err = c.run(t, "topo", "get")
	if err != nil || !strings.Contains(out, "live proxies (2)") || !strings.Contains(out, a.Addr) || !strings.Contains(out, b.Addr) ||
		!strings.Contains(out, "the topology loads") || !strings.Contains(out, fmt.Sprintf("127.0.0.1:%d", servers[2].Port)) {
		t.Fatalf("topo get: %v\n%s", err, out)
	}
	t.Logf("topo get:\n%s", out)

	// A watcher sees the next change.
	watch := exec.Command(shardgateBin(t), "topo", "watch", "--events", "1", "--etcd", c.etcd.endpoint(), "--prefix", c.prefix)
	var watchOut lockedBuffer
	watch.Stdout, watch.Stderr = &watchOut, &watchOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "topo watch started", func() bool { return strings.Contains(watchOut.String(), "watching etcd") })

	bad := c.writeFile("bad.json", `{"sharded": true, "vindexes": {"hash": {"type": "hash"}}, "tables": {"t": {"column_vindexes": [{"column": "id", "name": "nosuch"}]}}}`)
	out, err = c.run(t, "vschema", "apply", "customer", bad)
	if err == nil || !strings.Contains(out, "refused") || !strings.Contains(out, `unknown vindex "nosuch"`) {
		t.Fatalf("vschema apply of a bad vschema: %v\n%s", err, out)
	}
	good := c.writeFile("good.json", string(vschemaJSON(map[string]string{"cli_t": "k"})))
	start := time.Now()
	out, err = c.run(t, "vschema", "apply", "customer", good, "--global-keyspace", "commerce")
	if err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("vschema apply: %v\n%s", err, out)
	}
	for name, p := range map[string]*testProxy{"A": a, "B": b} {
		eventually(t, time.Second, "proxy "+name+" follows vschema apply", func() bool { return hasTable(p, "cli_t") })
	}
	t.Logf("both proxies follow `vschema apply` %s after it started (including the CLI's start)", time.Since(start).Round(time.Millisecond))
	done := make(chan error, 1)
	go func() { done <- watch.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(watchOut.String(), "keyspace customer written: the topology loads") {
			t.Errorf("topo watch: %v\n%s", err, watchOut.String())
		}
	case <-time.After(10 * time.Second):
		watch.Process.Kill()
		t.Errorf("topo watch did not report the change:\n%s", watchOut.String())
	}
	out, err = c.run(t, "topo", "get", "customer")
	if err != nil || !strings.Contains(out, `"cli_t"`) {
		t.Errorf("topo get customer: %v\n%s", err, out)
	}

	// serve, as systemd runs it.
	port := freePort(t)
	cfgPath := c.writeFile("serve.yaml", strings.Replace(c.proxyConfig(""), `mysql: "127.0.0.1:0"`, fmt.Sprintf(`mysql: "127.0.0.1:%d"`, port), 1))
	serve := exec.Command(shardgateBin(t), "serve", "--config", cfgPath)
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logBuf strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logBuf.WriteString(sc.Text() + "\n")
			logMu.Unlock()
		}
	}()
	serveLog := func() string { logMu.Lock(); defer logMu.Unlock(); return logBuf.String() }
	defer func() {
		if serve.ProcessState == nil {
			serve.Process.Kill()
			serve.Wait()
		}
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, 15*time.Second, "serve registers in etcd", func() bool {
		ps, err := c.admin.Proxies(context.Background())
		if err != nil {
			return false
		}
		for _, p := range ps {
			if p.MySQL == addr {
				return true
			}
		}
		return false
	})
	db, err := sql.Open("mysql", "app:secret@tcp("+addr+")/customer?interpolateParams=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, "INSERT INTO customer (customer_id, name) VALUES (42, 'through serve')")
	if n := count(t, dbA, "SELECT COUNT(*) FROM customer WHERE customer_id = 42"); n != 1 {
		t.Errorf("row written through serve not seen through proxy A")
	}
	if err := c.applyVSchema(map[string]string{"cli_t": "k", "serve_t": "k"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "serve follows a change", func() bool {
		return strings.Contains(serveLog(), "etcd: topology applied")
	})
	// The watcher's counters reach Prometheus.
	if m := regexp.MustCompile(`admin listening.*?(127\.0\.0\.1:\d+)`).FindStringSubmatch(serveLog()); m == nil {
		t.Errorf("no admin address in the serve log:\n%s", serveLog())
	} else {
		metric := func(name string) float64 {
			resp, err := http.Get("http://" + m[1] + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			v := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
			if v == nil {
				t.Errorf("metric %s missing", name)
				return -1
			}
			f, _ := strconv.ParseFloat(string(v[1]), 64)
			return f
		}
		if v := metric("shardgate_topology_updates_total"); v < 1 {
			t.Errorf("shardgate_topology_updates_total %v after a change, want >= 1", v)
		}
		if v := metric("shardgate_topology_etcd_connected"); v != 1 {
			t.Errorf("shardgate_topology_etcd_connected %v, want 1", v)
		}
		if v := metric("shardgate_topology_rejected_total"); v != 0 {
			t.Errorf("shardgate_topology_rejected_total %v, want 0", v)
		}
		if v := metric("shardgate_topology_revision"); v < 1 {
			t.Errorf("shardgate_topology_revision %v", v)
		}
	}
	serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Errorf("serve: %v\n%s", err, serveLog())
	}
	ps, err := c.admin.Proxies(context.Background())
	if err != nil || len(ps) != 2 {
		t.Errorf("after serve stopped, %d proxies are registered (want 2: the lease is revoked), %v", len(ps), err)
	}
}

// lockedBuffer is a bytes.Buffer a command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
