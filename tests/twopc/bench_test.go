package twopc

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBenchTwoPC measures what twopc costs against multi, through the proxy
// running as its own process on 2 shards (not part of the normal run: set
// SHARDGATE_BENCH_TWOPC=1; SHARDGATE_BENCH_TIME=seconds per run, default 20):
//
//   - sysbench oltp_read_write (8 threads, --db-ps-mode=disable) against the
//     same MariaDB reached directly, the proxy in multi mode and in twopc
//     mode, two rounds, reporting transactions/s and the ratios;
//   - a Go workload of bank transfers (8 workers): across two shards (every
//     commit is two-phase in twopc) and inside one shard (one phase: XA
//     COMMIT ... ONE PHASE in twopc, plain COMMIT in multi).
//
// Figures measured on this machine are in docs/transactions.md.
func TestBenchTwoPC(t *testing.T) {
	if os.Getenv("SHARDGATE_BENCH_TWOPC") != "1" {
		t.Skip("set SHARDGATE_BENCH_TWOPC=1 to run the twopc benchmark")
	}
	secs := 20
	if v, err := strconv.Atoi(os.Getenv("SHARDGATE_BENCH_TIME")); err == nil && v > 0 {
		secs = v
	}
	dur := time.Duration(secs) * time.Second
	const rows = 10000
	d := newDeployment(t, "bench", 2, "multi")
	d.seedAccounts(t)
	// sysbench's table, on the shards and on one direct server (servers[3],
	// a database of its own).
	direct := servers[3]
	ctx := context.Background()
	create := "CREATE TABLE sbtest1 (id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id), KEY k_1 (k))"
	if err := direct.Exec(ctx, "DROP DATABASE IF EXISTS sbdirect", "CREATE DATABASE sbdirect", "USE sbdirect", create); err != nil {
		t.Fatal(err)
	}
	directDB, err := direct.DB("sbdirect")
	if err != nil {
		t.Fatal(err)
	}
	defer directDB.Close()
	rnd := rand.New(rand.NewSource(1))
	digits := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 && i%12 == 11 {
				b.WriteByte('-')
				continue
			}
			b.WriteByte(byte('0' + rnd.Intn(10)))
		}
		return b.String()
	}
	perShard := make([][]string, d.nshards)
	var all []string
	for id := 1; id <= rows; id++ {
		v := fmt.Sprintf("(%d,%d,'%s','%s')", id, 1+rnd.Intn(rows), digits(119), digits(59))
		perShard[d.shardOf(int64(id))] = append(perShard[d.shardOf(int64(id))], v)
		all = append(all, v)
	}
	insert := func(db *sql.DB, vals []string) {
		for len(vals) > 0 {
			n := min(len(vals), 1000)
			if _, err := db.Exec("INSERT INTO sbtest1 (id, k, c, pad) VALUES " + strings.Join(vals[:n], ",")); err != nil {
				t.Fatal(err)
			}
			vals = vals[n:]
		}
	}
	for i := range d.shards() {
		if _, err := d.shardDB(t, i).Exec(create); err != nil {
			t.Fatal(err)
		}
		insert(d.shardDB(t, i), perShard[i])
	}
	insert(directDB, all)
	// Cross-shard deadlocks end in lock-wait timeouts: keep them short.
	for _, s := range append(d.shards(), direct) {
		if err := s.Exec(ctx, "SET GLOBAL innodb_lock_wait_timeout = 3"); err != nil {
			t.Fatal(err)
		}
		defer s.Exec(context.Background(), "SET GLOBAL innodb_lock_wait_timeout = 50")
	}

	type result struct {
		tps, qps float64
		err      string
	}
	sysbench := func(port int, user, password, db string) result {
		args := []string{"oltp_read_write", "--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-port=" + strconv.Itoa(port),
			"--mysql-user=" + user, "--mysql-password=" + password, "--mysql-db=" + db, "--tables=1", "--table-size=" + strconv.Itoa(rows),
			"--threads=8", "--time=" + strconv.Itoa(secs), "--db-ps-mode=disable", "--mysql-ignore-errors=1205,1213,1613,1614", "run"}
		out, err := exec.Command("sysbench", args...).CombinedOutput()
		m := regexp.MustCompile(`transactions:\s+\d+\s+\(([\d.]+) per sec`).FindSubmatch(out)
		q := regexp.MustCompile(`queries:\s+\d+\s+\(([\d.]+) per sec`).FindSubmatch(out)
		if err != nil || m == nil || q == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) > 8 {
				lines = lines[len(lines)-8:]
			}
			return result{err: fmt.Sprintf("%v: %s", err, strings.Join(lines, " | "))}
		}
		tps, _ := strconv.ParseFloat(string(m[1]), 64)
		qps, _ := strconv.ParseFloat(string(q[1]), 64)
		return result{tps: tps, qps: qps}
	}
	startProxy := func(mode string) *proxyProc {
		d.mode = mode
		return d.process(t)
	}
	portOf := func(p *proxyProc) int {
		_, ps, _ := strings.Cut(p.addr, ":")
		n, _ := strconv.Atoi(ps)
		return n
	}

	// sysbench, two rounds of direct -> multi -> twopc.
	sums := map[string]float64{}
	if _, err := exec.LookPath("sysbench"); err != nil {
		t.Logf("sysbench not installed: skipping oltp_read_write")
	} else {
		for round := 1; round <= 2; round++ {
			r := sysbench(direct.Port, "root", "", "sbdirect")
			t.Logf("round %d sysbench oltp_read_write direct: %.1f tps %.0f qps %s", round, r.tps, r.qps, r.err)
			sums["direct"] += r.tps
			for _, mode := range []string{"multi", "twopc"} {
				p := startProxy(mode)
				r := sysbench(portOf(p), "app", "secret", "customer")
				p.stop()
				t.Logf("round %d sysbench oltp_read_write proxy %s: %.1f tps %.0f qps %s", round, mode, r.tps, r.qps, r.err)
				if r.err != "" {
					t.Logf("proxy log tail:\n%s", p.logTail(p.starts, 15))
				}
				sums[mode] += r.tps
			}
		}
		if sums["multi"] > 0 && sums["direct"] > 0 {
			t.Logf("sysbench oltp_read_write: multi/direct %.2f, twopc/direct %.2f, twopc/multi %.2f",
				sums["multi"]/sums["direct"], sums["twopc"]/sums["direct"], sums["twopc"]/sums["multi"])
		}
	}

	// Transfers through the proxy.
	byShard := make([][]int64, d.nshards)
	for id := int64(1); id <= bankAccounts; id++ {
		byShard[d.shardOf(id)] = append(byShard[d.shardOf(id)], id)
	}
	var tid atomic.Int64
	tid.Store(1 << 40)
	transfers := func(p *proxyProc, cross bool, mode string) float64 {
		db, err := sql.Open("mysql", p.dsn("interpolateParams=true"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(bankWorkers)
		db.SetMaxIdleConns(bankWorkers)
		ctx, cancel := context.WithTimeout(context.Background(), dur/2)
		defer cancel()
		var wg sync.WaitGroup
		var n atomic.Int64
		for w := 0; w < bankWorkers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewSource(int64(w)))
				out := &bankOutcome{committed: map[int64]bool{}, rolledBack: map[int64]bool{}, unknown: map[int64]bool{}, notStarted: map[int64]bool{}}
				for ctx.Err() == nil {
					si := rnd.Intn(d.nshards)
					sj := si
					if cross {
						sj = (si + 1) % d.nshards
					}
					from, to := byShard[si][rnd.Intn(len(byShard[si]))], byShard[sj][rnd.Intn(len(byShard[sj]))]
					if from == to {
						continue
					}
					transfer(ctx, db, mode, from, to, 1, tid.Add(1), out)
				}
				n.Add(int64(len(out.committed)))
			}()
		}
		wg.Wait()
		return float64(n.Load()) / (dur / 2).Seconds()
	}
	rates := map[string]float64{}
	for round := 1; round <= 2; round++ {
		for _, mode := range []string{"multi", "twopc"} {
			p := startProxy(mode)
			for _, cross := range []bool{true, false} {
				r := transfers(p, cross, mode)
				key := fmt.Sprintf("%s cross=%v", mode, cross)
				rates[key] += r
				t.Logf("round %d transfers %s: %.0f/s", round, key, r)
			}
			p.stop()
		}
	}
	t.Logf("transfers across 2 shards: twopc/multi %.2f; inside one shard: twopc/multi %.2f",
		rates["twopc cross=true"]/rates["multi cross=true"], rates["twopc cross=false"]/rates["multi cross=false"])
}
