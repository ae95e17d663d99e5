package reshard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

const schemaSQL = `CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL);
CREATE TABLE ledger (account_id BIGINT NOT NULL, transfer_id BIGINT NOT NULL, delta BIGINT NOT NULL, PRIMARY KEY (account_id, transfer_id));
CREATE TABLE events (id BIGINT PRIMARY KEY, k INT NOT NULL, payload VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL, amount DECIMAL(20,4), created TIMESTAMP(3) NULL, flags INT UNSIGNED, data BLOB)`

// createSchema creates the customer tables on the serving shards.
func (c *cluster) createSchema() {
	c.t.Helper()
	for _, s := range c.shards {
		if !s.serving {
			continue
		}
		db := c.shardDB(s)
		for _, q := range strings.Split(schemaSQL, ";\n") {
			if _, err := db.Exec(q); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

const (
	bankAccounts = 400
	bankStart    = 1000
)

// seedAccounts inserts the accounts through a proxy.
func seedAccounts(t *testing.T, db *sql.DB) {
	t.Helper()
	var vals []string
	for id := 1; id <= bankAccounts; id++ {
		vals = append(vals, fmt.Sprintf("(%d, %d)", id, bankStart))
	}
	if _, err := db.Exec("INSERT INTO accounts (id, balance) VALUES " + strings.Join(vals, ",")); err != nil {
		t.Fatal(err)
	}
}

// seedEvents inserts n events with ids from first through a proxy.
func seedEvents(t *testing.T, db *sql.DB, first, n int) {
	t.Helper()
	for i := 0; i < n; i += 500 {
		var vals []string
		for id := first + i; id < first+min(i+500, n); id++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, 'seed %d ünïcode', %d.5, '2024-01-02 03:04:05.678', 4294967295, X'00FF%04x')", id, id%7, id, id, id%65536))
		}
		if _, err := db.Exec("INSERT INTO events (id, k, payload, amount, created, flags, data) VALUES " + strings.Join(vals, ",")); err != nil {
			t.Fatal(err)
		}
	}
}

// workload runs client traffic through the proxies and records what the
// clients saw: bank transfers (twopc transactions across shards) and
// autocommit writes of events (inserts, updates, deletes of ids each
// worker owns).
type workload struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	errs    atomic.Int64
	ok      atomic.Int64
	mu      sync.Mutex
	errList []string
	// events: what each acknowledged write left (id -> payload; "" deleted)
	events    map[int64]string
	uncertain map[int64]bool
	// bank
	committed map[int64]bool
	transfers atomic.Int64
	writes    atomic.Int64
	maxWait   atomic.Int64 // the longest statement or transfer, in nanoseconds
}

func startWorkload(t *testing.T, bank []*sql.DB, writers []*sql.DB, idBase int64) *workload {
	w := &workload{stop: make(chan struct{}), events: map[int64]string{}, uncertain: map[int64]bool{}, committed: map[int64]bool{}}
	var nextTransfer atomic.Int64
	nextTransfer.Store(idBase)
	for i, db := range bank {
		for g := 0; g < 2; g++ {
			w.wg.Add(1)
			go func(db *sql.DB, seed int64) {
				defer w.wg.Done()
				rnd := rand.New(rand.NewSource(seed))
				for !w.stopped() {
					from, to := int64(1+rnd.Intn(bankAccounts)), int64(1+rnd.Intn(bankAccounts))
					if from == to {
						continue
					}
					tid := nextTransfer.Add(1)
					w.transfer(db, from, to, int64(1+rnd.Intn(50)), tid)
				}
			}(db, int64(i*10+g))
		}
	}
	for i, db := range writers {
		for g := 0; g < 2; g++ {
			w.wg.Add(1)
			go func(db *sql.DB, worker int64) {
				defer w.wg.Done()
				rnd := rand.New(rand.NewSource(worker))
				next := idBase + worker*10_000_000
				var mine []int64
				for n := 0; !w.stopped(); n++ {
					var id int64
					var q string
					var args []any
					payload := fmt.Sprintf("w%d-%d", worker, n)
					switch r := rnd.Intn(10); {
					case r < 6 || len(mine) == 0:
						next++
						id = next
						q, args = "INSERT INTO events (id, k, payload, amount, created, flags) VALUES (?, ?, ?, ?, NOW(3), ?)", []any{id, n % 7, payload, "12.3400", uint32(n)}
						mine = append(mine, id)
					case r < 9:
						id = mine[rnd.Intn(len(mine))]
						q, args = "UPDATE events SET payload = ?, k = k + 1 WHERE id = ?", []any{payload, id}
					default:
						j := rnd.Intn(len(mine))
						id = mine[j]
						mine = append(mine[:j], mine[j+1:]...)
						q, args, payload = "DELETE FROM events WHERE id = ?", []any{id}, ""
					}
					start := time.Now()
					_, err := db.Exec(q, args...)
					w.noteWait(time.Since(start))
					w.mu.Lock()
					if err != nil {
						w.uncertain[id] = true
						w.fail(err)
					} else {
						w.events[id] = payload
					}
					w.mu.Unlock()
					if err == nil {
						w.ok.Add(1)
						w.writes.Add(1)
					}
					time.Sleep(time.Millisecond)
				}
			}(db, int64(100+i*10+g))
		}
	}
	return w
}

