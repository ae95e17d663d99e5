package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/shardgate/shardgate/bench/machine"
)

// info describes the machine and the software measured.
type info struct {
	date      time.Time
	cpus      int
	cpuModel  string
	memory    string
	kernel    string
	mariadb   string
	sysbench  string
	shardgate string
	baseline  string        // version of the baseline binary, if any
	took      time.Duration // the whole benchmark, servers' start to the last run
}

func machineInfo(o options) info {
	in := info{date: time.Now().UTC(), cpus: runtime.NumCPU()}
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			in.cpus = n
		}
	}
	in.cpuModel, in.memory, in.kernel = machine.CPUModel(), machine.Memory(), machine.Kernel()
	if out, err := exec.Command("sysbench", "--version").Output(); err == nil {
		in.sysbench = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command(o.shardgate, "version").Output(); err == nil {
		in.shardgate = strings.TrimSpace(string(out))
	}
	return in
}

type key struct{ test, mode, target string }

// summary aggregates the rounds of one test, mode and target.
type summary struct {
	key
	runs, failed      int
	qps, p95          float64 // means
	vsDirect, vsRelay float64 // means of the same-round ratios
	nDirect, nRelay   int
	queries           int64
	fwdCPU, dbCPU     float64 // sums
	sysbenchCPU       float64
	otherCPU, wall    float64
	backendQueries    int64
	fwdSyscalls       int64
	errors            int64
}

func summarize(results []*result) []*summary {
	var order []*summary
	m := map[key]*summary{}
	for _, r := range results {
		k := key{r.test, r.mode, r.target}
		s := m[k]
		if s == nil {
			s = &summary{key: k}
			m[k] = s
			order = append(order, s)
		}
		if r.err != "" {
			s.failed++
			continue
		}
		s.runs++
		s.qps += r.qps
		s.p95 += r.p95
		s.queries += r.queries
		s.fwdCPU += r.fwdCPU
		s.dbCPU += r.dbCPU
		s.sysbenchCPU += r.sysbenchCPU
		s.backendQueries += r.backendQueries
		s.fwdSyscalls += r.fwdSyscalls
		s.otherCPU += r.otherCPU
		s.wall += r.wall
		s.errors += r.errors
		if r.vsDirect > 0 {
			s.vsDirect += r.vsDirect
			s.nDirect++
		}
		if r.vsRelay > 0 {
			s.vsRelay += r.vsRelay
			s.nRelay++
		}
	}
	for _, s := range order {
		if s.runs > 0 {
			s.qps /= float64(s.runs)
			s.p95 /= float64(s.runs)
		}
		if s.nDirect > 0 {
			s.vsDirect /= float64(s.nDirect)
		}
		if s.nRelay > 0 {
			s.vsRelay /= float64(s.nRelay)
		}
	}
	return order
}

func ratio(x float64) string {
	if x <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", x)
}

// perQuery formats CPU seconds per query in microseconds.
func perQuery(cpu float64, queries int64) string {
	if queries <= 0 || cpu <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", cpu/float64(queries)*1e6)
}

