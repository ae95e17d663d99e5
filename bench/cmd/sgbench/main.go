// Command sgbench is the harness behind `make bench`: it measures shardgate with sysbench
// against the same MariaDB reached directly and through a bare TCP relay, in one sitting.
//
// It starts four throwaway mariadbd servers (internal/mariadbd): a global keyspace and two
// shards for the proxy, and one "direct" server. It runs `shardgate serve` as a separate
// process on a generated config (customer keyspace with auto_vschema, global keyspace
// commerce) and bench/relay in front of the direct server, prepares the sysbench table with
// plain `sysbench oltp_read_write prepare` through the proxy (AUTO_INCREMENT: ids from a
// sequence in the global keyspace, sbtest1 sharded by hash on id by auto-vschema) and on the
// direct server, then runs sysbench against direct, relay and proxy in turn, for each test
// (sysbench's OLTP tests and Lua scripts of bench/, such as scatter.lua) and --db-ps-mode,
// for a number of rounds. It prints each run, a summary with the ratios to direct and to the
// relay, and the CPU time per query of the proxy (or relay) process and of the mariadbd
// servers behind it, read from /proc/<pid>/stat.
//
// Settings come from flags or the BENCH_* environment variables (see bench/README.md).
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/internal/mariadbd"
)

// defaultTests: sysbench's OLTP tests, bench/scatter.lua (cross-shard ORDER BY … LIMIT and
// GROUP BY) and the scan test (1M-row reads, scan.go). The mux test (mux.go) is opt-in.
const defaultTests = "oltp_point_select,oltp_read_only,oltp_read_write,oltp_insert,scatter,scan"

type options struct {
	shardgate string
	baseline  string   // a second shardgate binary measured as target "baseline" (e.g. before a change)
	targets   []string // targets to run: direct, relay, proxy, baseline
	relay     string
	seconds   int
	rounds    int
	threads   int
	rows      int
	warmup    int
	modes     []string
	tests     []string
	scripts   string
	extra     []string
	record    string
	command   string
	keep      bool
	hold      bool

	// the scan test
	scanRows   int
	scanReps   int
	scanProtos []string
	// the mux test
	muxThreads, muxDirectThreads, muxPool int
	muxTest                               string
}

// targetHalf is the direct server held (sysbench --rate) to half the transactions per second
// the proxy reached in the same round: the load one of its two shards gets. A mariadbd's CPU per
// statement grows as its load falls (its threads sleep between statements and are woken for
// each), so this, not the direct server at full speed, is what a shard's CPU compares with.
const targetHalf = "direct-half"

// special tests are run by sgbench itself rather than as one sysbench test per target.
const (
	testScan = "scan" // large results: scan.go
	testMux  = "mux"  // many clients on few backend connections: mux.go
)

func special(test string) bool { return test == testScan || test == testMux }

// sysbenchTests are the tests run as sysbench tests, in the round loop.
func (o options) sysbenchTests() []string {
	var out []string
	for _, t := range o.tests {
		if !special(t) {
			out = append(out, t)
		}
	}
	return out
}

func (o options) has(test string) bool {
	for _, t := range o.tests {
		if t == test {
			return true
		}
	}
	return false
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		fmt.Fprintf(os.Stderr, "sgbench: ignoring %s=%q (not a number)\n", name, v)
	}
	return def
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

