package abuse

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/rawclient"
	"github.com/shardgate/shardgate/internal/testenv"
)

// bigData fills big_a and big_b with n rows each (k = id % 1000, a 100-byte
// pad), and kv with 4000 rows.
func bigData(t testing.TB, n int) {
	t.Helper()
	var ids []int64
	var vals []string
	pad := strings.Repeat("p", 100)
	for i := 1; i <= n; i++ {
		ids = append(ids, int64(i))
		vals = append(vals, fmt.Sprintf("%d,%d,'%s'", i, i%1000, pad))
	}
	loadRows(t, "big_a", ids, vals)
	loadRows(t, "big_b", ids, vals)
	ids, vals = nil, nil
	for i := 1; i <= 4000; i++ {
		ids = append(ids, int64(i))
		vals = append(vals, fmt.Sprintf("%d,'v%d'", i, i))
	}
	loadRows(t, "kv", ids, vals)
}

// idsByShard returns the kv ids 1..4000 that live on each of the 2 shards.
func idsByShard(t testing.TB) [2][]int64 {
	t.Helper()
	var out [2][]int64
	for id := int64(1); id <= 4000; id++ {
		sh, err := testenv.ShardOf(uint64(id), testenv.ShardNames(2))
		if err != nil {
			t.Fatal(err)
		}
		out[sh] = append(out[sh], id)
	}
	return out
}

// abandonKind is one way a client leaves a session: what it does before
// it closes its socket without COM_QUIT. i numbers the session.
type abandonKind struct {
	name string
	run  func(t *testing.T, p *inproc, i int, c *rawclient.Conn)
}

