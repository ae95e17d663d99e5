package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
)

// The mux test (BENCH_TESTS=…,mux) checks connection multiplexing: sysbench with many client
// threads (BENCH_MUX_THREADS, 1000) through a second proxy whose pools hold at most
// BENCH_MUX_POOL (32) backend connections per shard, against sysbench with fewer threads
// (BENCH_MUX_DIRECT_THREADS, 64) on direct MariaDB and through the relay, and through the same
// proxy.

const muxProxyExtra = `
# the mux test's proxy: few backend connections per shard, many clients
pool:
  size: %d
limits:
  max_connections: %d
`

// startMux runs the mux test's proxy.
func (e *env) startMux(ctx context.Context, o options) error {
	p, err := e.launchProxy(ctx, o, "proxy-mux", fmt.Sprintf(muxProxyExtra, o.muxPool, o.muxThreads+100))
	if p != nil {
		e.mux = p
	}
	if err != nil {
		return err
	}
	fmt.Printf("  mux proxy %s (pid %d, admin %s): pool.size %d, limits.max_connections %d\n", p.addr, p.cmd.Process.Pid, p.httpAddr,
		o.muxPool, o.muxThreads+100)
	return nil
}

// muxResult is a sysbench run of the mux test with what the proxy's pools did during it.
type muxResult struct {
	*result
	threads  int
	conns    map[string]int // shard -> most backend connections open at once (in use + idle), sampled
	inUse    map[string]int // shard -> most in use at once, sampled
	waits    int64          // checkouts that waited for a free connection (all shards)
	waitSecs float64
	sampled  bool
	maxUsed  map[string]int64 // shard -> mariadbd Max_used_connections since FLUSH STATUS before the run
	// vsFew: the many-client proxy run's throughput over the same proxy's with the direct thread
	// count (same round and mode): what multiplexing the many clients costs.
	vsFew float64
}

// muxTargets are the mux test's targets: direct and relay with the direct thread count, the
// mux proxy with it and with the many-client count.
func (e *env) muxTargets(o options, targets []*target) []*target {
	var out []*target
	for _, t := range targets {
		if t.name == "direct" || t.name == "relay" {
			c := *t
			c.threads = o.muxDirectThreads
			out = append(out, &c)
		}
	}
	shards := []*mariadbd.Server{e.global, e.shard1, e.shard2}
	for _, n := range []int{o.muxDirectThreads, o.muxThreads} {
		out = append(out, &target{name: "proxy", addr: e.mux.addr, user: "app", password: "secret", db: "customer", pid: e.mux.cmd.Process.Pid,
			dbs: shards, tables: []*mariadbd.Server{e.shard1, e.shard2}, schema: "customer", threads: n, log: e.mux.log})
	}
	return out
}

// runMux runs the mux test for each round and mode.
func (e *env) runMux(ctx context.Context, o options, targets []*target) ([]*muxResult, error) {
	ts := e.muxTargets(o, targets)
	if o.warmup > 0 {
		fmt.Printf("mux: warming up (%ds per target) ...\n", o.warmup)
		for _, t := range ts {
			r := e.sysbench(ctx, o, t, o.muxTest, o.modes[0], o.warmup)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if r.err != "" {
				fmt.Printf("  warm-up %s %d threads: %s\n", t.name, t.threads, r.err)
			}
		}
	}
	var out []*muxResult
	for round := 1; round <= o.rounds; round++ {
		for _, mode := range o.modes {
			var direct, relay, few *muxResult
			var these []*muxResult
			for _, t := range ts {
				fmt.Printf("mux %d/%d  %-18s %-8s %-7s %4d threads ", round, o.rounds, o.muxTest, mode, t.name, t.threads)
				r := e.muxRun(ctx, o, t, mode)
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				r.round = round
				out = append(out, r)
				these = append(these, r)
				if r.err != "" {
					fmt.Printf("FAILED: %s\n", r.err)
					continue
				}
				fmt.Printf("%9.0f qps  p95 %.2f ms", r.qps, r.p95)
				if r.sampled {
					fmt.Printf("  backend conns %s (in use at most %s), pool waits %d (%.1f s)", shardInts(r.conns), shardInts(r.inUse), r.waits, r.waitSecs)
				}
				fmt.Printf("  (other load %.0f%% of a CPU)\n", 100*r.otherCPU/r.wall)
				switch t.name {
				case "direct":
					direct = r
				case "relay":
					relay = r
				case "proxy":
					if t.threads == o.muxDirectThreads {
						few = r
					}
				}
			}
			for _, r := range these {
				if r.err != "" {
					continue
				}
				if direct != nil && direct.err == "" && direct.qps > 0 {
					r.vsDirect = r.qps / direct.qps
				}
				if relay != nil && relay.err == "" && relay.qps > 0 {
					r.vsRelay = r.qps / relay.qps
				}
				if r.target == "proxy" && r != few && few != nil && few.err == "" && few.qps > 0 {
					r.vsFew = r.qps / few.qps
				}
			}
		}
	}
	return out, nil
}