func main() {
	// Child processes get Pdeathsig, which fires when the *thread* that forked them exits:
	// fork them all from the main goroutine, locked to the main thread.
	runtime.LockOSThread()

	var o options
	var modes, tests string
	var targets string
	flag.StringVar(&o.shardgate, "shardgate", "bin/shardgate", "shardgate binary")
	flag.StringVar(&o.baseline, "baseline", os.Getenv("BENCH_BASELINE"), "another shardgate binary, measured as target baseline on the same servers, e.g. one built before a change (BENCH_BASELINE)")
	flag.StringVar(&targets, "targets", os.Getenv("BENCH_TARGETS"), "targets of the sysbench tests, in order (default direct,relay,proxy,direct-half, and baseline with -baseline) (BENCH_TARGETS)")
	flag.StringVar(&o.relay, "relay", "bin/relay", "relay binary (go build ./bench/relay)")
	flag.IntVar(&o.seconds, "time", envInt("BENCH_TIME", 30), "seconds per sysbench run (BENCH_TIME)")
	flag.IntVar(&o.rounds, "rounds", envInt("BENCH_ROUNDS", 3), "rounds of the targets (BENCH_ROUNDS)")
	flag.IntVar(&o.threads, "threads", envInt("BENCH_THREADS", 8), "sysbench threads (BENCH_THREADS)")
	flag.IntVar(&o.rows, "rows", envInt("BENCH_ROWS", 100000), "rows in sbtest1 (BENCH_ROWS)")
	flag.IntVar(&o.warmup, "warmup", envInt("BENCH_WARMUP", 5), "seconds of unmeasured sysbench per target before the first round, 0 for none (BENCH_WARMUP)")
	flag.StringVar(&modes, "modes", envStr("BENCH_MODES", "auto,disable"), "--db-ps-mode values (BENCH_MODES)")
	flag.StringVar(&tests, "tests", envStr("BENCH_TESTS", defaultTests), "sysbench tests, or names of Lua scripts in -scripts (BENCH_TESTS)")
	flag.StringVar(&o.scripts, "scripts", "bench", "folder of the benchmark's own sysbench scripts: test NAME runs NAME.lua from it when it exists")
	var extra string
	flag.StringVar(&extra, "sysbench-args", os.Getenv("BENCH_SYSBENCH_ARGS"), "more sysbench options for every run, space-separated, e.g. --mysql-ignore-errors=none (BENCH_SYSBENCH_ARGS)")
	flag.StringVar(&o.record, "record", os.Getenv("BENCH_RECORD"), "append the markdown section to this file, e.g. bench/RESULTS.md (BENCH_RECORD)")
	flag.StringVar(&o.command, "command", "", "command line to record (default: this program's)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder (servers' data and logs, proxy log)")
	flag.BoolVar(&o.hold, "hold", false, "start and load everything, print the addresses, and wait for Ctrl-C instead of measuring (for profiling by hand)")
	var protos string
	flag.IntVar(&o.scanRows, "scan-rows", envInt("BENCH_SCAN_ROWS", 1000000), "rows the scan test reads (BENCH_SCAN_ROWS)")
	flag.IntVar(&o.scanReps, "scan-reps", envInt("BENCH_SCAN_REPS", 5), "repetitions of each read of the scan test (BENCH_SCAN_REPS)")
	flag.StringVar(&protos, "scan-protocols", envStr("BENCH_SCAN_PROTOCOLS", "text,binary"), "protocols of the scan test: text, binary (BENCH_SCAN_PROTOCOLS)")
	flag.IntVar(&o.muxThreads, "mux-threads", envInt("BENCH_MUX_THREADS", 1000), "sysbench threads through the mux test's proxy (BENCH_MUX_THREADS)")
	flag.IntVar(&o.muxDirectThreads, "mux-direct-threads", envInt("BENCH_MUX_DIRECT_THREADS", 64), "sysbench threads of the mux test against direct, relay and the proxy (BENCH_MUX_DIRECT_THREADS)")
	flag.IntVar(&o.muxPool, "mux-pool", envInt("BENCH_MUX_POOL", 32), "pool.size (backend connections per shard) of the mux test's proxy (BENCH_MUX_POOL)")
	flag.StringVar(&o.muxTest, "mux-test", envStr("BENCH_MUX_TEST", "oltp_point_select"), "sysbench test of the mux test (BENCH_MUX_TEST)")
	flag.Parse()
	o.modes, o.tests, o.extra = splitList(modes), splitList(tests), strings.Fields(extra)
	o.targets = splitList(targets)
	if len(o.targets) == 0 {
		o.targets = []string{"direct", "relay", "proxy", targetHalf}
		if o.baseline != "" {
			o.targets = append(o.targets, "baseline")
		}
	}
	for _, t := range o.targets {
		if t != "direct" && t != "relay" && t != "proxy" && t != targetHalf && (t != "baseline" || o.baseline == "") {
			fmt.Fprintf(os.Stderr, "sgbench: target %q: want direct, relay, proxy, %s, or baseline with -baseline\n", t, targetHalf)
			os.Exit(2)
		}
	}
	o.scanProtos = splitList(protos)
	if o.command == "" {
		o.command = strings.Join(os.Args, " ")
	}
	if o.seconds <= 0 || o.rounds <= 0 || o.threads <= 0 || o.rows <= 0 || len(o.modes) == 0 || len(o.tests) == 0 {
		fmt.Fprintln(os.Stderr, "sgbench: time, rounds, threads, rows must be positive; modes and tests not empty")
		os.Exit(2)
	}
	if o.scanRows <= 0 || o.scanReps <= 0 || o.muxThreads <= 0 || o.muxDirectThreads <= 0 || o.muxPool <= 0 {
		fmt.Fprintln(os.Stderr, "sgbench: scan rows and repetitions, mux threads and pool must be positive")
		os.Exit(2)
	}
	for _, p := range o.scanProtos {
		if p != "text" && p != "binary" {
			fmt.Fprintf(os.Stderr, "sgbench: scan protocol %q: want text or binary\n", p)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sgbench:", err)
		os.Exit(1)
	}
}

// env is everything started for one benchmark.
type env struct {
	dir                    string
	global, shard1, shard2 *mariadbd.Server
	direct                 *mariadbd.Server
	proxy, relay           *exec.Cmd
	proxyAddr, relayAddr   string
	proxyHTTP              string // the proxy's admin listener
	proxyLog               string
	baseline               *proxyProc // the baseline binary's proxy, or nil
	mux                    *proxyProc // the second proxy of the mux test (small pools), or nil
}

func run(ctx context.Context, o options) error {
	for _, p := range []string{o.shardgate, o.relay} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%v (run make bench, which builds it)", err)
		}
	}
	if _, err := exec.LookPath("sysbench"); err != nil {
		return errors.New("sysbench not found: apt-get install sysbench (or scripts/deps.sh install)")
	}
	if _, err := mariadbd.FindBinaries(); err != nil {
		return err
	}
	info := machineInfo(o)

	dir, err := os.MkdirTemp("", "shardgate-bench-")
	if err != nil {
		return err
	}
	e := &env{dir: dir}
	defer func() {
		e.stop()
		if o.keep {
			fmt.Println("work folder kept:", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()

	t0 := time.Now()
	fmt.Printf("starting 4 mariadbd (global, 2 shards, direct) under %s ...\n", dir)
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	var dbOpts mariadbd.Options
	if o.has(testScan) {
		// the scan tables (about 90 MB each) stay in the buffer pool: the reads measure
		// the forwarding, not InnoDB reading pages back in
		dbOpts.Args = append(dbOpts.Args, "--innodb-buffer-pool-size=256M")
	}
	servers, err := mariadbd.StartClusterWithOptions(sctx, dir, 4, dbOpts)
	cancel()
	if err != nil {
		return err
	}
	e.global, e.shard1, e.shard2, e.direct = servers[0], servers[1], servers[2], servers[3]
	for s, db := range map[*mariadbd.Server]string{e.global: "commerce", e.shard1: "customer", e.shard2: "customer", e.direct: "sbtest"} {
		if err := s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
			return err
		}
	}
	info.mariadb = queryString(ctx, e.direct.DSN(""), "SELECT VERSION()")
	fmt.Printf("  servers up in %.1fs: global :%d, shards :%d :%d, direct :%d\n", time.Since(t0).Seconds(),
		e.global.Port, e.shard1.Port, e.shard2.Port, e.direct.Port)

	if err := e.startProxy(ctx, o); err != nil {
		return err
	}
	if err := e.startRelay(o); err != nil {
		return err
	}
	fmt.Printf("  proxy %s (pid %d, admin %s), relay %s (pid %d) -> direct %s\n", e.proxyAddr, e.proxy.Process.Pid, e.proxyHTTP,
		e.relayAddr, e.relay.Process.Pid, e.direct.Addr())

	direct := []*mariadbd.Server{e.direct}
	targets := []*target{
		{name: "direct", addr: e.direct.Addr(), user: "root", db: "sbtest", dbs: direct, tables: direct, schema: "sbtest"},
		{name: "relay", addr: e.relayAddr, user: "root", db: "sbtest", pid: e.relay.Process.Pid, dbs: direct, tables: direct, schema: "sbtest"},
		{name: "proxy", addr: e.proxyAddr, user: "app", password: "secret", db: "customer", pid: e.proxy.Process.Pid, http: e.proxyHTTP,
			dbs: []*mariadbd.Server{e.global, e.shard1, e.shard2}, tables: []*mariadbd.Server{e.shard1, e.shard2}, schema: "customer"},
		{name: targetHalf, addr: e.direct.Addr(), user: "root", db: "sbtest", dbs: direct, tables: direct, schema: "sbtest", rateOf: "proxy", rateShare: 0.5},
	}
	var load loadStats
	if len(o.sysbenchTests()) > 0 || o.has(testMux) {
		if load, err = e.load(ctx, o, targets[2], targets[0]); err != nil {
			return err
		}
	}

	if o.baseline != "" {
		// the same configuration on the same servers, started once sbtest1 exists: a proxy
		// learns the tables of an auto-vschema keyspace at startup
		bo := o
		bo.shardgate = o.baseline
		p, err := e.launchProxy(ctx, bo, "baseline", "")
		if err != nil {
			return err
		}
		e.baseline = p
		targets = append(targets, &target{name: "baseline", addr: p.addr, user: "app", password: "secret", db: "customer", pid: p.cmd.Process.Pid,
			http: p.httpAddr, log: p.log, dbs: targets[2].dbs, tables: targets[2].tables, schema: "customer"})
		if out, err := exec.Command(o.baseline, "version").Output(); err == nil {
			info.baseline = strings.TrimSpace(string(out))
		}
		fmt.Printf("  baseline %s: %s (pid %d, admin %s)\n", o.baseline, p.addr, p.cmd.Process.Pid, p.httpAddr)
	}

	if o.hold {
		for _, t := range targets {
			if t.rateOf != "" {
				continue
			}
			fmt.Printf("  %s: %s user %s db %s pid %d\n", t.name, t.addr, t.user, t.db, t.pid)
		}
		fmt.Println("holding: Ctrl-C stops everything")
		<-ctx.Done()
		return nil
	}

	if o.warmup > 0 && len(o.sysbenchTests()) > 0 {
		fmt.Printf("warming up (%ds per target and test) ...\n", o.warmup)
		for _, test := range o.sysbenchTests() {
			for _, t := range pick(targets, o.targets) {
				if t.rateOf != "" {
					continue // the same server as direct, warmed up there
				}
				r := e.sysbench(ctx, o, t, test, o.modes[0], o.warmup)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				e.trim(ctx, t, load)
				if r.err != "" {
					fmt.Printf("  warm-up %s %s: %s\n", t.name, test, r.err)
				}
			}
		}
	}

	run := pick(targets, o.targets)
	var results []*result
	for round := 1; round <= o.rounds; round++ {
		for _, test := range o.sysbenchTests() {
			for _, mode := range o.modes {
				var byTarget = map[string]*result{}
				for _, t := range run {
					fmt.Printf("round %d/%d  %-18s %-8s %-11s ", round, o.rounds, test, mode, t.name)
					if t.rateOf != "" {
						from := byTarget[t.rateOf]
						if from == nil || from.err != "" || from.tps <= 0 {
							fmt.Printf("skipped: no %s run to take the rate from\n", t.rateOf)
							continue
						}
						t.rate = max(1, int(from.tps*t.rateShare))
					}
					r := e.sysbench(ctx, o, t, test, mode, o.seconds)
					if ctx.Err() != nil {
						return ctx.Err()
					}
					e.trim(ctx, t, load)
					r.round = round
					byTarget[t.name] = r
					results = append(results, r)
					if r.err != "" {
						fmt.Printf("FAILED: %s\n", r.err)
					} else {
						fmt.Printf("%9.0f qps  p95 %.2f ms  max %.0f ms  errors %d  deadlocks %s  (other load %.0f%% of a CPU)\n",
							r.qps, r.p95, r.maxLat, r.errors, count(r.deadlocks), 100*r.otherCPU/r.wall)
					}
				}
				for _, r := range byTarget {
					if r.target == targetHalf {
						continue // held to a rate: its throughput is no measure of anything
					}
					if d := byTarget["direct"]; d != nil && d.qps > 0 && r.err == "" {
						r.vsDirect = r.qps / d.qps
					}
					if rl := byTarget["relay"]; rl != nil && rl.qps > 0 && r.err == "" {
						r.vsRelay = r.qps / rl.qps
					}
				}
			}
		}
	}

	var sections []string
	if o.has(testScan) {
		st, err := e.loadScan(ctx, o)
		if err != nil {
			return err
		}
		scans, err := e.runScans(ctx, o, targets)
		if err != nil {
			return err
		}
		sections = append(sections, scanReport(o, st, scans))
	}
	if o.has(testMux) {
		// started now, it learns sbtest1 (created through the first proxy) at startup
		if err := e.startMux(ctx, o); err != nil {
			return err
		}
		muxes, err := e.runMux(ctx, o, targets)
		if err != nil {
			return err
		}
		sections = append(sections, muxReport(o, muxes))
	}

	info.took = time.Since(t0)
	md := report(o, info, load, targets, results) + strings.Join(sections, "")
	fmt.Println()
	fmt.Println("----- markdown for bench/RESULTS.md -----")
	fmt.Print(md)
	fmt.Println("-----------------------------------------")
	if o.record != "" {
		if err := appendResults(o.record, md); err != nil {
			return err
		}
		fmt.Println("appended to", o.record)
	}
	return nil
}

// stop ends the proxy, the relay and the servers.
func (e *env) stop() {
	procs := []*exec.Cmd{e.proxy, e.relay}
	if e.baseline != nil {
		procs = append(procs, e.baseline.cmd)
	}
	if e.mux != nil {
		procs = append(procs, e.mux.cmd)
	}
	for _, c := range procs {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				c.Process.Kill()
				<-done
			}
		}
	}
	mariadbd.KillAll([]*mariadbd.Server{e.global, e.shard1, e.shard2, e.direct})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