func report(o options, in info, load loadStats, targets []*target, results []*result) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## %s — %s\n\n", in.date.Format("2006-01-02 15:04 UTC"), orDash(in.shardgate))
	fmt.Fprintf(&b, "- machine: %s, %d CPUs (`nproc`), %s, %s RAM, Linux %s\n", host, in.cpus, in.cpuModel, in.memory, in.kernel)
	fmt.Fprintf(&b, "- software: MariaDB %s, %s, harness %s\n", orDash(in.mariadb), orDash(in.sysbench), runtime.Version())
	fmt.Fprintf(&b, "- command: `%s` (%d s per run, %d round(s), %d threads, targets alternated %s; %.1f min in all)\n",
		o.command, o.seconds, o.rounds, o.threads, strings.Join(o.targets, " → "), in.took.Minutes())
	if in.baseline != "" {
		fmt.Fprintf(&b, "- baseline = `%s serve` (%s) on the same servers and configuration as the proxy\n", o.baseline, in.baseline)
	}
	if len(o.sysbenchTests()) == 0 && !o.has(testMux) {
		b.WriteString("- direct = one mariadbd; relay = bench/relay (bare TCP forwarder) in front of it; proxy = `shardgate serve` over a global + 2 shard mariadbd (customer keyspace with auto_vschema); all on this machine\n")
		return b.String()
	}
	fmt.Fprintf(&b, "- data: sbtest1, %d rows, made by `sysbench oltp_read_write --tables=1 --table-size=%d prepare` (default --auto_inc=on: "+
		"AUTO_INCREMENT id, multi-row INSERTs without ids, CREATE INDEX): through the proxy in %.1f s (%d rows on shard -80, %d on 80-, ids up to %d; "+
		"SHOW VSCHEMA TABLES: %s; commerce.sbtest1_seq: %s), on direct MariaDB in %.1f s; rows a run adds (oltp_insert) are deleted after it\n",
		load.rows, load.rows, load.proxySecs, load.shard1, load.shard2, load.maxProxy, load.vschema, load.sequence, load.directSecs)
	b.WriteString("- direct = one mariadbd; relay = bench/relay (bare TCP forwarder) in front of it; proxy = `shardgate serve` over a global + 2 shard mariadbd (customer keyspace with auto_vschema); all on this machine\n")
	for _, t := range targets {
		if tests := o.sysbenchTests(); t.name == "proxy" && len(tests) > 0 {
			fmt.Fprintf(&b, "- sysbench (proxy; direct and relay use user root, db sbtest): `sysbench %s`\n",
				strings.Join(sysbenchArgs(o, t, tests[0], o.modes[0], o.seconds), " "))
		}
	}
	for _, test := range o.sysbenchTests() {
		if p := testPath(o, test); p != test {
			fmt.Fprintf(&b, "- %s = `sysbench %s`, the benchmark's own script\n", test, p)
		}
	}
	b.WriteString("\n")
	if len(o.sysbenchTests()) == 0 {
		return b.String()
	}

	sums := summarize(results)
	if o.rounds > 1 {
		fmt.Fprintf(&b, "Mean of %d rounds (ratios: mean of the same-round ratios; CPU: total over all rounds / queries):\n\n", o.rounds)
	}
	b.WriteString("| test | ps-mode | target | qps | vs direct | vs relay | p95 ms | fwd CPU µs/q | fwd syscalls/q | mariadbd CPU µs/q | sysbench CPU µs/q | backend stmts/q | errors | other load |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range sums {
		if s.runs == 0 {
			fmt.Fprintf(&b, "| %s | %s | %s | failed | | | | | | | | | | |\n", s.test, s.mode, s.target)
			continue
		}
		fwd, sc := perQuery(s.fwdCPU, s.queries), perQueryCount(s.fwdSyscalls, s.queries)
		switch s.target {
		case "direct", targetHalf:
			fwd, sc = "–", "–"
		case "relay":
			sc = "–" // io.Copy between TCP sockets uses splice(2), which syscr/syscw do not count
		}
		failed := ""
		if s.failed > 0 {
			failed = fmt.Sprintf(" (%d run(s) failed)", s.failed)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f%s | %s | %s | %.2f | %s | %s | %s | %s | %s | %d | %s |\n", s.test, s.mode, s.target, s.qps, failed,
			ratio(s.vsDirect), ratio(s.vsRelay), s.p95, fwd, sc, perQuery(s.dbCPU, s.queries), perQuery(s.sysbenchCPU, s.queries),
			perQueryCount(s.backendQueries, s.queries), s.errors,
			otherLoad(&result{otherCPU: s.otherCPU, wall: s.wall}))
	}

	if o.rounds > 1 {
		b.WriteString("\nEach run:\n\n| round | test | ps-mode | target | qps | vs direct | vs relay | p95 ms | fwd CPU µs/q | mariadbd CPU µs/q | other load |\n")
		b.WriteString("|--:|---|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, r := range results {
			if r.err != "" {
				fmt.Fprintf(&b, "| %d | %s | %s | %s | failed | | | | | | |\n", r.round, r.test, r.mode, r.target)
				continue
			}
			fwd := perQuery(r.fwdCPU, r.queries)
			if r.target == "direct" || r.target == targetHalf {
				fwd = "–"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %.0f | %s | %s | %.2f | %s | %s | %s |\n", r.round, r.test, r.mode, r.target,
				r.qps, ratio(r.vsDirect), ratio(r.vsRelay), r.p95, fwd, perQuery(r.dbCPU, r.queries), otherLoad(r))
		}
	}

	b.WriteString(cpuTable(sums))
	b.WriteString(budgetTable(sums))
	b.WriteString(waitTable(o, results))

	var failures []string
	seen := map[string]bool{}
	for _, r := range results {
		if r.err != "" && !seen[r.test+r.mode+r.target] {
			seen[r.test+r.mode+r.target] = true
			failures = append(failures, fmt.Sprintf("- round %d, %s, --db-ps-mode=%s, %s:\n\n```\n%s\n```\n", r.round, r.test, r.mode, r.target, r.err))
		}
	}
	if len(failures) > 0 {
		b.WriteString("\nFailures (first of each kind):\n\n")
		b.WriteString(strings.Join(failures, "\n"))
	}
	b.WriteString("\nfwd CPU = CPU time of the proxy or relay process (user+system, /proc/<pid>/stat) over the run divided by the queries; " +
		"fwd syscalls/q = the proxy's read and write system calls (/proc/<pid>/io syscr + syscw) per query, failed (EAGAIN) reads included " +
		"(the relay's io.Copy moves bytes with splice(2), which those counters do not see); " +
		"mariadbd CPU = the same for the servers behind the target (the proxy's: global + both shards); " +
		"backend stmts/q = statements those servers received (status counter Queries) per sysbench query; " +
		"other load = CPU used by everything else on the machine during the run (/proc/stat), in % of one CPU.\n")
	return b.String()
}

