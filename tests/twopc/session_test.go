package twopc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/txn"
)

// keysOnShards returns one key per shard (keys[i] lives on shard i).
func (d *deployment) keysOnShards() []int64 {
	keys := make([]int64, d.nshards)
	found := 0
	for id := int64(1); found < d.nshards; id++ {
		if i := d.shardOf(id); keys[i] == 0 {
			keys[i] = id
			found++
		}
	}
	return keys
}

type execer interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}

func mustExec(t *testing.T, db execer, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func mysqlErr(err error) *mysql.MySQLError {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me
	}
	return nil
}

// TestSessionMode: SET / SELECT @@transaction_mode, the config default,
// errors for an unknown mode and for single's second shard.
func TestSessionMode(t *testing.T) {
	d := newDeployment(t, "mode", 2, "twopc")
	p := d.inProcess(t)
	db := p.DB(t, "customer")
	db.SetMaxOpenConns(1)
	var mode string
	if err := db.QueryRow("SELECT @@transaction_mode").Scan(&mode); err != nil || mode != "twopc" {
		t.Fatalf("default mode %q %v, want twopc (config)", mode, err)
	}
	mustExec(t, db, "SET transaction_mode = 'single'")
	if err := db.QueryRow("SELECT @@session.transaction_mode").Scan(&mode); err != nil || mode != "single" {
		t.Fatalf("mode %q %v", mode, err)
	}
	_, err := db.Exec("SET transaction_mode = 'xa'")
	if me := mysqlErr(err); me == nil || me.Number != 1231 || !strings.Contains(me.Message, "single, multi or twopc") {
		t.Fatalf("unknown mode: %v", err)
	}
	keys := d.keysOnShards()
	mustExec(t, db, "BEGIN")
	mustExec(t, db, "INSERT INTO kv (k, v) VALUES (?, 1)", keys[0])
	_, err = db.Exec("INSERT INTO kv (k, v) VALUES (?, 1)", keys[1])
	if err == nil || !strings.Contains(err.Error(), "transaction_mode 'single'") {
		t.Fatalf("single mode, second shard: %v", err)
	}
	mustExec(t, db, "ROLLBACK")
	mustExec(t, db, "SET transaction_mode = 'TWOPC'")
	if err := db.QueryRow("SELECT @@transaction_mode").Scan(&mode); err != nil || mode != "twopc" {
		t.Fatalf("mode %q %v", mode, err)
	}
	mustExec(t, db, "BEGIN")
	mustExec(t, db, "INSERT INTO kv (k, v) VALUES (?, 1)", keys[0])
	if _, err := db.Exec("SET transaction_mode = 'multi'"); err == nil {
		t.Error("changing the mode inside a transaction was accepted")
	}
	mustExec(t, db, "ROLLBACK")
}

