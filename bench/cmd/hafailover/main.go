// Command hafailover is the harness behind `make bench-ha`: it measures shardgate's automatic
// failover on this machine, over many trials, with real MariaDB GTID replication groups.
//
// It starts a global server and two customer shards, shard -80 a group of three servers and
// 80- a group of two (internal/mariadbd), an embedded etcd, and two proxies in this process
// sharing it (internal/testenv, as `shardgate serve` runs them: prober, failover, buffer). A
// write load of autocommit INSERTs with unique ids runs through both proxies
// (internal/writeload). Each trial kills the primary of -80 with kill -9 (or SIGSTOP with
// -mode stop), waits until both proxies write to the promoted replica, rejoins the killed
// server as a replica as docs/ha.md says (--init-rpl-role=SLAVE, MASTER_DEMOTE_TO_SLAVE=1),
// and waits for the group to be healthy again. It reports per trial and in summary: detection
// time (kill to the recovery's start), failover time (to the new primary published), write
// unavailability (the longest time no write to the shard was acknowledged), client errors by
// kind, and acknowledged writes missing from the new primary (must be 0). Then it measures
// point selects through customer (primaries) and customer@replica (replicas).
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/bench/machine"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/internal/testetcd"
	"github.com/shardgate/shardgate/internal/writeload"
	"github.com/shardgate/shardgate/topo"
)

type options struct {
	trials   int
	workers  int
	mode     string // kill | stop
	settle   time.Duration
	readSecs int
	record   string
}

func main() {
	var o options
	flag.IntVar(&o.trials, "trials", 20, "failover trials")
	flag.IntVar(&o.workers, "workers", 4, "writer connections per proxy")
	flag.StringVar(&o.mode, "mode", "kill", "kill (kill -9 of the primary) or stop (SIGSTOP, then SIGCONT after the failover)")
	flag.DurationVar(&o.settle, "settle", 2*time.Second, "load time before each kill")
	flag.IntVar(&o.readSecs, "read-seconds", 10, "seconds of each point-select run (0: skip)")
	flag.StringVar(&o.record, "record", "", "append the report to this file (e.g. bench/RESULTS.md)")
	flag.Parse()
	if o.mode != "kill" && o.mode != "stop" {
		fmt.Fprintln(os.Stderr, "-mode is kill or stop")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "hafailover:", err)
		os.Exit(1)
	}
}