const proxyConfig = `# generated by bench/cmd/sgbench
listen:
  mysql: 127.0.0.1:%d
  http: 127.0.0.1:%d
users:
  - name: app
    password: secret
default_keyspace: customer
global_keyspace: commerce
keyspaces:
  commerce:
    sharded: false
    shards:
      "0": {host: 127.0.0.1, port: %d, user: root, password: "", database: commerce}
  customer:
    sharded: true
    auto_vschema: true
    shards:
      "-80": {host: 127.0.0.1, port: %d, user: root, password: "", database: customer}
      "80-": {host: 127.0.0.1, port: %d, user: root, password: "", database: customer}
    vschema:                      # no tables: sysbench's CREATE TABLE makes sbtest1, auto_vschema shards
      vindexes: {hash: {type: hash}}   # it by hash on id, with ids from commerce.sbtest1_seq
`

// proxyProc is one `shardgate serve` process.
type proxyProc struct {
	cmd      *exec.Cmd
	addr     string // MySQL listener
	httpAddr string // admin listener: /metrics, /debug/pprof/
	log      string // its stdout and stderr
}

func (e *env) startProxy(ctx context.Context, o options) error {
	p, err := e.launchProxy(ctx, o, "proxy", "")
	if p != nil {
		e.proxy, e.proxyAddr, e.proxyHTTP, e.proxyLog = p.cmd, p.addr, p.httpAddr, p.log
	}
	return err
}

