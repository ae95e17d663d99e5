package e2e

import (
	"context"
	"strings"
	"testing"
)

// columnsOn lists a table's columns on server i (database customer or
// commerce), in order; nil if the table does not exist.
func columnsOn(t *testing.T, i int, schema, table string) []string {
	t.Helper()
	return mustQuery(t, directDB(t, i, ""), "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", schema, table)
}

func indexesOn(t *testing.T, i int, table string) []string {
	t.Helper()
	return mustQuery(t, directDB(t, i, ""), "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = 'customer' AND table_name = ?", table)
}

// TestDDLBroadcast: DDL on the sharded keyspace runs on every shard; on the
// global keyspace only there.
func TestDDLBroadcast(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	c := conn(t, db)
	mustExec(t, c, "DROP TABLE IF EXISTS ddl_t")
	mustExec(t, c, "DROP TABLE IF EXISTS commerce.ddl_g")
	for _, i := range []int{1, 2} {
		if cols := columnsOn(t, i, "customer", "ddl_t"); cols != nil {
			t.Fatalf("server %d still has ddl_t after DROP TABLE IF EXISTS: %q", i, cols)
		}
	}

	// CREATE TABLE qualified by keyspace, from a session in the other keyspace.
	mustExec(t, c, "USE commerce")
	mustExec(t, c, "CREATE TABLE customer.ddl_t (customer_id BIGINT NOT NULL PRIMARY KEY, a INT NOT NULL)")
	mustExec(t, c, "CREATE TABLE ddl_g (id INT NOT NULL PRIMARY KEY)")
	mustExec(t, c, "USE customer")
	for i, name := range shardNames2 {
		wantRows(t, "columns of ddl_t on shard "+name, columnsOn(t, i+1, "customer", "ddl_t"), []string{`"customer_id"`, `"a"`}, true)
		wantRows(t, "ddl_g must not be on shard "+name, columnsOn(t, i+1, "customer", "ddl_g"), nil, true)
	}
	wantRows(t, "ddl_g on the global keyspace", columnsOn(t, 0, "commerce", "ddl_g"), []string{`"id"`}, true)
	wantRows(t, "ddl_t must not be on the global keyspace", columnsOn(t, 0, "commerce", "ddl_t"), nil, true)

	mustExec(t, c, "ALTER TABLE ddl_t ADD COLUMN b VARCHAR(10) NOT NULL DEFAULT 'z'")
	mustExec(t, c, "CREATE INDEX idx_a ON ddl_t (a)")
	for i, name := range shardNames2 {
		wantRows(t, "columns after ALTER on shard "+name, columnsOn(t, i+1, "customer", "ddl_t"), []string{`"customer_id"`, `"a"`, `"b"`}, true)
		wantRows(t, "indexes after CREATE INDEX on shard "+name, indexesOn(t, i+1, "ddl_t"), []string{`"PRIMARY"`, `"idx_a"`}, false)
	}
	mustExec(t, c, "DROP INDEX idx_a ON ddl_t")
	for i, name := range shardNames2 {
		wantRows(t, "indexes after DROP INDEX on shard "+name, indexesOn(t, i+1, "ddl_t"), []string{`"PRIMARY"`}, false)
	}
	// TRUNCATE empties every shard.
	lo, hi := idsOnShard(t, 0, 2, 1, shardNames2), idsOnShard(t, 1, 2, 1, shardNames2)
	if n := mustExec(t, c, "INSERT INTO ddl_t (customer_id, a) VALUES (?, 1), (?, 2), (?, 3), (?, 4)", lo[0], lo[1], hi[0], hi[1]); n != 4 {
		t.Errorf("INSERT: %d rows, want 4", n)
	}
	for i, name := range shardNames2 {
		if rows := mustQuery(t, directDB(t, i+1, "customer"), "SELECT customer_id FROM ddl_t"); len(rows) != 2 {
			t.Errorf("shard %s holds %d rows before TRUNCATE, want 2", name, len(rows))
		}
	}
	mustExec(t, c, "TRUNCATE TABLE ddl_t")
	for i, name := range shardNames2 {
		wantRows(t, "rows after TRUNCATE on shard "+name, mustQuery(t, directDB(t, i+1, "customer"), "SELECT customer_id FROM ddl_t"), nil, false)
	}
	mustExec(t, c, "DROP TABLE ddl_t")
	mustExec(t, c, "DROP TABLE commerce.ddl_g")
	for i, name := range shardNames2 {
		wantRows(t, "ddl_t after DROP TABLE on shard "+name, columnsOn(t, i+1, "customer", "ddl_t"), nil, true)
	}
	wantRows(t, "ddl_g after DROP TABLE", columnsOn(t, 0, "commerce", "ddl_g"), nil, true)
}