// trio is one test and mode's summaries of direct, relay and proxy, with direct-half beside
// them; a target without a successful run has an empty summary.
type trio struct {
	key
	direct, relay, proxy, half *summary
}

// trios groups the summaries by test and mode, in the order they ran.
func trios(sums []*summary) []*trio {
	var out []*trio
	by := map[key]*trio{}
	for _, s := range sums {
		k := key{test: s.test, mode: s.mode}
		tr := by[k]
		if tr == nil {
			tr = &trio{key: k, direct: &summary{}, relay: &summary{}, proxy: &summary{}, half: &summary{}}
			by[k] = tr
			out = append(out, tr)
		}
		if s.runs == 0 {
			continue
		}
		switch s.target {
		case "direct":
			tr.direct = s
		case "relay":
			tr.relay = s
		case "proxy":
			tr.proxy = s
		case targetHalf:
			tr.half = s
		}
	}
	return out
}

// per returns CPU seconds per query of s in microseconds (0 when unknown).
func per(s *summary, cpu func(*summary) float64) float64 {
	if s.queries <= 0 {
		return 0
	}
	return cpu(s) / float64(s.queries) * 1e6
}

func fwdOf(s *summary) float64      { return s.fwdCPU }
func dbOf(s *summary) float64       { return s.dbCPU }
func sysbenchOf(s *summary) float64 { return s.sysbenchCPU }

// cell formats a value, or a dash when it cannot be computed.
func cell(ok bool, format string, v float64) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

