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
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
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

	o, err := parseOptions()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sgbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sgbench:", err)
		os.Exit(1)
	}
}

// parseOptions reads the flags, whose defaults come from the BENCH_*
// variables make bench passes, and checks them.
func parseOptions() (options, error) {
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
			return o, fmt.Errorf("target %q: want direct, relay, proxy, %s, or baseline with -baseline", t, targetHalf)
		}
	}
	o.scanProtos = splitList(protos)
	if o.command == "" {
		o.command = strings.Join(os.Args, " ")
	}
	if o.seconds <= 0 || o.rounds <= 0 || o.threads <= 0 || o.rows <= 0 || len(o.modes) == 0 || len(o.tests) == 0 {
		return o, errors.New("time, rounds, threads, rows must be positive; modes and tests not empty")
	}
	if o.scanRows <= 0 || o.scanReps <= 0 || o.muxThreads <= 0 || o.muxDirectThreads <= 0 || o.muxPool <= 0 {
		return o, errors.New("scan rows and repetitions, mux threads and pool must be positive")
	}
	for _, p := range o.scanProtos {
		if p != "text" && p != "binary" {
			return o, fmt.Errorf("scan protocol %q: want text or binary", p)
		}
	}
	return o, nil
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

// run is one sitting: the servers, the proxy and the relay, the data, then
// the sysbench rounds and sgbench's own tests, and the report.
func run(ctx context.Context, o options) error {
	if err := checkTools(o); err != nil {
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
	if err := e.startAll(ctx, o, &info); err != nil {
		return err
	}
	targets := e.targets()
	var load loadStats
	if len(o.sysbenchTests()) > 0 || o.has(testMux) {
		if load, err = e.load(ctx, o, targets[2], targets[0]); err != nil {
			return err
		}
	}
	if o.baseline != "" {
		t, err := e.startBaseline(ctx, o, targets[2], &info)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	if o.hold {
		hold(ctx, targets)
		return nil
	}
	if err := e.warmUp(ctx, o, targets, load); err != nil {
		return err
	}
	results, err := e.rounds(ctx, o, pick(targets, o.targets), load)
	if err != nil {
		return err
	}
	sections, err := e.ownTests(ctx, o, targets)
	if err != nil {
		return err
	}
	info.took = time.Since(t0)
	return publish(o, report(o, info, load, targets, results)+strings.Join(sections, ""))
}

// checkTools fails early, with what to install, when something is missing.
func checkTools(o options) error {
	for _, p := range []string{o.shardgate, o.relay} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%v (run make bench, which builds it)", err)
		}
	}
	if _, err := exec.LookPath("sysbench"); err != nil {
		return errors.New("sysbench not found: apt-get install sysbench (or scripts/deps.sh install)")
	}
	_, err := mariadbd.FindBinaries()
	return err
}

// startAll starts the four mariadbd, the proxy and the relay.
func (e *env) startAll(ctx context.Context, o options, in *info) error {
	t0 := time.Now()
	fmt.Printf("starting 4 mariadbd (global, 2 shards, direct) under %s ...\n", e.dir)
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	var dbOpts mariadbd.Options
	if o.has(testScan) {
		// the scan tables (about 90 MB each) stay in the buffer pool: the reads measure
		// the forwarding, not InnoDB reading pages back in
		dbOpts.Args = append(dbOpts.Args, "--innodb-buffer-pool-size=256M")
	}
	servers, err := mariadbd.StartClusterWithOptions(sctx, e.dir, 4, dbOpts)
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
	in.mariadb = queryString(ctx, e.direct.DSN(""), "SELECT VERSION()")
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
	return nil
}

// targets are what sysbench runs against: direct, relay, proxy (in that
// order: load takes the proxy's and direct's) and direct-half.
func (e *env) targets() []*target {
	direct := []*mariadbd.Server{e.direct}
	return []*target{
		{name: "direct", addr: e.direct.Addr(), user: "root", db: "sbtest", dbs: direct, tables: direct, schema: "sbtest"},
		{name: "relay", addr: e.relayAddr, user: "root", db: "sbtest", pid: e.relay.Process.Pid, dbs: direct, tables: direct, schema: "sbtest"},
		{name: "proxy", addr: e.proxyAddr, user: "app", password: "secret", db: "customer", pid: e.proxy.Process.Pid, http: e.proxyHTTP,
			dbs: []*mariadbd.Server{e.global, e.shard1, e.shard2}, tables: []*mariadbd.Server{e.shard1, e.shard2}, schema: "customer"},
		{name: targetHalf, addr: e.direct.Addr(), user: "root", db: "sbtest", dbs: direct, tables: direct, schema: "sbtest", rateOf: "proxy", rateShare: 0.5},
	}
}

