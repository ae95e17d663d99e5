package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestTransactionsMulti: BEGIN/COMMIT/ROLLBACK over two shards (multi mode),
// autocommit=0 sessions, REPEATABLE READ inside one shard.
func TestTransactionsMulti(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS txn_t")
	mustExec(t, db, "CREATE TABLE txn_t (customer_id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL) ENGINE=InnoDB")

	a := idsOnShard(t, 0, 4, 1, shardNames2) // on -80
	b := idsOnShard(t, 1, 4, 1, shardNames2) // on 80-
	// direct reads of each shard, outside the proxy
	onShard := func(i int) []string {
		return mustQuery(t, directDB(t, i+1, "customer"), "SELECT customer_id, v FROM txn_t")
	}
	row := func(id int64, v string) string { return fmt.Sprintf("%q|%q", fmt.Sprint(id), v) }
	other := conn(t, db) // a second client connection

	// BEGIN; insert on both shards; ROLLBACK: nothing visible.
	c := conn(t, db)
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO txn_t VALUES (?, 'r1')", a[0])
	mustExec(t, c, "INSERT INTO txn_t VALUES (?, 'r2')", b[0])
	wantRows(t, "own uncommitted rows inside the transaction", mustQuery(t, c, "SELECT customer_id, v FROM txn_t"), []string{row(a[0], "r1"), row(b[0], "r2")}, false)
	wantRows(t, "another connection before ROLLBACK", mustQuery(t, other, "SELECT customer_id, v FROM txn_t"), nil, false)
	wantRows(t, "shard -80 directly before ROLLBACK", onShard(0), nil, false)
	mustExec(t, c, "ROLLBACK")
	wantRows(t, "after ROLLBACK through the proxy", mustQuery(t, c, "SELECT customer_id, v FROM txn_t"), nil, false)
	wantRows(t, "shard -80 after ROLLBACK", onShard(0), nil, false)
	wantRows(t, "shard 80- after ROLLBACK", onShard(1), nil, false)

	// BEGIN; inserts and an update on both shards; COMMIT: all visible.
	mustExec(t, c, "START TRANSACTION")
	mustExec(t, c, fmt.Sprintf("INSERT INTO txn_t VALUES (%d, 'c1'), (%d, 'c2')", a[1], b[1]))
	mustExec(t, c, "INSERT INTO txn_t VALUES (?, 'c3')", b[2])
	if n := mustExec(t, c, "UPDATE txn_t SET v = CONCAT(v, '+')"); n != 3 {
		t.Errorf("scatter UPDATE inside the transaction: %d rows, want 3", n)
	}
	wantRows(t, "another connection before COMMIT", mustQuery(t, other, "SELECT customer_id, v FROM txn_t"), nil, false)
	mustExec(t, c, "COMMIT")
	wantRows(t, "shard -80 after COMMIT", onShard(0), []string{row(a[1], "c1+")}, false)
	wantRows(t, "shard 80- after COMMIT", onShard(1), []string{row(b[1], "c2+"), row(b[2], "c3+")}, false)
	wantRows(t, "another connection after COMMIT", mustQuery(t, other, "SELECT customer_id, v FROM txn_t"),
		[]string{row(a[1], "c1+"), row(b[1], "c2+"), row(b[2], "c3+")}, false)

	// SET autocommit=0: the session holds its shard connections until COMMIT.
	ac := conn(t, db)
	mustExec(t, ac, "SET autocommit=0")
	mustExec(t, ac, "INSERT INTO txn_t VALUES (?, 'ac1')", a[2])
	mustExec(t, ac, "INSERT INTO txn_t VALUES (?, 'ac2')", b[3])
	mustExec(t, ac, "DELETE FROM txn_t WHERE customer_id = ?", b[1])
	wantRows(t, "autocommit=0 session sees its own rows", mustQuery(t, ac, "SELECT customer_id, v FROM txn_t WHERE customer_id IN (?, ?, ?)", a[2], b[3], b[1]),
		[]string{row(a[2], "ac1"), row(b[3], "ac2")}, false)
	wantRows(t, "another connection while autocommit=0 has not committed", mustQuery(t, other, "SELECT customer_id, v FROM txn_t"),
		[]string{row(a[1], "c1+"), row(b[1], "c2+"), row(b[2], "c3+")}, false)
	mustExec(t, ac, "COMMIT")
	all := []string{row(a[1], "c1+"), row(a[2], "ac1"), row(b[2], "c3+"), row(b[3], "ac2")}
	wantRows(t, "another connection after COMMIT of the autocommit=0 session", mustQuery(t, other, "SELECT customer_id, v FROM txn_t"), all, false)
	// The next statement starts a new transaction; ROLLBACK undoes it.
	mustExec(t, ac, "UPDATE txn_t SET v = 'gone'")
	mustExec(t, ac, "ROLLBACK")
	wantRows(t, "after ROLLBACK of the autocommit=0 session", mustQuery(t, other, "SELECT customer_id, v FROM txn_t"), all, false)
	// SET autocommit=1 commits the open transaction (as MySQL does).
	mustExec(t, ac, "INSERT INTO txn_t VALUES (?, 'ac3')", a[3])
	mustExec(t, ac, "SET autocommit=1")
	all = append(all, row(a[3], "ac3"))
	wantRows(t, "after SET autocommit=1 committed the open transaction", onShard(0), []string{row(a[1], "c1+"), row(a[2], "ac1"), row(a[3], "ac3")}, false)
	mustExec(t, ac, "UPDATE txn_t SET v = 'auto' WHERE customer_id = ?", a[3])
	wantRows(t, "autocommit=1 again: committed at once", mustQuery(t, other, "SELECT v FROM txn_t WHERE customer_id = ?", a[3]), []string{`"auto"`}, true)

	// REPEATABLE READ inside one shard: a change committed by another
	// connection after the first read is not seen inside the transaction.
	rr := conn(t, db)
	var iso string
	if err := rr.QueryRowContext(ctx(t), "SELECT @@tx_isolation").Scan(&iso); err != nil || iso != "REPEATABLE-READ" {
		t.Errorf("@@tx_isolation = %q, %v; want REPEATABLE-READ", iso, err)
	}
	mustExec(t, rr, "BEGIN")
	wantRows(t, "first read in the transaction", mustQuery(t, rr, "SELECT v FROM txn_t WHERE customer_id = ?", a[1]), []string{`"c1+"`}, true)
	mustExec(t, other, "UPDATE txn_t SET v = 'changed' WHERE customer_id = ?", a[1])
	mustExec(t, other, "INSERT INTO txn_t VALUES (?, 'phantom')", a[0])
	wantRows(t, "committed change of another connection not seen inside REPEATABLE READ", mustQuery(t, rr, "SELECT v FROM txn_t WHERE customer_id = ?", a[1]), []string{`"c1+"`}, true)
	wantRows(t, "no phantom inside REPEATABLE READ", mustQuery(t, rr, "SELECT customer_id FROM txn_t WHERE customer_id IN (?, ?)", a[0], a[1]), []string{fmt.Sprintf("%q", fmt.Sprint(a[1]))}, true)
	mustExec(t, rr, "COMMIT")
	wantRows(t, "after COMMIT the change is seen", mustQuery(t, rr, "SELECT v FROM txn_t WHERE customer_id = ?", a[1]), []string{`"changed"`}, true)

	// A duplicate-key error inside a transaction leaves the transaction
	// usable; its earlier writes commit.
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "UPDATE txn_t SET v = 'in-tx' WHERE customer_id = ?", b[2])
	_, err := c.ExecContext(ctx(t), "INSERT INTO txn_t VALUES (?, 'dup')", b[2])
	wantErr(t, "duplicate key inside a transaction", err, 1062, "Duplicate")
	mustExec(t, c, "COMMIT")
	wantRows(t, "write before the duplicate-key error committed", onShard(1), []string{row(b[2], "in-tx"), row(b[3], "ac2")}, false)
}

