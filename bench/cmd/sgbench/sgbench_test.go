package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sysbench 1.0.20's report, oltp_point_select.
const sample = `sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)

Running the test with following options:
Number of threads: 8
Initializing random number generator from current time

Initializing worker threads...

Threads started!

SQL statistics:
    queries performed:
        read:                            637713
        write:                           0
        other:                           0
        total:                           637713
    transactions:                        637713 (21257.10 per sec.)
    queries:                             637713 (21257.10 per sec.)
    ignored errors:                      3      (0.10 per sec.)
    reconnects:                          0      (0.00 per sec.)

General statistics:
    total time:                          30.0001s
    total number of events:              637713

Latency (ms):
         min:                                    0.11
         avg:                                    0.37
         max:                                   12.50
         95th percentile:                        0.77
         sum:                               239470.20

Threads fairness:
    events (avg/stddev):           79714.1250/301.22
    execution time (avg/stddev):   29.9338/0.01
`

func TestParseSysbench(t *testing.T) {
	var r result
	parseSysbench(&r, sample)
	if r.queries != 637713 || r.qps != 21257.10 || r.tps != 21257.10 || r.errors != 3 || r.avg != 0.37 || r.p95 != 0.77 || r.maxLat != 12.50 {
		t.Fatalf("parsed %+v", r)
	}
	var empty result
	parseSysbench(&empty, "FATAL: unable to connect to MySQL server on host '127.0.0.1', port 1, aborting...")
	if empty.queries != 0 || empty.qps != 0 {
		t.Fatalf("parsed %+v from a failure", empty)
	}
}

func TestTestPath(t *testing.T) {
	o := options{scripts: "../.."} // bench/, from bench/cmd/sgbench
	if got := testPath(o, "scatter"); got != filepath.Join("../..", "scatter.lua") {
		t.Fatalf("scatter runs %q, want bench/scatter.lua", got)
	}
	if got := testPath(o, "oltp_point_select"); got != "oltp_point_select" {
		t.Fatalf("oltp_point_select runs %q", got)
	}
	for _, test := range strings.Split(defaultTests, ",") {
		if p := testPath(o, test); strings.HasSuffix(p, ".lua") {
			if _, err := os.Stat(p); err != nil {
				t.Fatal(err)
			}
		} else if !strings.HasPrefix(p, "oltp_") && !special(test) {
			t.Fatalf("default test %q is neither sysbench's nor a script of bench/", test)
		}
	}
}

func TestCPUSeconds(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	if cpuSeconds(os.Getpid()) <= 0 {
		t.Fatalf("no CPU time read for this process (x=%d)", x)
	}
	if cpuSeconds(0) != 0 || cpuSeconds(1<<30) != 0 {
		t.Fatal("CPU time for a missing process")
	}
}

func TestSysbenchTests(t *testing.T) {
	o := options{tests: []string{"oltp_point_select", "scan", "scatter", "mux"}}
	if got := strings.Join(o.sysbenchTests(), ","); got != "oltp_point_select,scatter" {
		t.Fatalf("sysbench tests %q", got)
	}
	if !o.has("scan") || !o.has("mux") || o.has("oltp_insert") {
		t.Fatal("has")
	}
}

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(`# HELP go_memstats_heap_alloc_bytes Number of heap bytes allocated and currently in use.
# TYPE go_memstats_heap_alloc_bytes gauge
go_memstats_heap_alloc_bytes 4.194304e+06
shardgate_pool_connections{keyspace="customer",shard="-80",state="idle"} 3
shardgate_pool_connections{keyspace="customer",shard="-80",state="in_use"} 29
shardgate_pool_waits_total{keyspace="customer",shard="-80"} 10
shardgate_pool_waits_total{keyspace="customer",shard="80-"} 5
`)
	if m["go_memstats_heap_alloc_bytes"] != 4194304 || m[`shardgate_pool_connections{keyspace="customer",shard="-80",state="in_use"}`] != 29 {
		t.Fatalf("parsed %v", m)
	}
	if s := sumPrefix(m, `shardgate_pool_waits_total{keyspace="customer"`); s != 15 {
		t.Fatalf("sum %v", s)
	}
}

func TestMedian(t *testing.T) {
	if median(nil) != 0 || median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Fatal("median")
	}
}

