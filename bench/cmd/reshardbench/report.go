// The report: what was measured, as one markdown section (printed, and the section for RESULTS.md).

package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/shardgate/shardgate/bench/machine"
	"github.com/shardgate/shardgate/workflow"
)

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