// muxRun is one sysbench run; through the proxy its pools are sampled from /metrics every
// 200 ms and the shards' Max_used_connections read.
func (e *env) muxRun(ctx context.Context, o options, t *target, mode string) *muxResult {
	r := &muxResult{threads: t.threads, conns: map[string]int{}, inUse: map[string]int{}, maxUsed: map[string]int64{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var w0, ws0 float64
	shards := map[string]*mariadbd.Server{"-80": e.shard1, "80-": e.shard2}
	if t.name == "proxy" {
		m := scrape(e.mux.httpAddr)
		w0, ws0 = sumPrefix(m, `shardgate_pool_waits_total{keyspace="customer"`), sumPrefix(m, `shardgate_pool_wait_seconds_total{keyspace="customer"`)
		for _, s := range shards {
			s.Exec(ctx, "FLUSH STATUS")
		}
		wg.Go(func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				m := scrape(e.mux.httpAddr)
				for _, sh := range []string{"-80", "80-"} {
					in := int(m[fmt.Sprintf(`shardgate_pool_connections{keyspace="customer",shard="%s",state="in_use"}`, sh)])
					idle := int(m[fmt.Sprintf(`shardgate_pool_connections{keyspace="customer",shard="%s",state="idle"}`, sh)])
					r.conns[sh] = max(r.conns[sh], in+idle)
					r.inUse[sh] = max(r.inUse[sh], in)
				}
				r.sampled = true
			}
		})
	}
	r.result = e.sysbench(ctx, o, t, o.muxTest, mode, o.seconds)
	close(stop)
	wg.Wait()
	if t.name == "proxy" {
		m := scrape(e.mux.httpAddr)
		r.waits = int64(sumPrefix(m, `shardgate_pool_waits_total{keyspace="customer"`) - w0)
		r.waitSecs = sumPrefix(m, `shardgate_pool_wait_seconds_total{keyspace="customer"`) - ws0
		for name, s := range shards {
			r.maxUsed[name] = queryInt(ctx, s.DSN(""), "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'MAX_USED_CONNECTIONS'")
		}
	}
	return r
}

