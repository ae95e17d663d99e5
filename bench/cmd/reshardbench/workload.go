// The client workload: threads of point selects, updates and inserts whose acknowledged
// operations are kept to check the data against and to time the switches.

package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

type op struct {
	end time.Time
	lat time.Duration
}

type worker struct {
	ops    []op        // every successful operation
	writes []time.Time // acknowledgement times of successful writes
	wlat   []op        // writes with their latency
}

type workload struct {
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	workers []*worker

	mu        sync.Mutex
	values    map[int64]string // id -> last acknowledged c
	uncertain map[int64]bool   // ids of writes that failed (their outcome is unknown)
	inserted  int
	errs      []clientError
}

type clientError struct {
	at   time.Time
	kind string
	msg  string
}

func startWorkload(rows, threads int, dbs []*sql.DB) *workload {
	w := &workload{stop: make(chan struct{}), values: map[int64]string{}, uncertain: map[int64]bool{}}
	for t := range threads {
		wk := &worker{}
		w.workers = append(w.workers, wk)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.run(t, threads, rows, dbs[t%len(dbs)], wk)
		}()
	}
	return w
}

func (w *workload) run(t, threads, rows int, db *sql.DB, wk *worker) {
	rnd := rand.New(rand.NewSource(int64(t) + 1))
	next := int64(10_000_000_000) + int64(t)*1_000_000_000
	var mine []int64 // ids this thread inserted; it also owns the preloaded ids ≡ t mod threads
	ctx := context.Background()
	for n := 0; ; n++ {
		select {
		case <-w.stop:
			return
		default:
		}
		var q string
		var args []any
		var id int64
		write := true
		val := ""
		switch r := rnd.Intn(4); r {
		case 0, 1:
			write = false
			id = 1 + rnd.Int63n(int64(rows))
			q, args = "SELECT c FROM items WHERE id = ?", []any{id}
		case 2:
			if len(mine) > 0 && rnd.Intn(2) == 0 {
				id = mine[rnd.Intn(len(mine))]
			} else {
				id = int64(t+1) + int64(threads)*rnd.Int63n(int64(max(rows/threads, 1)))
				if id > int64(rows) {
					id = int64(t + 1)
				}
			}
			val = payload(id, fmt.Sprintf("u%d-%d", t, n))
			q, args = "UPDATE items SET c = ? WHERE id = ?", []any{val, id}
		default:
			next++
			id = next
			val = payload(id, fmt.Sprintf("i%d-%d", t, n))
			q, args = "INSERT INTO items (id, k, c, pad) VALUES (?, ?, ?, 'bench')", []any{id, n % 100000, val}
		}
		start := time.Now()
		var err error
		if write {
			_, err = db.ExecContext(ctx, q, args...)
		} else {
			var c string
			err = db.QueryRowContext(ctx, q, args...).Scan(&c)
		}
		end := time.Now()
		if err != nil {
			w.mu.Lock()
			w.errs = append(w.errs, clientError{at: end, kind: errKind(err), msg: err.Error()})
			if write {
				w.uncertain[id] = true
			}
			w.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			continue
		}
		snapMu.Lock()
		wk.ops = append(wk.ops, op{end, end.Sub(start)})
		if write {
			wk.writes = append(wk.writes, end)
			wk.wlat = append(wk.wlat, op{end, end.Sub(start)})
		}
		snapMu.Unlock()
		if write {
			w.mu.Lock()
			w.values[id] = val
			if q[0] == 'I' {
				mine = append(mine, id)
				w.inserted++
			}
			w.mu.Unlock()
		}
	}
}

func errKind(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return strconv.Itoa(int(me.Number))
	}
	return "other"
}

// stopAndWait stops the clients; the workers' slices may be read afterwards.
func (w *workload) stopAndWait() {
	w.stopped.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// snapMu guards the workers' ops, writes and wlat: the workers append under it, the
// readers below copy under it.
var snapMu sync.Mutex

type window struct {
	ops       int
	secs      float64
	opsPerSec float64
	p50ms     float64
	p95ms     float64
	p99ms     float64
}

func (w *workload) allOps() []op {
	snapMu.Lock()
	defer snapMu.Unlock()
	var all []op
	for _, wk := range w.workers {
		all = append(all, wk.ops...)
	}
	return all
}

// window is the throughput and latency of operations that ended within [from, to).
func (w *workload) window(from, to time.Time) window {
	var lats []time.Duration
	for _, o := range w.allOps() {
		if !o.end.Before(from) && o.end.Before(to) {
			lats = append(lats, o.lat)
		}
	}
	secs := to.Sub(from).Seconds()
	win := window{ops: len(lats), secs: secs, opsPerSec: float64(len(lats)) / secs}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	win.p50ms = ms(percentile(lats, 0.50))
	win.p95ms = ms(percentile(lats, 0.95))
	win.p99ms = ms(percentile(lats, 0.99))
	return win
}

// longestGap is the longest time between two consecutive acknowledged writes (all threads
// merged) that overlaps [from, to], and where it started.
func (w *workload) longestGap(from, to time.Time) (time.Duration, time.Time) {
	var acks []time.Time
	snapMu.Lock()
	for _, wk := range w.workers {
		acks = append(acks, wk.writes...)
	}
	snapMu.Unlock()
	sort.Slice(acks, func(i, j int) bool { return acks[i].Before(acks[j]) })
	var best time.Duration
	var at time.Time
	for i := 1; i < len(acks); i++ {
		a, b := acks[i-1], acks[i]
		if b.Before(from) || a.After(to) {
			continue
		}
		if g := b.Sub(a); g > best {
			best, at = g, a
		}
	}
	return best, at
}

// slowestWrite is the longest write that ended within [from, to].
func (w *workload) slowestWrite(from, to time.Time) time.Duration {
	var best time.Duration
	snapMu.Lock()
	defer snapMu.Unlock()
	for _, wk := range w.workers {
		for _, o := range wk.wlat {
			if !o.end.Before(from) && !o.end.After(to) && o.lat > best {
				best = o.lat
			}
		}
	}
	return best
}

func (w *workload) errorCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.errs)
}

func (w *workload) errorsSince(n int) []clientError {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]clientError(nil), w.errs[n:]...)
}

func (w *workload) totals() (t opTotals) {
	snapMu.Lock()
	defer snapMu.Unlock()
	for _, wk := range w.workers {
		t.ops += len(wk.ops)
		t.writes += len(wk.writes)
	}
	return t
}

type opTotals struct{ ops, writes int }

// final is every row's last acknowledged value, except the rows a failed write touched.
func (w *workload) final() map[int64]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[int64]string{}
	for id, v := range w.values {
		if !w.uncertain[id] {
			out[id] = v
		}
	}
	return out
}

func (w *workload) uncertainCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.uncertain)
}

func (w *workload) insertedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inserted
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ---- the report ----