// cpuTable compares, per test and mode, the proxy with the relay and with direct MariaDB:
// throughput ratios, the proxy's CPU per query against the relay's and against what the direct
// mariadbd spends per query, the latency the proxy adds at p95, and the CPU per query of the
// proxy's servers against the direct server's at full speed and at half the proxy's rate
// (targetHalf: the load of one of two shards).
func cpuTable(sums []*summary) string {
	var b strings.Builder
	b.WriteString("\nProxy against relay and direct (CPU µs per query; × = proxy / other; p95 added = proxy p95 − other's p95; " +
		"direct-half = the direct server held to half the proxy's transaction rate, what one of two shards serves):\n\n")
	b.WriteString("| test | ps-mode | proxy/direct | proxy/relay | relay/direct | proxy CPU µs/q | relay CPU µs/q | × relay | direct mariadbd µs/q | × mariadbd | proxy's mariadbds µs/q | × direct mariadbd | direct-half mariadbd µs/q | × direct-half | p95 added vs direct ms | vs relay ms |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, tr := range trios(sums) {
		p, r, d := tr.proxy, tr.relay, tr.direct
		pf, rf, dd, pd, hd := per(p, fwdOf), per(r, fwdOf), per(d, dbOf), per(p, dbOf), per(tr.half, dbOf)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", tr.test, tr.mode,
			ratio(p.vsDirect), ratio(p.vsRelay), ratio(r.vsDirect),
			cell(pf > 0, "%.0f", pf), cell(rf > 0, "%.0f", rf), cell(pf > 0 && rf > 0, "%.2f", pf/rf),
			cell(dd > 0, "%.0f", dd), cell(pf > 0 && dd > 0, "%.2f", pf/dd), cell(pd > 0, "%.0f", pd),
			cell(pd > 0 && dd > 0, "%.2f", pd/dd), cell(hd > 0, "%.0f", hd), cell(pd > 0 && hd > 0, "%.2f", pd/hd),
			cell(p.runs > 0 && d.runs > 0, "%+.2f", p.p95-d.p95), cell(p.runs > 0 && r.runs > 0, "%+.2f", p.p95-r.p95))
	}
	return b.String()
}

// budgetTable adds up, per test and mode, the CPU one query costs the whole machine on the relay's
// path and on the proxy's (forwarder + the servers behind it + sysbench). While the CPUs are the
// limit, throughput goes as the inverse of that sum, so relay path / proxy path predicts the
// measured proxy/relay. The ceiling puts the relay's own CPU in the proxy's place, over the
// proxy's servers and sysbench: what a proxy that cost no more than a bare relay would reach with
// the work the shards do (queries that run on both shards, BEGIN and COMMIT on each).
func budgetTable(sums []*summary) string {
	var b strings.Builder
	b.WriteString("\nCPU budget per query (µs, everything on the machine that serves it: forwarder + servers + sysbench); " +
		"predicted = relay path / proxy path; ceiling = relay path / (relay's CPU + the proxy's servers + the proxy run's sysbench):\n\n")
	b.WriteString("| test | ps-mode | relay path | proxy path | predicted proxy/relay | measured | ceiling with a relay's CPU |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|\n")
	for _, tr := range trios(sums) {
		p, r := tr.proxy, tr.relay
		rf, pf := per(r, fwdOf), per(p, fwdOf)
		if rf <= 0 || pf <= 0 {
			continue
		}
		relayPath := rf + per(r, dbOf) + per(r, sysbenchOf)
		rest := per(p, dbOf) + per(p, sysbenchOf)
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.2f | %s | %.2f |\n", tr.test, tr.mode, relayPath, pf+rest,
			relayPath/(pf+rest), ratio(p.vsRelay), relayPath/(rf+rest))
	}
	return b.String()
}

// perQueryCount formats a count per query.
func perQueryCount(n, queries int64) string {
	if queries <= 0 || n <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(n)/float64(queries))
}

// otherLoad is the CPU the rest of the machine used during a run, in % of one CPU: high values
// mean something else competed with the benchmark.
func otherLoad(r *result) string {
	if r.wall <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*r.otherCPU/r.wall)
}