// TestDDLPartialFailure: a DDL that fails on one shard only reports which
// shard failed and which succeeded.
func TestDDLPartialFailure(t *testing.T) {
	p := startShared(t, "")
	c := conn(t, p.DB(t, "customer"))
	mustExec(t, c, "DROP TABLE IF EXISTS ddl_fail_t")
	// The table exists already on 80- only.
	if err := servers[2].Exec(context.Background(), "CREATE TABLE customer.ddl_fail_t (customer_id BIGINT NOT NULL PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	_, err := c.ExecContext(ctx(t), "CREATE TABLE ddl_fail_t (customer_id BIGINT NOT NULL PRIMARY KEY, x INT NULL)")
	checkPartial(t, "CREATE TABLE existing on 80-", err, "80-", "-80", "already exists")
	wantRows(t, "ddl_fail_t on -80 (where CREATE succeeded)", columnsOn(t, 1, "customer", "ddl_fail_t"), []string{`"customer_id"`, `"x"`}, true)
	wantRows(t, "ddl_fail_t on 80- (the table created beforehand)", columnsOn(t, 2, "customer", "ddl_fail_t"), []string{`"customer_id"`}, true)
	checkAlive(t, "after the partial CREATE", c)

	// Now missing on -80 only: DROP TABLE fails there and succeeds on 80-.
	if err := servers[1].Exec(context.Background(), "DROP TABLE customer.ddl_fail_t"); err != nil {
		t.Fatal(err)
	}
	_, err = c.ExecContext(ctx(t), "DROP TABLE ddl_fail_t")
	checkPartial(t, "DROP TABLE missing on -80", err, "-80", "80-", "ddl_fail_t")
	wantRows(t, "ddl_fail_t on 80- after the partial DROP", columnsOn(t, 2, "customer", "ddl_fail_t"), nil, true)
	checkAlive(t, "after the partial DROP", c)

	// A DDL failing everywhere names the cause (and is not a partial failure).
	_, err = c.ExecContext(ctx(t), "ALTER TABLE ddl_fail_t ADD COLUMN y INT")
	if me := mysqlErr(err); me == nil || !strings.Contains(me.Message, "ddl_fail_t") {
		t.Errorf("ALTER of a table missing everywhere: %v, want a MySQL error naming ddl_fail_t", err)
	}
	checkAlive(t, "after the failed ALTER", c)
}

// checkPartial checks the error of a DDL that failed on shard failed and
// succeeded on shard ok.
func checkPartial(t *testing.T, what string, err error, failed, ok, cause string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	me := mysqlErr(err)
	if me == nil {
		t.Errorf("%s: %v (%T), want a MySQL error", what, err, err)
		return
	}
	msg := me.Message
	// Shard names as words: "-80" is not part of "80-" and vice versa, but
	// make sure each appears on its own.
	has := func(name string) bool {
		for i := 0; ; {
			j := strings.Index(msg[i:], name)
			if j < 0 {
				return false
			}
			j += i
			before := j == 0 || !isShardChar(msg[j-1])
			after := j+len(name) == len(msg) || !isShardChar(msg[j+len(name)])
			if before && after {
				return true
			}
			i = j + 1
		}
	}
	if !has(failed) || !has(ok) {
		t.Errorf("%s: error %d %q should name the failed shard %s and the succeeded shard %s", what, me.Number, msg, failed, ok)
	}
	if !strings.Contains(msg, cause) {
		t.Errorf("%s: error %q should give the cause (%q)", what, msg, cause)
	}
	// The failed shard comes with the word "fail", the other with "succe" or "ok".
	lower := strings.ToLower(msg)
	if !strings.Contains(lower, "fail") || !(strings.Contains(lower, "succe") || strings.Contains(lower, "ok") || strings.Contains(lower, "done") || strings.Contains(lower, "applied")) {
		t.Errorf("%s: error %q should say where it failed and where it succeeded", what, msg)
	}
}

func isShardChar(c byte) bool {
	return c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
}
