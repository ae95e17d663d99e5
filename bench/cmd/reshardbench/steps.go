// The measured steps of the run (see the package doc): the baseline dump, the copies, the
// switches under load, the lag samples and the final check of the data.

package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/workflow"
)

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
