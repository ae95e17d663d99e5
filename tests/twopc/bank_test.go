package twopc

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The bank test of issue 7: 1000 accounts over 2 or 4 shards, concurrent
// transfers between accounts on different shards, while the proxy (its own
// process) is killed with SIGKILL several times and restarted, and one
// shard's mariadbd is killed with SIGKILL and restarted. Each transfer
// updates both balances and writes one ledger row per leg, on the leg's
// shard, in one transaction.
//
// At the end, read directly from the shards, after the resolver ran:
//   - twopc: the total balance is the starting total, no XA branch is left
//     prepared, every transfer has both legs or none, every transfer whose
//     COMMIT the client saw succeed has both, every transfer the proxy
//     reported rolled back has none;
//   - multi: the same is measured and reported, not asserted: it can lose
//     (or create) money when a crash falls between the shards' COMMITs.
//   - both: each account's balance equals the start plus its ledger rows (a
//     shard's own transaction is atomic).

const (
	bankAccounts = 1000
	bankStart    = 1000 // balance of each account at the start
	bankWorkers  = 8
)

type bankOptions struct {
	shards   int
	mode     string
	duration time.Duration
	// killShard is the index (in the deployment's shards) of the mariadbd
	// killed once, mid-run.
	killShard int
}

// bankOutcome is what the clients saw.
type bankOutcome struct {
	committed   map[int64]bool // COMMIT returned OK
	rolledBack  map[int64]bool // the proxy said the transaction was rolled back
	unknown     map[int64]bool // COMMIT failed otherwise (connection lost...)
	notStarted  map[int64]bool // a statement before COMMIT failed: rolled back
	wrongRoutes int64          // an UPDATE that matched no row
}

func TestBankTwoPC2Shards(t *testing.T) {
	runBank(t, bankOptions{shards: 2, mode: "twopc", duration: 12 * time.Second, killShard: 0})
}

func TestBankTwoPC4Shards(t *testing.T) {
	runBank(t, bankOptions{shards: 4, mode: "twopc", duration: 12 * time.Second, killShard: 2})
}

func TestBankMulti2Shards(t *testing.T) {
	runBank(t, bankOptions{shards: 2, mode: "multi", duration: 12 * time.Second, killShard: 1})
}