type trial struct {
	n                      int
	old, neu               string
	detect, failover, both time.Duration
	unavail                time.Duration
	errs                   map[string]int
	acked, failed, lost    int
	steps                  string
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "shardgate-bench-ha-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(os.Stderr, "starting 6 MariaDB servers and etcd under", dir)
	var global *mariadbd.Server
	var groups []*mariadbd.Group
	var gerr error
	var wg sync.WaitGroup
	wg.Go(func() { global, gerr = mariadbd.Start(ctx, filepath.Join(dir, "global")) })
	var g0, g1 *mariadbd.Group
	var e0, e1 error
	wg.Go(func() { g0, e0 = mariadbd.StartGroup(ctx, filepath.Join(dir, "g1"), 3, 1) })
	wg.Go(func() { g1, e1 = mariadbd.StartGroup(ctx, filepath.Join(dir, "g2"), 2, 2) })
	wg.Wait()
	defer func() {
		for _, g := range []*mariadbd.Group{g0, g1} {
			if g != nil {
				for _, s := range g.Servers {
					_ = s.Resume()
				}
				g.Kill()
			}
		}
		if global != nil {
			global.Kill()
		}
	}()
	if err := errors.Join(gerr, e0, e1); err != nil {
		return err
	}
	groups = []*mariadbd.Group{g0, g1}
	if err := global.Exec(ctx, "CREATE DATABASE commerce"); err != nil {
		return err
	}
	for _, g := range groups {
		if err := g.Primary().Exec(ctx, "CREATE DATABASE customer",
			"CREATE TABLE customer.t (id BIGINT PRIMARY KEY, v VARCHAR(40))"); err != nil {
			return err
		}
	}
	etcd, err := testetcd.Start(dir)
	if err != nil {
		return err
	}
	defer etcd.Stop()
	endpoint := etcd.Endpoint()
	cfgText := fmt.Sprintf(configYAML, global.Port, strings.Join(g0.Addrs(), `", "`), mariadbd.AppUser, strings.Join(g1.Addrs(), `", "`), mariadbd.AppUser)
	path := filepath.Join(dir, "shardgate.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		return err
	}
	var proxies []*testenv.Proxy
	for i := range 2 {
		cfg, err := config.Load(path)
		if err != nil {
			return err
		}
		e, err := topo.DialEtcd(topo.EtcdConfig{Endpoints: []string{endpoint}, Prefix: "/bench", DialTimeout: 2 * time.Second}, nil)
		if err != nil {
			return err
		}
		defer e.Close()
		p, err := testenv.RunProxyWith(cfg, testenv.Options{Etcd: e, ID: fmt.Sprintf("proxy%d", i+1), LockTTL: 2 * time.Second})
		if err != nil {
			return err
		}
		defer p.Stop()
		proxies = append(proxies, p)
	}
	names := testenv.ShardNames(2)
	on0 := func(id int64) bool { i, _ := testenv.ShardOf(id, names); return i == 0 }
	var dbs []*sql.DB
	for _, p := range proxies {
		db, err := sql.Open("mysql", p.DSN("customer", "interpolateParams=true", "timeout=2s", "readTimeout=30s", "writeTimeout=5s"))
		if err != nil {
			return err
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	load := &writeload.Load{Table: "t", Base: 1 << 40, Workers: o.workers}
	load.Start(dbs...)
	loadStopped := false
	defer func() {
		if !loadStopped {
			load.Stop()
		}
	}()

	start := time.Now()
	var trials []trial
	var kills []time.Time
	for n := 1; n <= o.trials && ctx.Err() == nil; n++ {
		time.Sleep(o.settle)
		old := primaryOf(proxies[0], g0, names[0])
		if old == nil {
			return errors.New("no primary before the trial")
		}
		at := time.Now()
		if o.mode == "kill" {
			err = old.Kill()
		} else {
			err = old.Pause()
		}
		if err != nil {
			return err
		}
		kills = append(kills, at)
		tr := trial{n: n, old: old.Addr()}
		np, both, err := waitNewPrimary(ctx, proxies, g0, names[0], old, 30*time.Second)
		if err != nil {
			return fmt.Errorf("trial %d: %w", n, err)
		}
		tr.neu, tr.both = np.Addr(), both.Sub(at)
		if rec := lastRecovery(ctx, proxies[0], old.Addr()); rec != nil {
			tr.detect = rec.Start.Sub(at)
			tr.failover = rec.End.Sub(at)
			tr.steps = steps(*rec)
		}
		// Rejoin the old primary as a replica, as docs/ha.md says.
		if o.mode == "stop" {
			// Killed while still stopped: resumed, it would run the statements it
			// had received and keep them (they were never acknowledged, so the
			// new primary does not have them): a diverged server to rebuild
			// (tests/ha TestHungPrimary covers SIGCONT).
			_ = old.Kill()
		}
		old.SetReadOnly(true)
		if err := old.RestartWithArgs(ctx, "--init-rpl-role=SLAVE"); err != nil {
			return fmt.Errorf("trial %d: restart the old primary: %w", n, err)
		}
		if err := old.Exec(ctx, "STOP SLAVE",
			fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_DEMOTE_TO_SLAVE=1, MASTER_CONNECT_RETRY=1",
				np.Port, mariadbd.ReplUser, mariadbd.ReplPassword), "START SLAVE"); err != nil {
			return fmt.Errorf("trial %d: rejoin: %w", n, err)
		}
		if err := waitRole(ctx, proxies[0], names[0], old.Addr(), "replica", 30*time.Second); err != nil {
			return fmt.Errorf("trial %d: %w", n, err)
		}
		trials = append(trials, tr)
		fmt.Fprintf(os.Stderr, "trial %2d: %s -> %s: detected %v, published %v, both proxies %v\n", n, tr.old, tr.neu,
			tr.detect.Round(time.Millisecond), tr.failover.Round(time.Millisecond), tr.both.Round(time.Millisecond))
	}
	time.Sleep(o.settle)
	ws := load.Stop()
	loadStopped = true
	elapsed := time.Since(start)

	// Per trial: unavailability and errors among the writes of its window.
	for i := range trials {
		from := kills[i]
		to := time.Now()
		if i+1 < len(kills) {
			to = kills[i+1]
		}
		var win []writeload.Write
		for _, w := range ws {
			if !w.End.Before(from) && w.Start.Before(to) {
				win = append(win, w)
			}
		}
		s := writeload.Summarize(win, on0)
		trials[i].errs = s.Errors
		trials[i].acked, trials[i].failed = len(s.Acked), len(s.Failed)
		trials[i].unavail, _ = writeload.Unavailability(win, from, on0)
	}
	// Every acknowledged write of -80 on its primary now.
	cur := primaryOf(proxies[0], g0, names[0])
	all := writeload.Summarize(ws, on0)
	db, err := sql.Open("mysql", cur.DSN("customer"))
	if err != nil {
		return err
	}
	defer db.Close()
	have, err := writeload.IDs(ctx, db, "customer.t")
	if err != nil {
		return err
	}
	missing := writeload.Missing(all.Acked, have)
	appliedFailed := 0
	for id := range all.Failed {
		if have[id] {
			appliedFailed++
		}
	}

	var reads string
	if o.readSecs > 0 {
		reads, err = readBench(ctx, proxies[0], g0, o.readSecs)
		if err != nil {
			return err
		}
	}
	report := render(o, trials, all, len(missing), appliedFailed, elapsed, reads)
	fmt.Print(report)
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "LOST %d acknowledged writes: %v\n", len(missing), missing[:min(len(missing), 20)])
	}
	if o.record != "" {
		f, err := os.OpenFile(o.record, os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.WriteString(f, "\n"+report); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d acknowledged writes lost", len(missing))
	}
	return nil
}