// launchProxy writes NAME.yaml (proxyConfig plus extra top-level YAML) in the work folder,
// runs `shardgate serve` on it with its output in NAME.log, and waits until it accepts
// app/secret.
func (e *env) launchProxy(ctx context.Context, o options, name, extra string) (*proxyProc, error) {
	mysqlPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(e.dir, name+".yaml")
	text := fmt.Sprintf(proxyConfig, mysqlPort, httpPort, e.global.Port, e.shard1.Port, e.shard2.Port) + extra
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return nil, err
	}
	p := &proxyProc{
		addr:     fmt.Sprintf("127.0.0.1:%d", mysqlPort),
		httpAddr: fmt.Sprintf("127.0.0.1:%d", httpPort),
		log:      filepath.Join(e.dir, name+".log"),
	}
	logf, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p.cmd = exec.Command(o.shardgate, "serve", "--config", cfg)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { p.cmd.Process.Wait(); close(exited) }() // only to notice an early exit
	db, err := sql.Open("mysql", "app:secret@tcp("+p.addr+")/customer?timeout=2s")
	if err != nil {
		return p, err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = db.PingContext(ctx)
		if err == nil {
			return p, nil
		}
		select {
		case <-exited:
			return p, fmt.Errorf("shardgate serve (%s) exited at startup:\n%s", cfg, tailFile(p.log, 30))
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("shardgate did not accept app/secret on %s within 30s: %v\n%s", p.addr, err, tailFile(p.log, 30))
		}
	}
}