// TestTwoPCThroughProxy: a cross-shard transaction commits on both shards,
// ROLLBACK and a client disconnect roll back, autocommit=0 works, SHOW
// TRANSACTIONS answers.
func TestTwoPCThroughProxy(t *testing.T) {
	d := newDeployment(t, "proxy", 2, "multi")
	p := d.inProcess(t)
	ctx := context.Background()
	db := p.DB(t, "customer")
	keys := d.keysOnShards()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, conn, "SET transaction_mode = 'twopc'")
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "INSERT INTO kv (k, v) VALUES (?, 10), (?, 20)", keys[0], keys[1])
	mustExec(t, conn, "COMMIT")
	for i, k := range keys {
		var v int
		if err := d.shardDB(t, i).QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	// The decision row is written and then deleted.
	deadline := time.Now().Add(5 * time.Second)
	g := d.globalDB(t)
	for {
		var n int
		if err := g.QueryRow("SELECT COUNT(*) FROM shardgate_2pc_decisions").Scan(&n); err != nil {
			t.Fatalf("decision table: %v", err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d decision rows left", n)
		}
		time.Sleep(20 * time.Millisecond)
	}

	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "UPDATE kv SET v = v + 1 WHERE k = ?", keys[0])
	mustExec(t, conn, "UPDATE kv SET v = v + 1 WHERE k = ?", keys[1])
	mustExec(t, conn, "ROLLBACK")

	mustExec(t, conn, "SET autocommit = 0")
	mustExec(t, conn, "UPDATE kv SET v = v + 5 WHERE k = ?", keys[0])
	mustExec(t, conn, "UPDATE kv SET v = v + 5 WHERE k = ?", keys[1])
	mustExec(t, conn, "COMMIT")
	mustExec(t, conn, "SET autocommit = 1")

	rows, err := conn.QueryContext(ctx, "SHOW TRANSACTIONS")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	if strings.Join(cols, ",") != "dtid,state,decision,branches,age_seconds" {
		t.Errorf("SHOW TRANSACTIONS: columns %v", cols)
	}
	// Nothing stays in doubt. The decision row of the COMMIT just made is
	// deleted in the background, so SHOW TRANSACTIONS may list it
	// ("committed: …, decision row not yet deleted") for a moment.
	deadline = time.Now().Add(5 * time.Second)
	for left := showTransactions(t, db); len(left) > 0; left = showTransactions(t, db) {
		if time.Now().After(deadline) {
			t.Errorf("SHOW TRANSACTIONS after 5 s: %+v, want none in doubt", left)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Disconnect in the middle of a transaction: rolled back.
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c2, "SET transaction_mode = 'twopc'")
	mustExec(t, c2, "BEGIN")
	mustExec(t, c2, "UPDATE kv SET v = v + 100 WHERE k = ?", keys[0])
	mustExec(t, c2, "UPDATE kv SET v = v + 100 WHERE k = ?", keys[1])
	_ = c2.Raw(func(dc any) error { return errors.New("drop") }) // makes database/sql discard the connection
	c2.Close()
	time.Sleep(200 * time.Millisecond)
	for i, k := range keys {
		var v int
		if err := d.shardDB(t, i).QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if want := []int{15, 25}[i]; v != want {
			t.Errorf("shard %d: v = %d, want %d", i, v, want)
		}
	}
	if left := d.xaRecover(t); len(left) != 0 {
		t.Errorf("XA RECOVER: %v", left)
	}
}

// TestDecisionTableLocked: the decision table is locked while a cross-shard
// COMMIT wants to record its decision. Whatever the coordinator concludes
// (its statement timeout is KILLed: rolled back; or it cannot tell: outcome
// unknown, the resolver aborts after the timeout), both shards agree and no
// branch is left prepared.
func TestDecisionTableLocked(t *testing.T) {
	d := newDeployment(t, "locked", 2, "twopc")
	testenv.TwoPC = txn.Config{ResolveInterval: 200 * time.Millisecond, AbortTimeout: 2 * time.Second}
	defer func() { testenv.TwoPC = txn.Config{} }()
	p := d.inProcess(t)
	db := p.DB(t, "customer")
	keys := d.keysOnShards()
	ctx := context.Background()
	setup, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, setup, "INSERT INTO kv (k, v) VALUES (?, 1), (?, 1)", keys[0], keys[1])
	if err := setup.Commit(); err != nil { // the first decision creates the decision table
		t.Fatal(err)
	}
	g := d.globalDB(t)
	lock, err := g.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	mustExec(t, lock, "LOCK TABLES shardgate_2pc_decisions WRITE")
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "UPDATE kv SET v = 2 WHERE k = ?", keys[0])
	mustExec(t, conn, "UPDATE kv SET v = 2 WHERE k = ?", keys[1])
	_, err = conn.ExecContext(ctx, "COMMIT")
	me := mysqlErr(err)
	if me == nil || !(me.Number == 1401 && strings.Contains(me.Message, "outcome unknown") || strings.Contains(me.Message, "rolled back on every shard")) {
		t.Fatalf("COMMIT with the decision table locked: %v", err)
	}
	t.Logf("COMMIT: %v", err)
	mustExec(t, lock, "UNLOCK TABLES")
	waitResolved(t, d, 10*time.Second)
	for i, k := range keys {
		var v int
		if err := d.shardDB(t, i).QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil || v != 1 {
			t.Errorf("shard %d: v = %d (%v), want 1 (not committed)", i, v, err)
		}
	}
}

