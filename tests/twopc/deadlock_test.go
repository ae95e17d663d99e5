package twopc

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/deadlock"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/wire"
)

// Deadlocks across shards (issue 24): each shard's InnoDB sees only half
// of such a cycle; the proxy's detector (package deadlock) finds it and
// rolls one transaction back with 1213. The servers keep InnoDB's default
// innodb_lock_wait_timeout of 50 s, so a cycle the detector missed would
// show as a 50 s wait, far past every bound asserted here.

// deadlockModes are the transaction modes the deadlock tests run in.
var deadlockModes = []string{"multi", "twopc"}

// session is one client connection with its own transaction.
type session struct {
	t    *testing.T
	name string
	c    *sql.Conn
}

func openSession(t *testing.T, db *sql.DB, name string) *session {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &session{t: t, name: name, c: c}
}

func (s *session) exec(q string, args ...any) {
	s.t.Helper()
	if _, err := s.c.ExecContext(context.Background(), q, args...); err != nil {
		s.t.Fatalf("%s: %s: %v", s.name, q, err)
	}
}

// async runs q and delivers its error (and how long it took) on the
// returned channel.
type outcome struct {
	err  error
	took time.Duration
}

func (s *session) async(q string, args ...any) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		start := time.Now()
		_, err := s.c.ExecContext(context.Background(), q, args...)
		ch <- outcome{err, time.Since(start)}
	}()
	return ch
}

// kvValue reads k's value on its shard directly.
func (d *deployment) kvValue(t *testing.T, k int64) int64 {
	t.Helper()
	var v int64
	if err := d.shardDB(t, d.shardOf(k)).QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil {
		t.Fatalf("kv %d on shard %d: %v", k, d.shardOf(k), err)
	}
	return v
}

// isDeadlock reports a 1213 from the detector (SQLSTATE 40001, a message
// naming the shards).
func isDeadlock(err error) bool {
	me := mysqlErr(err)
	return me != nil && me.Number == 1213 && me.SQLState == [5]byte{'4', '0', '0', '0', '1'} && strings.Contains(me.Message, "across shards")
}

// waitBlocked waits until the command q of session s has started (so the
// order of lock requests is the test's).
func settle() { time.Sleep(150 * time.Millisecond) }