func (e *env) startRelay(o options) error {
	e.relay = exec.Command(o.relay, "-listen", "127.0.0.1:0", "-backend", e.direct.Addr())
	out, err := e.relay.StdoutPipe()
	if err != nil {
		return err
	}
	e.relay.Stderr = os.Stderr
	e.relay.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := e.relay.Start(); err != nil {
		return err
	}
	line := make([]byte, 0, 128)
	buf := make([]byte, 1)
	for len(line) < 200 {
		if _, err := out.Read(buf); err != nil {
			return fmt.Errorf("relay: no address printed: %v", err)
		}
		if buf[0] == '\n' {
			break
		}
		line = append(line, buf[0])
	}
	addr, ok := strings.CutPrefix(string(line), "relay listening on ")
	if !ok {
		return fmt.Errorf("relay printed %q", line)
	}
	e.relayAddr = addr
	return nil
}

// loadStats describes preparing the table.
type loadStats struct {
	rows                  int
	proxySecs, directSecs float64
	shard1, shard2        int
	maxProxy, maxDirect   int64  // largest id after prepare: rows above it are removed after each run
	vschema               string // SHOW VSCHEMA TABLES line of sbtest1 through the proxy
	sequence              string // the sequence's row in the global keyspace after prepare
}

// prepareArgs is the sysbench command line that creates and fills sbtest1 on a target: plain
// `sysbench oltp_read_write prepare`, with its default --auto_inc=on (an AUTO_INCREMENT id,
// multi-row INSERTs without ids, then CREATE INDEX k_1).
func prepareArgs(o options, t *target) []string {
	return append(append([]string{"oltp_read_write"}, connArgs(o, t)...), "prepare")
}