// TestAbandonedSessions: every session a client abandons, whatever it was
// doing, gives its shard connections back and ends its goroutine, and
// SIGTERM's drain finishes within its bound. Before the fix, a session
// abandoned in a transaction whose pinned connection was out of step (a
// cross-shard join) waited forever in its rollback at close, holding a
// shard connection and a goroutine; a result abandoned mid-stream put its
// connection back in the pool with the rest of the result unread.
func TestAbandonedSessions(t *testing.T) {
	const perKind, workers, poolSize = 200, 8, 12
	p := startProxy(t, fmt.Sprintf("pool: {size: %d, wait_timeout: 3s}\n", poolSize))
	bigData(t, 20000)
	joinData(t, 1200)
	byShard := idsByShard(t)
	kill := dialAbuse(t, p)
	defer kill.Close()
	var killMu sync.Mutex

	exec := func(t *testing.T, c *rawclient.Conn, sql string) {
		t.Helper()
		if _, err := c.Query(sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
	// Row ids per session: distinct, so that sessions never wait on each
	// other's row locks.
	id := func(shard, kind, i int) int64 { return byShard[shard][(kind*perKind+i)%len(byShard[shard])] }
	kinds := []abandonKind{
		{"idle", func(t *testing.T, p *inproc, i int, c *rawclient.Conn) {
			exec(t, c, "SELECT v FROM kv WHERE id = 1")
		}},
		{"transaction on 1 shard", func(t *testing.T, p *inproc, i int, c *rawclient.Conn) {
			exec(t, c, "BEGIN")
			exec(t, c, fmt.Sprintf("UPDATE kv SET v = 'x' WHERE id = %d", id(0, 1, i)))
		}},
		{"transaction on 2 shards", func(t *testing.T, p *inproc, i int, c *rawclient.Conn) {
			exec(t, c, "SET autocommit = 0")
			exec(t, c, fmt.Sprintf("UPDATE kv SET v = 'x' WHERE id IN (%d, %d)", id(0, 2, i), id(1, 2, i)))
			exec(t, c, "SELECT COUNT(*) FROM kv")
		}},
		{"twopc transaction", func(t *testing.T, p *inproc, i int, c *rawclient.Conn) {
			exec(t, c, "SET transaction_mode = 'twopc'")
			exec(t, c, "BEGIN")
			exec(t, c, fmt.Sprintf("UPDATE kv SET v = 'x' WHERE id = %d", id(0, 3, i)))
			exec(t, c, fmt.Sprintf("UPDATE kv SET v = 'x' WHERE id = %d", id(1, 3, i)))
		}},
		{"cross-shard join", func(t *testing.T, p *inproc, i int, c *rawclient.Conn) {
			if i%2 == 0 {
				exec(t, c, "BEGIN")
				exec(t, c, fmt.Sprintf("UPDATE kv SET v = 'x' WHERE id IN (%d, %d)", id(0, 4, i), id(1, 4, i)))
			}
			if err := c.StartQuery("SELECT a.id, a.pad, b.id, b.pad FROM big_a a JOIN big_b b ON a.k = b.k", 10); err != nil {
				t.Error(err)
			}
		}},
		{"streaming a large result", func(t *testing.T, p *inproc, i int, c *rawclient.Conn) {
			q := "SELECT id, k, pad, REPEAT(pad, 10) FROM big_a"
			if i%2 == 1 {
				exec(t, c, "BEGIN")
				q += " ORDER BY k, id"
			}
			if err := c.StartQuery(q, 10); err != nil {
				t.Error(err)
			}
		}},
		{"prepared statements", func(t *testing.T, p *inproc, i int, c *rawclient.Conn) {
			for j := 0; j < 5; j++ {
				st, _, err := c.Prepare(fmt.Sprintf("SELECT v, %d FROM kv WHERE id = ?", j))
				if err != nil {
					t.Error(err)
					return
				}
				if j < 2 {
					if _, err := c.ExecuteInts(st, int64(1+i)); err != nil {
						t.Error(err)
					}
				}
			}
			if i%2 == 0 {
				exec(t, c, "BEGIN")
				exec(t, c, fmt.Sprintf("UPDATE kv SET v = 'x' WHERE id = %d", id(1, 6, i)))
			}
		}},
		{"killed by another session", func(t *testing.T, p *inproc, i int, c *rawclient.Conn) {
			exec(t, c, "BEGIN")
			exec(t, c, fmt.Sprintf("UPDATE kv SET v = 'x' WHERE id = %d", id(0, 7, i)))
			if err := c.Command(0x03, []byte(fmt.Sprintf("SELECT SLEEP(20) FROM kv WHERE id = %d", id(0, 7, i)))); err != nil {
				t.Error(err)
			}
			time.Sleep(20 * time.Millisecond) // let it reach the shard
			killMu.Lock()
			_ = kill.NetConn().SetDeadline(time.Now().Add(30 * time.Second))
			_, err := kill.Query(fmt.Sprintf("KILL %d", c.ConnID))
			killMu.Unlock()
			if err != nil {
				t.Errorf("KILL %d: %v", c.ConnID, err)
			}
			_ = c.NetConn().SetReadDeadline(time.Now().Add(15 * time.Second))
			for {
				if _, err := c.ReadPacket(); err != nil {
					break // the proxy closed the session
				}
			}
		}},
	}

	warm := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	mustRows(t, warm, "SELECT COUNT(*) FROM kv")
	warm.Close()
	eventually(t, 5*time.Second, "the warm-up session to end", func() bool { return p.Server.Sessions() == 1 }) // kill's
	runtime.GC()
	base := runtime.NumGoroutine()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			start := time.Now()
			var wg sync.WaitGroup
			next := make(chan int)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						c, err := rawclient.Dial(p.Addr, "app", "secret", "customer", 45)
						if err != nil {
							t.Errorf("session %d: %v", i, err)
							continue
						}
						k.run(t, p, i, c)
						c.Close() // no COM_QUIT: the client just goes
					}
				}()
			}
			for i := 0; i < perKind; i++ {
				next <- i
			}
			close(next)
			wg.Wait()
			if !waitFor(30*time.Second, func() bool { return inUse(p) == 0 && p.Server.Sessions() == 1 }) {
				for _, pi := range p.Server.List() {
					t.Logf("session %d: %s %s for %s: %q", pi.ID, pi.Command, pi.State, pi.Time.Round(time.Millisecond), pi.Info)
				}
				t.Fatalf("%d backend connections in use, %d sessions open, 30s after the clients left", inUse(p), p.Server.Sessions())
			}
			n := settleGoroutines(base, 10, 15*time.Second)
			t.Logf("%d sessions in %s; pool in use %d, idle %d; goroutines %d (base %d)", perKind, time.Since(start).Round(time.Millisecond), inUse(p), idle(p), n, base)
			if n > base+10 {
				t.Errorf("goroutines: %d, want at most %d (base %d + 10)", n, base+10, base)
			}
			// A scrape pings each shard through its pool before it reads
			// the pools, so its own pings are not counted in use.
			if got := scrapeInUse(t, p); got != 0 {
				t.Errorf("/metrics: %v connections in use, want 0", got)
			}
			// The pool serves a fresh session correctly.
			db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
			got := mustRows(t, db, "SELECT id, v FROM kv WHERE id IN (1, 2, 3) ORDER BY id")
			sameRows(t, "after abandoned sessions", got, [][]string{{"1", "v1"}, {"2", "v2"}, {"3", "v3"}})
			db.Close()
		})
	}
	// Nothing was committed by the abandoned transactions.
	got := mustRows(t, openDB(t, dsn(p.Addr, "app", "secret", "customer")), "SELECT COUNT(*) FROM kv WHERE v = 'x'")
	sameRows(t, "rows written by abandoned transactions", got, [][]string{{"0"}})

	// SIGTERM with a session inside a transaction and one in a join: the
	// drain ends within its timeout (5s) and the close bound.
	for i, q := range []string{"", "SELECT a.id, a.pad, b.id, b.pad FROM big_a a JOIN big_b b ON a.k = b.k"} {
		c := dialAbuse(t, p)
		defer c.Close()
		if _, err := c.Query("BEGIN"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Query(fmt.Sprintf("UPDATE kv SET v = 'y' WHERE id = %d", byShard[0][i])); err != nil {
			t.Fatal(err)
		}
		if q != "" {
			if err := c.StartQuery(q, 10); err != nil {
				t.Fatal(err)
			}
		}
	}
	drained, err := p.StopWithin(30 * time.Second)
	if err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("drain took %s", drained.Round(time.Millisecond))
	if drained > 20*time.Second {
		t.Errorf("drain took %s, want it bounded by the drain timeout (5s) plus the close bound", drained)
	}
	if n := inUse(p); n != 0 {
		t.Errorf("after the drain: %d backend connections in use", n)
	}
}

func dialAbuse(t testing.TB, p *inproc) *rawclient.Conn {
	t.Helper()
	c, err := rawclient.Dial(p.Addr, "app", "secret", "customer", 45)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func idle(p *inproc) int {
	n := 0
	for _, pl := range p.Router.Pools() {
		i, _ := pl.Stats()
		n += i
	}
	return n
}

// scrapeInUse sums shardgate_pool_connections{state="in_use"} from /metrics.
func scrapeInUse(t testing.TB, p *inproc) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.HTTP.URL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "shardgate_pool_connections{") && strings.Contains(line, `state="in_use"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}
