// Command scrapecost measures what the HTTP side costs a proxy under load:
// the CPU time of one request to each status, metrics and console endpoint,
// and the point-select throughput through the proxy without a scraper, with
// one at Prometheus' usual 15 s interval, and with one 15 times as often
// (1 s), in alternating rounds. It runs `shardgate serve` as its own process
// (its CPU read from /proc/<pid>/stat) over three throwaway mariadbd servers
// (a global keyspace and two shards), as bench/cmd/sgbench does.
//
//	go run ./bench/cmd/scrapecost -shardgate bin/shardgate -seconds 20 -rounds 3
package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/internal/mariadbd"
)

func main() {
	bin := flag.String("shardgate", "bin/shardgate", "the shardgate binary")
	seconds := flag.Int("seconds", 20, "seconds of load per run")
	rounds := flag.Int("rounds", 3, "rounds of (none, 15s, 1s) runs")
	threads := flag.Int("threads", 8, "client connections of the point-select load")
	reqs := flag.Int("requests", 300, "requests per endpoint for the CPU cost of one")
	flag.Parse()
	if err := run(*bin, *seconds, *rounds, *threads, *reqs); err != nil {
		fmt.Fprintln(os.Stderr, "scrapecost:", err)
		os.Exit(1)
	}
}

// scraped are the endpoints a scraper or a console fetches: Prometheus'
// /metrics, the status page, and the console's overview.
var scraped = []string{"/metrics", "/debug/status?format=json", "/api/overview"}

var endpoints = []string{"/metrics", "/debug/status?format=json", "/debug/status", "/readyz", "/api/overview",
	"/api/sessions", "/api/top", "/api/transactions", "/api/keyspaces/customer", "/"}

func run(bin string, seconds, rounds, threads, reqs int) error {
	dir, err := os.MkdirTemp("", "shardgate-scrapecost-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	servers, err := mariadbd.StartCluster(ctx, dir, 3)
	cancel()
	if err != nil {
		return err
	}
	defer mariadbd.KillAll(servers)
	bg := context.Background()
	if err := servers[0].Exec(bg, "CREATE DATABASE IF NOT EXISTS commerce"); err != nil {
		return err
	}
	for _, s := range servers[1:] {
		if err := s.Exec(bg, "CREATE DATABASE IF NOT EXISTS customer"); err != nil {
			return err
		}
		if err := s.Exec(bg, "CREATE TABLE IF NOT EXISTS customer.t (id BIGINT PRIMARY KEY, c CHAR(120) NOT NULL)"); err != nil {
			return err
		}
	}
	cfg := fmt.Sprintf(`listen: {mysql: 127.0.0.1:0, http: 127.0.0.1:0}
users:
  - {name: app, password: secret}
  - {name: ops, password: ops, admin: true}
default_keyspace: customer
global_keyspace: commerce
pool: {size: 32}
log: {json: true}
keyspaces:
  commerce:
    sharded: false
    shards: {"0": {host: 127.0.0.1, port: %d, user: root, password: "", database: commerce}}
  customer:
    sharded: true
    shards:
      "-80": {host: 127.0.0.1, port: %d, user: root, password: "", database: customer}
      "80-": {host: 127.0.0.1, port: %d, user: root, password: "", database: customer}
    vschema:
      vindexes: {hash: {type: hash}}
      tables: {t: {column_vindexes: [{column: id, name: hash}]}}
`, servers[0].Port, servers[1].Port, servers[2].Port)
	path := filepath.Join(dir, "shardgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	p, mysqlAddr, httpAddr, err := startProxy(bin, path)
	if err != nil {
		return err
	}
	defer func() {
		_ = p.Process.Kill()
		_ = p.Wait()
	}()
	base := "http://" + httpAddr
	db, err := sql.Open("mysql", "app:secret@tcp("+mysqlAddr+")/customer")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(threads)
	db.SetMaxIdleConns(threads)
	for i := 1; i <= 1000; i++ {
		if _, err := db.Exec(fmt.Sprintf("INSERT INTO t VALUES (%d, 'c%d') ON DUPLICATE KEY UPDATE c = VALUES(c)", i, i)); err != nil {
			return err
		}
	}
	pid := p.Process.Pid
	fmt.Printf("machine: %d CPUs; %s\n", runtime.NumCPU(), strings.TrimSpace(runCmd(bin, "--version")))

	// 1. CPU per request of each endpoint, with some sessions open and
	// statements in the top-queries table (idle load).
	load(db, threads, 2*time.Second)
	fmt.Printf("\n| endpoint | bytes | proxy CPU µs per request | wall ms per request |\n|---|--:|--:|--:|\n")
	cost := map[string]float64{}
	for _, ep := range endpoints {
		size := fetch(base + ep)
		c0, t0 := cpuSeconds(pid), time.Now()
		for i := 0; i < reqs; i++ {
			fetch(base + ep)
		}
		cpu := (cpuSeconds(pid) - c0) / float64(reqs)
		wall := time.Since(t0).Seconds() / float64(reqs)
		cost[ep] = cpu
		fmt.Printf("| `%s` | %d | %.0f | %.2f |\n", ep, size, cpu*1e6, wall*1e3)
	}
	var scrape float64
	for _, ep := range scraped {
		scrape += cost[ep]
	}
	fmt.Printf("\none scrape (%s): %.2f ms of proxy CPU\n", strings.Join(scraped, " + "), scrape*1e3)

	// 2. Throughput with and without a scraper.
	type result struct {
		mode     string
		qps, cpu float64 // statements/s, proxy CPU s/s
	}
	var results []result
	modes := []struct {
		name  string
		every time.Duration
	}{{"none", 0}, {"15s", 15 * time.Second}, {"1s", time.Second}}
	for r := 0; r < rounds; r++ {
		for _, m := range modes {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if m.every > 0 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					t := time.NewTicker(m.every)
					defer t.Stop()
					for {
						for _, ep := range scraped {
							fetch(base + ep)
						}
						select {
						case <-stop:
							return
						case <-t.C:
						}
					}
				}()
			}
			c0 := cpuSeconds(pid)
			n := load(db, threads, time.Duration(seconds)*time.Second)
			cpu := (cpuSeconds(pid) - c0) / float64(seconds)
			close(stop)
			wg.Wait()
			res := result{m.name, float64(n) / float64(seconds), cpu}
			results = append(results, res)
			fmt.Printf("round %d scraper %-4s %8.0f point selects/s, proxy CPU %.2f cores\n", r+1, m.name, res.qps, res.cpu)
		}
	}
	med := func(mode string) (float64, float64) {
		var q, c []float64
		for _, r := range results {
			if r.mode == mode {
				q, c = append(q, r.qps), append(c, r.cpu)
			}
		}
		sort.Float64s(q)
		sort.Float64s(c)
		return q[len(q)/2], c[len(c)/2]
	}
	q0, c0 := med("none")
	fmt.Printf("\n| scraper | point selects/s (median of %d) | vs none | proxy CPU (cores) |\n|---|--:|--:|--:|\n", rounds)
	for _, m := range modes {
		q, c := med(m.name)
		fmt.Printf("| %s | %.0f | %+.1f%% | %.2f |\n", m.name, q, (q/q0-1)*100, c)
	}
	// The scrape's share of the proxy's CPU at 15 s, from the measured cost.
	fmt.Printf("\nat a 15 s interval one scrape's %.2f ms is %.4f%% of one core, %.4f%% of the proxy's %.2f cores under this load\n",
		scrape*1e3, scrape/15*100, scrape/15/c0*100, c0)
	return nil
}