// connArgs are the sysbench options that reach sbtest1 on a target.
func connArgs(o options, t *target) []string {
	return []string{
		"--db-driver=mysql",
		"--mysql-host=127.0.0.1",
		"--mysql-port=" + t.port(),
		"--mysql-user=" + t.user,
		"--mysql-password=" + t.password,
		"--mysql-db=" + t.db,
		"--tables=1",
		"--table-size=" + strconv.Itoa(o.rows),
	}
}

// prepareTable runs sysbench's prepare against t; a failure carries sysbench's error lines
// and, for the proxy, the proxy's log of the run.
func (e *env) prepareTable(ctx context.Context, o options, t *target) (float64, error) {
	args := prepareArgs(o, t)
	var logOffset int64
	if st, err := os.Stat(e.proxyLog); err == nil {
		logOffset = st.Size()
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "sysbench", args...)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	secs := time.Since(start).Seconds()
	if err != nil {
		msg := fmt.Sprintf("sysbench %s against %s: %v\n%s", strings.Join(args, " "), t.name, err, indent(sysbenchErrors(string(out))))
		if t.name == "proxy" {
			if log := newLog(e.proxyLog, logOffset); strings.TrimSpace(log) != "" {
				msg += "\n  proxy log:\n" + indent(tailLines(log, 20))
			}
		}
		return secs, errors.New(msg)
	}
	return secs, nil
}