// TestDeadlockTwoShards: two sessions update rows on two shards in opposite
// orders. The one whose wait closes the cycle (same work done, it started
// waiting last) gets 1213 within a second and its transaction is rolled
// back on both shards; the other one's wait ends at once and it commits;
// the victim's session goes on and its retry commits.
func TestDeadlockTwoShards(t *testing.T) {
	for _, mode := range deadlockModes {
		t.Run(mode, func(t *testing.T) {
			d := newDeployment(t, "dl2_"+mode, 2, mode)
			p := d.inProcess(t)
			db := p.DB(t, "customer")
			keys := d.keysOnShards()
			for _, k := range keys {
				mustExec(t, db, "INSERT INTO kv (k, v) VALUES (?, 0)", k)
			}
			a, b := openSession(t, db, "a"), openSession(t, db, "b")
			a.exec("BEGIN")
			b.exec("BEGIN")
			a.exec("UPDATE kv SET v = v + 1 WHERE k = ?", keys[0])
			b.exec("UPDATE kv SET v = v + 10 WHERE k = ?", keys[1])
			aDone := a.async("UPDATE kv SET v = v + 1 WHERE k = ?", keys[1]) // waits for b on shard 1
			settle()
			bDone := b.async("UPDATE kv SET v = v + 10 WHERE k = ?", keys[0]) // waits for a on shard 0: a cycle
			bo := <-bDone
			if !isDeadlock(bo.err) {
				t.Fatalf("b, whose wait closed the cycle: %v after %s, want the detector's 1213", bo.err, bo.took)
			}
			t.Logf("b: %v after %s", bo.err, bo.took)
			if bo.took > time.Second {
				t.Errorf("b got 1213 after %s, want within a second", bo.took)
			}
			if me := mysqlErr(bo.err); !strings.Contains(me.Message, "customer/-80, customer/80-") {
				t.Errorf("the message does not name both shards: %s", me.Message)
			}
			ao := <-aDone
			if ao.err != nil {
				t.Fatalf("a, the survivor: %v", ao.err)
			}
			// The victim was rolled back on both shards: only a's changes
			// are there once a commits.
			a.exec("COMMIT")
			if v0, v1 := d.kvValue(t, keys[0]), d.kvValue(t, keys[1]); v0 != 1 || v1 != 1 {
				t.Errorf("after a's commit: kv = %d, %d; want 1, 1 (b rolled back everywhere)", v0, v1)
			}
			// b's session goes on: it retries its transaction as a client
			// should (ROLLBACK is harmless) and commits.
			b.exec("ROLLBACK")
			b.exec("BEGIN")
			b.exec("UPDATE kv SET v = v + 10 WHERE k = ?", keys[1])
			b.exec("UPDATE kv SET v = v + 10 WHERE k = ?", keys[0])
			b.exec("COMMIT")
			if v0, v1 := d.kvValue(t, keys[0]), d.kvValue(t, keys[1]); v0 != 11 || v1 != 11 {
				t.Errorf("after b's retry: kv = %d, %d; want 11, 11", v0, v1)
			}
			if left := d.xaRecover(t); len(left) != 0 {
				t.Errorf("XA RECOVER: %v", left)
			}
			st := p.Server.DeadlockStats()
			if st.Deadlocks != 1 || st.Victims != 1 {
				t.Errorf("detector stats %+v, want 1 deadlock and 1 victim", st)
			}
		})
	}
}

// TestDeadlockThreeShards: a cycle of three sessions over three shards
// (a waits for b, b for c, c for a, each on another shard). One of them is
// rolled back with 1213; the two others commit.
func TestDeadlockThreeShards(t *testing.T) {
	for _, mode := range deadlockModes {
		t.Run(mode, func(t *testing.T) {
			d := newDeployment(t, "dl3_"+mode, 3, mode)
			p := d.inProcess(t)
			db := p.DB(t, "customer")
			keys := d.keysOnShards()
			for _, k := range keys {
				mustExec(t, db, "INSERT INTO kv (k, v) VALUES (?, 0)", k)
			}
			ss := []*session{openSession(t, db, "a"), openSession(t, db, "b"), openSession(t, db, "c")}
			incr := []int64{1, 10, 100}
			for i, s := range ss {
				s.exec("BEGIN")
				s.exec("UPDATE kv SET v = v + ? WHERE k = ?", incr[i], keys[i])
			}
			done := make([]<-chan outcome, 3)
			for i, s := range ss { // a waits on shard 1, b on shard 2, c on shard 0
				done[i] = s.async("UPDATE kv SET v = v + ? WHERE k = ?", incr[i], keys[(i+1)%3])
				settle()
			}
			// Each survivor commits as soon as its statement is through,
			// which lets the next one's wait end.
			victim := -1
			want := make([]int64, 3)
			for range ss {
				var i int
				var o outcome
				select {
				case o = <-done[0]:
					i, done[0] = 0, nil
				case o = <-done[1]:
					i, done[1] = 1, nil
				case o = <-done[2]:
					i, done[2] = 2, nil
				case <-time.After(10 * time.Second):
					t.Fatal("no statement ended within 10s")
				}
				switch {
				case isDeadlock(o.err):
					if victim >= 0 {
						t.Fatalf("%s and %s both got 1213", ss[victim].name, ss[i].name)
					}
					victim = i
					t.Logf("%s: %v after %s", ss[i].name, o.err, o.took)
				case o.err != nil:
					t.Fatalf("%s: %v", ss[i].name, o.err)
				default:
					ss[i].exec("COMMIT")
					want[i] += incr[i]
					want[(i+1)%3] += incr[i]
				}
			}
			if victim < 0 {
				t.Fatal("nobody got 1213")
			}
			if victim != 2 {
				t.Errorf("victim %s, want c (same work, its wait closed the cycle)", ss[victim].name)
			}
			for i, k := range keys {
				if v := d.kvValue(t, k); v != want[i] {
					t.Errorf("shard %d: kv = %d, want %d", i, v, want[i])
				}
			}
			if st := p.Server.DeadlockStats(); st.Deadlocks != 1 || st.Victims != 1 {
				t.Errorf("detector stats %+v, want 1 deadlock and 1 victim", st)
			}
		})
	}
}