// The scan and mux sections name every query, target and figure they were given.
func TestScanAndMuxReports(t *testing.T) {
	o := options{scanReps: 1, scanRows: 10, muxThreads: 1000, muxDirectThreads: 64, muxPool: 32, muxTest: "oltp_point_select",
		seconds: 10, rounds: 1, modes: []string{"auto"}}
	var scans []*scanResult
	for _, target := range []string{"direct", "relay", "proxy"} {
		r := &scanResult{rep: 1, query: "merge", proto: "text", target: target, rows: 10, secs: 1, vsDirect: 1, vsRelay: 1}
		if target == "proxy" {
			r.heapMeasured, r.heap0, r.heapPeak, r.heapAfter, r.allocated, r.samples = true, 4e6, 6e6, 4.5e6, 70, 3
		}
		scans = append(scans, r)
	}
	scans = append(scans, &scanResult{rep: 1, query: "single", proto: "binary", target: "proxy", err: "boom"})
	md := scanReport(o, scanLoad{rows: 10}, scans)
	for _, want := range []string{"| merge | text | proxy | 10 | 10 | 1.00 | 1.00 | 1.00 | 1.00 | 2.0 | 0.5 | 7 |", "| single | binary | proxy | failed |"} {
		if !strings.Contains(md, want) {
			t.Errorf("scan section lacks %q:\n%s", want, md)
		}
	}
	// direct: 69 + 26 µs per query on its server and sysbench; the proxy's run 100 + 80: a proxy
	// that used no CPU would reach 95/180 of direct.
	direct := &muxResult{result: &result{round: 1, mode: "auto", target: "direct", qps: 1000, queries: 10000, vsDirect: 1, wall: 10,
		dbCPU: 0.69, sysbenchCPU: 0.26}, threads: 64}
	mr := &muxResult{result: &result{round: 1, mode: "auto", target: "proxy", qps: 900, queries: 9000, vsDirect: 0.9, wall: 10,
		dbCPU: 0.9, sysbenchCPU: 0.72}, threads: 1000, conns: map[string]int{"-80": 32, "80-": 31}, inUse: map[string]int{"-80": 32, "80-": 30},
		maxUsed: map[string]int64{"-80": 40, "80-": 38}, waits: 7, sampled: true, vsFew: 0.8}
	md = muxReport(o, []*muxResult{direct, mr})
	for _, want := range []string{
		"| auto | direct | 64 | 1000 | 1.00 | – | – | – | 0.00 |",
		"| auto | proxy | 1000 | 900 | 0.90 | 0.53 | – | 0.80 | 0.00 | -80 32, 80- 31 | -80 32, 80- 30 | -80 40, 80- 38 | 7 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("mux section lacks %q:\n%s", want, md)
		}
	}
}

func TestSyscalls(t *testing.T) {
	pid := os.Getpid()
	before := syscalls(pid)
	if before <= 0 {
		t.Fatalf("syscalls(self) = %d, want > 0", before)
	}
	f, err := os.Create(t.TempDir() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if after := syscalls(pid); after < before+10 {
		t.Errorf("after 10 writes: %d syscalls, before %d", after, before)
	}
	if n := syscalls(0); n != -1 {
		t.Errorf("syscalls(0) = %d, want -1", n)
	}
}

// TestBudgetTable: the CPU budget adds the forwarder, the servers and sysbench per query on each
// path, and puts the relay's CPU in the proxy's place for the ceiling.
func TestBudgetTable(t *testing.T) {
	run := func(target string, fwd, db, sb float64) *result {
		// 1000 queries: x µs per query is x·1e-3 s in all.
		return &result{test: "oltp_read_only", mode: "auto", target: target, queries: 1000, qps: 1,
			fwdCPU: fwd * 1e-3, dbCPU: db * 1e-3, sysbenchCPU: sb * 1e-3}
	}
	proxy := run("proxy", 90, 160, 40) // proxy path 290; with the relay's 50 instead of 90: 250
	proxy.vsRelay = 0.7
	got := budgetTable(summarize([]*result{run("direct", 0, 100, 25), run("relay", 50, 120, 30), proxy}))
	want := "| oltp_read_only | auto | 200 | 290 | 0.69 | 0.70 | 0.80 |"
	if !strings.Contains(got, want) {
		t.Fatalf("budget table:\n%s\nwant the line %s", got, want)
	}
}

// TestCPUTableHalfRate: the proxy's servers are compared with the direct server at full speed
// and with the direct server held to half the proxy's rate (direct-half).
func TestCPUTableHalfRate(t *testing.T) {
	run := func(target string, fwd, db float64) *result {
		return &result{test: "oltp_point_select", mode: "auto", target: target, queries: 1000, qps: 1,
			fwdCPU: fwd * 1e-3, dbCPU: db * 1e-3}
	}
	got := cpuTable(summarize([]*result{run("direct", 0, 30), run("relay", 40, 38), run("proxy", 50, 48), run(targetHalf, 0, 60)}))
	want := "| 50 | 40 | 1.25 | 30 | 1.67 | 48 | 1.60 | 60 | 0.80 |"
	if !strings.Contains(got, want) {
		t.Fatalf("cpu table:\n%s\nwant the cells %s", got, want)
	}
}

func TestWaitTable(t *testing.T) {
	o := options{rounds: 2, seconds: 60}
	rs := []*result{
		{test: "oltp_read_write", mode: "auto", target: "proxy", tps: 120, maxLat: 600, wall: 60.1, errors: 3, deadlocks: 2, lockTimeouts: 0, deadlockErrs: 3},
		{test: "oltp_read_write", mode: "auto", target: "baseline", tps: 100, maxLat: 50038, wall: 110.4, errors: 2, deadlocks: -1, lockTimeouts: 2, deadlockErrs: 0},
		{test: "oltp_read_write", mode: "auto", target: "proxy", tps: 140, maxLat: 900, wall: 60.0, errors: 1, deadlocks: 1, lockTimeouts: 0, deadlockErrs: 1},
		{test: "oltp_read_write", mode: "auto", target: "baseline", tps: 140, maxLat: 300, wall: 60.0, deadlocks: -1, lockTimeouts: 0, deadlockErrs: 0},
	}
	got := waitTable(o, rs)
	for _, want := range []string{
		"| oltp_read_write | auto | proxy | 2 | 130.0 | 1.08 | 900 | 60.1 | 4 | 3 | 4 | 0 |",
		"| oltp_read_write | auto | baseline | 2 | 120.0 | – | 50038 | 110.4 | 2 | – | 0 | 2 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("waitTable lacks %q:\n%s", want, got)
		}
	}
}
