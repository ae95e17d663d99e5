package main

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
)

// target is one place sysbench connects to.
type target struct {
	name           string
	addr           string
	user, password string
	db             string
	pid            int                // the forwarding process (proxy or relay), 0 for direct
	dbs            []*mariadbd.Server // the mariadbd servers behind it
	tables         []*mariadbd.Server // those holding sbtest1 ...
	schema         string             // ... in this database
	threads        int                // sysbench threads, 0 for o.threads (the mux test sets it)
	log            string             // the forwarding process's log when it is a proxy ("" for e.proxyLog)
	http           string             // a proxy's admin listener: its deadlock and lock-wait counters are read around each run
	// rateOf names the target whose transactions per second, times rateShare, this target is
	// held to (sysbench --rate) in the same round; rate is the value for the next run.
	rateOf    string
	rateShare float64
	rate      int
}

// logFile is the log to show with a failed run: the proxy's, or "" for direct and relay.
func (e *env) logFile(t *target) string {
	if t.log != "" {
		return t.log
	}
	if t.name == "proxy" {
		return e.proxyLog
	}
	return ""
}

func (t *target) port() string { return t.addr[strings.LastIndexByte(t.addr, ':')+1:] }

func (t *target) dbPids() []int {
	var p []int
	for _, s := range t.dbs {
		p = append(p, s.Pid())
	}
	return p
}

// backendQueries sums the servers' Queries status counter (statements of every kind they
// received, prepared executions included), or -1 when it cannot be read.
func (t *target) backendQueries(ctx context.Context) int64 {
	var sum int64
	for _, s := range t.dbs {
		db, err := sql.Open("mysql", s.DSN(""))
		if err != nil {
			return -1
		}
		var name string
		var n int64
		err = db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Queries'").Scan(&name, &n)
		db.Close()
		if err != nil {
			return -1
		}
		sum += n - 1 // not counting this SHOW STATUS
	}
	return sum
}

// result is one sysbench run.
type result struct {
	round            int
	test, mode       string
	target           string
	qps, tps         float64
	queries          int64
	errors           int64
	avg, p95, maxLat float64 // latency, ms
	// through a proxy, from its /metrics over the run (-1: not exported by that binary):
	deadlocks         int64   // shardgate_deadlocks_total: cycles across shards the proxy found
	lockTimeouts      int64   // statements that ended in 1205 (lock wait timeout)
	deadlockErrs      int64   // statements that ended in 1213
	fwdCPU, dbCPU     float64 // seconds over the run: forwarding process, mariadbd servers
	sysbenchCPU       float64
	fwdSyscalls       int64   // read and write system calls of the forwarding process (/proc/<pid>/io)
	backendQueries    int64   // statements the mariadbd servers behind the target received
	otherCPU          float64 // seconds of busy CPU on the machine not spent by the processes above
	wall              float64 // seconds
	vsDirect, vsRelay float64
	err               string
	command           string
}

var (
	reQueries = regexp.MustCompile(`queries:\s+(\d+)\s+\(([\d.]+) per sec\.\)`)
	reTrx     = regexp.MustCompile(`transactions:\s+(\d+)\s+\(([\d.]+) per sec\.\)`)
	reIgnored = regexp.MustCompile(`ignored errors:\s+(\d+)`)
	reAvg     = regexp.MustCompile(`avg:\s+([\d.]+)`)
	reP95     = regexp.MustCompile(`95th percentile:\s+([\d.]+)`)
	reMax     = regexp.MustCompile(`max:\s+([\d.]+)`)
)