// TestLongWaitNotDeadlock: a transaction holds a row for 3 s while another,
// which holds a row on another shard, waits for it, and a third waits for
// the second. That is a chain, no cycle: the waiters are left alone and go
// on once the locks are released; and a client that asked for a short
// innodb_lock_wait_timeout still gets its 1205.
func TestLongWaitNotDeadlock(t *testing.T) {
	for _, mode := range deadlockModes {
		t.Run(mode, func(t *testing.T) {
			d := newDeployment(t, "dlwait_"+mode, 2, mode)
			p := d.inProcess(t)
			db := p.DB(t, "customer")
			keys := d.keysOnShards()
			for _, k := range keys {
				mustExec(t, db, "INSERT INTO kv (k, v) VALUES (?, 0)", k)
			}
			// c waits for b, which waits for a, which holds its row and
			// waits for nothing: a chain, no cycle.
			a, b, c := openSession(t, db, "a"), openSession(t, db, "b"), openSession(t, db, "c")
			a.exec("BEGIN")
			a.exec("UPDATE kv SET v = v + 1 WHERE k = ?", keys[0])
			b.exec("BEGIN")
			b.exec("UPDATE kv SET v = v + 10 WHERE k = ?", keys[1])
			c.exec("BEGIN")
			bDone := b.async("UPDATE kv SET v = v + 10 WHERE k = ?", keys[0])  // waits for a on shard 0
			cDone := c.async("UPDATE kv SET v = v + 100 WHERE k = ?", keys[1]) // waits for b on shard 1
			time.Sleep(3 * time.Second)
			select {
			case o := <-bDone:
				t.Fatalf("b's wait ended while a still holds the row: %v", o.err)
			case o := <-cDone:
				t.Fatalf("c's wait ended while b still holds the row: %v", o.err)
			default:
			}
			a.exec("COMMIT")
			if o := <-bDone; o.err != nil {
				t.Fatalf("b after a's commit: %v", o.err)
			}
			b.exec("COMMIT")
			if o := <-cDone; o.err != nil {
				t.Fatalf("c after b's commit: %v", o.err)
			}
			c.exec("COMMIT")
			if v0, v1 := d.kvValue(t, keys[0]), d.kvValue(t, keys[1]); v0 != 11 || v1 != 110 {
				t.Errorf("kv = %d, %d; want 11, 110", v0, v1)
			}
			checks := p.Server.DeadlockStats().Checks

			// The client's own lock wait timeout still ends such waits.
			a.exec("BEGIN")
			a.exec("UPDATE kv SET v = v + 1 WHERE k = ?", keys[0])
			b.exec("SET innodb_lock_wait_timeout = 1")
			b.exec("BEGIN")
			b.exec("UPDATE kv SET v = v + 10 WHERE k = ?", keys[1])
			o := <-b.async("UPDATE kv SET v = v + 10 WHERE k = ?", keys[0])
			if me := mysqlErr(o.err); me == nil || me.Number != 1205 {
				t.Errorf("b with innodb_lock_wait_timeout = 1: %v after %s, want 1205", o.err, o.took)
			}
			b.exec("ROLLBACK")
			a.exec("ROLLBACK")
			if st := p.Server.DeadlockStats(); st.Deadlocks != 0 || st.Victims != 0 || checks == 0 {
				t.Errorf("detector stats %+v (%d checks during the chain), want checks but no deadlock", st, checks)
			} else {
				t.Logf("detector stats %+v (%d checks during the 3 s chain)", st, checks)
			}
		})
	}
}

