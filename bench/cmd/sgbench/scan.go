package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/vindex"
)

// The scan test (BENCH_TESTS=…,scan) reads large results through each target with a Go client
// (go-sql-driver, rows read into sql.RawBytes and discarded, one connection): the same client
// for direct, relay and proxy. It measures rows/s and, for the proxy, its heap while it relays:
// scanned by /metrics every 50 ms.

// scanQuery is one statement of the scan test, as sent to the proxy and to direct MariaDB.
type scanQuery struct {
	name      string
	what      string
	proxyDB   string // the keyspace the proxy's client connects to
	proxySQL  string
	directSQL string // direct and relay (db sbtest, where scan1 holds every row)
}

var scanQueries = []scanQuery{
	{"single", "all rows of commerce.scan1, an unsharded table of the global keyspace: one shard, relayed as bytes",
		"commerce", "SELECT id, k, c FROM scan1", "SELECT id, k, c FROM scan1"},
	{"merge", "all rows of customer.scan2 (hash on id over both shards) ORDER BY id: the shards' streams merge-sorted by the proxy",
		"customer", "SELECT id, k, c FROM scan2 ORDER BY id", "SELECT id, k, c FROM scan1 ORDER BY id"},
	{"scatter", "all rows of customer.scan2 without ORDER BY: both shards' results concatenated",
		"customer", "SELECT id, k, c FROM scan2", "SELECT id, k, c FROM scan1"},
}

// scanTable is the table of the scan test; c is 32 characters, so a row is about 50 bytes on
// the wire (text protocol).
const scanTable = "(id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(40) NOT NULL) ENGINE=InnoDB"

// scanSelect fills a scan table from MariaDB's SEQUENCE engine.
func scanSelect(rows int) string {
	return fmt.Sprintf("SELECT seq, seq %% 100000, CONCAT(LPAD(seq, 10, '0'), '-abcdefghijklmnopqrstu') FROM seq_1_to_%d", rows)
}

// scanLoad describes how the scan tables were made.
type scanLoad struct {
	rows                        int
	directSecs, globalSecs      float64
	shardedSecs                 float64
	shard1, shard2              int
	vschema                     string
	proxySingle, proxySharded   int64 // COUNT(*) through the proxy
	directMB, globalMB, shardMB float64
}

// loadScan creates scan1 (every row) on the direct server and in the global keyspace with
// INSERT … SELECT FROM seq_1_to_N, and scan2 through the proxy (CREATE TABLE: auto-vschema
// shards it by hash on id) whose rows are then inserted on each shard directly, each row on the
// shard the hash vindex maps its id to, in multi-row INSERTs.
func (e *env) loadScan(ctx context.Context, o options) (scanLoad, error) {
	st := scanLoad{rows: o.scanRows}
	fmt.Printf("scan: loading %d rows: sbtest.scan1 on direct, commerce.scan1 on the global server, customer.scan2 over both shards ...\n", o.scanRows)
	timed := func(f func() error) (float64, error) {
		t := time.Now()
		err := f()
		return time.Since(t).Seconds(), err
	}
	var err error
	fill := func(s *mariadbd.Server, db string) func() error {
		return func() error {
			return execDSN(ctx, s.DSN(db), "DROP TABLE IF EXISTS scan1", "CREATE TABLE scan1 "+scanTable,
				"INSERT INTO scan1 "+scanSelect(o.scanRows), "ANALYZE TABLE scan1")
		}
	}
	if st.directSecs, err = timed(fill(e.direct, "sbtest")); err != nil {
		return st, fmt.Errorf("direct scan1: %w", err)
	}
	if st.globalSecs, err = timed(fill(e.global, "commerce")); err != nil {
		return st, fmt.Errorf("global scan1: %w", err)
	}
	proxyDSN := "app:secret@tcp(" + e.proxyAddr + ")/customer"
	st.shardedSecs, err = timed(func() error {
		if err := execDSN(ctx, proxyDSN, "DROP TABLE IF EXISTS scan2", "CREATE TABLE scan2 "+scanTable); err != nil {
			return fmt.Errorf("CREATE TABLE scan2 through the proxy: %w", err)
		}
		return e.fillSharded(ctx, o.scanRows)
	})
	if err != nil {
		return st, err
	}
	if st.shard1, _, err = countMax(ctx, e.shard1.DSN("customer"), "scan2"); err != nil {
		return st, err
	}
	if st.shard2, _, err = countMax(ctx, e.shard2.DSN("customer"), "scan2"); err != nil {
		return st, err
	}
	st.vschema = vschemaLine(ctx, proxyDSN, "scan2")
	st.proxySharded = queryInt(ctx, proxyDSN, "SELECT COUNT(*) FROM scan2")
	st.proxySingle = queryInt(ctx, "app:secret@tcp("+e.proxyAddr+")/commerce", "SELECT COUNT(*) FROM scan1")
	st.directMB = tableMB(ctx, e.direct.DSN("sbtest"), "scan1")
	st.globalMB = tableMB(ctx, e.global.DSN("commerce"), "scan1")
	st.shardMB = tableMB(ctx, e.shard1.DSN("customer"), "scan2")
	fmt.Printf("  direct %.1fs (%.0f MB), global %.1fs (%.0f MB), scan2 %.1fs (%d rows on -80, %d on 80-, %.0f MB on -80; vschema: %s); "+
		"COUNT(*) through the proxy: scan1 %d, scan2 %d\n", st.directSecs, st.directMB, st.globalSecs, st.globalMB, st.shardedSecs,
		st.shard1, st.shard2, st.shardMB, st.vschema, st.proxySingle, st.proxySharded)
	if st.shard1+st.shard2 != o.scanRows || st.shard1 == 0 || st.shard2 == 0 ||
		st.proxySharded != int64(o.scanRows) || st.proxySingle != int64(o.scanRows) {
		return st, fmt.Errorf("scan tables: want %d rows (scan2 on both shards), see the counts above", o.scanRows)
	}
	return st, nil
}