// load runs point selects on threads connections for d; it returns how many.
func load(db *sql.DB, threads int, d time.Duration) int64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(seed int) {
			defer wg.Done()
			var c string
			id := seed
			for time.Now().Before(deadline) {
				id = (id*7919 + 13) % 1000
				if err := db.QueryRow("SELECT c FROM t WHERE id = ?", id+1).Scan(&c); err == nil {
					n.Add(1)
				}
			}
		}(i)
	}
	wg.Wait()
	return n.Load()
}

func fetch(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return int(n)
}

func runCmd(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	return string(out)
}

// startProxy runs `shardgate serve` and waits for its addresses in its JSON log.
func startProxy(bin, path string) (*exec.Cmd, string, string, error) {
	cmd := exec.Command(bin, "serve", "--config", path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", "", err
	}
	type addrs struct{ mysql, http string }
	got := make(chan addrs, 1)
	go func() {
		var a addrs
		buf := make([]byte, 0, 1<<16)
		tmp := make([]byte, 4096)
		for {
			n, err := stderr.Read(tmp)
			buf = append(buf, tmp[:n]...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				line := string(buf[:i])
				buf = buf[i+1:]
				if v := field(line, "mysql"); v != "" && strings.Contains(line, "shardgate listening") {
					a.mysql = v
				}
				if v := field(line, "http"); v != "" && strings.Contains(line, "admin listening") {
					a.http = v
				}
				if a.mysql != "" && a.http != "" {
					got <- a
					a = addrs{mysql: "x"}
				}
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case a := <-got:
		return cmd, a.mysql, a.http, nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, "", "", fmt.Errorf("shardgate did not start")
	}
}

// field reads "key":"value" from a JSON log line.
func field(line, key string) string {
	k := `"` + key + `":"`
	i := strings.Index(line, k)
	if i < 0 {
		return ""
	}
	rest := line[i+len(k):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

var clockTicks = 100.0 // USER_HZ on Linux

// cpuSeconds is the process's user + system CPU time.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / clockTicks
}