// testPath is what sysbench is given for a test: the benchmark's own script o.scripts/NAME.lua
// when it exists (e.g. scatter), else the name (sysbench's own tests, or a path).
func testPath(o options, test string) string {
	if !strings.ContainsRune(test, '/') && !strings.HasSuffix(test, ".lua") && o.scripts != "" {
		p := filepath.Join(o.scripts, test+".lua")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return test
}

// sysbenchArgs is the sysbench command line for a target.
func sysbenchArgs(o options, t *target, test, mode string, seconds int) []string {
	args := append([]string{testPath(o, test)}, connArgs(o, t)...)
	args = append(args,
		"--threads="+strconv.Itoa(cmp.Or(t.threads, o.threads)),
		"--time="+strconv.Itoa(seconds),
		"--db-ps-mode="+mode,
		"--report-interval=0",
	)
	if t.rate > 0 {
		args = append(args, "--rate="+strconv.Itoa(t.rate))
	}
	args = append(args, o.extra...)
	return append(args, "run")
}

// sysbench runs one test against t and measures the CPU time of the processes involved.
func (e *env) sysbench(ctx context.Context, o options, t *target, test, mode string, seconds int) *result {
	r := &result{test: test, mode: mode, target: t.name, deadlocks: -1, lockTimeouts: -1, deadlockErrs: -1}
	var m0 map[string]float64
	if t.http != "" {
		m0 = scrape(t.http)
	}
	args := sysbenchArgs(o, t, test, mode, seconds)
	r.command = "sysbench " + strings.Join(args, " ")
	var logOffset int64
	logPath := e.logFile(t)
	if st, err := os.Stat(logPath); err == nil {
		logOffset = st.Size()
	}

	cmd := exec.CommandContext(ctx, "sysbench", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	fwd0, sc0 := cpuSeconds(t.pid), syscalls(t.pid)
	q0 := t.backendQueries(ctx)
	db0 := cpuSum(t.dbPids())
	busy0, start := machineBusy(), time.Now()
	err := cmd.Run()
	r.wall = time.Since(start).Seconds()
	r.fwdCPU = cpuSeconds(t.pid) - fwd0
	if sc1 := syscalls(t.pid); sc0 >= 0 && sc1 >= 0 {
		r.fwdSyscalls = sc1 - sc0
	}
	r.dbCPU = cpuSum(t.dbPids()) - db0
	if q1 := t.backendQueries(ctx); q0 >= 0 && q1 >= 0 {
		r.backendQueries = q1 - q0
	}
	if cmd.ProcessState != nil {
		r.sysbenchCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	if busy0 > 0 {
		r.otherCPU = max(0, machineBusy()-busy0-r.fwdCPU-r.dbCPU-r.sysbenchCPU)
	}
	if t.http != "" {
		m1 := scrape(t.http)
		delta := func(series string) int64 {
			v1, ok := m1[series]
			if !ok {
				return -1
			}
			return int64(v1 - m0[series])
		}
		r.deadlocks = delta("shardgate_deadlocks_total")
		r.lockTimeouts = max(delta(`shardgate_query_errors_total{code="1205"}`), 0)
		r.deadlockErrs = max(delta(`shardgate_query_errors_total{code="1213"}`), 0)
	}
	text := out.String()
	parseSysbench(r, text)
	if err != nil || r.queries == 0 {
		why := "no queries"
		if err != nil {
			why = err.Error()
		}
		r.err = fmt.Sprintf("sysbench: %s\n%s", why, indent(sysbenchErrors(text)))
		if logPath != "" {
			if log := newLog(logPath, logOffset); strings.TrimSpace(log) != "" {
				r.err += "\n  proxy log:\n" + indent(tailLines(log, 15))
			}
		}
	}
	return r
}

// parseSysbench fills r's figures from sysbench's report.
func parseSysbench(r *result, text string) {
	if m := reQueries.FindStringSubmatch(text); m != nil {
		r.queries, _ = strconv.ParseInt(m[1], 10, 64)
		r.qps, _ = strconv.ParseFloat(m[2], 64)
	}
	if m := reTrx.FindStringSubmatch(text); m != nil {
		r.tps, _ = strconv.ParseFloat(m[2], 64)
	}
	if m := reIgnored.FindStringSubmatch(text); m != nil {
		r.errors, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reAvg.FindStringSubmatch(text); m != nil {
		r.avg, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reP95.FindStringSubmatch(text); m != nil {
		r.p95, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reMax.FindStringSubmatch(text); m != nil {
		r.maxLat, _ = strconv.ParseFloat(m[1], 64)
	}
}

// sysbenchErrors picks the lines of sysbench's output that explain a failure.
func sysbenchErrors(text string) string {
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "FATAL") || strings.Contains(l, "ERROR") || strings.Contains(l, "error") ||
			strings.Contains(l, "failed") || strings.Contains(l, "Lua") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	if len(keep) == 0 {
		return tailLines(text, 15)
	}
	if len(keep) > 15 {
		keep = keep[:15]
	}
	return strings.Join(keep, "\n")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func newLog(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuSeconds is the user+system CPU time of pid (all its threads), or 0.
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: fields after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64) // field 14
	stime, _ := strconv.ParseFloat(f[12], 64) // field 15
	return (utime + stime) / clockTicks
}

// machineBusy is the CPU time spent by the whole machine (all CPUs, everything but idle and
// iowait) from /proc/stat, in seconds, or 0.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 7 { // idle, iowait; steal, guest (guest is counted in user)
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / clockTicks
}

func cpuSum(pids []int) float64 {
	var s float64
	for _, p := range pids {
		s += cpuSeconds(p)
	}
	return s
}

// syscalls is the number of read and write system calls (syscr + syscw in /proc/<pid>/io) pid
// has made: the floor for a forwarder is one read and one write per packet burst each way. -1
// when unknown (pid 0 for direct, or no /proc).
func syscalls(pid int) int64 {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	var n int64
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || (k != "syscr" && k != "syscw") {
			continue
		}
		x, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return -1
		}
		n += x
		found++
	}
	if found != 2 {
		return -1
	}
	return n
}