// fillSharded inserts rows 1..n of scan2 on the shard the hash vindex maps each id to (the
// customer keyspace's shards -80 and 80-), both shards at once.
func (e *env) fillSharded(ctx context.Context, n int) error {
	hash, err := vindex.New("hash", nil)
	if err != nil {
		return err
	}
	ids := [2][]int64{}
	for id := int64(1); id <= int64(n); id++ {
		ksid, err := hash.Map(id)
		if err != nil {
			return err
		}
		i := 0
		if ksid[0] >= 0x80 {
			i = 1
		}
		ids[i] = append(ids[i], id)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*mariadbd.Server{e.shard1, e.shard2} {
		wg.Go(func() { errs[i] = insertScanRows(ctx, s.DSN("customer"), ids[i]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func insertScanRows(ctx context.Context, dsn string, ids []int64) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	const batch = 5000
	buf := make([]byte, 0, batch*56)
	for len(ids) > 0 {
		m := min(batch, len(ids))
		buf = append(buf[:0], "INSERT INTO scan2 (id, k, c) VALUES "...)
		for j, id := range ids[:m] {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = fmt.Appendf(buf, "(%d,%d,'%010d-abcdefghijklmnopqrstu')", id, id%100000, id)
		}
		if _, err := db.ExecContext(ctx, string(buf)); err != nil {
			return err
		}
		ids = ids[m:]
	}
	_, err = db.ExecContext(ctx, "ANALYZE TABLE scan2")
	return err
}

func execDSN(ctx context.Context, dsn string, stmts ...string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// countMax returns the rows of table and its largest id.
func countMax(ctx context.Context, dsn, table string) (int, int64, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	var n int
	var m sql.NullInt64
	err = db.QueryRowContext(ctx, "SELECT COUNT(*), MAX(id) FROM "+table).Scan(&n, &m)
	return n, m.Int64, err
}

func queryInt(ctx context.Context, dsn, q string) int64 {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return -1
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		fmt.Printf("  %s: %v\n", q, err)
		return -1
	}
	return n
}

// tableMB is the table's data + index size in MB from information_schema.
func tableMB(ctx context.Context, dsn, table string) float64 {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return 0
	}
	defer db.Close()
	var n float64
	db.QueryRowContext(ctx, "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table).Scan(&n)
	return n / 1e6
}

// scanResult is one full read of a scan query through a target.
type scanResult struct {
	rep                 int
	query, proto        string
	target              string
	rows, bytes         int64
	secs                float64
	heap0, heapPeak     float64 // proxy: HeapAlloc after a forced GC before the scan, largest sampled during it
	heapAfter           float64 // proxy: HeapAlloc after a forced GC after the scan
	allocated           float64 // proxy: bytes allocated during the scan (go_memstats_alloc_bytes_total), less the scrapes'
	perScrape           float64 // proxy: bytes one /metrics scrape allocates, measured on the idle proxy before the scan
	rss0, rssPeak       float64 // forwarding process: VmRSS before, largest sampled during the scan
	samples             int     // heap samples taken during the read
	heapMeasured        bool    // the proxy's heap was read (before, after, and the samples)
	fwdCPU, dbCPU       float64 // seconds
	clientCPU           float64 // this process (the client and the sampler)
	otherCPU            float64
	vsDirect, vsRelay   float64
	err                 string
	httpAddr, proxyNote string
}

func (r *scanResult) rowsPerSec() float64 {
	if r.secs <= 0 {
		return 0
	}
	return float64(r.rows) / r.secs
}

// scanTarget is where a scan connects: the target, with the database and statement per query.
func scanDSN(t *target, q scanQuery) (dsn, stmt string) {
	db, stmt := t.db, q.directSQL
	if t.name == "proxy" {
		db, stmt = q.proxyDB, q.proxySQL
	}
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?maxAllowedPacket=0", t.user, t.password, t.addr, db), stmt
}

// runScans runs the scan test: one unmeasured read per query and target, then for each
// repetition, query and protocol a read through direct, relay and proxy in turn.
func (e *env) runScans(ctx context.Context, o options, targets []*target) ([]*scanResult, error) {
	fmt.Println("scan: warming up (one read of each query per target) ...")
	targets = slices.DeleteFunc(slices.Clone(targets), func(t *target) bool { return t.rateOf != "" })
	for _, q := range scanQueries {
		for _, t := range targets {
			r := e.scan(ctx, o, t, q, "text", false)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if r.err != "" {
				fmt.Printf("  warm-up %s %s: %s\n", t.name, q.name, r.err)
			}
		}
	}
	var out []*scanResult
	for rep := 1; rep <= o.scanReps; rep++ {
		for _, q := range scanQueries {
			for _, proto := range o.scanProtos {
				by := map[string]*scanResult{}
				for _, t := range targets {
					fmt.Printf("scan %d/%d  %-8s %-6s %-7s ", rep, o.scanReps, q.name, proto, t.name)
					r := e.scan(ctx, o, t, q, proto, true)
					if ctx.Err() != nil {
						return out, ctx.Err()
					}
					r.rep = rep
					by[t.name] = r
					out = append(out, r)
					if r.err != "" {
						fmt.Printf("FAILED: %s\n", r.err)
						continue
					}
					fmt.Printf("%8.2fs %9.0f rows/s", r.secs, r.rowsPerSec())
					if t.pid > 0 {
						fmt.Printf("  fwd CPU %.0f ns/row  RSS +%.1f MB", r.fwdCPU/float64(r.rows)*1e9, (r.rssPeak-r.rss0)/1e6)
					}
					if r.heapMeasured {
						fmt.Printf("  heap %.1f MB → peak %.1f MB (+%.1f), after GC %.1f MB, allocated %.0f B/row (%d samples of %.0f KB)",
							r.heap0/1e6, r.heapPeak/1e6, (r.heapPeak-r.heap0)/1e6, r.heapAfter/1e6, r.allocated/float64(r.rows), r.samples, r.perScrape/1e3)
					}
					fmt.Println()
				}
				for _, r := range by {
					if d := by["direct"]; d != nil && d.err == "" && r.err == "" {
						r.vsDirect = r.rowsPerSec() / d.rowsPerSec()
					}
					if rl := by["relay"]; rl != nil && rl.err == "" && r.err == "" {
						r.vsRelay = r.rowsPerSec() / rl.rowsPerSec()
					}
				}
			}
		}
	}
	return out, nil
}

// scan reads q's whole result through t once; measured, it also samples the forwarding
// process (RSS; for the proxy its heap through /metrics) every 50 ms.
func (e *env) scan(ctx context.Context, o options, t *target, q scanQuery, proto string, measured bool) *scanResult {
	r := &scanResult{query: q.name, proto: proto, target: t.name}
	dsn, stmt := scanDSN(t, q)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer conn.Close()
	var ps *sql.Stmt
	if proto == "binary" {
		if ps, err = conn.PrepareContext(ctx, stmt); err != nil {
			r.err = "prepare: " + err.Error()
			return r
		}
		defer ps.Close()
	}

	httpAddr := ""
	if t.name == "proxy" && measured {
		httpAddr = e.proxyHTTP
		forceGC(httpAddr)
		// two scrapes of the idle proxy: what one scrape allocates, subtracted below
		m1 := scrape(httpAddr)
		m := scrape(httpAddr)
		r.perScrape = max(0, m["go_memstats_alloc_bytes_total"]-m1["go_memstats_alloc_bytes_total"])
		r.heap0, r.heapPeak = m["go_memstats_heap_alloc_bytes"], m["go_memstats_heap_alloc_bytes"]
		r.heapMeasured = r.heap0 > 0
		r.allocated = -m["go_memstats_alloc_bytes_total"]
	}
	r.rss0 = rss(t.pid)
	r.rssPeak = r.rss0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if measured && (httpAddr != "" || t.pid > 0) {
		wg.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				r.rssPeak = max(r.rssPeak, rss(t.pid))
				if httpAddr != "" {
					if h, ok := scrape(httpAddr)["go_memstats_heap_alloc_bytes"]; ok {
						r.heapPeak = max(r.heapPeak, h)
						r.samples++
					}
				}
			}
		})
	}

	fwd0, db0, self0, busy0 := cpuSeconds(t.pid), cpuSum(t.dbPids()), selfCPU(), machineBusy()
	start := time.Now()
	var rows *sql.Rows
	if ps != nil {
		rows, err = ps.QueryContext(ctx)
	} else {
		rows, err = conn.QueryContext(ctx, stmt)
	}
	if err == nil {
		var id, k, c sql.RawBytes
		for rows.Next() {
			if err = rows.Scan(&id, &k, &c); err != nil {
				break
			}
			r.rows++
			r.bytes += int64(len(id) + len(k) + len(c))
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	r.secs = time.Since(start).Seconds()
	r.fwdCPU, r.dbCPU, r.clientCPU = cpuSeconds(t.pid)-fwd0, cpuSum(t.dbPids())-db0, selfCPU()-self0
	if busy0 > 0 {
		r.otherCPU = max(0, machineBusy()-busy0-r.fwdCPU-r.dbCPU-r.clientCPU)
	}
	close(stop)
	wg.Wait()
	r.rssPeak = max(r.rssPeak, rss(t.pid))
	if httpAddr != "" {
		m := scrape(httpAddr)
		r.heapPeak = max(r.heapPeak, m["go_memstats_heap_alloc_bytes"])
		r.allocated += m["go_memstats_alloc_bytes_total"] - float64(r.samples+1)*r.perScrape
		forceGC(httpAddr)
		r.heapAfter = scrape(httpAddr)["go_memstats_heap_alloc_bytes"]
	}
	if err != nil {
		r.err = err.Error()
	} else if r.rows != int64(o.scanRows) {
		r.err = fmt.Sprintf("%d rows, want %d", r.rows, o.scanRows)
	}
	return r
}

// httpClient reads the proxy's admin endpoints; uncompressed, so that a /metrics sample costs
// the proxy no gzip writer (about 0.5 MB allocated per scrape otherwise).
var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}

// scrape reads the proxy's /metrics: the value of each series without labels, and of labelled
// series by their full name (name{labels}).
func scrape(httpAddr string) map[string]float64 {
	m := map[string]float64{}
	resp, err := httpClient.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return m
	}
	return parseMetrics(string(b))
}

// parseMetrics reads Prometheus' text format: series (name, or name{labels}) -> value.
func parseMetrics(text string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// forceGC makes the proxy collect garbage: /debug/pprof/heap?gc=1 runs runtime.GC first.
func forceGC(httpAddr string) {
	resp, err := httpClient.Get("http://" + httpAddr + "/debug/pprof/heap?gc=1")
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// rss is the resident set size of pid in bytes (VmRSS), or 0.
func rss(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

// selfCPU is the CPU time of this process (the scan client and the sampler).
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// scanReport is the markdown section of the scan test.
func scanReport(o options, st scanLoad, results []*scanResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Large results (scan test)\n\n")
	fmt.Fprintf(&b, "- data: %d rows `%s`, filled by `INSERT … %s`: sbtest.scan1 on direct (%.1f s, %.0f MB), commerce.scan1 on the global server "+
		"(unsharded, %.1f s), customer.scan2 created through the proxy (SHOW VSCHEMA TABLES: %s) and filled on each shard directly, each id on "+
		"the shard its hash maps to (%d rows on -80, %d on 80-, %.1f s)\n",
		st.rows, scanTable, scanSelect(st.rows), st.directSecs, st.directMB, st.globalSecs, st.vschema, st.shard1, st.shard2, st.shardedSecs)
	b.WriteString("- client: sgbench itself (go-sql-driver, one connection, each row scanned into sql.RawBytes and dropped); text = COM_QUERY, " +
		"binary = a prepared statement (COM_STMT_EXECUTE); direct and relay run the direct SQL on sbtest.scan1\n")
	for _, q := range scanQueries {
		fmt.Fprintf(&b, "- %s: %s; proxy (db %s): `%s`; direct: `%s`\n", q.name, q.what, q.proxyDB, q.proxySQL, q.directSQL)
	}
	fmt.Fprintf(&b, "- %d repetition(s) of direct → relay → proxy, after one unmeasured read per query and target; heap = the proxy's "+
		"go_memstats_heap_alloc_bytes from /metrics: before (after a forced GC, /debug/pprof/heap?gc=1), largest of the samples taken every 50 ms "+
		"during the read, and after a forced GC once it ended\n\n", o.scanReps)

	type k struct{ query, proto, target string }
	type agg struct {
		failed                       int
		rps, vsD, vsR                []float64 // per repetition
		heapGrowth, retained, rssUp  float64   // largest over the repetitions
		allocated, rows              float64
		fwdCPU, dbCPU, client, other float64
		wall                         float64
		pid, heap                    bool
	}
	var order []k
	m := map[k]*agg{}
	for _, r := range results {
		kk := k{r.query, r.proto, r.target}
		a := m[kk]
		if a == nil {
			a = &agg{}
			m[kk] = a
			order = append(order, kk)
		}
		if r.err != "" {
			a.failed++
			continue
		}
		a.rps = append(a.rps, r.rowsPerSec())
		if r.vsDirect > 0 {
			a.vsD = append(a.vsD, r.vsDirect)
		}
		if r.vsRelay > 0 {
			a.vsR = append(a.vsR, r.vsRelay)
		}
		if r.heapMeasured {
			a.heap = true
			a.heapGrowth = max(a.heapGrowth, r.heapPeak-r.heap0)
			a.retained = max(a.retained, r.heapAfter-r.heap0)
			a.allocated += r.allocated
		}
		if r.rss0 > 0 {
			a.pid = true
			a.rssUp = max(a.rssUp, r.rssPeak-r.rss0)
		}
		a.rows += float64(r.rows)
		a.fwdCPU += r.fwdCPU
		a.dbCPU += r.dbCPU
		a.client += r.clientCPU
		a.other += r.otherCPU
		a.wall += r.secs
	}
	best := func(q, proto, target string) float64 {
		if a := m[k{q, proto, target}]; a != nil && len(a.rps) > 0 {
			return slices.Max(a.rps)
		}
		return 0
	}
	b.WriteString("| query | protocol | target | rows/s median | best | vs direct median | best/best | vs relay median | best/best | proxy heap growth MB (peak − before) | heap kept after GC MB | proxy allocated B/row | fwd RSS growth MB | fwd CPU ns/row | mariadbd CPU ns/row | client CPU ns/row | other load |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, kk := range order {
		a := m[kk]
		if len(a.rps) == 0 {
			fmt.Fprintf(&b, "| %s | %s | %s | failed | | | | | | | | | | | | | |\n", kk.query, kk.proto, kk.target)
			continue
		}
		dash := func(ok bool, f string, v float64) string {
			if !ok {
				return "–"
			}
			return fmt.Sprintf(f, v)
		}
		failed := ""
		if a.failed > 0 {
			failed = fmt.Sprintf(" (%d failed)", a.failed)
		}
		bst := slices.Max(a.rps)
		bestRatio := func(other string) float64 {
			if o := best(kk.query, kk.proto, other); o > 0 {
				return bst / o
			}
			return 0
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f%s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %s |\n", kk.query, kk.proto, kk.target,
			median(a.rps), failed, bst, ratio(median(a.vsD)), ratio(bestRatio("direct")), ratio(median(a.vsR)), ratio(bestRatio("relay")),
			dash(a.heap, "%.1f", a.heapGrowth/1e6), dash(a.heap, "%.1f", a.retained/1e6), allocPerRow(a.heap, a.allocated/a.rows),
			dash(a.pid, "%.1f", a.rssUp/1e6), dash(a.pid, "%.0f", a.fwdCPU/a.rows*1e9),
			a.dbCPU/a.rows*1e9, a.client/a.rows*1e9, otherLoad(&result{otherCPU: a.other, wall: a.wall}))
	}
	b.WriteString("\nrows/s: median and best of the repetitions; vs direct/relay: median of the same-repetition ratios, and best against best " +
		"(less disturbed by other load on the machine); heap and RSS growth: the largest of the repetitions; " +
		"allocated B/row: bytes the proxy allocated during the reads (go_memstats_alloc_bytes_total, less the samples × what one /metrics scrape of the idle proxy allocates) / rows; CPU per row: user+system time of the process over the read.\n")
	return b.String()
}

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// allocPerRow formats the proxy's bytes allocated per row: the estimate of what the /metrics
// samples allocated is only good to a few bytes a row, so small or negative values read "≈0".
func allocPerRow(ok bool, v float64) string {
	switch {
	case !ok:
		return "–"
	case v < 3:
		return "≈0"
	}
	return fmt.Sprintf("%.0f", v)
}
