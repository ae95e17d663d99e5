package engine

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/vindex"
)

// The big table: bigRows rows of about 160 bytes on the wire (about 160 MB in
// all) spread over the 4 shards by the hash vindex on id.
const (
	bigRows     = 1_000_000
	bigShards   = 4
	heapLimitMB = 50
)

const bigDDL = `CREATE TABLE big (
  id BIGINT NOT NULL,
  k INT NOT NULL,
  s VARCHAR(64) NOT NULL,
  d DECIMAL(12,2) NOT NULL,
  t DATETIME NOT NULL,
  pad VARCHAR(120) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

var (
	bigOnce sync.Once
	bigErr  error
)

// loadBig creates big through the 4-shard proxy and fills each shard
// directly: the ids each shard owns under the hash vindex go into a scratch
// table on that shard, and one INSERT ... SELECT widens them into rows.
func loadBig(t *testing.T) {
	t.Helper()
	bigOnce.Do(func() {
		start := time.Now()
		bigErr = fillBig()
		if bigErr == nil {
			t.Logf("big: %d rows created on %d shards in %v", bigRows, bigShards, time.Since(start).Round(time.Millisecond))
		}
	})
	if bigErr != nil {
		t.Fatalf("creating big: %v", bigErr)
	}
}

func fillBig() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := runProxy(bigShards, "")
	if err != nil {
		return err
	}
	defer p.Stop()
	db, err := sql.Open("mysql", p.DSN("customer"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, bigDDL); err != nil {
		return fmt.Errorf("CREATE TABLE big through the proxy: %w", err)
	}

	h, err := vindex.New("hash", nil)
	if err != nil {
		return err
	}
	names := testenv.ShardNames(bigShards)
	ranges := make([]vindex.KeyRange, len(names))
	for i, n := range names {
		if ranges[i], err = vindex.ParseKeyRange(n); err != nil {
			return err
		}
	}
	ids := make([][]int64, bigShards)
	for id := int64(1); id <= bigRows; id++ {
		ksid, err := h.Map(id)
		if err != nil {
			return err
		}
		for i, r := range ranges {
			if r.Contains(ksid) {
				ids[i] = append(ids[i], id)
				break
			}
		}
	}
	errc := make(chan error, bigShards)
	for i, s := range shardServers(bigShards) {
		go func() {
			db, err := s.DB(shardDB(bigShards))
			if err != nil {
				errc <- err
				return
			}
			defer db.Close()
			c, err := db.Conn(ctx)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			stmts := []string{"CREATE TEMPORARY TABLE big_ids (id BIGINT NOT NULL PRIMARY KEY) ENGINE=InnoDB"}
			for rest := ids[i]; len(rest) > 0; {
				n := min(len(rest), 20000)
				var b strings.Builder
				b.WriteString("INSERT INTO big_ids VALUES ")
				for j, id := range rest[:n] {
					if j > 0 {
						b.WriteByte(',')
					}
					b.WriteByte('(')
					b.WriteString(strconv.FormatInt(id, 10))
					b.WriteByte(')')
				}
				stmts = append(stmts, b.String())
				rest = rest[n:]
			}
			stmts = append(stmts,
				`INSERT INTO big (id, k, s, d, t, pad)
				 SELECT id, id % 1000, CONCAT('row ', id, ' é'), (id % 100000) / 100 - 300,
				        '2020-01-01 00:00:00' + INTERVAL (id % 5000000) SECOND, REPEAT(CHAR(65 + id % 26), 100)
				 FROM big_ids`,
				"DROP TEMPORARY TABLE big_ids")
			for _, q := range stmts {
				if _, err := c.ExecContext(ctx, q); err != nil {
					errc <- fmt.Errorf("shard %s: %.100s: %w", names[i], q, err)
					return
				}
			}
			errc <- nil
		}()
	}
	for range bigShards {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	return err
}

// heapWatch samples the process's HeapInuse every few milliseconds.
type heapWatch struct {
	base, peak uint64
	stop       chan struct{}
	done       chan struct{}
}

func watchHeap() *heapWatch {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &heapWatch{base: ms.HeapInuse, peak: ms.HeapInuse, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				w.peak = max(w.peak, ms.HeapInuse)
			}
		}
	}()
	return w
}

// growthMB stops the sampling and returns the peak growth in MiB.
func (w *heapWatch) growthMB() float64 {
	close(w.stop)
	<-w.done
	return float64(w.peak-w.base) / (1 << 20)
}

// TestScatterMemory reads 1M rows through the 4-shard proxy (the proxy runs
// in this process) and checks that the process heap grows by no more than
// heapLimitMB while it does: a scatter streams, it does not buffer the
// result. The ORDER BY case must merge the shards' sorted streams (and
// returns them in order).
func TestScatterMemory(t *testing.T) {
	loadOnce(t)
	loadBig(t)
	for _, tc := range []struct {
		name, sql string
		sorted    bool
	}{
		{"scan", "SELECT * FROM big", false},
		{"order_by_merge", "SELECT * FROM big ORDER BY k, id", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, bigShards, "")
			db := p.DB(t, "customer")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			// Warm up (connections, plan) before measuring.
			if _, err := db.ExecContext(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			w := watchHeap()
			start := time.Now()
			n, bytes, err := drain(ctx, db, tc.sql, tc.sorted)
			growth := w.growthMB()
			if err != nil {
				noteMemory(fmt.Sprintf("  %s: FAILED after %d rows: %v", tc.sql, n, err))
				t.Fatalf("%s: %v (after %d rows)", tc.sql, err, n)
			}
			msg := fmt.Sprintf("%s: %d rows, %.0f MB of values in %v; heap grew by %.1f MB at most (limit %d MB; HeapInuse sampled every 5 ms)",
				tc.sql, n, float64(bytes)/1e6, time.Since(start).Round(time.Millisecond), growth, heapLimitMB)
			t.Log(msg)
			noteMemory("  " + msg)
			if n != bigRows {
				t.Errorf("%s: %d rows, want %d", tc.sql, n, bigRows)
			}
			if growth > heapLimitMB {
				t.Errorf("%s: heap grew by %.1f MB during the scan, want at most %d MB", tc.sql, growth, heapLimitMB)
			}
		})
	}
}

// drain reads every row and discards it; with sorted it checks the order
// (k, id) of the rows.
func drain(ctx context.Context, db *sql.DB, q string, sorted bool) (n int, bytes int64, err error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, 0, err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var prevK, prevID int64 = -1 << 62, -1 << 62
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, bytes, err
		}
		n++
		for _, v := range vals {
			bytes += int64(len(v))
		}
		if sorted {
			id, err1 := strconv.ParseInt(string(vals[0]), 10, 64)
			k, err2 := strconv.ParseInt(string(vals[1]), 10, 64)
			if err1 != nil || err2 != nil {
				return n, bytes, fmt.Errorf("row %d: bad id/k %q/%q", n, vals[0], vals[1])
			}
			if k < prevK || k == prevK && id <= prevID {
				return n, bytes, fmt.Errorf("row %d: (k, id) = (%d, %d) after (%d, %d): not in ORDER BY order", n, k, id, prevK, prevID)
			}
			prevK, prevID = k, id
		}
	}
	return n, bytes, rows.Err()
}