// startBaseline starts the baseline binary on the proxy's configuration and
// servers, once sbtest1 exists: a proxy learns the tables of an
// auto-vschema keyspace at startup.
func (e *env) startBaseline(ctx context.Context, o options, proxy *target, in *info) (*target, error) {
	bo := o
	bo.shardgate = o.baseline
	p, err := e.launchProxy(ctx, bo, "baseline", "")
	if err != nil {
		return nil, err
	}
	e.baseline = p
	if out, err := exec.Command(o.baseline, "version").Output(); err == nil {
		in.baseline = strings.TrimSpace(string(out))
	}
	fmt.Printf("  baseline %s: %s (pid %d, admin %s)\n", o.baseline, p.addr, p.cmd.Process.Pid, p.httpAddr)
	return &target{name: "baseline", addr: p.addr, user: "app", password: "secret", db: "customer", pid: p.cmd.Process.Pid,
		http: p.httpAddr, log: p.log, dbs: proxy.dbs, tables: proxy.tables, schema: "customer"}, nil
}

// hold prints how to reach each target and waits for Ctrl-C (-hold).
func hold(ctx context.Context, targets []*target) {
	for _, t := range targets {
		if t.rateOf != "" {
			continue
		}
		fmt.Printf("  %s: %s user %s db %s pid %d\n", t.name, t.addr, t.user, t.db, t.pid)
	}
	fmt.Println("holding: Ctrl-C stops everything")
	<-ctx.Done()
}

// warmUp runs each sysbench test once per target, unmeasured.
func (e *env) warmUp(ctx context.Context, o options, targets []*target, load loadStats) error {
	if o.warmup <= 0 || len(o.sysbenchTests()) == 0 {
		return nil
	}
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
	return nil
}

// rounds runs every sysbench test and mode against each target in turn,
// o.rounds times, and relates each run to direct's and the relay's.
func (e *env) rounds(ctx context.Context, o options, run []*target, load loadStats) ([]*result, error) {
	var results []*result
	for round := 1; round <= o.rounds; round++ {
		for _, test := range o.sysbenchTests() {
			for _, mode := range o.modes {
				byTarget := map[string]*result{}
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
						return nil, ctx.Err()
					}
					e.trim(ctx, t, load)
					r.round = round
					byTarget[t.name] = r
					results = append(results, r)
					printRun(r)
				}
				relate(byTarget)
			}
		}
	}
	return results, nil
}

func printRun(r *result) {
	if r.err != "" {
		fmt.Printf("FAILED: %s\n", r.err)
		return
	}
	fmt.Printf("%9.0f qps  p95 %.2f ms  max %.0f ms  errors %d  deadlocks %s  (other load %.0f%% of a CPU)\n",
		r.qps, r.p95, r.maxLat, r.errors, count(r.deadlocks), 100*r.otherCPU/r.wall)
}

// relate sets each run's throughput against direct's and the relay's of
// the same round, test and mode.
func relate(byTarget map[string]*result) {
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

// ownTests runs the tests sgbench runs itself (scan, mux), each giving a
// section of the report.
func (e *env) ownTests(ctx context.Context, o options, targets []*target) ([]string, error) {
	var sections []string
	if o.has(testScan) {
		st, err := e.loadScan(ctx, o)
		if err != nil {
			return nil, err
		}
		scans, err := e.runScans(ctx, o, targets)
		if err != nil {
			return nil, err
		}
		sections = append(sections, scanReport(o, st, scans))
	}
	if o.has(testMux) {
		// started now, it learns sbtest1 (created through the first proxy) at startup
		if err := e.startMux(ctx, o); err != nil {
			return nil, err
		}
		muxes, err := e.runMux(ctx, o, targets)
		if err != nil {
			return nil, err
		}
		sections = append(sections, muxReport(o, muxes))
	}
	return sections, nil
}

// publish prints the markdown and appends it to o.record when set.
func publish(o options, md string) error {
	fmt.Println()
	fmt.Println("----- markdown for bench/RESULTS.md -----")
	fmt.Print(md)
	fmt.Println("-----------------------------------------")
	if o.record == "" {
		return nil
	}
	if err := appendResults(o.record, md); err != nil {
		return err
	}
	fmt.Println("appended to", o.record)
	return nil
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