// TestIsolationLevels: SET [SESSION] TRANSACTION ISOLATION LEVEL reaches
// the shards (MariaDB knows tx_isolation, not transaction_isolation).
func TestIsolationLevels(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS txn_t")
	mustExec(t, db, "CREATE TABLE txn_t (customer_id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL) ENGINE=InnoDB")
	a := idsOnShard(t, 0, 1, 1, shardNames2)[0]
	b := idsOnShard(t, 1, 1, 1, shardNames2)[0]
	mustExec(t, db, "INSERT INTO txn_t VALUES (?, 'a0'), (?, 'b0')", a, b)
	other := conn(t, db)
	c := conn(t, db)

	// seesChange opens a transaction, reads id, lets another connection
	// commit a change, reads again, and tells whether the change was seen.
	n := 0
	seesChange := func(id int64) bool {
		t.Helper()
		n++
		mustExec(t, c, "BEGIN")
		before := mustQuery(t, c, "SELECT v FROM txn_t WHERE customer_id = ?", id)
		mustExec(t, other, "UPDATE txn_t SET v = ? WHERE customer_id = ?", fmt.Sprintf("v%d", n), id)
		after := mustQuery(t, c, "SELECT v FROM txn_t WHERE customer_id = ?", id)
		mustExec(t, c, "COMMIT")
		if strings.Join(before, ",") != strings.Join(after, ",") {
			t.Logf("transaction %d on id %d (shard %s): read %q, then %q", n, id, shardNames2[shardOf(t, id, shardNames2)], before, after)
			return true
		}
		return false
	}
	if seesChange(a) || seesChange(b) {
		t.Errorf("default REPEATABLE READ: a committed change was seen inside the transaction")
	}
	for _, set := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET SESSION transaction_isolation = 'READ-COMMITTED'", "SET SESSION tx_isolation = 'READ-COMMITTED'"} {
		if _, err := c.ExecContext(ctx(t), set); err != nil {
			t.Errorf("%s: %v", set, err)
			continue
		}
		var iso string
		if err := c.QueryRowContext(ctx(t), "SELECT @@tx_isolation FROM txn_t WHERE customer_id = ?", b).Scan(&iso); err != nil || iso != "READ-COMMITTED" {
			t.Errorf("after %s: @@tx_isolation on shard 80- = %q, %v", set, iso, err)
		}
		if !seesChange(a) || !seesChange(b) {
			t.Errorf("after %s: a committed change was not seen inside the transaction", set)
		}
		mustExec(t, c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
		if seesChange(a) || seesChange(b) {
			t.Errorf("back to REPEATABLE READ after %s: a committed change was seen", set)
		}
	}
	// Without SESSION: the next transaction only.
	if _, err := c.ExecContext(ctx(t), "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"); err != nil {
		t.Fatalf("SET TRANSACTION ISOLATION LEVEL READ COMMITTED: %v", err)
	}
	if !seesChange(b) {
		t.Errorf("SET TRANSACTION ISOLATION LEVEL READ COMMITTED: the next transaction did not see a committed change")
	}
	if seesChange(b) {
		t.Errorf("SET TRANSACTION ISOLATION LEVEL READ COMMITTED applied to the transaction after the next one too")
	}
}