func orDash(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

const resultsHeader = `# Benchmark results

Figures from ` + "`make bench`" + ` (bench/README.md): sysbench against the same MariaDB reached directly,
through a bare TCP relay (bench/relay) and through shardgate, in one sitting on one machine.
Absolute figures move by ±15% between runs and by 2× between machines: compare the same-run
ratios only. Newest section last.

`

// appendResults appends a section to the results file, creating it with a header.
func appendResults(path, section string) error {
	_, err := os.Stat(path)
	fresh := os.IsNotExist(err)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if fresh {
		if _, err := f.WriteString(resultsHeader); err != nil {
			f.Close()
			return err
		}
	} else {
		f.WriteString("\n")
	}
	if _, err := f.WriteString(section); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// count formats a counter read from a proxy's /metrics, or a dash when the binary does not
// export it (-1).
func count(n int64) string {
	if n < 0 {
		return "–"
	}
	return strconv.FormatInt(n, 10)
}

// waitTable reports, per test, mode and target, what lock waits did: the longest transaction
// latency sysbench saw (a deadlock across shards left to innodb_lock_wait_timeout shows as
// ~50 s, and the run lasts that much longer than asked), sysbench's ignored errors (1213 and
// 1205, retried), and through a proxy the deadlocks it found and the statements that ended in
// 1205 and 1213; tps as the mean over the rounds, and against the baseline's when there is one.
func waitTable(o options, results []*result) string {
	type agg struct {
		key
		runs                    int
		tps, maxLat, wall       float64
		worstWall               float64
		errors                  int64
		deadlocks, lt, dl       int64
		deadlocksKnown, metrics bool
	}
	var order []*agg
	m := map[key]*agg{}
	for _, r := range results {
		if r.err != "" {
			continue
		}
		k := key{r.test, r.mode, r.target}
		a := m[k]
		if a == nil {
			a = &agg{key: k, deadlocksKnown: true}
			m[k] = a
			order = append(order, a)
		}
		a.runs++
		a.tps += r.tps
		a.maxLat = max(a.maxLat, r.maxLat)
		a.worstWall = max(a.worstWall, r.wall)
		a.errors += r.errors
		if r.deadlocks < 0 {
			a.deadlocksKnown = false
		} else {
			a.deadlocks += r.deadlocks
		}
		if r.lockTimeouts >= 0 {
			a.metrics = true
			a.lt += r.lockTimeouts
			a.dl += r.deadlockErrs
		}
	}
	if len(order) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nLock waits (%d run(s) of %d s each per row; max latency and longest run over all runs, counts summed):\n\n", o.rounds, o.seconds)
	b.WriteString("| test | ps-mode | target | runs | tps | vs baseline | max latency ms | longest run s | sysbench ignored errors | deadlocks found | 1213 | 1205 |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, a := range order {
		tps := a.tps / float64(a.runs)
		vs := "–"
		if base := m[key{a.test, a.mode, "baseline"}]; base != nil && a.target == "proxy" && base.tps > 0 {
			vs = fmt.Sprintf("%.2f", tps/(base.tps/float64(base.runs)))
		}
		dl, e13, e05 := "–", "–", "–"
		if a.deadlocksKnown {
			dl = strconv.FormatInt(a.deadlocks, 10)
		}
		if a.metrics {
			e13, e05 = strconv.FormatInt(a.dl, 10), strconv.FormatInt(a.lt, 10)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %.1f | %s | %.0f | %.1f | %d | %s | %s | %s |\n", a.test, a.mode, a.target, a.runs, tps, vs,
			a.maxLat, a.worstWall, a.errors, dl, e13, e05)
	}
	b.WriteString("\ntps: mean of the runs; vs baseline: that mean over the baseline's; max latency: sysbench's largest event latency; " +
		"deadlocks found: shardgate_deadlocks_total over the runs (– : the binary has no detector); 1213, 1205: shardgate_query_errors_total by code over the runs.\n")
	return b.String()
}