// TestBankDeadlocks is the bank test with transfers in both directions:
// each transfer locks its source account first, then its destination, on
// another shard, so two opposite transfers over the same accounts deadlock
// across shards. A client retries a transfer that gets 1213 (as any
// application must for a deadlock). Few accounts, so cycles are frequent.
// At the end, read from the shards: every transfer applied exactly once on
// both shards, the total balance unchanged, each balance equal to the start
// plus its ledger rows; and no transfer waited anywhere near InnoDB's 50 s.
func TestBankDeadlocks(t *testing.T) {
	for _, mode := range deadlockModes {
		t.Run(mode, func(t *testing.T) { runBankDeadlocks(t, mode) })
	}
}

func runBankDeadlocks(t *testing.T, mode string) {
	const (
		accounts = 10
		workers  = 8
		duration = 10 * time.Second
	)
	d := newDeployment(t, "bankdl_"+mode, 2, mode)
	var vals []string
	byShard := make([][]int64, 2)
	for id := int64(1); id <= accounts; id++ {
		vals = append(vals, fmt.Sprintf("(%d, %d)", id, bankStart))
		byShard[d.shardOf(id)] = append(byShard[d.shardOf(id)], id)
	}
	p := d.inProcess(t)
	db := p.DB(t, "customer", "interpolateParams=true")
	db.SetMaxOpenConns(workers)
	mustExec(t, db, "INSERT INTO accounts (id, balance) VALUES "+strings.Join(vals, ","))

	type result struct {
		committed  []int64
		deadlocks  int // 1213 seen (then retried)
		otherErrs  []string
		maxAttempt time.Duration
	}
	results := make([]result, workers)
	ctx, stop := context.WithTimeout(context.Background(), duration)
	defer stop()
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[w]
			for i := 0; ctx.Err() == nil; i++ {
				tid := int64(w*1_000_000 + i + 1)
				// Alternate directions: from shard 0 to 1, then 1 to 0.
				from := byShard[i%2][(w+i)%len(byShard[i%2])]
				to := byShard[(i+1)%2][(w*7+i)%len(byShard[(i+1)%2])]
				amount := int64(1 + (w+i)%50)
				for attempt := 0; ; attempt++ {
					t0 := time.Now()
					err := bankTransfer(db, from, to, amount, tid)
					r.maxAttempt = max(r.maxAttempt, time.Since(t0))
					if err == nil {
						r.committed = append(r.committed, tid)
						break
					}
					if isDeadlock(err) && attempt < 100 {
						r.deadlocks++
						continue
					}
					r.otherErrs = append(r.otherErrs, fmt.Sprintf("transfer %d: %v", tid, err))
					break
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	committed := map[int64]bool{}
	deadlocks := 0
	var maxAttempt time.Duration
	for _, r := range results {
		for _, tid := range r.committed {
			committed[tid] = true
		}
		deadlocks += r.deadlocks
		maxAttempt = max(maxAttempt, r.maxAttempt)
		for _, e := range r.otherErrs {
			t.Error(e)
		}
	}
	st := p.Server.DeadlockStats()
	t.Logf("%s: %d transfers committed in %.1fs (%.0f/s), %d deadlocks seen by the clients (retried), detector %+v, longest attempt %s",
		mode, len(committed), elapsed.Seconds(), float64(len(committed))/elapsed.Seconds(), deadlocks, st, maxAttempt)
	if deadlocks == 0 {
		t.Error("no deadlock happened: the test did not exercise the detector")
	}
	if uint64(deadlocks) > st.Victims {
		t.Errorf("clients saw %d deadlocks, the detector chose %d victims", deadlocks, st.Victims)
	}
	if maxAttempt > 5*time.Second {
		t.Errorf("a transfer attempt took %s: a deadlock was left to the lock wait timeout", maxAttempt)
	}

	// Read the shards directly.
	total := int64(0)
	balance := map[int64]int64{}
	legs := map[int64][]int64{}
	ledgerSum := map[int64]int64{}
	for i := range d.shards() {
		rows, err := d.shardDB(t, i).Query("SELECT id, balance FROM accounts")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, b int64
			if err := rows.Scan(&id, &b); err != nil {
				t.Fatal(err)
			}
			balance[id] = b
			total += b
		}
		rows.Close()
		rows, err = d.shardDB(t, i).Query("SELECT account_id, transfer_id, delta FROM ledger")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, tid, delta int64
			if err := rows.Scan(&a, &tid, &delta); err != nil {
				t.Fatal(err)
			}
			legs[tid] = append(legs[tid], delta)
			ledgerSum[a] += delta
		}
		rows.Close()
	}
	if want := int64(accounts * bankStart); total != want {
		t.Errorf("total balance %d, want %d", total, want)
	}
	for id, b := range balance {
		if b != bankStart+ledgerSum[id] {
			t.Errorf("account %d: balance %d, but start + ledger = %d", id, b, bankStart+ledgerSum[id])
		}
	}
	for tid, ds := range legs {
		if !committed[tid] || len(ds) != 2 || ds[0]+ds[1] != 0 {
			t.Errorf("transfer %d: legs %v, committed %v", tid, ds, committed[tid])
		}
	}
	for tid := range committed {
		if len(legs[tid]) != 2 {
			t.Errorf("transfer %d committed but has legs %v", tid, legs[tid])
		}
	}
	if left := d.xaRecover(t); len(left) != 0 {
		t.Errorf("XA RECOVER: %v", left)
	}
}

