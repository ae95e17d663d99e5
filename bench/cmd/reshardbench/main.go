// Command reshardbench is the harness behind `make bench-reshard`: it measures the online
// Reshard workflow (issue 20, docs/workflows.md) on this machine, with real mariadbd servers,
// an embedded etcd and two `shardgate serve` processes, driven through the proxies' workflow
// HTTP API as `shardgate reshard` drives it.
//
// It starts five mariadbd (binary log, ROW, GTID): the global keyspace, two source shards of
// customer (-80, 80-) and two servers holding the four target shards (-40, 40-80, 80-c0, c0-,
// declared serving: false), loads -rows rows of about 100 bytes into customer.items on the
// sources (each on the shard its hash keyspace id names), and then measures, in order:
//
//  1. the baseline: `mariadb-dump items | mariadb` of each source into a scratch database on
//     a target server, both sources at once (as the workflow copies them), rows/s;
//  2. the idle copy: a reshard workflow split 2→4 with no client load, from create to phase
//     running, rows/s; then cancel (which drops the targets' tables);
//  3. the workload alone for -before seconds: -threads client connections spread over both
//     proxies (go-sql-driver, autocommit), each running point selects by primary key (50 %),
//     updates of rows it owns (25 %) and inserts of new ids (25 %): ops/s and p95;
//  4. the copy under that load: a second workflow, from create to phase running: rows/s, and
//     the workload's ops/s and p95 during it relative to step 3;
//  5. the binlog streams under load for -lag seconds: shardgate_workflow_lag_seconds of the
//     runner proxy scraped every 100 ms (the stream samples its source every 100 ms): p50,
//     p99, max;
//  6. VDiff under load: rows/s as the workflow reports it (and it must find no difference);
//  7. -cycles switchtraffic/reversetraffic cycles, alternating the proxy asked, -dwell
//     seconds apart, then a last switchtraffic and complete: for each switch the write pause
//     at the client, the longest gap between two consecutive acknowledged writes (all client
//     threads merged) that overlaps the command, next to the hold the workflow recorded;
//  8. the data: after complete, every row of the four targets is read directly: every
//     acknowledged insert present exactly once on the shard its keyspace id names, every
//     acknowledged update's value in place, no row twice, no row on a wrong shard.
//
// Client errors of every kind are counted over the whole workflow (steps 4 to 7).
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/bench/machine"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/vindex"
	"github.com/shardgate/shardgate/workflow"
)

type options struct {
	shardgate string
	rows      int
	threads   int
	before    time.Duration
	lag       time.Duration
	cycles    int
	dwell     time.Duration
	throttle  float64
	chunk     int
	skipIdle  bool
	record    string
	keep      bool
}