// TestImplicitCommit: as in MySQL, BEGIN inside a transaction and DDL commit
// the open transaction on every shard it touched.
func TestImplicitCommit(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS txn_t")
	mustExec(t, db, "CREATE TABLE txn_t (customer_id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL) ENGINE=InnoDB")
	a := idsOnShard(t, 0, 2, 1, shardNames2)
	b := idsOnShard(t, 1, 2, 1, shardNames2)
	c := conn(t, db)
	row := func(id int64, v string) string { return fmt.Sprintf("%q|%q", fmt.Sprint(id), v) }

	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO txn_t VALUES (?, 'x'), (?, 'y')", a[0], b[0])
	mustExec(t, c, "BEGIN") // commits the first transaction
	mustExec(t, c, "INSERT INTO txn_t VALUES (?, 'gone')", a[1])
	mustExec(t, c, "ROLLBACK")
	wantRows(t, "BEGIN inside a transaction committed it", mustQuery(t, db, "SELECT customer_id, v FROM txn_t"), []string{row(a[0], "x"), row(b[0], "y")}, false)

	mustExec(t, c, "BEGIN")
	mustExec(t, c, "UPDATE txn_t SET v = 'ddl'")
	mustExec(t, c, "CREATE INDEX by_v ON txn_t (v)") // implicit commit
	mustExec(t, c, "ROLLBACK")
	wantRows(t, "DDL inside a transaction committed it", mustQuery(t, db, "SELECT customer_id, v FROM txn_t"), []string{row(a[0], "ddl"), row(b[0], "ddl")}, false)

	mustExec(t, c, "SET autocommit=0")
	mustExec(t, c, "UPDATE txn_t SET v = 'ac0'")
	mustExec(t, c, "BEGIN") // commits
	mustExec(t, c, "ROLLBACK")
	mustExec(t, c, "SET autocommit=1")
	wantRows(t, "BEGIN with autocommit=0 committed the open transaction", mustQuery(t, db, "SELECT customer_id, v FROM txn_t"), []string{row(a[0], "ac0"), row(b[0], "ac0")}, false)
}