const configYAML = `listen: {mysql: 127.0.0.1:0, http: 127.0.0.1:0}
users:
  - {name: app, password: secret}
default_keyspace: customer
global_keyspace: commerce
pool: {connect_timeout: 1s, wait_timeout: 10s}
ha:
  failover: auto
  replication: {user: repl, password: repl}
  admin: {user: root, password: ""}
  probe_interval: 100ms
  probe_timeout: 400ms
  buffer_window: 10s
  replica_max_lag: 1s
  recovery_block_period: 0s
keyspaces:
  commerce:
    sharded: false
    shards:
      "0": {host: 127.0.0.1, port: %d, user: root, password: "", database: commerce}
  customer:
    sharded: true
    shards:
      "-80": {servers: ["%s"], user: %s, password: "", database: customer}
      "80-": {servers: ["%s"], user: %s, password: "", database: customer}
    vschema:
      vindexes: {hash: {type: hash}}
      tables:
        t: {column_vindexes: [{column: id, name: hash}]}
`

func primaryOf(p *testenv.Proxy, g *mariadbd.Group, shard string) *mariadbd.Server {
	for _, s := range p.HA.Shards() {
		if s.Keyspace == "customer" && s.Shard == shard {
			for _, srv := range g.Servers {
				if srv.Addr() == s.Primary {
					return srv
				}
			}
		}
	}
	return nil
}