func main() {
	var o options
	flag.StringVar(&o.shardgate, "shardgate", "bin/shardgate", "the shardgate binary the proxies run")
	flag.IntVar(&o.rows, "rows", 1_000_000, "rows of customer.items (about 100 bytes each)")
	flag.IntVar(&o.threads, "threads", 4, "client connections of the workload (spread over the two proxies)")
	flag.DurationVar(&o.before, "before", 30*time.Second, "how long the workload runs alone before the copy")
	flag.DurationVar(&o.lag, "lag", 30*time.Second, "how long the stream lag is sampled under load")
	flag.IntVar(&o.cycles, "cycles", 10, "switchtraffic/reversetraffic cycles")
	flag.DurationVar(&o.dwell, "dwell", 3*time.Second, "time between two switches")
	flag.Float64Var(&o.throttle, "throttle", config.DefaultCopyThrottle, "workflow.copy_throttle of the proxies")
	flag.IntVar(&o.chunk, "chunk", config.DefaultCopyChunkRows, "workflow.copy_chunk_rows of the proxies")
	flag.BoolVar(&o.skipIdle, "skip-idle", false, "skip the baseline dump and the idle copy")
	flag.StringVar(&o.record, "record", "", "append the report to this file (e.g. bench/RESULTS.md)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder (servers' data, proxy logs)")
	flag.Parse()
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "reshardbench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// shard is one customer shard: a server and a database on it.
type shard struct {
	name    string
	server  int
	db      string
	serving bool
	kr      vindex.KeyRange
}

var (
	sources = []string{"-80", "80-"}
	targets = []string{"-40", "40-80", "80-c0", "c0-"}
)

type bench struct {
	o       options
	dir     string
	servers []*mariadbd.Server
	shards  map[string]*shard
	hash    vindex.Vindex
	etcd    string
	prefix  string
	proxies []*proxyProc
	report  report
}

func run(ctx context.Context, o options) error {
	if _, err := os.Stat(o.shardgate); err != nil {
		return fmt.Errorf("the shardgate binary (-shardgate): %w (make build)", err)
	}
	dir, err := os.MkdirTemp("", "shardgate-bench-reshard-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("work folder %s (kept)", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b := &bench{o: o, dir: dir, prefix: "/sgbench", shards: map[string]*shard{}}
	b.report.started = time.Now()
	if b.hash, err = vindex.New("hash", nil); err != nil {
		return err
	}
	logf("starting 5 mariadbd (binlog ROW, GTID) and etcd under %s", dir)
	b.servers = make([]*mariadbd.Server, 5)
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range b.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.servers[i], errs[i] = mariadbd.StartWithOptions(ctx, filepath.Join(dir, fmt.Sprintf("db%d", i)), mariadbd.Options{
				Binlog: true,
				Args:   []string{"--innodb-buffer-pool-size=256M", "--max-allowed-packet=64M", "--innodb-log-file-size=256M"},
			})
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range b.servers {
			if s != nil {
				s.Kill()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	e, endpoint, err := startEtcd(dir)
	if err != nil {
		return err
	}
	defer e.Close()
	b.etcd = endpoint
	for _, s := range []shard{
		{name: "-80", server: 1, db: "customer", serving: true}, {name: "80-", server: 2, db: "customer", serving: true},
		{name: "-40", server: 3, db: "t1"}, {name: "40-80", server: 4, db: "t1"},
		{name: "80-c0", server: 3, db: "t2"}, {name: "c0-", server: 4, db: "t2"},
	} {
		s.kr, err = vindex.ParseKeyRange(s.name)
		if err != nil {
			return err
		}
		b.shards[s.name] = &s
	}
	if err := b.setup(ctx); err != nil {
		return err
	}
	defer func() {
		for _, p := range b.proxies {
			p.stop()
		}
	}()
	if err := b.load(ctx); err != nil {
		return err
	}
	if !o.skipIdle {
		if err := b.dumpBaseline(ctx); err != nil {
			return err
		}
		if err := b.idleCopy(ctx); err != nil {
			return err
		}
	}
	if err := b.underLoad(ctx); err != nil {
		return err
	}
	b.report.elapsed = time.Since(b.report.started)
	out := b.report.render(o)
	fmt.Print(out)
	if o.record != "" {
		f, err := os.OpenFile(o.record, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.WriteString("\n" + out); err != nil {
			return err
		}
		logf("report appended to %s", o.record)
	}
	if b.report.dataProblems > 0 {
		return fmt.Errorf("%d data problems (see the report)", b.report.dataProblems)
	}
	return nil
}

const itemsDDL = "CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(60) NOT NULL, pad VARCHAR(30) NOT NULL, KEY k (k))"

// setup creates the databases and the table on the sources, uploads the topology and starts
// the proxies.
func (b *bench) setup(ctx context.Context) error {
	if err := b.servers[0].Exec(ctx, "CREATE DATABASE commerce"); err != nil {
		return err
	}
	for _, i := range []int{1, 2} {
		if err := b.servers[i].Exec(ctx, "CREATE DATABASE customer", "USE customer", itemsDDL); err != nil {
			return err
		}
	}
	for _, i := range []int{3, 4} {
		if err := b.servers[i].Exec(ctx, "CREATE DATABASE t1", "CREATE DATABASE t2"); err != nil {
			return err
		}
	}
	var y strings.Builder
	fmt.Fprintf(&y, "global_keyspace: commerce\nkeyspaces:\n  commerce:\n    sharded: false\n    shards:\n      \"0\": {host: 127.0.0.1, port: %d, user: root, password: \"\", database: commerce}\n", b.servers[0].Port)
	y.WriteString("  customer:\n    sharded: true\n    shards:\n")
	for _, n := range append(append([]string{}, sources...), targets...) {
		s := b.shards[n]
		serving := ""
		if !s.serving {
			serving = ", serving: false"
		}
		fmt.Fprintf(&y, "      %q: {host: 127.0.0.1, port: %d, user: root, password: \"\", database: %s%s}\n", n, b.servers[s.server].Port, s.db, serving)
	}
	y.WriteString("    vschema:\n      vindexes: {hash: {type: hash}}\n      tables:\n        items: {column_vindexes: [{column: id, name: hash}]}\n")
	p := filepath.Join(b.dir, "topology.yaml")
	if err := os.WriteFile(p, []byte(y.String()), 0o600); err != nil {
		return err
	}
	docs, cfg, err := config.ExportKeyspaces(p)
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	et, err := topo.DialEtcd(topo.EtcdConfig{Endpoints: []string{b.etcd}, Prefix: b.prefix, DialTimeout: 3 * time.Second}, nil)
	if err != nil {
		return err
	}
	defer et.Close()
	if err := topo.PutKeyspaceDocs(ctx, et, docs, topo.SnapshotOptions{GlobalKeyspace: cfg.GlobalKeyspace}, false); err != nil {
		return fmt.Errorf("topo put: %w", err)
	}
	for n := range 2 {
		p, err := b.startProxy(ctx, n)
		if err != nil {
			return err
		}
		b.proxies = append(b.proxies, p)
	}
	return nil
}

// load fills items on the sources directly, each row on the shard its keyspace id names.
func (b *bench) load(ctx context.Context) error {
	start := time.Now()
	logf("loading %d rows into customer.items on the two sources", b.o.rows)
	type batch struct {
		shard string
		sql   string
	}
	ch := make(chan batch, 8)
	dbs := map[string]*sql.DB{}
	for _, n := range sources {
		db, err := b.shardDB(n)
		if err != nil {
			return err
		}
		defer db.Close()
		dbs[n] = db
	}
	var wg sync.WaitGroup
	var lerr error
	var once sync.Once
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range ch {
				if _, err := dbs[bt.shard].ExecContext(ctx, bt.sql); err != nil {
					once.Do(func() { lerr = err })
				}
			}
		}()
	}
	bufs := map[string]*strings.Builder{}
	counts := map[string]int{}
	flush := func(n string) {
		if counts[n] == 0 {
			return
		}
		ch <- batch{n, bufs[n].String()}
		bufs[n].Reset()
		counts[n] = 0
	}
	for id := 1; id <= b.o.rows && ctx.Err() == nil; id++ {
		n := b.shardOf(int64(id), sources)
		sb := bufs[n]
		if sb == nil {
			sb = &strings.Builder{}
			bufs[n] = sb
		}
		if counts[n] == 0 {
			sb.WriteString("INSERT INTO items (id, k, c, pad) VALUES ")
		} else {
			sb.WriteByte(',')
		}
		fmt.Fprintf(sb, "(%d,%d,'%s','%s')", id, id%100000, payload(int64(id), "seed"), padOf(id))
		counts[n]++
		if counts[n] == 2000 {
			flush(n)
		}
	}
	for _, n := range sources {
		flush(n)
	}
	close(ch)
	wg.Wait()
	if lerr != nil {
		return fmt.Errorf("loading: %w", lerr)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	total := 0
	for _, n := range sources {
		var c int
		if err := dbs[n].QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&c); err != nil {
			return err
		}
		b.report.sourceRows = append(b.report.sourceRows, fmt.Sprintf("%s %d", n, c))
		total += c
	}
	if total != b.o.rows {
		return fmt.Errorf("loaded %d rows, want %d", total, b.o.rows)
	}
	var size float64
	_, _ = dbs[sources[0]].ExecContext(ctx, "ANALYZE TABLE items") // fresh DATA_LENGTH
	if err := dbs[sources[0]].QueryRowContext(ctx, "SELECT (DATA_LENGTH + INDEX_LENGTH) / 1048576 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'customer' AND TABLE_NAME = 'items'").Scan(&size); err == nil {
		b.report.tableMB = size * 2
	}
	logf("loaded in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// payload is the c column: 60 characters naming the row and what wrote it last.
func payload(id int64, tag string) string {
	s := fmt.Sprintf("%d:%s:", id, tag)
	if len(s) < 60 {
		s += strings.Repeat("x", 60-len(s))
	}
	return s[:60]
}

func padOf(id int) string {
	return strings.Repeat(string(rune('a'+id%26)), 30)
}

func (b *bench) shardOf(id int64, names []string) string {
	ksid, err := b.hash.Map(id)
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		if b.shards[n].kr.Contains(ksid) {
			return n
		}
	}
	panic(fmt.Sprintf("no shard for %d", id))
}

func (b *bench) shardDB(name string) (*sql.DB, error) {
	s := b.shards[name]
	return b.servers[s.server].DB(s.db)
}

// dumpBaseline runs `mariadb-dump … items | mariadb` from each source into a scratch
// database on a target server, both at once.
func (b *bench) dumpBaseline(ctx context.Context) error {
	logf("baseline: mariadb-dump | mariadb of both sources at once")
	dump, err := exec.LookPath("mariadb-dump")
	if err != nil {
		return fmt.Errorf("mariadb-dump: %w (apt-get install mariadb-client)", err)
	}
	client, err := exec.LookPath("mariadb")
	if err != nil {
		return fmt.Errorf("mariadb: %w", err)
	}
	pairs := [][2]int{{1, 3}, {2, 4}}
	for _, p := range pairs {
		if err := b.servers[p[1]].Exec(ctx, "CREATE DATABASE scratch"); err != nil {
			return err
		}
	}
	start := time.Now()
	errs := make([]error, len(pairs))
	var wg sync.WaitGroup
	for i, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src, dst := b.servers[p[0]], b.servers[p[1]]
			cmd := fmt.Sprintf("%s --protocol=tcp -h127.0.0.1 -P%d -uroot --single-transaction customer items | %s --protocol=tcp -h127.0.0.1 -P%d -uroot scratch",
				dump, src.Port, client, dst.Port)
			out, err := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", cmd).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w: %s", cmd, err, out)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	total := 0
	for _, p := range pairs {
		db, err := b.servers[p[1]].DB("scratch")
		if err != nil {
			return err
		}
		var n int
		err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&n)
		db.Close()
		if err != nil {
			return err
		}
		total += n
		if err := b.servers[p[1]].Exec(ctx, "DROP DATABASE scratch"); err != nil {
			return err
		}
	}
	if total != b.o.rows {
		return fmt.Errorf("the dump copied %d rows, want %d", total, b.o.rows)
	}
	b.report.dumpSecs = took.Seconds()
	b.report.dumpRate = float64(total) / took.Seconds()
	logf("baseline: %d rows in %s: %.0f rows/s", total, took.Round(time.Millisecond), b.report.dumpRate)
	return nil
}

// idleCopy runs a workflow's copy with no client load, then cancels it.
func (b *bench) idleCopy(ctx context.Context) error {
	logf("idle copy: workflow idle, split -80,80- into 4")
	took, st, err := b.copyWorkflow(ctx, "idle", nil)
	if err != nil {
		return err
	}
	b.report.idleSecs = took.Seconds()
	b.report.idleRate = float64(st.RowsCopied) / took.Seconds()
	logf("idle copy: %d rows in %s: %.0f rows/s", st.RowsCopied, took.Round(time.Millisecond), b.report.idleRate)
	if _, err := b.do(ctx, 0, "idle", "cancel"); err != nil {
		return err
	}
	return nil
}

// copyWorkflow creates a workflow and waits until its copy is done (phase running); samples
// the client's throughput meanwhile when w is not nil.
func (b *bench) copyWorkflow(ctx context.Context, name string, w *workload) (time.Duration, *workflow.Status, error) {
	c := b.client(0)
	start := time.Now()
	if _, err := c.Create(ctx, workflow.CreateRequest{Type: workflow.TypeReshard, Keyspace: "customer", Workflow: name, SourceShards: sources, TargetShards: targets}); err != nil {
		return 0, nil, fmt.Errorf("create %s: %w", name, err)
	}
	for {
		st, err := c.Show(ctx, "customer", name)
		if err != nil {
			return 0, nil, err
		}
		switch st.Phase {
		case workflow.PhaseRunning:
			// The copy ended when the last stream saved its state: the phase is
			// polled every 100 ms, so this is at most that late.
			return time.Since(start), st, nil
		case workflow.PhaseError:
			return 0, nil, fmt.Errorf("workflow %s stopped on an error: %s", name, st.Error)
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (b *bench) client(n int) *admin.WorkflowClient {
	return &admin.WorkflowClient{Server: b.proxies[n%len(b.proxies)].http, User: "ops", Password: "ops"}
}

func (b *bench) do(ctx context.Context, n int, name, verb string) (*admin.WorkflowAnswer, error) {
	ans, err := b.client(n).Do(ctx, "customer", name, verb, nil)
	if err != nil {
		return ans, fmt.Errorf("%s of %s through proxy %d: %w", verb, name, n%len(b.proxies), err)
	}
	return ans, nil
}

// underLoad is steps 3 to 8.
func (b *bench) underLoad(ctx context.Context) error {
	var dbs []*sql.DB
	for _, p := range b.proxies {
		db, err := sql.Open("mysql", "app:secret@tcp("+p.mysql+")/customer?interpolateParams=true&timeout=5s&readTimeout=60s")
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(b.o.threads)
		defer db.Close()
		dbs = append(dbs, db)
	}
	w := startWorkload(b.o.rows, b.o.threads, dbs)
	defer w.stopAndWait()
	logf("workload alone for %s (%d threads)", b.o.before, b.o.threads)
	sleep(ctx, b.o.before)
	t0 := time.Now()
	b.report.before = w.window(t0.Add(-b.o.before+2*time.Second), t0) // 2 s of warm-up left out
	logf("before: %.0f ops/s, p95 %.1f ms", b.report.before.opsPerSec, b.report.before.p95ms)
	errsAtStart := w.errorCount()
	b.report.wfStart = time.Now()

	logf("copy under load: workflow load")
	took, st, err := b.copyWorkflow(ctx, "load", w)
	if err != nil {
		return err
	}
	t1 := time.Now()
	b.report.loadSecs = took.Seconds()
	b.report.loadRate = float64(st.RowsCopied) / took.Seconds()
	b.report.during = w.window(t1.Add(-took), t1)
	logf("copy under load: %d rows in %s: %.0f rows/s; workload %.0f ops/s, p95 %.1f ms", st.RowsCopied, took.Round(time.Millisecond), b.report.loadRate, b.report.during.opsPerSec, b.report.during.p95ms)

	// The streams start from a position taken before the copy and replay what the sources
	// wrote meanwhile: wait until they applied the sources' positions at the copy's end
	// (read here, directly), sampling the lag meanwhile; then the lag is sampled under load.
	if err := b.waitBacklog(ctx, "load", t1, 3*time.Minute); err != nil {
		return err
	}
	logf("backlog applied %.1fs after the copy (lag reported meanwhile: max %.3fs); sampling the lag for %s", b.report.catchup, b.report.backlogLagMax, b.o.lag)
	lags, err := b.sampleLag(ctx, "customer/load", b.o.lag)
	if err != nil {
		return err
	}
	for _, l := range lags {
		b.report.lag = append(b.report.lag, l.v)
		if l.v >= 1 {
			b.report.lagHigh = append(b.report.lagHigh, fmt.Sprintf("+%.1fs %.1fs", l.at.Sub(t1).Seconds(), l.v))
		}
	}
	t2 := time.Now()
	b.report.streaming = w.window(t2.Add(-b.o.lag), t2)

	logf("vdiff under load")
	ans, err := b.do(ctx, 1, "load", "vdiff")
	if err != nil {
		return err
	}
	b.report.vdiff = ans.Status.VDiff
	if v := ans.Status.VDiff; v != nil {
		logf("vdiff: %d rows in %.1fs: %.0f rows/s, %d mismatched, %d extra source, %d extra target, %d misplaced",
			v.RowsCompared, v.DurationMS/1000, v.RowsPerSec, v.Mismatched, v.ExtraSource, v.ExtraTarget, v.Misplaced)
	}
	t3 := time.Now()
	b.report.diffing = w.window(t3.Add(-time.Duration(ans.Status.VDiff.DurationMS)*time.Millisecond), t3)

	verbs := []string{}
	for range b.o.cycles {
		verbs = append(verbs, "switchtraffic", "reversetraffic")
	}
	verbs = append(verbs, "switchtraffic")
	for i, verb := range verbs {
		if err := b.waitCaughtUp(ctx, "load", time.Minute); err != nil {
			return err
		}
		sleep(ctx, b.o.dwell)
		sw := switchRun{n: i + 1, verb: verb, proxy: i % 2}
		sw.start = time.Now()
		ans, err := b.do(ctx, i, "load", verb)
		sw.end = time.Now()
		if err != nil {
			sw.err = err.Error()
			logf("%s %d: %v", verb, i+1, err)
		}
		if ans != nil && ans.Status != nil {
			if last := ans.Status.LastSwitch(); last != nil {
				sw.rec = last
			}
		}
		sleep(ctx, time.Second) // the writes after the switch, for the gap
		sw.gap, sw.gapAt = w.longestGap(sw.start, sw.end)
		sw.slowest = w.slowestWrite(sw.start, sw.end.Add(time.Second))
		b.report.switches = append(b.report.switches, sw)
		held := -1.0
		if sw.rec != nil {
			held = sw.rec.HeldMS
		}
		logf("%s %d via proxy %d: command %s, held %.0f ms, client pause %s", verb, i+1, sw.proxy, sw.end.Sub(sw.start).Round(time.Millisecond), held, sw.gap.Round(time.Millisecond))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := b.waitCaughtUp(ctx, "load", time.Minute); err != nil {
		return err
	}
	if _, err := b.do(ctx, 0, "load", "complete"); err != nil {
		return err
	}
	sleep(ctx, time.Second)
	w.stopAndWait()
	b.report.wfEnd = time.Now()
	b.report.errors = w.errorsSince(errsAtStart)
	b.report.errorsBefore = errsAtStart
	b.report.ops = w.totals()
	final, err := b.client(0).Show(ctx, "customer", "load")
	if err == nil {
		b.report.finalPhase = string(final.Phase)
	}
	logf("checking the data on the targets")
	return b.checkData(ctx, w)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// waitCaughtUp waits until every running stream's lag is below 0.5 s.
func (b *bench) waitCaughtUp(ctx context.Context, name string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		st, err := b.client(0).Show(ctx, "customer", name)
		if err != nil {
			return err
		}
		running, ok := 0, true
		for _, s := range st.Streams {
			if s.Running {
				running++
				if s.LagSeconds > 0.5 {
					ok = false
				}
			}
		}
		if ok && running > 0 && st.Switching == nil {
			return nil
		}
		if st.Phase == workflow.PhaseError {
			return fmt.Errorf("workflow %s stopped on an error: %s", name, st.Error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("workflow %s: streams not caught up within %s (phase %s, error %q)", name, within, st.Phase, st.Error)
		}
		sleep(ctx, 200*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// waitBacklog waits until every forward stream of the workflow applied the position its
// source had when the copy ended (read now, right after), and records how long that took and
// the largest lag the proxy reported meanwhile.
func (b *bench) waitBacklog(ctx context.Context, name string, copyEnd time.Time, within time.Duration) error {
	want := map[string]map[uint64]uint64{} // "customer/-80" -> domain -> seq
	for _, n := range sources {
		db, err := b.shardDB(n)
		if err != nil {
			return err
		}
		var pos string
		err = db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos)
		db.Close()
		if err != nil {
			return err
		}
		want["customer/"+n] = parseGTIDs(pos)
	}
	deadline := time.Now().Add(within)
	for {
		lags, err := b.sampleLagOnce(ctx, "customer/"+name)
		if err == nil {
			b.report.backlogLagMax = max(b.report.backlogLagMax, lags)
		}
		st, err := b.client(0).Show(ctx, "customer", name)
		if err != nil {
			return err
		}
		done := 0
		for _, s := range st.Streams {
			w, ok := want[s.Source]
			if !ok || s.Direction != "forward" {
				continue
			}
			got := parseGTIDs(s.Applied)
			covered := true
			for d, seq := range w {
				if got[d] < seq {
					covered = false
				}
			}
			if covered {
				done++
			}
		}
		if done == len(want) {
			b.report.catchup = time.Since(copyEnd).Seconds()
			return b.waitCaughtUp(ctx, name, time.Minute)
		}
		if st.Phase == workflow.PhaseError {
			return fmt.Errorf("workflow %s stopped on an error: %s", name, st.Error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("workflow %s: the streams did not apply the sources' positions at the copy's end within %s", name, within)
		}
		sleep(ctx, 100*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// parseGTIDs maps each domain of a MariaDB GTID list ("0-1-88213,1-2-5") to its sequence.
func parseGTIDs(s string) map[uint64]uint64 {
	out := map[uint64]uint64{}
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), "-")
		if len(f) != 3 {
			continue
		}
		d, err1 := strconv.ParseUint(f[0], 10, 64)
		n, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			out[d] = n
		}
	}
	return out
}

// sampleLagOnce is the largest shardgate_workflow_lag_seconds of the workflow on either proxy.
func (b *bench) sampleLagOnce(ctx context.Context, wf string) (float64, error) {
	worst, found := 0.0, false
	hc := &http.Client{Timeout: 2 * time.Second}
	for _, p := range b.proxies {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.http+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			continue
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(l, "shardgate_workflow_lag_seconds{") || !strings.Contains(l, `workflow="`+wf+`"`) {
				continue
			}
			f := strings.Fields(l)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				found = true
				worst = max(worst, v)
			}
		}
	}
	if !found {
		return 0, errors.New("no proxy exports shardgate_workflow_lag_seconds for the workflow")
	}
	return worst, nil
}

// sampleLag scrapes shardgate_workflow_lag_seconds of the workflow from both proxies (the
// runner exports it) every 100 ms, and returns every sample's largest stream lag.
type lagSample struct {
	at time.Time
	v  float64
}

func (b *bench) sampleLag(ctx context.Context, wf string, d time.Duration) ([]lagSample, error) {
	var out []lagSample
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		if v, err := b.sampleLagOnce(ctx, wf); err == nil {
			out = append(out, lagSample{time.Now(), v})
		}
		sleep(ctx, 100*time.Millisecond)
	}
	if len(out) == 0 {
		return nil, errors.New("no proxy exports shardgate_workflow_lag_seconds for the workflow")
	}
	return out, ctx.Err()
}

// checkData reads the targets directly after complete.
func (b *bench) checkData(ctx context.Context, w *workload) error {
	seen := map[int64]string{}
	vals := map[int64]string{}
	r := &b.report
	for _, n := range targets {
		db, err := b.shardDB(n)
		if err != nil {
			return err
		}
		rows, err := db.QueryContext(ctx, "SELECT id, c FROM items")
		if err != nil {
			db.Close()
			return err
		}
		for rows.Next() {
			var id int64
			var c string
			if err := rows.Scan(&id, &c); err != nil {
				rows.Close()
				db.Close()
				return err
			}
			if other, dup := seen[id]; dup {
				r.problem("row %d is on %s and %s", id, other, n)
			}
			seen[id], vals[id] = n, c
			if want := b.shardOf(id, targets); want != n {
				r.problem("row %d is on %s, its keyspace id names %s", id, n, want)
			}
		}
		err = rows.Err()
		rows.Close()
		db.Close()
		if err != nil {
			return err
		}
	}
	r.rowsOnTargets = len(seen)
	// every preloaded row and every acknowledged insert, with its last acknowledged value
	for id := int64(1); id <= int64(b.o.rows); id++ {
		if _, ok := seen[id]; !ok {
			r.problem("preloaded row %d is on no target", id)
		}
	}
	for id, want := range w.final() {
		got, ok := vals[id]
		switch {
		case !ok:
			r.problem("row %d (acknowledged write %q) is on no target", id, want)
		case got != want:
			r.problem("row %d: %q, the last acknowledged write set %q", id, got, want)
		}
		r.ackedChecked++
	}
	r.uncertain = w.uncertainCount()
	extra := len(seen) - b.o.rows - w.insertedCount()
	if extra != 0 && extra > r.uncertain {
		r.problem("%d rows on the targets beyond the preloaded and the acknowledged inserts (%d uncertain)", extra, r.uncertain)
	}
	logf("data: %d rows on the targets, %d acknowledged rows checked, %d problems", len(seen), r.ackedChecked, r.dataProblems)
	return nil
}

// proxyProc is a shardgate serve process.
type proxyProc struct {
	n     int
	mysql string
	http  string
	cmd   *exec.Cmd
	done  chan struct{}
	logf  string
}

func (b *bench) startProxy(ctx context.Context, n int) (*proxyProc, error) {
	p := &proxyProc{n: n, mysql: fmt.Sprintf("127.0.0.1:%d", freePort()), http: fmt.Sprintf("127.0.0.1:%d", freePort())}
	cfg := fmt.Sprintf(`listen: {mysql: %q, http: %q}
users:
  - {name: app, password: secret}
  - {name: ops, password: ops, admin: true}
default_keyspace: customer
global_keyspace: commerce
topology:
  source: etcd
  etcd: {endpoints: [%s], prefix: %s, dial_timeout: 2s}
pool: {size: 32}
workflow: {copy_throttle: %g, copy_chunk_rows: %d}
`, p.mysql, p.http, b.etcd, b.prefix, b.o.throttle, b.o.chunk)
	path := filepath.Join(b.dir, fmt.Sprintf("proxy%d.yaml", n))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	p.logf = filepath.Join(b.dir, fmt.Sprintf("proxy%d.log", n))
	f, err := os.Create(p.logf)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(b.o.shardgate, "serve", "--config", path)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p.done = make(chan struct{})
	go func() { // owned by p: ends with the process, which stop ends
		_ = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", p.mysql, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return p, nil
		}
		select {
		case <-p.done:
			data, _ := os.ReadFile(p.logf)
			return nil, fmt.Errorf("proxy %d exited at start:\n%s", n, data)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("proxy %d does not listen on %s", n, p.mysql)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proxyProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func startEtcd(dir string) (*embed.Etcd, string, error) {
	cfg := embed.NewConfig()
	cfg.Name = "bench"
	cfg.Dir = filepath.Join(dir, "etcd")
	var lastErr error
	for range 20 {
		client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort())}
		peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort())}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		select {
		case <-e.Server.ReadyNotify():
			return e, client.Host, nil
		case <-time.After(30 * time.Second):
			e.Close()
			return nil, "", errors.New("embedded etcd did not become ready")
		}
	}
	return nil, "", fmt.Errorf("embedded etcd: %w", lastErr)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ---- the workload ----

type op struct {
	end time.Time
	lat time.Duration
}

type worker struct {
	ops    []op        // every successful operation
	writes []time.Time // acknowledgement times of successful writes
	wlat   []op        // writes with their latency
}

type workload struct {
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	workers []*worker

	mu        sync.Mutex
	values    map[int64]string // id -> last acknowledged c
	uncertain map[int64]bool   // ids of writes that failed (their outcome is unknown)
	inserted  int
	errs      []clientError
}

type clientError struct {
	at   time.Time
	kind string
	msg  string
}

func startWorkload(rows, threads int, dbs []*sql.DB) *workload {
	w := &workload{stop: make(chan struct{}), values: map[int64]string{}, uncertain: map[int64]bool{}}
	for t := range threads {
		wk := &worker{}
		w.workers = append(w.workers, wk)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.run(t, threads, rows, dbs[t%len(dbs)], wk)
		}()
	}
	return w
}

func (w *workload) run(t, threads, rows int, db *sql.DB, wk *worker) {
	rnd := rand.New(rand.NewSource(int64(t) + 1))
	next := int64(10_000_000_000) + int64(t)*1_000_000_000
	var mine []int64 // ids this thread inserted; it also owns the preloaded ids ≡ t mod threads
	ctx := context.Background()
	for n := 0; ; n++ {
		select {
		case <-w.stop:
			return
		default:
		}
		var q string
		var args []any
		var id int64
		write := true
		val := ""
		switch r := rnd.Intn(4); r {
		case 0, 1:
			write = false
			id = 1 + rnd.Int63n(int64(rows))
			q, args = "SELECT c FROM items WHERE id = ?", []any{id}
		case 2:
			if len(mine) > 0 && rnd.Intn(2) == 0 {
				id = mine[rnd.Intn(len(mine))]
			} else {
				id = int64(t+1) + int64(threads)*rnd.Int63n(int64(max(rows/threads, 1)))
				if id > int64(rows) {
					id = int64(t + 1)
				}
			}
			val = payload(id, fmt.Sprintf("u%d-%d", t, n))
			q, args = "UPDATE items SET c = ? WHERE id = ?", []any{val, id}
		default:
			next++
			id = next
			val = payload(id, fmt.Sprintf("i%d-%d", t, n))
			q, args = "INSERT INTO items (id, k, c, pad) VALUES (?, ?, ?, 'bench')", []any{id, n % 100000, val}
		}
		start := time.Now()
		var err error
		if write {
			_, err = db.ExecContext(ctx, q, args...)
		} else {
			var c string
			err = db.QueryRowContext(ctx, q, args...).Scan(&c)
		}
		end := time.Now()
		if err != nil {
			w.mu.Lock()
			w.errs = append(w.errs, clientError{at: end, kind: errKind(err), msg: err.Error()})
			if write {
				w.uncertain[id] = true
			}
			w.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			continue
		}
		snapMu.Lock()
		wk.ops = append(wk.ops, op{end, end.Sub(start)})
		if write {
			wk.writes = append(wk.writes, end)
			wk.wlat = append(wk.wlat, op{end, end.Sub(start)})
		}
		snapMu.Unlock()
		if write {
			w.mu.Lock()
			w.values[id] = val
			if q[0] == 'I' {
				mine = append(mine, id)
				w.inserted++
			}
			w.mu.Unlock()
		}
	}
}

func errKind(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return strconv.Itoa(int(me.Number))
	}
	return "other"
}

// stopAndWait stops the clients; the workers' slices may be read afterwards.
func (w *workload) stopAndWait() {
	w.stopped.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// snapMu guards the workers' ops, writes and wlat: the workers append under it, the
// readers below copy under it.
var snapMu sync.Mutex

type window struct {
	ops       int
	secs      float64
	opsPerSec float64
	p50ms     float64
	p95ms     float64
	p99ms     float64
}

func (w *workload) allOps() []op {
	snapMu.Lock()
	defer snapMu.Unlock()
	var all []op
	for _, wk := range w.workers {
		all = append(all, wk.ops...)
	}
	return all
}

// window is the throughput and latency of operations that ended within [from, to).
func (w *workload) window(from, to time.Time) window {
	var lats []time.Duration
	for _, o := range w.allOps() {
		if !o.end.Before(from) && o.end.Before(to) {
			lats = append(lats, o.lat)
		}
	}
	secs := to.Sub(from).Seconds()
	win := window{ops: len(lats), secs: secs, opsPerSec: float64(len(lats)) / secs}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	win.p50ms = ms(percentile(lats, 0.50))
	win.p95ms = ms(percentile(lats, 0.95))
	win.p99ms = ms(percentile(lats, 0.99))
	return win
}

// longestGap is the longest time between two consecutive acknowledged writes (all threads
// merged) that overlaps [from, to], and where it started.
func (w *workload) longestGap(from, to time.Time) (time.Duration, time.Time) {
	var acks []time.Time
	snapMu.Lock()
	for _, wk := range w.workers {
		acks = append(acks, wk.writes...)
	}
	snapMu.Unlock()
	sort.Slice(acks, func(i, j int) bool { return acks[i].Before(acks[j]) })
	var best time.Duration
	var at time.Time
	for i := 1; i < len(acks); i++ {
		a, b := acks[i-1], acks[i]
		if b.Before(from) || a.After(to) {
			continue
		}
		if g := b.Sub(a); g > best {
			best, at = g, a
		}
	}
	return best, at
}

// slowestWrite is the longest write that ended within [from, to].
func (w *workload) slowestWrite(from, to time.Time) time.Duration {
	var best time.Duration
	snapMu.Lock()
	defer snapMu.Unlock()
	for _, wk := range w.workers {
		for _, o := range wk.wlat {
			if !o.end.Before(from) && !o.end.After(to) && o.lat > best {
				best = o.lat
			}
		}
	}
	return best
}

func (w *workload) errorCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.errs)
}

func (w *workload) errorsSince(n int) []clientError {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]clientError(nil), w.errs[n:]...)
}