// TestClientGoneMidTransaction: a client that disconnects inside a
// transaction leaves no rows, no locks and no session state behind on the
// pooled shard connections.
func TestClientGoneMidTransaction(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS txn_t")
	mustExec(t, db, "CREATE TABLE txn_t (customer_id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL) ENGINE=InnoDB")
	a := idsOnShard(t, 0, 2, 1, shardNames2)
	b := idsOnShard(t, 1, 2, 1, shardNames2)
	mustExec(t, db, "INSERT INTO txn_t VALUES (?, 'a'), (?, 'b')", a[0], b[0])

	for round := 0; round < 3; round++ {
		rc := rawConnect(t, p.Addr, "customer")
		for _, q := range []string{
			"SET @leak = 'leaked'",
			"SET SESSION tx_isolation = 'READ-COMMITTED'",
			"SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_UNSIGNED_SUBTRACTION')",
			"BEGIN",
			fmt.Sprintf("INSERT INTO txn_t VALUES (%d, 'uncommitted'), (%d, 'uncommitted')", a[1], b[1]),
			fmt.Sprintf("UPDATE txn_t SET v = 'locked' WHERE customer_id IN (%d, %d)", a[0], b[0]),
		} {
			rawExec(t, rc, q)
		}
		rc.Close() // TCP close inside the transaction, no COMMIT/ROLLBACK
	}

	// Other sessions (which get the same pooled shard connections) see none
	// of it, and the row locks are gone (a lock wait would time out).
	deadline := ctx(t)
	for i := 0; i < 8; i++ {
		c := conn(t, db)
		if _, err := c.ExecContext(deadline, "SET SESSION innodb_lock_wait_timeout = 2"); err != nil {
			t.Fatal(err)
		}
		wantRows(t, "rows after the clients went away", mustQuery(t, c, "SELECT customer_id, v FROM txn_t"),
			[]string{fmt.Sprintf("%q|\"a\"", fmt.Sprint(a[0])), fmt.Sprintf("%q|\"b\"", fmt.Sprint(b[0]))}, false)
		if _, err := c.ExecContext(deadline, "UPDATE txn_t SET v = v WHERE customer_id IN (?, ?)", a[0], b[0]); err != nil {
			t.Errorf("rows still locked by a gone client: %v", err)
		}
		for _, id := range []int64{a[0], b[0]} {
			wantRows(t, fmt.Sprintf("session state on shard %s", shardNames2[shardOf(t, id, shardNames2)]),
				mustQuery(t, c, "SELECT @leak, @@tx_isolation, @@sql_mode LIKE '%NO_UNSIGNED_SUBTRACTION%' FROM txn_t WHERE customer_id = ?", id),
				[]string{`NULL|"REPEATABLE-READ"|"0"`}, true)
		}
		wantRows(t, "backslash escapes still work", mustQuery(t, c, `SELECT 'a\\b'`), []string{`"a\\b"`}, true)
	}
}
