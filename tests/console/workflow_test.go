package console

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/internal/testetcd"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/workflow"
)

// wfCluster is a deployment for the workflow pages: mariadbd servers with
// binary logs (0: the global keyspace commerce, 1 and 2: the shards -80 and
// 80- of customer), an embedded etcd holding the topology, and one
// `shardgate serve` process reading it, which runs the workflows.
type wfCluster struct {
	servers []*mariadbd.Server
	gdb     *sql.DB   // commerce's database on servers[0]
	shards  []*sql.DB // customer's databases, -80 and 80-
	http    string    // the proxy's listen.http
	mysql   string
	logf    string
	client  *admin.WorkflowClient
}

const wfShardSchema = "CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, total DECIMAL(10,2) NOT NULL)"

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startWFCluster(t *testing.T) *wfCluster {
	t.Helper()
	testenv.RequireMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The shardgate binary, built while the servers and etcd start.
	binDir := t.TempDir()
	var bin string
	built := make(chan error, 1)
	go func() {
		var err error
		bin, err = testenv.BuildShardgate(binDir)
		built <- err
	}()
	srv, err := mariadbd.StartClusterWithOptions(ctx, filepath.Join(t.TempDir(), "db"), 3, mariadbd.Options{Binlog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mariadbd.KillAll(srv) })
	etcd := testetcd.ForTest(t).Endpoint()
	c := &wfCluster{servers: srv}
	open := func(s *mariadbd.Server, db string) *sql.DB {
		if err := s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
			t.Fatal(err)
		}
		h, err := s.DB(db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	c.gdb = open(srv[0], "commerce")
	for _, s := range srv[1:] {
		h := open(s, "customer")
		if _, err := h.Exec(wfShardSchema); err != nil {
			t.Fatal(err)
		}
		c.shards = append(c.shards, h)
	}

	// The topology, uploaded as `shardgate topo put` does.
	dir := t.TempDir()
	topoYAML := fmt.Sprintf(`global_keyspace: commerce
keyspaces:
  commerce:
    sharded: false
    shards:
      "0": {host: 127.0.0.1, port: %d, user: root, password: "", database: commerce}
  customer:
    sharded: true
    shards:
      "-80": {host: 127.0.0.1, port: %d, user: root, password: "", database: customer}
      "80-": {host: 127.0.0.1, port: %d, user: root, password: "", database: customer}
    vschema:
      vindexes: {hash: {type: hash}}
      tables:
        orders: {column_vindexes: [{column: customer_id, name: hash}]}
`, srv[0].Port, srv[1].Port, srv[2].Port)
	tp := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(tp, []byte(topoYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	docs, cfg, err := config.ExportKeyspaces(tp)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "/sg_consolewf"
	et, err := topo.DialEtcd(topo.EtcdConfig{Endpoints: []string{etcd}, Prefix: prefix, DialTimeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer et.Close()
	if err := topo.PutKeyspaceDocs(ctx, et, docs, topo.SnapshotOptions{GlobalKeyspace: cfg.GlobalKeyspace}, false); err != nil {
		t.Fatal(err)
	}

	// The proxy.
	c.mysql, c.http = freeAddr(t), freeAddr(t)
	conf := filepath.Join(dir, "shardgate.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`listen: {mysql: %q, http: %q}
users:
  - {name: app, password: secret}
  - {name: ops, password: opspw, admin: true}
default_keyspace: customer
global_keyspace: commerce
topology:
  source: etcd
  etcd: {endpoints: [%s], prefix: %s, dial_timeout: 2s}
`, c.mysql, c.http, etcd, prefix)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-built; err != nil {
		t.Fatalf("building shardgate: %v", err)
	}
	c.logf = filepath.Join(dir, "proxy.log")
	logFile, err := os.Create(c.logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var inf admin.Info
		if code, body := tryGet("http://"+c.http+"/api/info", &inf); code == http.StatusOK && inf.Workflows {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the proxy does not serve workflows on %s (%d %s):\n%s", c.http, code, body, c.logs())
		}
		select {
		case <-exited:
			t.Fatalf("the proxy exited at start:\n%s", c.logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.client = &admin.WorkflowClient{Server: c.http, User: "ops", Password: "opspw"}
	return c
}

func (c *wfCluster) logs() string {
	b, _ := os.ReadFile(c.logf)
	return string(b)
}

// tryGet GETs url into v, without failing.
func tryGet(url string, v any) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err.Error()
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp.StatusCode, err.Error() + ": " + string(body)
	}
	return resp.StatusCode, string(body)
}

func (c *wfCluster) show(t *testing.T, ks, name string) *workflow.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.client.Show(ctx, ks, name)
	if err != nil {
		t.Fatalf("show %s/%s: %v\n%s", ks, name, err, c.logs())
	}
	return st
}

// waitCaughtUp waits for phase and for every running stream (one at
// least) to lag less than half a second.
func (c *wfCluster) waitCaughtUp(t *testing.T, ks, name string, phase workflow.Phase) *workflow.Status {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := c.show(t, ks, name)
		if st.Phase == workflow.PhaseError {
			t.Fatalf("workflow %s stopped on an error: %s\n%s", name, st.Error, c.logs())
		}
		running, ok := 0, st.Phase == phase
		for _, s := range st.Streams {
			if s.Running {
				running++
				ok = ok && s.LagSeconds < 0.5
			}
		}
		if ok && running > 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow %s: phase %s (want %s), %d streams running, not caught up in 60 s\n%s", name, st.Phase, phase, running, c.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func count(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// cells returns the text of each cell of the row sel, by the cell's first
// class.
func cells(t *testing.T, b *browser, sel string) map[string]string {
	t.Helper()
	return eval[map[string]string](t, b, fmt.Sprintf(`Object.fromEntries([...document.querySelectorAll(%q)].map(td => [td.classList[0] || "", td.textContent]))`, sel+" td"))
}

// factsOf returns the rows of a facts table (th text by the row's data-k).
func factsOf(t *testing.T, b *browser, id string) map[string]string {
	t.Helper()
	return eval[map[string]string](t, b, fmt.Sprintf(`Object.fromEntries([...document.querySelectorAll("#%s tr")].map(tr => [tr.dataset.k, tr.querySelector("td").textContent]))`, id))
}

// rowTexts returns the text of each cell of every row matching sel.
func rowTexts(t *testing.T, b *browser, sel string) [][]string {
	t.Helper()
	return eval[[][]string](t, b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(tr => [...tr.querySelectorAll("td")].map(td => td.textContent))`, sel))
}

func plain(n int64) string { return fmt.Sprintf("%d", n) }

// thousands formats n as the page does (en-US: 1,234).
func thousands(n int64) string {
	s := plain(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// near reports whether the page's number (en-US, one decimal) is v: the
// browser rounds half away from zero on the decimal text, Go on the binary
// value, so the last digit may differ by one.
func near(text string, v float64) bool {
	x, err := strconv.ParseFloat(strings.ReplaceAll(text, ",", ""), 64)
	return err == nil && math.Abs(x-v) <= 0.051
}

// stepsMatch checks a switch's steps as the page shows them ("hold 4.9 ·
// acks 2.5 · …") against the record, in the order given.
func stepsMatch(text string, order []string, steps map[string]float64) bool {
	parts := strings.Split(text, " · ")
	if len(parts) != len(order) {
		return false
	}
	for i, p := range parts {
		k, v, ok := strings.Cut(p, " ")
		if !ok || k != order[i] || !near(v, steps[k]) {
			return false
		}
	}
	return true
}

// TestWorkflowPages runs a real MoveTables workflow (a table of the global
// keyspace into the sharded one) through a proxy with its topology in etcd
// and checks the Workflows page and the workflow's page against the API,
// etcd and the shards: the list row (name, type, shards, phase, traffic,
// rows copied = the rows in the table), the per-table copy, each stream
// with its position, the VDiff counts, then a traffic switch with its
// outcome and timings, and a VDiff that finds a corrupted row, with its key.
func TestWorkflowPages(t *testing.T) {
	start := time.Now()
	c := startWFCluster(t)
	t.Logf("cluster up in %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const seeded = 300
	if _, err := c.gdb.Exec("CREATE TABLE products (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, price DECIMAL(10,2) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	var vals []string
	for i := 1; i <= seeded; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'product %d', %d.50)", i, i, i))
	}
	if _, err := c.gdb.Exec("INSERT INTO products (id, name, price) VALUES " + strings.Join(vals, ",")); err != nil {
		t.Fatal(err)
	}

	const ks, name = "customer", "mvprod"
	if _, err := c.client.Create(ctx, workflow.CreateRequest{Type: workflow.TypeMoveTables, Keyspace: ks, Workflow: name,
		SourceKeyspace: "commerce", Tables: []string{"products"}}); err != nil {
		t.Fatalf("create: %v\n%s", err, c.logs())
	}
	st := c.waitCaughtUp(t, ks, name, workflow.PhaseRunning)
	inTable := count(t, c.gdb, "SELECT COUNT(*) FROM products")
	if st.RowsCopied != inTable || inTable != seeded {
		t.Fatalf("rows copied %d, the source table has %d (seeded %d)", st.RowsCopied, inTable, seeded)
	}
	// Changes after the copy reach the targets through the stream.
	app := openDB(t, "app:secret@tcp("+c.mysql+")/commerce")
	for i := 1; i <= 4; i++ {
		if _, err := app.Exec(fmt.Sprintf("INSERT INTO products (id, name, price) VALUES (%d, 'late %d', 1.25)", 1000+i, i)); err != nil {
			t.Fatal(err)
		}
	}
	total := inTable + 4
	eventually(t, 30*time.Second, "the rows inserted after the copy on the targets", func() bool {
		return count(t, c.shards[0], "SELECT COUNT(*) FROM products")+count(t, c.shards[1], "SELECT COUNT(*) FROM products") == total
	})
	st = c.waitCaughtUp(t, ks, name, workflow.PhaseRunning)
	ans, err := c.client.Do(ctx, ks, name, "vdiff", nil)
	if err != nil {
		t.Fatalf("vdiff: %v\n%s", err, c.logs())
	}
	rep := ans.Status.VDiff
	if rep == nil || rep.RowsCompared != total || rep.Mismatched+rep.ExtraSource+rep.ExtraTarget+rep.Misplaced != 0 {
		t.Fatalf("vdiff: want %d rows compared and no difference, got %+v", total, rep)
	}

	b := newBrowser(t)
	base := "http://" + c.http

	// The list.
	row := `tr.wf-row[data-wf="customer/mvprod"]`
	b.run(t, "workflows", chromedp.Navigate(base+"/#/workflows"), chromedp.WaitVisible(chromedp.CSS(row)))
	got := cells(t, b, row)
	want := map[string]string{
		"wf-name": "customer/mvprod", "wf-type": "MoveTables", "wf-shards": "commerce [0] → customer [-80, 80-]",
		"wf-tables": "products", "wf-phase": "running", "wf-traffic": "sources: commerce [0]",
		"wf-rows": plain(inTable), "wf-copy": "1 / 1", "wf-streams": "1 / 1 running", "wf-error": "",
		"wf-vdiff": "no difference in " + plain(total) + " rows",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("workflows list, %s: %q, want %q (row %q)", k, got[k], v, got)
		}
	}
	if !strings.HasSuffix(got["wf-lag"], " s") {
		t.Errorf("workflows list, lag: %q", got["wf-lag"])
	}
	if n := eval[int](t, b, `document.querySelectorAll("tr.wf-row").length`); n != 1 {
		t.Errorf("%d workflows listed, want 1", n)
	}
	b.screenshot(t, "workflows")

	// The workflow's page, from the list's link.
	b.clickNow(t, "workflow link", row+" a")
	b.run(t, "workflow page", chromedp.WaitVisible(chromedp.CSS("#wf-facts")))
	if h := b.text(t, "h1"); h != "Workflow customer/mvprod" {
		t.Errorf("title %q", h)
	}
	facts := factsOf(t, b, "wf-facts")
	for k, v := range map[string]string{"type": "MoveTables", "source": "commerce [0]", "target": "customer [-80, 80-]",
		"tables": "products", "phase": "running", "traffic": "sources: commerce [0]", "runner": st.Runner} {
		if facts[k] != v {
			t.Errorf("workflow page, %s: %q, want %q", k, facts[k], v)
		}
	}
	copyRows := rowTexts(t, b, `#wf-copy tr.copy-row`)
	if len(copyRows) != 1 || strings.Join(copyRows[0][:4], "|") != "products|"+plain(inTable)+"|1 / 1|copied" {
		t.Errorf("copy progress: %q, want products, %d rows, copied", copyRows, inTable)
	}
	// Each stream with its position as etcd has it (the page refreshes
	// every 3 s: compare with the API until they agree).
	var streamsSeen string
	eventually(t, 15*time.Second, "the streams as the API shows them", func() bool {
		st := c.show(t, ks, name)
		rows := rowTexts(t, b, `#wf-streams tr.stream-row`)
		streamsSeen = fmt.Sprintf("page %q\napi %+v", rows, st.Streams)
		if len(rows) != len(st.Streams) || len(rows) != 1 {
			return false
		}
		s := st.Streams[0]
		r := rows[0]
		return r[0] == s.ID && r[1] == "forward" && r[2] == "commerce/0" && r[3] == plain(inTable) &&
			strings.HasPrefix(r[4], s.Pos) && s.Pos != "" && r[6] == thousands(s.Transactions) && r[7] == thousands(s.Rows) &&
			strings.HasPrefix(r[8], "running")
	}, &streamsSeen)
	vd := factsOf(t, b, "wf-vdiff")
	for k, v := range map[string]string{"rows_compared": plain(total), "mismatched": "0", "extra_source": "0", "extra_target": "0", "misplaced": "0"} {
		if vd[k] != v {
			t.Errorf("vdiff %s: %q, want %q", k, vd[k], v)
		}
	}
	if v := b.text(t, "#wf-vdiff-verdict"); v != "No difference" {
		t.Errorf("vdiff verdict %q", v)
	}
	if r := rowTexts(t, b, "#wf-vdiff-tables tr.vdiff-table-row"); len(r) != 1 || strings.Join(r[0], "|") != "products|"+plain(total)+"|0|0|0|0" {
		t.Errorf("vdiff tables: %q", r)
	}
	if r := rowTexts(t, b, "#wf-results tr.result-row"); len(r) != 1 || r[0][1] != "vdiff" || r[0][2] != "ok" {
		t.Errorf("commands: %q", r)
	}
	b.screenshot(t, "workflow-running")

	// A traffic switch: the page follows, with the switch's outcome and timings.
	if _, err := c.client.Do(ctx, ks, name, "switchtraffic", nil); err != nil {
		t.Fatalf("switchtraffic: %v\n%s", err, c.logs())
	}
	st = c.show(t, ks, name)
	if st.Phase != workflow.PhaseSwitched || len(st.Switches) != 1 {
		t.Fatalf("after switchtraffic: phase %s, %d switches", st.Phase, len(st.Switches))
	}
	sw := st.LastSwitch()
	// The steps in the order a switch takes them, as the page lists them.
	var order []string
	for _, k := range []string{"hold", "acks", "fence", "catchup", "prepare_other_side", "flip"} {
		if _, ok := sw.Steps[k]; ok {
			order = append(order, k)
		}
	}
	if _, ok := sw.Steps["flip"]; !ok {
		t.Errorf("switch steps %v: no time for the flip", sw.Steps)
	}
	if len(order) != len(sw.Steps) || len(order) < 4 {
		t.Fatalf("switch steps %v: the page's order does not know them all", sw.Steps)
	}
	var switchSeen string
	eventually(t, 15*time.Second, "the switch on the workflow's page", func() bool {
		f := factsOf(t, b, "wf-facts")
		rows := rowTexts(t, b, "#wf-switches tr.switch-row")
		switchSeen = fmt.Sprintf("facts %q\nswitches %q\napi %+v", f, rows, sw)
		return f["phase"] == "switched" && f["traffic"] == "targets: customer [-80, 80-]" && len(rows) == 1 &&
			rows[0][1] == "forward" && rows[0][2] == "ok" &&
			near(rows[0][3], sw.HeldMS) && near(rows[0][4], sw.DurationMS) && stepsMatch(rows[0][5], order, sw.Steps)
	}, &switchSeen)
	b.screenshot(t, "workflow-switched")

	// A row changed behind the workflow's back on the sources' (fenced)
	// copy: VDiff finds it, and the page shows its key.
	var srcTable string
	if err := c.gdb.QueryRow("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'commerce' AND TABLE_NAME LIKE '%products'").Scan(&srcTable); err != nil {
		t.Fatal(err)
	}
	if _, err := c.gdb.Exec("UPDATE `" + srcTable + "` SET name = 'corrupted' WHERE id = 7"); err != nil {
		t.Fatal(err)
	}
	// This VDiff runs from the page's button, which needs the admin login:
	// nothing runs until the login is given.
	before := rep.Started
	b.run(t, "run vdiff", chromedp.Click(chromedp.CSS("#wf-vdiff-run")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	time.Sleep(300 * time.Millisecond)
	if st := c.show(t, ks, name); st.Request != nil || !st.VDiff.Started.Equal(before) {
		t.Fatalf("a VDiff started from the page without a login: request %+v, vdiff started %s (before %s)", st.Request, st.VDiff.Started, before)
	}
	b.login(t, "ops", "opspw")
	var actionSeen string
	eventually(t, 30*time.Second, "the page's VDiff to answer", func() bool {
		actionSeen = b.text(t, "#wf-action-result")
		return strings.HasPrefix(actionSeen, "vdiff: ")
	}, &actionSeen)
	st = c.show(t, ks, name)
	rep = st.VDiff
	if rep == nil || rep.Started.Equal(before) || rep.Mismatched != 1 || rep.RowsCompared != total {
		t.Fatalf("vdiff of a corrupted row, run from the page: %+v", rep)
	}
	// The differing row's key is the application's data: an admin login
	// sees it, an anonymous reader of listen.http only its kind and shard.
	if k := rep.Tables[0].Keys; len(k) != 1 || len(k[0].PK) != 1 || k[0].PK[0] != "7" {
		t.Errorf("vdiff keys for an admin login: %+v", k)
	}
	var anon workflow.Status
	if code, body := tryGet("http://"+c.http+"/api/workflows/"+ks+"/"+name, &anon); code != 200 || anon.VDiff == nil ||
		len(anon.VDiff.Tables) != 1 || len(anon.VDiff.Tables[0].Keys) != 1 || anon.VDiff.Tables[0].Keys[0].PK != nil ||
		anon.VDiff.Tables[0].Keys[0].Kind != "mismatched" || anon.VDiff.Mismatched != 1 {
		t.Errorf("vdiff without a login: %d %s", code, body)
	}
	if last := st.Results[len(st.Results)-1]; last.Verb != "vdiff" || !last.OK || actionSeen != "vdiff: "+last.Message {
		t.Errorf("the page says %q; the command's result: %+v", actionSeen, last)
	}
	var diffSeen string
	eventually(t, 15*time.Second, "the differing row on the workflow's page", func() bool {
		vd := factsOf(t, b, "wf-vdiff")
		keys := rowTexts(t, b, "#wf-vdiff-keys tr.diff-key")
		diffSeen = fmt.Sprintf("vdiff %q\nkeys %q\napi %+v", vd, keys, rep)
		return vd["rows_compared"] == thousands(rep.RowsCompared) && vd["mismatched"] == "1" && vd["extra_source"] == "0" &&
			vd["extra_target"] == "0" && vd["misplaced"] == "0" && len(keys) == 1 && keys[0][0] == "products" &&
			keys[0][1] == "mismatched" && keys[0][2] == "7" && b.text(t, "#wf-vdiff-verdict") == "1 difference(s)"
	}, &diffSeen)
	if r := rowTexts(t, b, "#wf-results tr.result-row"); len(r) != 3 || r[0][1] != "vdiff" || r[0][2] != "ok" || r[1][1] != "switchtraffic" || r[1][2] != "ok" {
		t.Errorf("commands, newest first: %q", r)
	}
	b.screenshot(t, "workflow-vdiff-difference")

	// The list follows too.
	b.run(t, "workflows again", chromedp.Navigate(base+"/#/workflows"), chromedp.WaitVisible(chromedp.CSS(row)))
	got = cells(t, b, row)
	if got["wf-phase"] != "switched" || got["wf-traffic"] != "targets: customer [-80, 80-]" || got["wf-error"] != "" ||
		got["wf-vdiff"] != "1 difference(s) in "+thousands(rep.RowsCompared)+" rows" {
		t.Errorf("workflows list after the switch: %q", got)
	}
	b.noErrors(t, "workflows")
	t.Logf("test body took %s", time.Since(start).Round(time.Millisecond))
}