func (w *workload) totals() (t opTotals) {
	snapMu.Lock()
	defer snapMu.Unlock()
	for _, wk := range w.workers {
		t.ops += len(wk.ops)
		t.writes += len(wk.writes)
	}
	return t
}

type opTotals struct{ ops, writes int }

// final is every row's last acknowledged value, except the rows a failed write touched.
func (w *workload) final() map[int64]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[int64]string{}
	for id, v := range w.values {
		if !w.uncertain[id] {
			out[id] = v
		}
	}
	return out
}

func (w *workload) uncertainCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.uncertain)
}

func (w *workload) insertedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inserted
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ---- the report ----

type switchRun struct {
	n          int
	verb       string
	proxy      int
	start, end time.Time
	rec        *workflow.SwitchRecord
	err        string
	gap        time.Duration
	gapAt      time.Time
	slowest    time.Duration
}

type report struct {
	started, wfStart, wfEnd time.Time
	elapsed                 time.Duration
	sourceRows              []string
	tableMB                 float64
	dumpSecs, dumpRate      float64
	idleSecs, idleRate      float64
	loadSecs, loadRate      float64
	before, during          window
	streaming, diffing      window
	catchup                 float64 // seconds from the copy's end until the streams applied the sources' positions then
	backlogLagMax           float64 // the largest lag the proxy reported meanwhile
	lag                     []float64
	lagHigh                 []string // samples ≥ 1 s: time after the copy, lag
	vdiff                   *workflow.VDiffReport
	switches                []switchRun
	errors                  []clientError
	errorsBefore            int
	ops                     opTotals
	finalPhase              string
	rowsOnTargets           int
	ackedChecked            int
	uncertain               int
	dataProblems            int
	problems                []string
}

