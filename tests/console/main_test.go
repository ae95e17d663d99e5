// Package console tests the operator console in a real headless Chromium
// (Debian's chromium, driven with chromedp) against a real cluster: every
// page loads without a console error and shows the cluster's real state,
// actions need an admin login, a session killed from the page is gone,
// what a page shows is never read as HTML, and a real MoveTables workflow
// (binlog servers, an embedded etcd, a shardgate serve process built by
// the test) shows on the Workflows pages as the API has it. It also tests
// the admin side's locks over plain HTTP. Screenshots go to
// $SHARDGATE_SCREENSHOTS (default a folder under the temporary directory,
// logged).
package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/metrics"
)

// servers: 0 = global keyspace "commerce", 1-2 = shards of "customer".
var servers []*mariadbd.Server

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, 3, &servers)) }

const vschema = `vindexes:
  hash: {type: hash}
tables:
  c_t:
    column_vindexes: [{column: id, name: hash}]
`

// Users besides testenv's app/secret and reader/reader.
const users = `  - {name: ops, password: opspw, admin: true}
  - {name: narrow, password: narrowpw, admin: true, read_only: true, keyspaces: [commerce]}
  - {name: victim, password: victimpw}
`

// cluster is an in-process proxy with its metrics and admin HTTP side, as
// `shardgate serve` wires them.
type cluster struct {
	*testenv.Proxy
	Metrics *metrics.Metrics
	Admin   *admin.Server
	HTTP    *httptest.Server
}

func startCluster(t testing.TB, yaml string, readOnly bool) *cluster {
	t.Helper()
	p := testenv.StartProxyYAML(t, yaml)
	m := metrics.New(p.Router, zap.NewNop())
	p.Router.SetObserver(m)
	p.Server.SetHooks(m)
	m.WatchSessions(p.Server)
	a := admin.New(p.Server, p.Router, m, zap.NewNop(), "test")
	a.SetHA(p.HA)
	h := a.Handler()
	if readOnly {
		h = a.ReadOnlyHandler()
	}
	c := &cluster{Proxy: p, Metrics: m, Admin: a, HTTP: httptest.NewServer(h)}
	t.Cleanup(c.HTTP.Close)
	return c
}

var createTables sync.Once

// start runs the package's standard cluster: commerce + customer on 2 shards.
func start(t testing.TB) *cluster {
	t.Helper()
	testenv.RequireMariaDB(t)
	ctx := context.Background()
	var err error
	createTables.Do(func() {
		if err = servers[0].Exec(ctx, "CREATE DATABASE IF NOT EXISTS commerce"); err != nil {
			return
		}
		for _, s := range servers[1:3] {
			if err = s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS customer"); err != nil {
				return
			}
			if err = s.Exec(ctx, "CREATE TABLE IF NOT EXISTS customer.c_t (id BIGINT PRIMARY KEY, v VARCHAR(64))"); err != nil {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	y := testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: vschema}.YAML()
	y = strings.Replace(y, "users:\n", "users:\n"+users, 1)
	return startCluster(t, y, false)
}

var (
	openDB = testenv.OpenDB
	dsn    = testenv.DSN
)

// ---- the browser ----

// browser is one headless Chromium tab and what its console said.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

// chromium finds Debian's chromium (scripts/deps.sh installs it).
func chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SHARDGATE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatalf("no chromium: install Debian's chromium (scripts/deps.sh install chromium) or set SHARDGATE_CHROMIUM")
	return ""
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900), // a laptop screen
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and its tab
		cancelC()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	lctx, stopListening := context.WithCancel(ctx)
	messages := chromedp.Console(lctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				b.mu.Lock()
				b.errs = append(b.errs, string(m.Type)+": "+m.Text+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		stopListening()
		<-done
		cancelC()
		cancelA()
	})
	return b
}

// run runs steps with a deadline.
func (b *browser) run(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		hctx, hcancel := context.WithTimeout(b.ctx, 5*time.Second)
		html, _ := chromedp.Run(hctx, chromedp.OuterHTML(chromedp.CSS("main")))
		hcancel()
		t.Fatalf("%s: %v\npage: %.3000s\nconsole: %v", what, err, html, b.consoleErrors())
	}
}

// clickNow waits for sel, then finds and clicks it in one script. The pages
// refresh their tables by replacing the rows: a node chromedp's Click has
// found may be gone by the time it clicks it.
func (b *browser) clickNow(t testing.TB, what, sel string) {
	t.Helper()
	b.run(t, what, chromedp.WaitVisible(chromedp.CSS(sel)))
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; e.click(); return true })()`, strconv.Quote(sel))
	if !eval[bool](t, b, js) {
		t.Fatalf("%s: nothing matches %s", what, sel)
	}
}

// eval evaluates a JavaScript expression into v's type.
func eval[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// noErrors fails the test if the page logged an error or threw.
func (b *browser) noErrors(t testing.TB, page string) {
	t.Helper()
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("%s: console errors: %q", page, errs)
	}
}

// text returns the text of the first element matching sel.
func (b *browser) text(t testing.TB, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// screenshot writes the page as PNG into the screenshots folder.
func (b *browser) screenshot(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(screenshotDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

var (
	shotsOnce sync.Once
	shotsDir  string
)

func screenshotDir() string {
	shotsOnce.Do(func() {
		shotsDir = os.Getenv("SHARDGATE_SCREENSHOTS")
		if shotsDir == "" {
			shotsDir = filepath.Join(os.TempDir(), "shardgate-console-screenshots")
		}
		_ = os.MkdirAll(shotsDir, 0o755)
	})
	return shotsDir
}

// login logs in through the console's form.
func (b *browser) login(t testing.TB, user, pw string) {
	t.Helper()
	b.run(t, "login form",
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SetValue(chromedp.CSS("#login-user"), user),
		chromedp.SetValue(chromedp.CSS("#login-password"), pw),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)))
}

// ---- HTTP ----

type request struct {
	method, path, body string
	user, pw           string
	csrf               bool
	header             map[string]string
}

func do(t testing.TB, base string, r request) (int, string) {
	t.Helper()
	hr, err := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.user != "" {
		hr.SetBasicAuth(r.user, r.pw)
	}
	if r.csrf {
		hr.Header.Set(admin.CSRFHeader, "1")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getJSON(t testing.TB, base, path string, v any) {
	t.Helper()
	code, body := do(t, base, request{method: "GET", path: path})
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

// eventually polls f until it is true or the timeout passes; shown, if
// given, is what the test saw last (reported on a timeout).
func eventually(t testing.TB, timeout time.Duration, what string, f func() bool, shown ...*string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			if len(shown) > 0 {
				t.Fatalf("timed out waiting for %s; last seen:\n%s", what, *shown[0])
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
