package abuse

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// heapWatch samples the process's HeapInuse every few milliseconds (the
// proxy runs in this process) and calls over once if it grows past limit.
type heapWatch struct {
	base, peak atomic.Uint64
	stop, done chan struct{}
}

func watchHeap(limitMB float64, over func()) *heapWatch {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &heapWatch{stop: make(chan struct{}), done: make(chan struct{})}
	w.base.Store(ms.HeapInuse)
	w.peak.Store(ms.HeapInuse)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		fired := false
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				w.peak.Store(max(w.peak.Load(), ms.HeapInuse))
				if !fired && w.growthMB() > limitMB && over != nil {
					fired = true
					over()
				}
			}
		}
	}()
	return w
}

func (w *heapWatch) growthMB() float64 {
	return float64(w.peak.Load()-w.base.Load()) / (1 << 20)
}

// end stops the sampling and returns the peak growth in MiB.
func (w *heapWatch) end() float64 {
	close(w.stop)
	<-w.done
	return w.growthMB()
}

// retainedMB is the heap in use after a GC, in MiB.
func retainedMB() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// TestJoinMemory: a cross-shard join whose condition is not an equality
// pairs every outer row of a batch (256) with every inner row; with two
// 20k-row tables the proxy held the batch's 5 million joined rows at once
// (1.1 GB). It now makes and filters them a chunk at a time: the heap stays
// small, and the rows are right.
func TestJoinMemory(t *testing.T) {
	const limitMB = 64
	p := startProxy(t, "")
	bigData(t, 20000)
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	ref := refDB(t)
	mustRows(t, db, "SELECT 1") // connections and plans warm

	check := func(t *testing.T, q string, verify func(rows [][]string)) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		w := watchHeap(limitMB, cancel) // past the bound: stop the query, fail
		start := time.Now()
		rs, err := db.QueryContext(ctx, q)
		var rows [][]string
		if err == nil {
			rows, err = readAll(rs)
		}
		growth := w.end()
		t.Logf("%s: %d rows in %s, heap grew by %.1f MiB at most", q, len(rows), time.Since(start).Round(time.Millisecond), growth)
		if growth > limitMB {
			t.Fatalf("%s: the heap grew by %.0f MiB, want at most %d MiB", q, growth, limitMB)
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		verify(rows)
	}
	t.Run("inequality with LIMIT", func(t *testing.T) {
		check(t, "SELECT a.id, a.k, b.id, b.k FROM big_a a JOIN big_b b ON a.k < b.k LIMIT 3000", func(rows [][]string) {
			if len(rows) != 3000 {
				t.Fatalf("%d rows, want 3000", len(rows))
			}
			for _, r := range rows {
				if atoi(t, r[1]) >= atoi(t, r[3]) || atoi(t, r[1]) != atoi(t, r[0])%1000 || atoi(t, r[3]) != atoi(t, r[2])%1000 {
					t.Fatalf("row %v does not satisfy a.k < b.k", r)
				}
			}
		})
	})
	t.Run("cross join with LIMIT", func(t *testing.T) {
		check(t, "SELECT a.id, b.id FROM big_a a JOIN big_b b LIMIT 5000", func(rows [][]string) {
			if len(rows) != 5000 {
				t.Fatalf("%d rows, want 5000", len(rows))
			}
		})
	})
	// Without ORDER BY (an in-memory sort holds its rows, up to
	// limits.max_memory_rows): the rows stream, compared sorted.
	t.Run("equality, every row", func(t *testing.T) {
		q := "SELECT a.id, b.id FROM big_a a JOIN big_b b ON a.k = b.k WHERE a.id <= 4000"
		want := sortRows(mustRows(t, ref, q))
		check(t, q, func(rows [][]string) { sameRows(t, q, sortRows(rows), want) })
	})
	t.Run("left join with an inequality in ON", func(t *testing.T) {
		q := "SELECT a.id, b.id FROM big_a a LEFT JOIN big_b b ON a.k = b.k AND b.id > a.id + 15000 WHERE a.id <= 3000"
		want := sortRows(mustRows(t, ref, q))
		check(t, q, func(rows [][]string) { sameRows(t, q, sortRows(rows), want) })
	})
}

func atoi(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sortRows sorts rows of integers (NULL first) column by column.
func sortRows(rows [][]string) [][]string {
	key := func(s string) int64 {
		if s == "NULL" {
			return -1 << 62
		}
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	slices.SortFunc(rows, func(a, b []string) int {
		for i := range a {
			if c := cmp.Compare(key(a[i]), key(b[i])); c != 0 {
				return c
			}
		}
		return 0
	})
	return rows
}
