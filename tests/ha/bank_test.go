package ha

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/txn"
)

const (
	bankAccounts = 400
	bankStart    = 1000
	bankWorkers  = 8
)

type bankTally struct {
	mu                                  sync.Mutex
	committed, rolledBack, unknown, bad map[int64]bool
	errs                                map[string]int
}

// TestBankFailover: transfers between accounts on two shards in twopc mode
// (XA two-phase commit) while the primary of one participant shard is
// killed with kill -9, twice: the kills land at every stage of commits in
// flight (before PREPARE, between PREPARE and the decision, during XA
// COMMIT). At the end, read from the shards' primaries after the resolver
// ran: the total is exact, no branch is left prepared, every transfer has
// both legs or none, every committed transfer has both.
func TestBankFailover(t *testing.T) {
	c := newCluster(t, "twopc", 3, 2)
	p := c.proxy(testenv.Options{TwoPC: &txn.Config{AbortTimeout: 2 * time.Second, ResolveInterval: 250 * time.Millisecond}})
	db := open(t, p, "customer", "innodb_lock_wait_timeout=5")
	db.SetMaxOpenConns(bankWorkers)
	byShard := [2][]int64{}
	var vals []string
	for id := int64(1); id <= bankAccounts; id++ {
		i := c.shardOf(id)
		byShard[i] = append(byShard[i], id)
		vals = append(vals, fmt.Sprintf("(%d, %d)", id, bankStart))
	}
	if _, err := db.Exec("INSERT INTO accounts (id, balance) VALUES " + strings.Join(vals, ",")); err != nil {
		t.Fatal(err)
	}

	tally := &bankTally{committed: map[int64]bool{}, rolledBack: map[int64]bool{}, unknown: map[int64]bool{}, bad: map[int64]bool{}, errs: map[string]int{}}
	ctx, stop := context.WithCancel(context.Background())
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < bankWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(int64(w) + 7))
			for ctx.Err() == nil {
				from := byShard[0][rnd.Intn(len(byShard[0]))]
				to := byShard[1][rnd.Intn(len(byShard[1]))]
				if rnd.Intn(2) == 0 {
					from, to = to, from
				}
				transfer(ctx, db, from, to, int64(1+rnd.Intn(50)), next.Add(1), tally)
			}
		}()
	}
	g := c.groups[0]
	for kill := 0; kill < 2; kill++ {
		time.Sleep(1500 * time.Millisecond)
		old := primaryOf(t, p, g, c.names[0])
		at := time.Now()
		if err := old.Kill(); err != nil {
			t.Fatal(err)
		}
		np := c.newPrimary(t, old, 0, 15*time.Second, p)
		t.Logf("kill -9 of %s: new primary %s after %v", old.Addr(), np.Addr(), time.Since(at).Round(time.Millisecond))
	}
	time.Sleep(1500 * time.Millisecond)
	stop()
	wg.Wait()
	t.Logf("%d transfers committed, %d rolled back, %d with unknown outcome; errors: %v", len(tally.committed), len(tally.rolledBack), len(tally.unknown), tally.errs)

	// The shards' primaries now.
	primaries := []*mariadbd.Server{primaryOf(t, p, c.groups[0], c.names[0]), primaryOf(t, p, c.groups[1], c.names[1])}
	deadline := time.Now().Add(20 * time.Second)
	for {
		left := 0
		for _, s := range primaries {
			rows, err := direct(t, s).Query("XA RECOVER")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				left++
			}
			rows.Close()
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d XA branches still prepared 20s after the load stopped", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := int64(0)
	balance := map[int64]int64{}
	legs := map[int64]int{}
	ledger := map[int64]int64{}
	for _, s := range primaries {
		h := direct(t, s)
		rows, err := h.Query("SELECT id, balance FROM accounts")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, b int64
			_ = rows.Scan(&id, &b)
			balance[id] = b
			total += b
		}
		rows.Close()
		rows, err = h.Query("SELECT account_id, transfer_id, delta FROM ledger")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, tid, d int64
			_ = rows.Scan(&a, &tid, &d)
			legs[tid]++
			ledger[a] += d
		}
		rows.Close()
	}
	if len(balance) != bankAccounts {
		t.Fatalf("%d accounts, want %d", len(balance), bankAccounts)
	}
	if want := int64(bankAccounts * bankStart); total != want {
		t.Errorf("total balance %d, want %d", total, want)
	}
	for id, b := range balance {
		if b != bankStart+ledger[id] {
			t.Errorf("account %d: balance %d, start + ledger %d", id, b, bankStart+ledger[id])
		}
	}
	partial, lost, resurrected := 0, 0, 0
	for tid, n := range legs {
		if n != 2 {
			partial++
			t.Errorf("transfer %d has %d legs", tid, n)
		}
		if tally.rolledBack[tid] || tally.bad[tid] {
			resurrected++
		}
	}
	for tid := range tally.committed {
		if legs[tid] != 2 {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d committed transfers are not applied", lost)
	}
	if resurrected > 0 {
		t.Errorf("%d transfers reported rolled back (or failed before COMMIT) are applied", resurrected)
	}
	if len(tally.committed) < 50 {
		t.Errorf("only %d transfers committed", len(tally.committed))
	}
	st := p.Router.Coordinator().Stats()
	t.Logf("total %d exact; %d transfers applied with both legs, %d partial; commits: %d two-phase, %d prepare failures (killed before or during PREPARE), %d incomplete (killed after the decision, finished by the resolver), %d outcome unknown; resolver: %d committed, %d rolled back",
		total, len(legs)-partial, partial, st.TwoPhaseCommits, st.PrepareFailures, st.IncompleteCommits, st.UnknownOutcomes, st.ResolvedCommits, st.ResolvedAborts)
}

func transfer(ctx context.Context, db *sql.DB, from, to, amount, tid int64, out *bankTally) {
	note := func(m map[int64]bool, err error) {
		out.mu.Lock()
		m[tid] = true
		if err != nil {
			out.errs[errKind(err)]++
		}
		out.mu.Unlock()
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return
	}
	legs := [][2]int64{{from, -amount}, {to, amount}}
	if to < from {
		legs[0], legs[1] = legs[1], legs[0]
	}
	for _, l := range legs {
		if _, err := tx.Exec("UPDATE accounts SET balance = balance + ? WHERE id = ?", l[1], l[0]); err != nil {
			_ = tx.Rollback()
			note(out.bad, err)
			time.Sleep(10 * time.Millisecond)
			return
		}
		if _, err := tx.Exec("INSERT INTO ledger (account_id, transfer_id, delta) VALUES (?, ?, ?)", l[0], tid, l[1]); err != nil {
			_ = tx.Rollback()
			note(out.bad, err)
			time.Sleep(10 * time.Millisecond)
			return
		}
	}
	err = tx.Commit()
	switch {
	case err == nil:
		note(out.committed, nil)
	case mysqlErr(err) != nil && strings.Contains(mysqlErr(err).Message, "rolled back on every shard"):
		note(out.rolledBack, err)
	default:
		note(out.unknown, err)
	}
}