func runBank(t *testing.T, o bankOptions) {
	d := newDeployment(t, fmt.Sprintf("bank%d_%s", o.shards, o.mode), o.shards, o.mode)
	d.seedAccounts(t)
	proc := d.process(t, "--twopc-abort-timeout=2s", "--twopc-resolve-interval=250ms")
	db, err := sql.Open("mysql", proc.dsn("interpolateParams=true", "timeout=2s", "readTimeout=20s", "writeTimeout=5s", "innodb_lock_wait_timeout=5"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(bankWorkers)
	db.SetMaxIdleConns(bankWorkers)

	// Accounts by shard, to pick transfers across shards.
	byShard := make([][]int64, o.shards)
	for id := int64(1); id <= bankAccounts; id++ {
		i := d.shardOf(id)
		byShard[i] = append(byShard[i], id)
	}

	ctx, stop := context.WithCancel(context.Background())
	var nextID atomic.Int64
	outcomes := make([]bankOutcome, bankWorkers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < bankWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := &outcomes[w]
			*out = bankOutcome{committed: map[int64]bool{}, rolledBack: map[int64]bool{}, unknown: map[int64]bool{}, notStarted: map[int64]bool{}}
			rnd := rand.New(rand.NewSource(int64(w) + 1))
			for ctx.Err() == nil {
				si := rnd.Intn(o.shards)
				sj := (si + 1 + rnd.Intn(o.shards-1)) % o.shards
				from := byShard[si][rnd.Intn(len(byShard[si]))]
				to := byShard[sj][rnd.Intn(len(byShard[sj]))]
				tid := nextID.Add(1)
				transfer(ctx, db, o.mode, from, to, int64(1+rnd.Intn(100)), tid, out)
			}
		}()
	}

	// Chaos: kill -9 the proxy three times, and one shard's mariadbd once.
	chaos := []struct {
		at   time.Duration
		what string
	}{{o.duration * 12 / 100, "proxy"}, {o.duration * 33 / 100, "proxy"}, {o.duration * 50 / 100, "shard"}, {o.duration * 80 / 100, "proxy"}}
	for _, c := range chaos {
		time.Sleep(time.Until(start.Add(c.at)))
		switch c.what {
		case "proxy":
			proc.kill9()
			t.Logf("%5.1fs kill -9 shardgate", time.Since(start).Seconds())
			proc.start()
		case "shard":
			s := d.shards()[o.killShard]
			if err := s.Kill(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%5.1fs kill -9 mariadbd of shard %d", time.Since(start).Seconds(), o.killShard)
			time.Sleep(500 * time.Millisecond)
			rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := s.Restart(rctx); err != nil {
				cancel()
				t.Fatalf("restart shard: %v\n%s", err, s.LogTail(20))
			}
			cancel()
			t.Logf("%5.1fs mariadbd of shard %d restarted", time.Since(start).Seconds(), o.killShard)
		}
	}
	time.Sleep(time.Until(start.Add(o.duration)))
	stop()
	wg.Wait()
	elapsed := time.Since(start)

	var all bankOutcome
	all.committed, all.rolledBack, all.unknown, all.notStarted = map[int64]bool{}, map[int64]bool{}, map[int64]bool{}, map[int64]bool{}
	for _, out := range outcomes {
		for k := range out.committed {
			all.committed[k] = true
		}
		for k := range out.rolledBack {
			all.rolledBack[k] = true
		}
		for k := range out.unknown {
			all.unknown[k] = true
		}
		for k := range out.notStarted {
			all.notStarted[k] = true
		}
		all.wrongRoutes += out.wrongRoutes
	}
	t.Logf("%s, %d shards, %.1fs: %d transfers committed (%.0f/s), %d rolled back by the proxy, %d with unknown outcome, %d failed before COMMIT",
		o.mode, o.shards, elapsed.Seconds(), len(all.committed), float64(len(all.committed))/elapsed.Seconds(), len(all.rolledBack), len(all.unknown), len(all.notStarted))
	if all.wrongRoutes > 0 {
		t.Errorf("%d UPDATEs matched no row (routing disagrees with the test's placement)", all.wrongRoutes)
	}

	// Let the resolver finish what the crashes left prepared.
	resolveStart := time.Now()
	waitResolved(t, d, 20*time.Second)
	if o.mode == "twopc" {
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int
			err := d.globalDB(t).QueryRow("SELECT COUNT(*) FROM shardgate_2pc_decisions WHERE decision = 'commit'").Scan(&n)
			if err == nil && n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("commit decisions not cleaned: %d rows (%v)", n, err)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("resolved %.1fs after the load stopped", time.Since(resolveStart).Seconds())
	logs := proc.logs()
	t.Logf("proxy logs: %d resolver commits, %d resolver rollbacks, %d abort decisions, %d commits with a warning, %d outcomes unknown",
		strings.Count(logs, `"action": "XA COMMIT"`), strings.Count(logs, `"action": "XA ROLLBACK"`),
		strings.Count(logs, "aborting a transaction prepared without a decision"),
		strings.Count(logs, "committed, but some branches did not confirm"), strings.Count(logs, "commit outcome unknown"))

	// Read the shards directly.
	total := int64(0)
	balance := map[int64]int64{}
	legs := map[int64][]int64{} // transfer id -> deltas
	ledgerSum := map[int64]int64{}
	for i := range d.shards() {
		db := d.shardDB(t, i)
		rows, err := db.Query("SELECT id, balance FROM accounts")
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
		rows, err = db.Query("SELECT account_id, transfer_id, delta FROM ledger")
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
	if len(balance) != bankAccounts {
		t.Fatalf("%d accounts on the shards, want %d", len(balance), bankAccounts)
	}
	// Per shard: always atomic.
	for id, b := range balance {
		if b != bankStart+ledgerSum[id] {
			t.Errorf("account %d: balance %d, but start + ledger = %d", id, b, bankStart+ledgerSum[id])
		}
	}
	var partial []int64
	applied := 0
	for tid, ds := range legs {
		switch {
		case len(ds) == 2 && ds[0]+ds[1] == 0:
			applied++
		default:
			partial = append(partial, tid)
		}
	}
	sort.Slice(partial, func(i, j int) bool { return partial[i] < partial[j] })
	var lostCommitted, appliedRolledBack, appliedNotStarted []int64
	for tid := range all.committed {
		if len(legs[tid]) != 2 {
			lostCommitted = append(lostCommitted, tid)
		}
	}
	for tid := range all.rolledBack {
		if len(legs[tid]) != 0 {
			appliedRolledBack = append(appliedRolledBack, tid)
		}
	}
	for tid := range all.notStarted {
		if len(legs[tid]) != 0 {
			appliedNotStarted = append(appliedNotStarted, tid)
		}
	}
	unknownApplied := 0
	for tid := range all.unknown {
		if len(legs[tid]) == 2 {
			unknownApplied++
		}
	}
	want := int64(bankAccounts * bankStart)
	t.Logf("%s: total balance %d (start %d, drift %+d); %d transfers applied on both shards, %d on one shard only; of %d with unknown outcome %d were applied; committed but not applied: %d",
		o.mode, total, want, total-want, applied, len(partial), len(all.unknown), unknownApplied, len(lostCommitted))
	if len(appliedNotStarted) > 0 {
		t.Errorf("%d transfers that failed before COMMIT were applied: %v", len(appliedNotStarted), head(appliedNotStarted))
	}
	if o.mode != "twopc" {
		if len(partial) > 0 {
			t.Logf("multi mode lost atomicity for %d transfers (one leg applied): %v", len(partial), head(partial))
		}
		return
	}
	if total != want {
		t.Errorf("total balance %d, want %d", total, want)
	}
	if len(partial) > 0 {
		t.Errorf("%d transfers applied on one shard only: %v", len(partial), head(partial))
	}
	if len(lostCommitted) > 0 {
		t.Errorf("%d transfers reported committed are not applied: %v", len(lostCommitted), head(lostCommitted))
	}
	if len(appliedRolledBack) > 0 {
		t.Errorf("%d transfers reported rolled back are applied: %v", len(appliedRolledBack), head(appliedRolledBack))
	}
	if len(all.committed) < 100 {
		t.Errorf("only %d transfers committed: the test did not exercise much", len(all.committed))
	}
}

func head(ids []int64) []int64 {
	if len(ids) > 10 {
		return ids[:10]
	}
	return ids
}

// seedAccounts creates the accounts on their shards, directly.
func (d *deployment) seedAccounts(t *testing.T) {
	t.Helper()
	vals := make([][]string, d.nshards)
	for id := int64(1); id <= bankAccounts; id++ {
		i := d.shardOf(id)
		vals[i] = append(vals[i], fmt.Sprintf("(%d, %d)", id, bankStart))
	}
	for i, v := range vals {
		if _, err := d.shardDB(t, i).Exec("INSERT INTO accounts (id, balance) VALUES " + strings.Join(v, ",")); err != nil {
			t.Fatal(err)
		}
	}
}

// transfer moves amount from one account to another in one transaction and
// records what the client saw.
func transfer(ctx context.Context, db *sql.DB, mode string, from, to, amount, tid int64, out *bankOutcome) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		if ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond) // proxy down: do not spin
		}
		return
	}
	type leg struct{ id, delta int64 }
	legs := []leg{{from, -amount}, {to, amount}}
	if to < from { // lock in id order: no deadlock across shards
		legs[0], legs[1] = legs[1], legs[0]
	}
	fail := func() {
		_ = tx.Rollback()
		out.notStarted[tid] = true
		time.Sleep(10 * time.Millisecond) // a shard or the proxy is down: do not spin
	}
	for _, l := range legs {
		res, err := tx.Exec("UPDATE accounts SET balance = balance + ? WHERE id = ?", l.delta, l.id)
		if err != nil {
			fail()
			return
		}
		if n, err := res.RowsAffected(); err == nil && n != 1 {
			out.wrongRoutes++
		}
	}
	for _, l := range legs {
		if _, err := tx.Exec("INSERT INTO ledger (account_id, transfer_id, delta) VALUES (?, ?, ?)", l.id, tid, l.delta); err != nil {
			fail()
			return
		}
	}
	err = tx.Commit()
	switch {
	case err == nil:
		out.committed[tid] = true
	case mode == "twopc" && isRolledBack(err):
		out.rolledBack[tid] = true
	default:
		out.unknown[tid] = true
	}
}

// isRolledBack reports a twopc COMMIT error that says the transaction was
// rolled back everywhere.
func isRolledBack(err error) bool {
	me := mysqlErr(err)
	return me != nil && strings.Contains(me.Message, "rolled back") && !strings.Contains(me.Message, "unknown")
}
