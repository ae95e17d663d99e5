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
	if r.queries != 637713 || r.qps != 21257.10 || r.tps != 21257.10 || r.errors != 3 || r.avg != 0.37 || r.p95 != 0.77 {
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
		} else if !strings.HasPrefix(p, "oltp_") {
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