func (w *workload) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func (w *workload) noteWait(d time.Duration) {
	for {
		cur := w.maxWait.Load()
		if int64(d) <= cur || w.maxWait.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// fail records an error (w.mu held).
func (w *workload) fail(err error) {
	w.errs.Add(1)
	if len(w.errList) < 10 {
		w.errList = append(w.errList, err.Error())
	}
}

func (w *workload) transfer(db *sql.DB, from, to, amount, tid int64) {
	ctx := context.Background()
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		w.mu.Lock()
		w.fail(err)
		w.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		return
	}
	type leg struct{ id, delta int64 }
	legs := []leg{{from, -amount}, {to, amount}}
	if to < from {
		legs[0], legs[1] = legs[1], legs[0]
	}
	err = func() error {
		for _, l := range legs {
			res, err := tx.Exec("UPDATE accounts SET balance = balance + ? WHERE id = ?", l.delta, l.id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("UPDATE of account %d matched %d rows", l.id, n)
			}
		}
		for _, l := range legs {
			if _, err := tx.Exec("INSERT INTO ledger (account_id, transfer_id, delta) VALUES (?, ?, ?)", l.id, tid, l.delta); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		_ = tx.Rollback()
		w.mu.Lock()
		if !isRetryable(err) {
			w.fail(err)
		}
		w.mu.Unlock()
		return
	}
	err = tx.Commit()
	w.noteWait(time.Since(start))
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.fail(err)
		return
	}
	w.committed[tid] = true
	w.transfers.Add(1)
	w.ok.Add(1)
}

// isRetryable: a deadlock between two transfers (InnoDB's 1213, or a lock
// wait timeout across shards) is the application's to retry, not an error
// of the workflow.
func isRetryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1205 || me.Number == 1213 && strings.Contains(me.Message, "Deadlock found"))
}

func (w *workload) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	w.wg.Wait()
	t.Logf("workload: %d transfers committed, %d autocommit writes, %d errors, longest statement %s", w.transfers.Load(), w.writes.Load(), w.errs.Load(), time.Duration(w.maxWait.Load()).Round(time.Millisecond))
}

// checkNoErrors fails the test if a client saw an error.
func (w *workload) checkNoErrors(t *testing.T) {
	t.Helper()
	if n := w.errs.Load(); n > 0 {
		t.Errorf("clients saw %d errors: %v", n, w.errList)
	}
}

// checkData reads the serving shards directly: every acknowledged write
// is there once, on the shard its keyspace id names; the bank's total is
// exact and every committed transfer has both legs; no XA branch is left
// prepared.
func (c *cluster) checkData(t *testing.T, w *workload, serving []string) {
	t.Helper()
	total := int64(0)
	accounts := 0
	seen := map[int64]string{} // events id -> shard
	payload := map[int64]string{}
	legs := map[int64]int{}
	for _, name := range serving {
		s := c.spec(name)
		db := c.shardDB(s)
		rows, err := db.Query("SELECT id, balance FROM accounts")
		must(t, err)
		for rows.Next() {
			var id, b int64
			must(t, rows.Scan(&id, &b))
			total += b
			accounts++
			if got := c.shardOf(id, serving); got != name {
				t.Errorf("account %d is on shard %s, its keyspace id names %s", id, name, got)
			}
		}
		rows.Close()
		rows, err = db.Query("SELECT account_id, transfer_id FROM ledger")
		must(t, err)
		for rows.Next() {
			var a, tid int64
			must(t, rows.Scan(&a, &tid))
			legs[tid]++
			if got := c.shardOf(a, serving); got != name {
				t.Errorf("ledger row of account %d is on shard %s, its keyspace id names %s", a, name, got)
			}
		}
		rows.Close()
		rows, err = db.Query("SELECT id, payload FROM events")
		must(t, err)
		for rows.Next() {
			var id int64
			var p string
			must(t, rows.Scan(&id, &p))
			if other, dup := seen[id]; dup {
				t.Errorf("event %d is on shards %s and %s", id, other, name)
			}
			seen[id] = name
			payload[id] = p
			if got := c.shardOf(id, serving); got != name {
				t.Errorf("event %d is on shard %s, its keyspace id names %s", id, name, got)
			}
		}
		rows.Close()
		var xa int
		xrows, err := db.Query("XA RECOVER")
		must(t, err)
		for xrows.Next() {
			xa++
		}
		xrows.Close()
		if xa > 0 {
			t.Errorf("shard %s: %d XA branches left prepared", name, xa)
		}
	}
	if w == nil {
		return
	}
	if accounts != bankAccounts {
		t.Errorf("%d accounts, want %d", accounts, bankAccounts)
	}
	if want := int64(bankAccounts * bankStart); total != want {
		t.Errorf("total balance %d, want %d", total, want)
	}
	var lost []int64
	for tid := range w.committed {
		if legs[tid] != 2 {
			lost = append(lost, tid)
		}
	}
	for tid, n := range legs {
		if n != 2 {
			t.Errorf("transfer %d has %d legs", tid, n)
		}
	}
	if len(lost) > 0 {
		sort.Slice(lost, func(i, j int) bool { return lost[i] < lost[j] })
		t.Errorf("%d committed transfers are not applied: %v", len(lost), lost[:min(len(lost), 10)])
	}
	bad := 0
	for id, want := range w.events {
		if w.uncertain[id] {
			continue
		}
		got, ok := payload[id]
		switch {
		case want == "" && ok:
			bad++
			if bad < 10 {
				t.Errorf("event %d was deleted (acknowledged) but is on shard %s", id, seen[id])
			}
		case want != "" && !ok:
			bad++
			if bad < 10 {
				t.Errorf("event %d (acknowledged, payload %q) is on no shard", id, want)
			}
		case want != "" && got != want:
			bad++
			if bad < 10 {
				t.Errorf("event %d: payload %q, the last acknowledged write set %q", id, got, want)
			}
		}
	}
	t.Logf("data: %d accounts total %d, %d transfers with both legs, %d events checked (%d uncertain)", accounts, total, len(legs), len(w.events), len(w.uncertain))
}