func (r *report) problem(format string, args ...any) {
	r.dataProblems++
	if len(r.problems) < 10 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

func fpct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}

func (r *report) render(o options) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## %s — online Reshard 2→4 under load (issue 20), `make bench-reshard`\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- machine: %s, %d CPUs (%s), %s RAM; shared with other work during the run (load average at the end: %s)\n", host, runtime.NumCPU(), machine.CPUModel(), machine.Memory(), machine.LoadAvg())
	fmt.Fprintf(&b, "- harness command line: `reshardbench %s`\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(&b, "- setup: 5 mariadbd (internal/mariadbd: binlog ROW + GTID, innodb_flush_log_at_trx_commit=2, 256 MB buffer pool): global, sources -80 and 80- on two servers, targets -40, 40-80, 80-c0, c0- as two databases on each of two more servers; embedded etcd; 2 `shardgate serve` processes (workflow.copy_throttle %g, copy_chunk_rows %d, switch_timeout 1s); `items (id BIGINT PK, k INT, c VARCHAR(60), pad VARCHAR(30), KEY k)` with %d rows (%s; ≈%.0f MB with indexes)\n",
		o.throttle, o.chunk, o.rows, strings.Join(r.sourceRows, ", "), r.tableMB)
	fmt.Fprintf(&b, "- workload: %d go-sql-driver connections spread over both proxies, autocommit, back to back: 50 %% point selects by id, 25 %% updates of rows the thread owns, 25 %% inserts of new ids\n", o.threads)
	fmt.Fprintf(&b, "- run took %s\n\n", r.elapsed.Round(time.Second))

	b.WriteString("| figure | measured | aim | |\n|---|--:|--:|---|\n")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	if r.dumpRate > 0 {
		fmt.Fprintf(&b, "| `mariadb-dump \\| mariadb`, both sources at once (rows/s) | %.0f (%.1f s) | | baseline |\n", r.dumpRate, r.dumpSecs)
		fmt.Fprintf(&b, "| copy, idle (rows/s) | %.0f (%.1f s) | ≥ 1.5× dump | %.2f× dump: %s |\n", r.idleRate, r.idleSecs, r.idleRate/r.dumpRate, verdict(r.idleRate >= 1.5*r.dumpRate))
	}
	fmt.Fprintf(&b, "| copy, under load (rows/s) | %.0f (%.1f s) | | ", r.loadRate, r.loadSecs)
	if r.dumpRate > 0 {
		fmt.Fprintf(&b, "%.2f× dump |\n", r.loadRate/r.dumpRate)
	} else {
		b.WriteString(" |\n")
	}
	thr := r.during.opsPerSec / r.before.opsPerSec
	p95 := r.during.p95ms / r.before.p95ms
	fmt.Fprintf(&b, "| workload before the copy: ops/s, p95 | %.0f, %.1f ms | | |\n", r.before.opsPerSec, r.before.p95ms)
	fmt.Fprintf(&b, "| workload during the copy: ops/s, p95 | %.0f, %.1f ms | | |\n", r.during.opsPerSec, r.during.p95ms)
	fmt.Fprintf(&b, "| throughput during / before | %.2f | ≥ 0.7 | %s |\n", thr, verdict(thr >= 0.7))
	fmt.Fprintf(&b, "| p95 during / before | %.2f | ≤ 2 | %s |\n", p95, verdict(p95 <= 2))
	lags := append([]float64(nil), r.lag...)
	sort.Float64s(lags)
	fmt.Fprintf(&b, "| stream lag under load, %d samples over %s: p50 / p99 / max (s) | %.3f / %.3f / %.3f | p99 < 1 s | %s |\n", len(lags), o.lag, fpct(lags, .5), fpct(lags, .99), fpct(lags, 1), verdict(fpct(lags, .99) < 1))
	if v := r.vdiff; v != nil {
		fmt.Fprintf(&b, "| VDiff under load (rows/s) | %.0f (%d rows in %.1f s; %d mismatched, %d extra source, %d extra target, %d misplaced) | | |\n", v.RowsPerSec, v.RowsCompared, v.DurationMS/1000, v.Mismatched, v.ExtraSource, v.ExtraTarget, v.Misplaced)
	}
	var pauses, helds []float64
	aborted := 0
	for _, s := range r.switches {
		pauses = append(pauses, ms(s.gap))
		if s.rec != nil {
			helds = append(helds, s.rec.HeldMS)
		}
		if s.err != "" || (s.rec != nil && !s.rec.OK) {
			aborted++
		}
	}
	sort.Float64s(pauses)
	sort.Float64s(helds)
	fmt.Fprintf(&b, "| write pause at the client over %d switches: p50 / max (ms) | %.0f / %.0f | ≤ 100 / ≤ 500 | %s / %s |\n", len(pauses), fpct(pauses, .5), fpct(pauses, 1), verdict(fpct(pauses, .5) <= 100), verdict(fpct(pauses, 1) <= 500))
	fmt.Fprintf(&b, "| statements held, as the workflow recorded: p50 / max (ms) | %.0f / %.0f | | |\n", fpct(helds, .5), fpct(helds, 1))
	fmt.Fprintf(&b, "| switches aborted | %d of %d | | |\n", aborted, len(r.switches))
	kinds := map[string]int{}
	for _, e := range r.errors {
		kinds[e.kind]++
	}
	var ks []string
	for k, n := range kinds {
		ks = append(ks, fmt.Sprintf("%d × %s", n, k))
	}
	sort.Strings(ks)
	fmt.Fprintf(&b, "| client errors over the whole workflow (create to complete) | %d%s | 0 | %s |\n", len(r.errors), map[bool]string{true: "", false: " (" + strings.Join(ks, ", ") + ")"}[len(ks) == 0], verdict(len(r.errors) == 0))
	fmt.Fprintf(&b, "| acknowledged writes missing, duplicated, stale or on a wrong shard | %d | 0 | %s |\n\n", r.dataProblems, verdict(r.dataProblems == 0))

	fmt.Fprintf(&b, "Workload while the streams ran (%s): %.0f ops/s, p95 %.1f ms; during VDiff: %.0f ops/s, p95 %.1f ms. The streams replay from a position taken before the copy: they applied what the sources had at the copy's end %.1f s after it ended (largest lag the proxy reported meanwhile: %.1f s); the lag row above is sampled after that. Client operations over the run: %d (%d writes); errors before the workflow: %d. Final phase: %s; %d rows on the targets, %d acknowledged rows checked (%d rows with a failed write left out).\n\n",
		o.lag, r.streaming.opsPerSec, r.streaming.p95ms, r.diffing.opsPerSec, r.diffing.p95ms, r.catchup, r.backlogLagMax, r.ops.ops, r.ops.writes, r.errorsBefore, r.finalPhase, r.rowsOnTargets, r.ackedChecked, r.uncertain)
	if len(r.lagHigh) > 0 {
		fmt.Fprintf(&b, "Lag samples ≥ 1 s (time after the copy ended, lag): %s.\n\n", strings.Join(r.lagHigh, ", "))
	}
	for _, p := range r.problems {
		fmt.Fprintf(&b, "- data problem: %s\n", p)
	}
	for i, e := range r.errors {
		if i == 5 {
			fmt.Fprintf(&b, "- … %d more client errors\n", len(r.errors)-5)
			break
		}
		fmt.Fprintf(&b, "- client error at +%.1fs: %s\n", e.at.Sub(r.wfStart).Seconds(), trim(e.msg, 300))
	}
	b.WriteString("\n| # | command | via proxy | command ms | held ms (workflow) | switch ms (workflow) | client pause ms | slowest write ms | steps ms | outcome |\n|--:|---|--:|--:|--:|--:|--:|--:|---|---|\n")
	for _, s := range r.switches {
		held, dur, steps, outcome := "", "", "", "ok"
		if s.rec != nil {
			held = fmt.Sprintf("%.0f", s.rec.HeldMS)
			dur = fmt.Sprintf("%.0f", s.rec.DurationMS)
			var names []string
			for k := range s.rec.Steps {
				names = append(names, k)
			}
			sort.Slice(names, func(i, j int) bool { return stepOrder(names[i]) < stepOrder(names[j]) })
			var parts []string
			for _, k := range names {
				parts = append(parts, fmt.Sprintf("%s %.0f", k, s.rec.Steps[k]))
			}
			steps = strings.Join(parts, ", ")
			if !s.rec.OK {
				outcome = "aborted: " + trim(s.rec.Error, 200)
			}
		}
		if s.err != "" {
			outcome = "error: " + trim(s.err, 200)
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %.0f | %s | %s | %.0f | %.0f | %s | %s |\n", s.n, s.verb, s.proxy, ms(s.end.Sub(s.start)), held, dur, ms(s.gap), ms(s.slowest), steps, outcome)
	}
	return b.String()
}

func stepOrder(s string) int {
	for i, n := range []string{"hold", "acks", "fence", "catchup", "prepare_other_side", "flip"} {
		if n == s {
			return i
		}
	}
	return 99
}

func trim(s string, n int) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