func waitNewPrimary(ctx context.Context, ps []*testenv.Proxy, g *mariadbd.Group, shard string, old *mariadbd.Server, timeout time.Duration) (*mariadbd.Server, time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var got *mariadbd.Server
		agree := true
		for _, p := range ps {
			s := primaryOf(p, g, shard)
			if s == nil || s == old || (got != nil && got != s) {
				agree = false
				break
			}
			got = s
		}
		if agree && got != nil {
			return got, time.Now(), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil, time.Time{}, fmt.Errorf("no new primary on every proxy within %v", timeout)
}

func waitRole(ctx context.Context, p *testenv.Proxy, shard, addr, role string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, s := range p.HA.Shards() {
			if s.Shard == shard {
				for _, srv := range s.Servers {
					if srv.Addr == addr && srv.Role == role {
						return nil
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	last := ""
	for _, s := range p.HA.Shards() {
		if s.Shard == shard {
			for _, srv := range s.Servers {
				if srv.Addr == addr {
					last = fmt.Sprintf("role %s, replicates from %s, io %s, error %q", srv.Role, srv.ReplicatesFrom, srv.IORunning, srv.Error)
				}
			}
		}
	}
	return fmt.Errorf("%s did not become %s within %v (%s)", addr, role, timeout, last)
}

func lastRecovery(ctx context.Context, p *testenv.Proxy, old string) *ha.Recovery {
	for range 100 {
		recs, _ := p.HA.Recoveries(ctx)
		for i := len(recs) - 1; i >= 0; i-- {
			if r := recs[i]; r.OldPrimary == old && r.Outcome == ha.OutcomeSuccess {
				return &r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func steps(r ha.Recovery) string {
	var parts []string
	for _, s := range r.Steps {
		parts = append(parts, fmt.Sprintf("%s %.0f", s.Name, s.DurationMS))
	}
	return strings.Join(parts, ", ")
}

// readBench runs point selects for secs seconds through customer and through
// customer@replica, 8 connections each, and reports queries per second.
func readBench(ctx context.Context, p *testenv.Proxy, g *mariadbd.Group, secs int) (string, error) {
	db, err := sql.Open("mysql", p.DSN("customer", "interpolateParams=true"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	var ids []int64
	rows, err := db.QueryContext(ctx, "SELECT id FROM t LIMIT 2000")
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		return "", errors.New("no rows to read")
	}
	var b strings.Builder
	b.WriteString("| target | connections | point selects/s |\n|---|--:|--:|\n")
	for _, target := range []string{"customer", "customer@replica", "customer", "customer@replica"} {
		h, err := sql.Open("mysql", p.DSN(target, "interpolateParams=true"))
		if err != nil {
			return "", err
		}
		h.SetMaxOpenConns(8)
		var n atomic.Int64
		var wg sync.WaitGroup
		end := time.Now().Add(time.Duration(secs) * time.Second)
		for w := range 8 {
			wg.Go(func() {
				i := w
				for time.Now().Before(end) {
					var v string
					if err := h.QueryRowContext(ctx, "SELECT v FROM t WHERE id = ?", ids[i%len(ids)]).Scan(&v); err == nil {
						n.Add(1)
					}
					i += 8
				}
			})
		}
		wg.Wait()
		h.Close()
		fmt.Fprintf(&b, "| %s | 8 | %.0f |\n", target, float64(n.Load())/float64(secs))
	}
	return b.String(), nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func render(o options, trials []trial, all writeload.Summary, lost, appliedFailed int, elapsed time.Duration, reads string) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## %s — HA failover (`make bench-ha`, mode %s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), o.mode)
	fmt.Fprintf(&b, "- machine: %s, %d CPUs, %s; harness %s\n", host, runtime.NumCPU(), machine.CPUModel(), runtime.Version())
	fmt.Fprintf(&b, "- command: `go run ./bench/cmd/hafailover -trials %d -mode %s -workers %d -settle %v`\n", o.trials, o.mode, o.workers, o.settle)
	fmt.Fprintf(&b, "- setup: shard -80 a group of 3 (primary + 2 semi-sync replicas), 80- a group of 2, a global server; etcd; 2 proxies in one process, %d writer connections each (autocommit INSERTs of unique ids, both shards); probe_interval 100ms, probe_timeout 400ms; each trial %s the primary of -80, then rejoins it as a replica (--init-rpl-role=SLAVE, MASTER_DEMOTE_TO_SLAVE=1)\n", o.workers, map[string]string{"kill": "kills (kill -9)", "stop": "stops (SIGSTOP)"}[o.mode])
	fmt.Fprintf(&b, "- %d trials in %v\n\n", len(trials), elapsed.Round(time.Second))
	var det, fo, both, un []time.Duration
	for _, t := range trials {
		det, fo, both, un = append(det, t.detect), append(fo, t.failover), append(both, t.both), append(un, t.unavail)
	}
	errs := all.Errors
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d.Microseconds())/1000) }
	b.WriteString("| ms | p50 | p95 | max |\n|---|--:|--:|--:|\n")
	for _, r := range []struct {
		name string
		ds   []time.Duration
	}{{"detection (kill → recovery starts)", det}, {"failover (kill → new primary published)", fo}, {"both proxies on the new primary", both}, {"write unavailability (longest time without an acknowledged write to the shard)", un}} {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.name, ms(percentile(r.ds, .5)), ms(percentile(r.ds, .95)), ms(percentile(r.ds, 1)))
	}
	var ek []string
	for k, n := range errs {
		ek = append(ek, fmt.Sprintf("%d × %s", n, k))
	}
	sort.Strings(ek)
	if len(ek) == 0 {
		ek = []string{"none"}
	}
	fmt.Fprintf(&b, "\nWrites to -80: %d acknowledged, %d failed; client errors by kind: %s", len(all.Acked), len(all.Failed), strings.Join(ek, ", "))
	if s, ok := all.Samples["1213"]; ok {
		fmt.Fprintf(&b, " (1213: statements in flight on the killed primary: %q)", trim(s, 160))
	}
	for k, s := range all.Samples {
		if k != "1213" {
			fmt.Fprintf(&b, "; %s: %q", k, trim(s, 160))
		}
	}
	fmt.Fprintf(&b, ". Failed writes found applied: %d (their clients were told the outcome is unknown). **Acknowledged writes missing from the primary: %d.**\n\n", appliedFailed, lost)
	b.WriteString("| trial | old → new primary | detect ms | failover ms | both proxies ms | unavailable ms | acked | errors | steps (ms) |\n|--:|---|--:|--:|--:|--:|--:|---|---|\n")
	for _, t := range trials {
		var e []string
		for k, n := range t.errs {
			e = append(e, fmt.Sprintf("%d×%s", n, k))
		}
		sort.Strings(e)
		fmt.Fprintf(&b, "| %d | %s → %s | %s | %s | %s | %s | %d | %s | %s |\n", t.n, t.old, t.neu, ms(t.detect), ms(t.failover), ms(t.both), ms(t.unavail), t.acked, strings.Join(e, " "), t.steps)
	}
	if reads != "" {
		b.WriteString("\nPoint selects on shard data through one proxy, 8 connections, alternating targets (customer: the primaries; customer@replica: the replicas, round robin):\n\n")
		b.WriteString(reads)
	}
	return b.String()
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
