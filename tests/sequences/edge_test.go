package sequences

import (
	"context"
	"fmt"
	"testing"
)

// TestAutoIncrementNotShardingColumn: an auto-vschema table whose first
// primary-key column (the sharding column) is not the AUTO_INCREMENT one:
// rows go by tenant_id, ids still come from the sequence, unique across
// shards.
func TestAutoIncrementNotShardingColumn(t *testing.T) {
	dropEverywhere(t, "tenant_t", "tenant_t_seq")
	p := start(t)
	db := p.DB(t, "customer")
	mustExec(t, db, "CREATE TABLE tenant_t (tenant_id BIGINT NOT NULL, id BIGINT NOT NULL AUTO_INCREMENT, v VARCHAR(10) NOT NULL, PRIMARY KEY (tenant_id, id), KEY (id))")
	if got := fmt.Sprint(vschemaTables(t, db)["tenant_t"]); got != "[sharded tenant_id hash id from commerce.tenant_t_seq auto]" {
		t.Errorf("SHOW VSCHEMA TABLES tenant_t: %s", got)
	}
	for tenant := 1; tenant <= 10; tenant++ {
		mustExec(t, db, fmt.Sprintf("INSERT INTO tenant_t (tenant_id, v) VALUES (%d, 'a'), (%d, 'b')", tenant, tenant))
		if _, err := db.Exec("INSERT INTO tenant_t (tenant_id, id, v) VALUES (?, ?, ?)", tenant, nil, "c"); err != nil {
			t.Fatal(err)
		}
	}
	checkKeyPlacement(t, "tenant_t", "tenant_id", 30)
	rs := readShards(t, "tenant_t", "tenant_id")
	seen := map[int64]bool{}
	for _, r := range rs {
		if seen[r.id] {
			t.Errorf("tenant_t: id %d used twice", r.id)
		}
		seen[r.id] = true
	}
	if got := fmtIDs(sortedIDs(rs)); got != fmtIDs(seqIDs(1, 30)) {
		t.Errorf("tenant_t ids %s, want 1..30 from tenant_t_seq", got)
	}
}

// TestSequenceOutsideTransaction: the block reservation is its own short
// transaction: a session's ROLLBACK does not give ids back, and a session
// transaction on the global keyspace does not hold up the reservation.
func TestSequenceOutsideTransaction(t *testing.T) {
	dropEverywhere(t, "tx_t", "tx_t_seq")
	dropEverywhere(t, "tx_global")
	p := start(t)
	db := p.DB(t, "customer")
	mustExec(t, db, "CREATE TABLE tx_t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10) NOT NULL)",
		"CREATE TABLE commerce.tx_global (id INT PRIMARY KEY, n INT)",
		"INSERT INTO commerce.tx_global VALUES (1, 0)")
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustExec(t, c, "BEGIN",
		"UPDATE commerce.tx_global SET n = n + 1 WHERE id = 1", // the session holds the global shard in its transaction
		"INSERT INTO tx_t (v) VALUES ('r1'), ('r2')")
	first := oneInt(t, c, "SELECT LAST_INSERT_ID()")
	mustExec(t, c, "ROLLBACK")
	if n := len(readShards(t, "tx_t", "")); n != 0 {
		t.Errorf("after ROLLBACK tx_t has %d rows", n)
	}
	next, _ := seqNext(t, "tx_t_seq")
	if next <= first+1 {
		t.Errorf("after ROLLBACK tx_t_seq next_id = %d: the reservation of %d.. was rolled back with the session", next, first)
	}
	if got := oneInt(t, direct(t, servers[0], "commerce"), "SELECT n FROM tx_global WHERE id = 1"); got != 0 {
		t.Errorf("the session's UPDATE survived its ROLLBACK: n = %d", got)
	}
	mustExec(t, c, "INSERT INTO tx_t (v) VALUES ('after')")
	if got := oneInt(t, c, "SELECT id FROM tx_t WHERE v = 'after'"); got <= first+1 {
		t.Errorf("id after ROLLBACK %d, want > %d (ids of a rolled-back statement are not reused)", got, first+1)
	}
}

// TestAutoIncrementFromOtherDDL: tables that get an AUTO_INCREMENT column
// through other DDL the proxy runs — CREATE TABLE ... LIKE, ALTER TABLE —
// are tracked with a sequence, so the sequence must exist for them too.
func TestAutoIncrementFromOtherDDL(t *testing.T) {
	for _, tbl := range []string{"like_src", "like_t", "alter_t"} {
		dropEverywhere(t, tbl, tbl+"_seq")
	}
	p := start(t)
	db := p.DB(t, "customer")
	mustExec(t, db, "CREATE TABLE like_src (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10) NOT NULL)",
		"CREATE TABLE like_t LIKE like_src",
		"CREATE TABLE alter_t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(10) NOT NULL)",
		"ALTER TABLE alter_t MODIFY id BIGINT NOT NULL AUTO_INCREMENT")
	vs := vschemaTables(t, db)
	for _, tbl := range []string{"like_t", "alter_t"} {
		if got, want := fmt.Sprint(vs[tbl]), "[sharded id hash id from commerce."+tbl+"_seq auto]"; got != want {
			t.Errorf("SHOW VSCHEMA TABLES %s: %s, want %s", tbl, got, want)
		}
		if _, err := db.Exec("INSERT INTO " + tbl + " (v) VALUES ('a'), ('b'), ('c')"); err != nil {
			t.Errorf("INSERT into %s without ids: %v", tbl, err)
			continue
		}
		if rs := checkPlacement(t, tbl, "v"); len(rs) != 3 {
			t.Errorf("%s: %d rows, want 3", tbl, len(rs))
		}
	}
}
