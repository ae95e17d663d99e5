// Command sgbench is the harness behind `make bench`: it measures shardgate with sysbench
// against the same MariaDB reached directly and through a bare TCP relay, in one sitting.
//
// It starts four throwaway mariadbd servers (internal/localdb): a global keyspace and two
// shards for the proxy, and one "direct" server. It runs `shardgate serve` as a separate
// process on a generated config (sbtest1 sharded by hash on id) and bench/relay in front of
// the direct server, loads the same sysbench table into the proxy (through it, with explicit
// ids) and into the direct server, then runs sysbench against direct, relay and proxy in turn,
// for each test and --db-ps-mode, for a number of rounds. It prints each run, a summary with
// the ratios to direct and to the relay, and the CPU time per query of the proxy (or relay)
// process and of the mariadbd servers behind it, read from /proc/<pid>/stat.
//
// Settings come from flags or the BENCH_* environment variables (see bench/README.md).
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
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

	"github.com/shardgate/shardgate/internal/localdb"
)

type options struct {
	shardgate string
	relay     string
	seconds   int
	rounds    int
	threads   int
	rows      int
	warmup    int
	modes     []string
	tests     []string
	record    string
	command   string
	keep      bool
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
	flag.StringVar(&o.shardgate, "shardgate", "bin/shardgate", "shardgate binary")
	flag.StringVar(&o.relay, "relay", "bin/relay", "relay binary (go build ./bench/relay)")
	flag.IntVar(&o.seconds, "time", envInt("BENCH_TIME", 30), "seconds per sysbench run (BENCH_TIME)")
	flag.IntVar(&o.rounds, "rounds", envInt("BENCH_ROUNDS", 3), "rounds of direct, relay, proxy (BENCH_ROUNDS)")
	flag.IntVar(&o.threads, "threads", envInt("BENCH_THREADS", 8), "sysbench threads (BENCH_THREADS)")
	flag.IntVar(&o.rows, "rows", envInt("BENCH_ROWS", 100000), "rows in sbtest1 (BENCH_ROWS)")
	flag.IntVar(&o.warmup, "warmup", envInt("BENCH_WARMUP", 5), "seconds of unmeasured sysbench per target before the first round, 0 for none (BENCH_WARMUP)")
	flag.StringVar(&modes, "modes", envStr("BENCH_MODES", "auto,disable"), "--db-ps-mode values (BENCH_MODES)")
	flag.StringVar(&tests, "tests", envStr("BENCH_TESTS", "oltp_point_select"), "sysbench tests (BENCH_TESTS)")
	flag.StringVar(&o.record, "record", os.Getenv("BENCH_RECORD"), "append the markdown section to this file, e.g. bench/RESULTS.md (BENCH_RECORD)")
	flag.StringVar(&o.command, "command", "", "command line to record (default: this program's)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder (servers' data and logs, proxy log)")
	flag.Parse()
	o.modes, o.tests = splitList(modes), splitList(tests)
	if o.command == "" {
		o.command = strings.Join(os.Args, " ")
	}
	if o.seconds <= 0 || o.rounds <= 0 || o.threads <= 0 || o.rows <= 0 || len(o.modes) == 0 || len(o.tests) == 0 {
		fmt.Fprintln(os.Stderr, "sgbench: time, rounds, threads, rows must be positive; modes and tests not empty")
		os.Exit(2)
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
	global, shard1, shard2 *localdb.Server
	direct                 *localdb.Server
	proxy, relay           *exec.Cmd
	proxyAddr, relayAddr   string
	proxyLog               string
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
	if _, err := localdb.FindBinaries(); err != nil {
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
	servers, err := localdb.StartCluster(sctx, dir, 4)
	cancel()
	if err != nil {
		return err
	}
	e.global, e.shard1, e.shard2, e.direct = servers[0], servers[1], servers[2], servers[3]
	for s, db := range map[*localdb.Server]string{e.global: "commerce", e.shard1: "customer", e.shard2: "customer", e.direct: "sbtest"} {
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
	fmt.Printf("  proxy %s (pid %d), relay %s (pid %d) -> direct %s\n", e.proxyAddr, e.proxy.Process.Pid,
		e.relayAddr, e.relay.Process.Pid, e.direct.Addr())

	load, err := e.load(ctx, o)
	if err != nil {
		return err
	}

	targets := []*target{
		{name: "direct", addr: e.direct.Addr(), user: "root", db: "sbtest", dbs: []*localdb.Server{e.direct}},
		{name: "relay", addr: e.relayAddr, user: "root", db: "sbtest", pid: e.relay.Process.Pid, dbs: []*localdb.Server{e.direct}},
		{name: "proxy", addr: e.proxyAddr, user: "app", password: "secret", db: "customer", pid: e.proxy.Process.Pid,
			dbs: []*localdb.Server{e.global, e.shard1, e.shard2}},
	}

	if o.warmup > 0 {
		fmt.Printf("warming up (%ds per target and test) ...\n", o.warmup)
		for _, test := range o.tests {
			for _, t := range targets {
				r := e.sysbench(ctx, o, t, test, o.modes[0], o.warmup)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if r.err != "" {
					fmt.Printf("  warm-up %s %s: %s\n", t.name, test, r.err)
				}
			}
		}
	}

	var results []*result
	for round := 1; round <= o.rounds; round++ {
		for _, test := range o.tests {
			for _, mode := range o.modes {
				var byTarget = map[string]*result{}
				for _, t := range targets {
					fmt.Printf("round %d/%d  %-18s %-8s %-7s ", round, o.rounds, test, mode, t.name)
					r := e.sysbench(ctx, o, t, test, mode, o.seconds)
					if ctx.Err() != nil {
						return ctx.Err()
					}
					r.round = round
					byTarget[t.name] = r
					results = append(results, r)
					if r.err != "" {
						fmt.Printf("FAILED: %s\n", r.err)
					} else {
						fmt.Printf("%9.0f qps  p95 %.2f ms  (other load %.0f%% of a CPU)\n", r.qps, r.p95, 100*r.otherCPU/r.wall)
					}
				}
				for _, r := range byTarget {
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

	md := report(o, info, load, targets, results)
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
	for _, c := range []*exec.Cmd{e.proxy, e.relay} {
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
	localdb.KillAll([]*localdb.Server{e.global, e.shard1, e.shard2, e.direct})
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
    shards:
      "-80": {host: 127.0.0.1, port: %d, user: root, password: "", database: customer}
      "80-": {host: 127.0.0.1, port: %d, user: root, password: "", database: customer}
    vschema:
      vindexes: {hash: {type: hash}}
      tables:
        sbtest1:
          column_vindexes: [{column: id, name: hash}]
`

func (e *env) startProxy(ctx context.Context, o options) error {
	mysqlPort, err := freePort()
	if err != nil {
		return err
	}
	httpPort, err := freePort()
	if err != nil {
		return err
	}
	cfg := filepath.Join(e.dir, "shardgate.yaml")
	text := fmt.Sprintf(proxyConfig, mysqlPort, httpPort, e.global.Port, e.shard1.Port, e.shard2.Port)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return err
	}
	e.proxyLog = filepath.Join(e.dir, "proxy.log")
	logf, err := os.Create(e.proxyLog)
	if err != nil {
		return err
	}
	defer logf.Close()
	e.proxy = exec.Command(o.shardgate, "serve", "--config", cfg)
	e.proxy.Stdout, e.proxy.Stderr = logf, logf
	e.proxy.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := e.proxy.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { e.proxy.Process.Wait(); close(exited) }() // only to notice an early exit
	e.proxyAddr = fmt.Sprintf("127.0.0.1:%d", mysqlPort)
	db, err := sql.Open("mysql", "app:secret@tcp("+e.proxyAddr+")/customer?timeout=2s")
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = db.PingContext(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("shardgate serve exited at startup:\n%s", tailFile(e.proxyLog, 30))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("shardgate did not accept app/secret on %s within 30s: %v\n%s", e.proxyAddr, err, tailFile(e.proxyLog, 30))
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

// loadStats describes loading the table.
type loadStats struct {
	rows                  int
	proxySecs, directSecs float64
	shard1, shard2        int
}

const createTable = `CREATE TABLE sbtest1 (
  id INTEGER NOT NULL,
  k INTEGER DEFAULT '0' NOT NULL,
  c CHAR(120) DEFAULT '' NOT NULL,
  pad CHAR(60) DEFAULT '' NOT NULL,
  PRIMARY KEY (id),
  KEY k_1 (k)
) ENGINE=InnoDB`

// digits returns groups of 11 random digits joined by '-', as sysbench fills c and pad.
func digits(rng *rand.Rand, groups int) string {
	b := make([]byte, 0, groups*12)
	for g := range groups {
		if g > 0 {
			b = append(b, '-')
		}
		for range 11 {
			b = append(b, byte('0'+rng.IntN(10)))
		}
	}
	return string(b)
}

// batches renders the INSERT statements for rows 1..n: sysbench's rows (k uniform in
// [1,n], c 10 digit groups, pad 5), with explicit ids, from a fixed seed.
func batches(n, per int) []string {
	rng := rand.New(rand.NewPCG(20240601, 1))
	var out []string
	var b strings.Builder
	for id := 1; id <= n; id++ {
		if b.Len() == 0 {
			b.WriteString("INSERT INTO sbtest1 (id, k, c, pad) VALUES ")
		} else {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d,%d,'%s','%s')", id, 1+rng.IntN(n), digits(rng, 10), digits(rng, 5))
		if id%per == 0 || id == n {
			out = append(out, b.String())
			b.Reset()
		}
	}
	return out
}

func execAll(ctx context.Context, dsn string, workers int, stmts []string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(workers)
	next := make(chan string)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			var first error
			for q := range next {
				if first == nil {
					if _, err := db.ExecContext(ctx, q); err != nil {
						first = err
					}
				}
			}
			errs <- first
		}()
	}
	for _, q := range stmts {
		next <- q
	}
	close(next)
	var all []error
	for range workers {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

func (e *env) load(ctx context.Context, o options) (loadStats, error) {
	st := loadStats{rows: o.rows}
	stmts := batches(o.rows, 1000)
	proxyDSN := "app:secret@tcp(" + e.proxyAddr + ")/customer"
	directDSN := "root@tcp(" + e.direct.Addr() + ")/sbtest"

	fmt.Printf("loading sbtest1 (%d rows, explicit ids) through the proxy ...\n", o.rows)
	if err := execAll(ctx, proxyDSN, 1, []string{"DROP TABLE IF EXISTS sbtest1", createTable}); err != nil {
		return st, fmt.Errorf("creating sbtest1 through the proxy: %w\n%s", err, tailFile(e.proxyLog, 20))
	}
	t := time.Now()
	if err := execAll(ctx, proxyDSN, 4, stmts); err != nil {
		return st, fmt.Errorf("loading sbtest1 through the proxy: %w\n%s", err, tailFile(e.proxyLog, 20))
	}
	st.proxySecs = time.Since(t).Seconds()

	fmt.Println("loading the same rows into the direct server ...")
	if err := execAll(ctx, directDSN, 1, []string{"DROP TABLE IF EXISTS sbtest1", createTable}); err != nil {
		return st, err
	}
	t = time.Now()
	if err := execAll(ctx, directDSN, 4, stmts); err != nil {
		return st, err
	}
	st.directSecs = time.Since(t).Seconds()

	var err error
	if st.shard1, err = count(ctx, e.shard1.DSN("customer")); err != nil {
		return st, err
	}
	if st.shard2, err = count(ctx, e.shard2.DSN("customer")); err != nil {
		return st, err
	}
	d, err := count(ctx, e.direct.DSN("sbtest"))
	if err != nil {
		return st, err
	}
	if st.shard1+st.shard2 != o.rows || d != o.rows || st.shard1 == 0 || st.shard2 == 0 {
		return st, fmt.Errorf("row counts after loading: shard -80 %d + shard 80- %d (want %d, both > 0), direct %d", st.shard1, st.shard2, o.rows, d)
	}
	fmt.Printf("  proxy %.1fs (%d rows on -80, %d on 80-), direct %.1fs\n", st.proxySecs, st.shard1, st.shard2, st.directSecs)
	return st, nil
}

func count(ctx context.Context, dsn string) (int, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sbtest1").Scan(&n)
	return n, err
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