func sumPrefix(m map[string]float64, prefix string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

func shardInts[V int | int64](m map[string]V) string {
	return fmt.Sprintf("-80 %d, 80- %d", m["-80"], m["80-"])
}

// muxReport is the markdown section of the mux test.
func muxReport(o options, results []*muxResult) string {
	var b strings.Builder
	b.WriteString("\n### Connection multiplexing (mux test)\n\n")
	fmt.Fprintf(&b, "- `sysbench %s` with %d threads through a second `shardgate serve` on the same servers with `pool: {size: %d}` "+
		"(backend connections per shard) and `limits: {max_connections: %d}`; %d threads on direct, through the relay and through that proxy; "+
		"%d s per run, %d round(s), modes %s\n", o.muxTest, o.muxThreads, o.muxPool, o.muxThreads+100, o.muxDirectThreads, o.seconds, o.rounds,
		strings.Join(o.modes, ", "))
	b.WriteString("- backend conns: the most connections the proxy's customer pools held open at once (in use + idle, shardgate_pool_connections " +
		"sampled every 200 ms), per shard; mariadbd max used: the shard's Max_used_connections since FLUSH STATUS before the run (counts the " +
		"benchmark's own and the first proxy's idle connections too)\n\n")
	type k struct {
		mode, target string
		threads      int
	}
	type agg struct {
		n, failed            int
		qps, p95, vsD, vsR   float64
		vsFew                float64
		nD, nR, nFew         int
		queries              int64
		fwd, db, other, wall float64
		sysbench             float64
		conns, inUse         map[string]int
		maxUsed              map[string]int64
		waits                int64
		waitSecs             float64
		sampled              bool
		errors               int64
		proxy                bool
	}
	var order []k
	m := map[k]*agg{}
	for _, r := range results {
		kk := k{r.mode, r.target, r.threads}
		a := m[kk]
		if a == nil {
			a = &agg{conns: map[string]int{}, inUse: map[string]int{}, maxUsed: map[string]int64{}, proxy: r.target == "proxy"}
			m[kk] = a
			order = append(order, kk)
		}
		if r.err != "" {
			a.failed++
			continue
		}
		a.n++
		a.qps += r.qps
		a.p95 += r.p95
		if r.vsDirect > 0 {
			a.vsD += r.vsDirect
			a.nD++
		}
		if r.vsRelay > 0 {
			a.vsR += r.vsRelay
			a.nR++
		}
		if r.vsFew > 0 {
			a.vsFew += r.vsFew
			a.nFew++
		}
		a.queries += r.queries
		a.fwd += r.fwdCPU
		a.db += r.dbCPU
		a.sysbench += r.sysbenchCPU
		a.other += r.otherCPU
		a.wall += r.wall
		a.errors += r.errors
		a.waits += r.waits
		a.waitSecs += r.waitSecs
		a.sampled = a.sampled || r.sampled
		for s, v := range r.conns {
			a.conns[s] = max(a.conns[s], v)
		}
		for s, v := range r.inUse {
			a.inUse[s] = max(a.inUse[s], v)
		}
		for s, v := range r.maxUsed {
			a.maxUsed[s] = max(a.maxUsed[s], v)
		}
	}
	// The CPU a query costs the servers and sysbench on direct MariaDB, per mode: over what the
	// proxy's servers and sysbench spent, the ratio to direct of a proxy that cost no CPU at all.
	directPath := map[string]float64{}
	for _, kk := range order {
		if a := m[kk]; kk.target == "direct" && a.queries > 0 {
			directPath[kk.mode] = (a.db + a.sysbench) / float64(a.queries)
		}
	}
	b.WriteString("| ps-mode | target | threads | qps | vs direct | free-proxy ceiling vs direct | vs relay | vs proxy with fewer threads | p95 ms | backend conns per shard | in use at most | mariadbd max used | pool waits | waited s | fwd CPU µs/q | mariadbd CPU µs/q | sysbench CPU µs/q | errors | other load |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, kk := range order {
		a := m[kk]
		if a.n == 0 {
			fmt.Fprintf(&b, "| %s | %s | %d | failed | | | | | | | | | | | | | | | |\n", kk.mode, kk.target, kk.threads)
			continue
		}
		n := float64(a.n)
		vsD, vsR, vsFew := 0.0, 0.0, 0.0
		if a.nD > 0 {
			vsD = a.vsD / float64(a.nD)
		}
		if a.nR > 0 {
			vsR = a.vsR / float64(a.nR)
		}
		if a.nFew > 0 {
			vsFew = a.vsFew / float64(a.nFew)
		}
		conns, inUse, maxUsed, waits, waited, fwd, ceiling := "–", "–", "–", "–", "–", "–", "–"
		if a.proxy {
			if rest := (a.db + a.sysbench) / float64(a.queries); rest > 0 && directPath[kk.mode] > 0 {
				ceiling = ratio(directPath[kk.mode] / rest)
			}
			fwd = perQuery(a.fwd, a.queries)
			maxUsed = shardInts(a.maxUsed)
			waits, waited = fmt.Sprint(a.waits), fmt.Sprintf("%.1f", a.waitSecs)
			if a.sampled {
				conns, inUse = shardInts(a.conns), shardInts(a.inUse)
			}
		} else if kk.target == "relay" {
			fwd = perQuery(a.fwd, a.queries)
		}
		failed := ""
		if a.failed > 0 {
			failed = fmt.Sprintf(" (%d failed)", a.failed)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f%s | %s | %s | %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", kk.mode, kk.target, kk.threads,
			a.qps/n, failed, ratio(vsD), ceiling, ratio(vsR), ratio(vsFew), a.p95/n, conns, inUse, maxUsed, waits, waited, fwd, perQuery(a.db, a.queries),
			perQuery(a.sysbench, a.queries), a.errors,
			otherLoad(&result{otherCPU: a.other, wall: a.wall}))
	}
	b.WriteString("\nqps and ratios: means over the rounds (ratios to direct and relay with their thread count, and of the many-client proxy run to the same proxy with the fewer threads, same round and mode); " +
		"free-proxy ceiling: the CPU per query of direct's mariadbd and sysbench over that of the proxy's mariadbds and sysbench in this run, the ratio to direct a proxy that used no CPU would reach on this machine (sysbench's own CPU per query grows with its threads); " +
		"connections: the largest of the rounds.\n")
	return b.String()
}