// load prepares sbtest1 through the proxy and on the direct server with sysbench, then checks
// the rows on each shard and on the direct server.
func (e *env) load(ctx context.Context, o options, proxy, direct *target) (loadStats, error) {
	st := loadStats{rows: o.rows}
	var err error
	fmt.Printf("sysbench oltp_read_write prepare (%d rows, AUTO_INCREMENT ids) through the proxy ...\n", o.rows)
	if st.proxySecs, err = e.prepareTable(ctx, o, proxy); err != nil {
		return st, err
	}
	fmt.Println("sysbench oltp_read_write prepare on the direct server ...")
	if st.directSecs, err = e.prepareTable(ctx, o, direct); err != nil {
		return st, err
	}

	var max1, max2 int64
	if st.shard1, max1, err = countMax(ctx, e.shard1.DSN("customer"), "sbtest1"); err != nil {
		return st, err
	}
	if st.shard2, max2, err = countMax(ctx, e.shard2.DSN("customer"), "sbtest1"); err != nil {
		return st, err
	}
	st.maxProxy = max(max1, max2)
	d, maxD, err := countMax(ctx, e.direct.DSN("sbtest"), "sbtest1")
	if err != nil {
		return st, err
	}
	st.maxDirect = maxD
	if st.shard1+st.shard2 != o.rows || d != o.rows || st.shard1 == 0 || st.shard2 == 0 {
		return st, fmt.Errorf("row counts after prepare: shard -80 %d + shard 80- %d (want %d, both > 0), direct %d", st.shard1, st.shard2, o.rows, d)
	}
	st.vschema = vschemaLine(ctx, "app:secret@tcp("+e.proxyAddr+")/customer", "sbtest1")
	st.sequence = queryString(ctx, e.global.DSN("commerce"), "SELECT CONCAT('next_id ', next_id, ', cache ', cache) FROM sbtest1_seq")
	fmt.Printf("  proxy %.1fs (%d rows on -80, %d on 80-, ids up to %d; vschema: %s; commerce.sbtest1_seq: %s), direct %.1fs\n",
		st.proxySecs, st.shard1, st.shard2, st.maxProxy, st.vschema, st.sequence, st.directSecs)
	return st, nil
}

// trim deletes the rows a run added (ids above the largest prepared one) from the servers
// behind t, so that every run and target sees the same table, and waits for InnoDB to purge
// them so that the purge does not run during the next measured run.
func (e *env) trim(ctx context.Context, t *target, load loadStats) {
	limit := load.maxDirect
	if t.schema == "customer" {
		limit = load.maxProxy
	}
	for _, s := range t.tables {
		db, err := sql.Open("mysql", s.DSN(t.schema))
		if err != nil {
			continue
		}
		res, err := db.ExecContext(ctx, "DELETE FROM sbtest1 WHERE id > ?", limit)
		if err != nil {
			fmt.Printf("  removing the rows the run added on :%d: %v\n", s.Port, err)
		} else if n, _ := res.RowsAffected(); n > 0 {
			waitPurge(ctx, db)
		}
		db.Close()
	}
}

// waitPurge waits (at most 30 s) until InnoDB's history list is short again.
func waitPurge(ctx context.Context, db *sql.DB) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var n int64
		err := db.QueryRowContext(ctx, "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'").Scan(&n)
		if err != nil || n < 1000 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// vschemaLine is the SHOW VSCHEMA TABLES row of table, its columns joined, or "?".
func vschemaLine(ctx context.Context, dsn, table string) string {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "?"
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SHOW VSCHEMA TABLES")
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if rows.Scan(ptrs...) != nil {
			return "?"
		}
		if len(vals) > 0 && strings.EqualFold(vals[0].String, table) {
			var parts []string
			for i, v := range vals[1:] {
				parts = append(parts, cols[i+1]+"="+v.String)
			}
			return strings.Join(parts, ", ")
		}
	}
	return "? (" + table + " not listed)"
}

func queryString(ctx context.Context, dsn, q string) string {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "?"
	}
	defer db.Close()
	var s string
	if err := db.QueryRowContext(ctx, q).Scan(&s); err != nil {
		return "?"
	}
	return s
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return tailLines(string(b), n)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pick returns the targets named, in the order of names.
func pick(targets []*target, names []string) []*target {
	var out []*target
	for _, n := range names {
		for _, t := range targets {
			if t.name == n {
				out = append(out, t)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