func waitResolved(t *testing.T, d *deployment, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		left := d.xaRecover(t)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prepared branches left after %s: %v", limit, left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type txRow struct{ dtid, state, decision, branches, age string }

func showTransactions(t *testing.T, db *sql.DB) []txRow {
	t.Helper()
	rows, err := db.Query("SHOW TRANSACTIONS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []txRow
	for rows.Next() {
		var r txRow
		if err := rows.Scan(&r.dtid, &r.state, &r.decision, &r.branches, &r.age); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// prepareOrphan leaves a branch of dtid prepared on shard i with its
// session gone, as a proxy that died after PREPARE does.
func (d *deployment) prepareOrphan(t *testing.T, i int, dtid, stmt string) {
	t.Helper()
	db := d.shardDB(t, i)
	db.SetMaxIdleConns(0)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	x := fmt.Sprintf("'%s','customer/%s',%d", dtid, testenv.ShardNames(d.nshards)[i], txn.FormatID)
	for _, q := range []string{"XA START " + x, stmt, "XA END " + x, "XA PREPARE " + x} {
		mustExec(t, conn, q)
	}
	conn.Close()
}

// TestShowTransactions: branches a dead coordinator left prepared show in
// SHOW TRANSACTIONS with their state: with a commit decision they are
// committed, without one they are aborted after the timeout.
func TestShowTransactions(t *testing.T) {
	d := newDeployment(t, "show", 2, "twopc")
	testenv.TwoPC = txn.Config{ResolveInterval: 200 * time.Millisecond, AbortTimeout: 3 * time.Second}
	defer func() { testenv.TwoPC = txn.Config{} }()
	p := d.inProcess(t)
	db := p.DB(t, "customer")
	keys := d.keysOnShards()
	for i, k := range keys {
		mustExec(t, d.shardDB(t, i), "INSERT INTO kv (k, v) VALUES (?, 0)", k)
	}
	// The decision table, as the first twopc commit creates it.
	g := d.globalDB(t)
	setup, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, setup, "UPDATE kv SET v = v WHERE k = ?", keys[0])
	mustExec(t, setup, "UPDATE kv SET v = v WHERE k = ?", keys[1])
	if err := setup.Commit(); err != nil {
		t.Fatal(err)
	}
	c := p.Router.Coordinator()
	commitID, abortID := c.NewDTID(), c.NewDTID()

	for i, k := range keys {
		d.prepareOrphan(t, i, commitID, fmt.Sprintf("UPDATE kv SET v = v + 1 WHERE k = %d", k))
	}
	// One branch only prepared (the other shard never got its PREPARE), on
	// another row (the first branch holds its row's lock).
	d.prepareOrphan(t, 0, abortID, fmt.Sprintf("INSERT INTO kv (k, v) VALUES (%d, 10)", -keys[0]))

	list := showTransactions(t, db)
	byID := map[string]txRow{}
	for _, r := range list {
		byID[r.dtid] = r
	}
	if r := byID[abortID]; r.decision != "" || !strings.HasPrefix(r.state, "prepared, no decision") || strings.Count(r.branches, "customer/") != 1 {
		t.Errorf("SHOW TRANSACTIONS row of the undecided transaction: %+v", r)
	}
	if r := byID[commitID]; strings.Count(r.branches, "customer/") != 2 {
		t.Errorf("SHOW TRANSACTIONS row of %s: %+v", commitID, r)
	}
	mustExec(t, g, "INSERT INTO shardgate_2pc_decisions (dtid, decision) VALUES (?, 'commit')", commitID)
	list = showTransactions(t, db)
	for _, r := range list {
		t.Logf("SHOW TRANSACTIONS: %+v", r)
		if r.dtid == commitID && (r.decision != "commit" || !strings.HasPrefix(r.state, "committing")) {
			t.Errorf("after the decision: %+v", r)
		}
	}
	waitResolved(t, d, 10*time.Second)
	for i, k := range keys {
		var v int
		if err := d.shardDB(t, i).QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil || v != 1 {
			t.Errorf("shard %d: v = %d (%v), want 1 (the decided transaction committed)", i, v, err)
		}
	}
	var n int
	if err := d.shardDB(t, 0).QueryRow("SELECT COUNT(*) FROM kv WHERE k = ?", -keys[0]).Scan(&n); err != nil || n != 0 {
		t.Errorf("the undecided transaction's row: %d %v, want none (aborted)", n, err)
	}
	var dec string
	if err := g.QueryRow("SELECT decision FROM shardgate_2pc_decisions WHERE dtid = ?", abortID).Scan(&dec); err != nil || dec != "abort" {
		t.Errorf("decision of %s: %q %v, want abort (kept for late coordinators)", abortID, dec, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(showTransactions(t, db)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("SHOW TRANSACTIONS still lists %+v", showTransactions(t, db))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDeadlockInBranch: InnoDB rolls back the branch it picks as deadlock
// victim; the victim's ROLLBACK (or COMMIT, which fails) ends its
// distributed transaction cleanly, and the other transaction commits.
func TestDeadlockInBranch(t *testing.T) {
	d := newDeployment(t, "deadlock", 2, "twopc")
	p := d.inProcess(t)
	db := p.DB(t, "customer")
	keys := d.keysOnShards()
	var k2 int64 // a second key on shard 0
	for k := keys[0] + 1; ; k++ {
		if d.shardOf(k) == 0 {
			k2 = k
			break
		}
	}
	for _, k := range []int64{keys[0], k2, keys[1]} {
		mustExec(t, db, "INSERT INTO kv (k, v) VALUES (?, 0)", k)
	}
	ctx := context.Background()
	for _, end := range []string{"ROLLBACK", "COMMIT"} {
		a, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, a, "BEGIN")
		mustExec(t, b, "BEGIN")
		mustExec(t, a, "UPDATE kv SET v = v + 1 WHERE k = ?", keys[1]) // a spans both shards
		mustExec(t, a, "UPDATE kv SET v = v + 1 WHERE k = ?", keys[0])
		mustExec(t, b, "UPDATE kv SET v = v + 1 WHERE k = ?", k2)
		aErr := make(chan error, 1)
		go func() {
			_, err := a.ExecContext(ctx, "UPDATE kv SET v = v + 1 WHERE k = ?", k2) // waits for b
			aErr <- err
		}()
		time.Sleep(200 * time.Millisecond)
		_, bErr := b.ExecContext(ctx, "UPDATE kv SET v = v + 1 WHERE k = ?", keys[0]) // deadlock
		errA := <-aErr
		victim, survivor := b, a
		if errA != nil {
			victim, survivor = a, b
			if bErr != nil {
				t.Fatalf("both failed: %v / %v", errA, bErr)
			}
			bErr = errA
		}
		if me := mysqlErr(bErr); me == nil || me.Number != 1213 {
			t.Fatalf("deadlock: %v", bErr)
		}
		_, err = victim.ExecContext(ctx, end)
		t.Logf("victim's %s after the deadlock: %v", end, err)
		if end == "ROLLBACK" && err != nil {
			t.Errorf("ROLLBACK: %v", err)
		}
		if end == "COMMIT" && err != nil && !strings.Contains(err.Error(), "rolled back") {
			t.Errorf("COMMIT: %v", err)
		}
		mustExec(t, survivor, "COMMIT")
		a.Close()
		b.Close()
		if left := d.xaRecover(t); len(left) != 0 {
			t.Errorf("XA RECOVER: %v", left)
		}
	}
}

// TestTwoPCFirstStatement: with transaction_mode twopc from the
// configuration, a session whose very first statement writes on several
// shards in autocommit runs it as a distributed transaction (it used to be
// refused for want of a coordinator until a BEGIN, COMMIT or SET).
func TestTwoPCFirstStatement(t *testing.T) {
	d := newDeployment(t, "first", 2, "twopc")
	p := d.inProcess(t)
	keys := d.keysOnShards()
	db := p.DB(t, "customer")
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustExec(t, c, fmt.Sprintf("INSERT INTO kv (k, v) VALUES (%d, 1), (%d, 2)", keys[0], keys[1]))
	for i, k := range keys {
		var v int64
		if err := d.shardDB(t, i).QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil || v != int64(i+1) {
			t.Errorf("shard %d: kv %d = %d, %v", i, k, v, err)
		}
	}
}
