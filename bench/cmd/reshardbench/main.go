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
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testetcd"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/vindex"
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
	et, err := testetcd.Start(dir)
	if err != nil {
		return fmt.Errorf("embedded etcd: %w", err)
	}
	defer et.Stop()
	b.etcd = et.Endpoint()
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