// bankTransfer moves amount in one transaction, locking the source first:
// opposite transfers deadlock. A failed attempt is rolled back.
func bankTransfer(db *sql.DB, from, to, amount, tid int64) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"UPDATE accounts SET balance = balance - ? WHERE id = ?", []any{amount, from}},
		{"UPDATE accounts SET balance = balance + ? WHERE id = ?", []any{amount, to}},
		{"INSERT INTO ledger (account_id, transfer_id, delta) VALUES (?, ?, ?)", []any{from, tid, -amount}},
		{"INSERT INTO ledger (account_id, transfer_id, delta) VALUES (?, ?, ?)", []any{to, tid, amount}},
	} {
		if _, err := tx.Exec(q.sql, q.args...); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// TestDeadlockNeedsProcess: the detector reads other connections'
// transactions in information_schema, which MariaDB shows only to an
// account with the PROCESS privilege. The proxy runs on the least-privilege
// account of docs/operations.md: without PROCESS, a cycle across shards
// ends as before in the lock wait timeout (here the client's 2 s), and the
// detector counts and says why; once PROCESS is granted, it breaks the
// cycle with 1213 (the detector reconnects after a failed read).
func TestDeadlockNeedsProcess(t *testing.T) {
	d := newDeployment(t, "dlpriv", 2, "twopc")
	d.user, d.password = "sgdl", "sgdl-pw"
	ctx := context.Background()
	if err := servers[0].CreateProxyAccount(ctx, d.user, d.password, d.gdb); err != nil {
		t.Fatal(err)
	}
	for _, s := range d.shards() {
		if err := s.CreateProxyAccount(ctx, d.user, d.password, d.sdb); err != nil {
			t.Fatal(err)
		}
	}
	grant := func(verb string) {
		for _, s := range d.shards() {
			for _, host := range []string{"%", "127.0.0.1", "localhost"} {
				q := fmt.Sprintf("GRANT PROCESS ON *.* TO '%s'@'%s'", d.user, host)
				if verb == "REVOKE" {
					q = fmt.Sprintf("REVOKE PROCESS ON *.* FROM '%s'@'%s'", d.user, host)
				}
				if err := s.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	grant("REVOKE")
	t.Cleanup(func() { grant("GRANT") })
	p := d.inProcess(t)
	if w := strings.Join(p.Router.CheckPrivileges(ctx), "\n"); strings.Count(w, "lacks PROCESS") != 2 {
		t.Errorf("startup check without PROCESS: %q, want a warning per shard server", w)
	}
	db := p.DB(t, "customer")
	keys := d.keysOnShards()
	for _, k := range keys {
		mustExec(t, db, "INSERT INTO kv (k, v) VALUES (?, 0)", k)
	}
	// cycle makes a cycle of lock waits across the two shards and returns
	// how each session's waiting UPDATE ended. Which ends first is no
	// sign of the victim: the survivor's wait ends as soon as the victim's
	// locks are released, which can be before the victim's error reaches
	// its client.
	cycle := func() (ao, bo outcome, a, b *session) {
		a, b = openSession(t, db, "a"), openSession(t, db, "b")
		for _, s := range []*session{a, b} {
			s.exec("SET innodb_lock_wait_timeout = 2")
			s.exec("BEGIN")
		}
		a.exec("UPDATE kv SET v = v + 1 WHERE k = ?", keys[0])
		b.exec("UPDATE kv SET v = v + 1 WHERE k = ?", keys[1])
		aDone := a.async("UPDATE kv SET v = v + 1 WHERE k = ?", keys[1])
		settle()
		bDone := b.async("UPDATE kv SET v = v + 1 WHERE k = ?", keys[0])
		return <-aDone, <-bDone, a, b
	}

	ao, bo, a, b := cycle()
	for name, o := range map[string]outcome{"a": ao, "b": bo} {
		// Nothing breaks the cycle: each wait ends in its timeout (the
		// first one's statement rollback keeps its transaction's locks).
		if me := mysqlErr(o.err); me == nil || me.Number != 1205 {
			t.Errorf("without PROCESS: %s: %v after %s, want the lock wait timeout 1205", name, o.err, o.took)
		}
	}
	a.exec("ROLLBACK")
	b.exec("ROLLBACK")
	st := p.Server.DeadlockStats()
	if st.CheckErrors == 0 || !strings.Contains(st.LastError, "PROCESS") || !strings.Contains(st.LastError, "1227") {
		t.Errorf("without PROCESS: detector stats %+v, want read errors naming the PROCESS privilege", st)
	}
	t.Logf("without PROCESS: a %v after %s; detector: %s", ao.err, ao.took, st.LastError)

	grant("GRANT")
	if w := p.Router.CheckPrivileges(ctx); len(w) != 0 {
		t.Errorf("startup check with PROCESS: %q", w)
	}
	ao, bo, a, b = cycle()
	victim, other := ao, bo
	if isDeadlock(bo.err) {
		victim, other = bo, ao
	}
	if !isDeadlock(victim.err) || victim.took > time.Second || other.err != nil {
		t.Errorf("with PROCESS: a %v after %s, b %v after %s; want one 1213 within a second and the other's UPDATE done",
			ao.err, ao.took, bo.err, bo.took)
	}
	a.exec("ROLLBACK")
	b.exec("ROLLBACK")
}

// TestDeadlockAbortGuards: the detector names the command it saw waiting
// (session, command number) and the transaction; an abort that comes late,
// once that command has ended or that transaction has, does nothing: it
// never interrupts a later command. An abort in time interrupts the
// waiting command, which gets the detector's error, and rolls the
// transaction back.
func TestDeadlockAbortGuards(t *testing.T) {
	d := newDeployment(t, "dlguard", 2, "multi")
	cfgPath := d.writeConfig(t)
	data, _ := os.ReadFile(cfgPath)
	// detection off: the test plays the detector itself
	if err := os.WriteFile(cfgPath, append([]byte("deadlock: {threshold: 0}\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.RunProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	reg := p.Server.DeadlockSessions()
	db := p.DB(t, "customer", "interpolateParams=true")
	keys := d.keysOnShards()
	k1b := keys[1] + 1 // a second key on shard 1
	for d.shardOf(k1b) != 1 {
		k1b++
	}
	for _, k := range append(keys, k1b) {
		mustExec(t, db, "INSERT INTO kv (k, v) VALUES (?, 0)", k)
	}
	a, b := openSession(t, db, "a"), openSession(t, db, "b")
	var aID uint32
	if err := a.c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&aID); err != nil {
		t.Fatal(err)
	}
	running := func() deadlock.Statement {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, st := range reg.Running(nil) {
				if st.Session == aID {
					return st
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("a runs no command")
		return deadlock.Statement{}
	}
	e := &wire.Error{Code: 1213, State: "40001", Message: "test deadlock"}

	b.exec("BEGIN")
	b.exec("UPDATE kv SET v = v + 10 WHERE k = ?", keys[0])
	a.exec("BEGIN")
	a.exec("UPDATE kv SET v = v + 1 WHERE k = ?", keys[1])
	first := a.async("UPDATE kv SET v = v + 1 WHERE k = ?", keys[0]) // waits for b
	st1 := running()
	// The command is registered before it takes its connection to the
	// second shard: wait until the transaction holds both branches.
	var tx1 deadlock.Transaction
	ok := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if tx1, ok = reg.Transaction(st1, nil); ok && len(tx1.Branches) == 2 {
			break
		}
	}
	if !ok || len(tx1.Branches) != 2 {
		t.Fatalf("a's transaction: %+v %v", tx1, ok)
	}
	b.exec("COMMIT")
	if o := <-first; o.err != nil {
		t.Fatal(o.err)
	}
	// a's next command waits again; the abort for the first comes late.
	b.exec("BEGIN")
	b.exec("UPDATE kv SET v = v + 10 WHERE k = ?", k1b)
	second := a.async("UPDATE kv SET v = v + 1 WHERE k = ?", k1b) // waits for b
	st2 := running()
	if st2.Seq == st1.Seq {
		t.Fatalf("a's second command has the first's number %d", st1.Seq)
	}
	if reg.Abort(st1, tx1.ID, e) {
		t.Error("an abort of a command that has ended reached a later one")
	}
	if _, ok := reg.Transaction(st1, nil); ok {
		t.Error("Transaction of an ended command: ok")
	}
	if reg.Abort(st2, tx1.ID+1, e) {
		t.Error("an abort naming another transaction went through")
	}
	time.Sleep(300 * time.Millisecond)
	select {
	case o := <-second:
		t.Fatalf("a's second command ended while b holds the row: %v", o.err)
	default:
	}
	// In time: the waiting command fails with the error, the transaction
	// is rolled back on both shards, b's lock is free again.
	if !reg.Abort(st2, tx1.ID, e) {
		t.Fatal("the abort of the waiting command was refused")
	}
	o := <-second
	if me := mysqlErr(o.err); me == nil || me.Number != 1213 || me.Message != "test deadlock" {
		t.Fatalf("a's waiting command: %v, want the abort's error", o.err)
	}
	b.exec("COMMIT")
	a.exec("COMMIT") // nothing left to commit: a was rolled back
	if v0, v1, v1b := d.kvValue(t, keys[0]), d.kvValue(t, keys[1]), d.kvValue(t, k1b); v0 != 10 || v1 != 0 || v1b != 10 {
		t.Errorf("kv = %d, %d, %d; want 10, 0, 10 (a's transaction rolled back on both shards)", v0, v1, v1b)
	}
	// The session goes on.
	a.exec("UPDATE kv SET v = v + 1 WHERE k = ?", keys[1])
	if v1 := d.kvValue(t, keys[1]); v1 != 1 {
		t.Errorf("kv = %d after a's next statement, want 1", v1)
	}
}
