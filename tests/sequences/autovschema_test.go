package sequences

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestAutoVSchema: a table created through the proxy without a vschema entry
// is sharded by its first primary-key column at once, its AUTO_INCREMENT
// column gets commerce.<table>_seq; a restarted proxy learns the same from
// the shards (schema tracking); DROP TABLE drops the sequence.
func TestAutoVSchema(t *testing.T) {
	for _, tbl := range []string{"av_t", "av_noai", "av_comp", "ext_t", "ext2_t", "av_trigger"} {
		dropEverywhere(t, tbl, tbl+"_seq")
	}
	p := start(t)
	db := p.DB(t, "customer")
	if _, listed := vschemaTables(t, db)["av_t"]; listed {
		t.Fatalf("av_t listed before it exists")
	}
	mustExec(t, db,
		"CREATE TABLE av_t (id BIGINT NOT NULL AUTO_INCREMENT, v VARCHAR(20) NOT NULL, PRIMARY KEY (id))",
		"CREATE TABLE av_noai (k BIGINT NOT NULL, name VARCHAR(20), PRIMARY KEY (k))",
		"CREATE TABLE av_comp (a BIGINT NOT NULL, b INT NOT NULL, PRIMARY KEY (a, b))")

	wantVS := map[string]string{
		"av_t":    "[sharded id hash id from commerce.av_t_seq auto]",
		"av_noai": "[sharded k hash  auto]",
		"av_comp": "[sharded a hash  auto]",
	}
	checkVS := func(who string, vs map[string][]string) {
		t.Helper()
		for tbl, want := range wantVS {
			if got := fmt.Sprint(vs[tbl]); got != want {
				t.Errorf("%s: SHOW VSCHEMA TABLES %s: %s, want %s", who, tbl, got, want)
			}
		}
	}
	checkVS("after CREATE TABLE", vschemaTables(t, db))

	comment, ok := tableComment(t, servers[0], "commerce", "av_t_seq")
	if !ok || comment != "vitess_sequence" {
		t.Fatalf("commerce.av_t_seq: exists %v, comment %q; want a Vitess sequence table", ok, comment)
	}
	if next, cache := seqNext(t, "av_t_seq"); next != 1 || cache != 1000 {
		t.Errorf("av_t_seq seeded with next_id=%d cache=%d, want 1 and 1000", next, cache)
	}
	for _, seq := range []string{"av_noai_seq", "av_comp_seq"} {
		if _, ok := tableComment(t, servers[0], "commerce", seq); ok {
			t.Errorf("commerce.%s created for a table without AUTO_INCREMENT", seq)
		}
	}

	// Routable at once.
	for i := 0; i < 3; i++ {
		var vals []string
		for j := 0; j < 10; j++ {
			vals = append(vals, fmt.Sprintf("('p%d')", i*10+j))
		}
		mustExec(t, db, "INSERT INTO av_t (v) VALUES "+strings.Join(vals, ", "))
	}
	rs := checkPlacement(t, "av_t", "v")
	if got := fmtIDs(sortedIDs(rs)); got != fmtIDs(seqIDs(1, 30)) {
		t.Errorf("av_t ids %s, want 1..30", got)
	}
	if n := perShard(rs); n[0] == 0 || n[1] == 0 {
		t.Errorf("av_t rows per shard %v: the hash vindex spreads 30 ids over both", n)
	}
	for _, r := range rs[:5] {
		if got := one(t, db, "SELECT v FROM av_t WHERE id = ?", r.id); got != r.v {
			t.Errorf("SELECT v FROM av_t WHERE id = %d: %q, want %q", r.id, got, r.v)
		}
	}
	for k := int64(1); k <= 20; k++ {
		mustExec(t, db, fmt.Sprintf("INSERT INTO av_noai (k, name) VALUES (%d, 'n%d')", k, k))
		mustExec(t, db, fmt.Sprintf("INSERT INTO av_comp (a, b) VALUES (%d, 1), (%d, 2)", k, k))
	}
	checkKeyPlacement(t, "av_noai", "k", 20)
	checkKeyPlacement(t, "av_comp", "a", 40)
	if _, err := db.Exec("INSERT INTO av_noai (name) VALUES ('no key')"); err == nil {
		t.Errorf("INSERT into av_noai without its sharding column k: no error")
	}

	// A new proxy on the same configuration knows the same tables.
	p.Stop()
	q := restart(t, p)
	dq := q.DB(t, "customer")
	checkVS("restarted proxy", vschemaTables(t, dq))
	mustExec(t, dq, "INSERT INTO av_t (v) VALUES ('q0'), ('q1'), ('q2'), ('q3'), ('q4')")
	if _, err := dq.Exec("INSERT INTO av_t (v) VALUES (?), (?), (?), (?), (?)", "q5", "q6", "q7", "q8", "q9"); err != nil {
		t.Fatal(err)
	}
	rs = checkPlacement(t, "av_t", "v")
	if len(rs) != 40 {
		t.Errorf("av_t has %d rows after the restart, want 40", len(rs))
	}
	for _, r := range rs {
		if strings.HasPrefix(r.v, "q") && r.id <= 1000 {
			t.Errorf("restarted proxy gave row %s id %d from the first proxy's block [1,1001)", r.v, r.id)
		}
	}
	if got := oneInt(t, dq, "SELECT COUNT(*) FROM av_comp WHERE a = 7"); got != 2 {
		t.Errorf("restarted proxy: av_comp rows with a = 7: %d, want 2", got)
	}

	// Schema tracking at startup: a table created on the shards directly.
	for _, s := range servers[1:3] {
		if err := s.Exec(context.Background(), "CREATE TABLE customer.ext_t (id BIGINT NOT NULL PRIMARY KEY, v INT)"); err != nil {
			t.Fatal(err)
		}
	}
	r := restart(t, p)
	dr := r.DB(t, "customer")
	if got := fmt.Sprint(vschemaTables(t, dr)["ext_t"]); got != "[sharded id hash  auto]" {
		t.Errorf("proxy started after ext_t was created on the shards: SHOW VSCHEMA TABLES ext_t: %s", got)
	}
	for id := 1; id <= 20; id++ {
		mustExec(t, dr, fmt.Sprintf("INSERT INTO ext_t (id, v) VALUES (%d, %d)", id, id))
	}
	checkKeyPlacement(t, "ext_t", "id", 20)

	// Schema tracking after DDL: a table created on the shards directly is
	// known once the proxy ran any DDL of the keyspace.
	for _, s := range servers[1:3] {
		if err := s.Exec(context.Background(), "CREATE TABLE customer.ext2_t (id BIGINT NOT NULL PRIMARY KEY, v INT)"); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, dr, "CREATE TABLE av_trigger (id BIGINT NOT NULL PRIMARY KEY)")
	if got := fmt.Sprint(vschemaTables(t, dr)["ext2_t"]); got != "[sharded id hash  auto]" {
		t.Errorf("after a DDL through the proxy: SHOW VSCHEMA TABLES ext2_t: %s", got)
	}
	for id := 1; id <= 20; id++ {
		mustExec(t, dr, fmt.Sprintf("INSERT INTO ext2_t (id, v) VALUES (%d, %d)", id, id))
	}
	checkKeyPlacement(t, "ext2_t", "id", 20)

	// DROP TABLE drops the sequence and the derived entry.
	mustExec(t, dq, "DROP TABLE av_t")
	if _, ok := tableComment(t, servers[0], "commerce", "av_t_seq"); ok {
		t.Errorf("DROP TABLE av_t left commerce.av_t_seq")
	}
	for i, s := range servers[1:3] {
		if _, ok := tableComment(t, s, "customer", "av_t"); ok {
			t.Errorf("DROP TABLE av_t left the table on shard %s", shardNames[i])
		}
	}
	if got, listed := vschemaTables(t, dq)["av_t"]; listed {
		t.Errorf("SHOW VSCHEMA TABLES still lists av_t after DROP TABLE: %v", got)
	}
	// Created again, it starts a fresh sequence.
	mustExec(t, dq, "CREATE TABLE av_t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20) NOT NULL)",
		"INSERT INTO av_t (v) VALUES ('again')")
	if got := oneInt(t, dq, "SELECT id FROM av_t WHERE v = 'again'"); got != 1 {
		t.Errorf("av_t created again: first id %d, want 1 (a new sequence)", got)
	}
	mustExec(t, dq, "DROP TABLE av_t")
}

func seqIDs(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// checkKeyPlacement checks that every row of customer.table is on the shard
// the hash vindex maps its column col to, and that there are n rows.
func checkKeyPlacement(t *testing.T, table, col string, n int) {
	t.Helper()
	total := 0
	for i, s := range servers[1:3] {
		for _, r := range rows(t, direct(t, s, "customer"), "SELECT "+col+" FROM "+table) {
			total++
			k, _ := strconv.ParseInt(r[0], 10, 64)
			if want := shardOf(t, k); want != i {
				t.Errorf("%s: %s=%d is on shard %s, the hash vindex maps it to %s", table, col, k, shardNames[i], shardNames[want])
			}
		}
	}
	if total != n {
		t.Errorf("%s: %d rows on the shards, want %d", table, total, n)
	}
}

// TestReferenceTable: DDL and writes of a reference table reach every shard
// and the global keyspace; reads through the proxy see the rows, also joined
// with a sharded table.
func TestReferenceTable(t *testing.T) {
	dropEverywhere(t, "ref_t")
	dropEverywhere(t, "refjoin_t", "refjoin_t_seq")
	p := start(t)
	db := p.DB(t, "customer")
	mustExec(t, db, "CREATE TABLE ref_t (id INT NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL)")

	type place struct {
		name   string
		server int
		db     string
	}
	places := []place{{"shard " + shardNames[0], 1, "customer"}, {"shard " + shardNames[1], 2, "customer"}, {"global keyspace", 0, "commerce"}}
	check := func(step, want string) {
		t.Helper()
		for _, pl := range places {
			if _, ok := tableComment(t, servers[pl.server], pl.db, "ref_t"); !ok {
				t.Errorf("%s: ref_t missing on the %s", step, pl.name)
				continue
			}
			got := fmt.Sprint(rows(t, direct(t, servers[pl.server], pl.db), "SELECT id, name FROM ref_t ORDER BY id"))
			if got != want {
				t.Errorf("%s: ref_t on the %s: %s, want %s", step, pl.name, got, want)
			}
		}
		if got := fmt.Sprint(rows(t, db, "SELECT id, name FROM ref_t ORDER BY id")); got != want {
			t.Errorf("%s: SELECT through the proxy: %s, want %s", step, got, want)
		}
	}
	check("CREATE TABLE", "[]")

	res, err := db.Exec("INSERT INTO ref_t (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 3 {
		t.Errorf("INSERT of 3 rows into a reference table: %d rows affected, want 3 (as one MySQL)", n)
	}
	if _, err := db.Exec("INSERT INTO ref_t (id, name) VALUES (?, ?)", 4, "four"); err != nil {
		t.Fatal(err)
	}
	check("INSERT", "[[1 one] [2 two] [3 three] [4 four]]")

	res, err = db.Exec("UPDATE ref_t SET name = 'TWO' WHERE id = 2")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Errorf("UPDATE of 1 row of a reference table: %d rows affected, want 1", n)
	}
	if _, err := db.Exec("UPDATE ref_t SET name = ? WHERE id = ?", "FOUR", 4); err != nil {
		t.Fatal(err)
	}
	check("UPDATE", "[[1 one] [2 TWO] [3 three] [4 FOUR]]")

	mustExec(t, db, "DELETE FROM ref_t WHERE id = 3")
	check("DELETE", "[[1 one] [2 TWO] [4 FOUR]]")

	if got := fmt.Sprint(rows(t, db, "SELECT id, name FROM commerce.ref_t ORDER BY id")); got != "[[1 one] [2 TWO] [4 FOUR]]" {
		t.Errorf("SELECT FROM commerce.ref_t through the proxy: %s", got)
	}
	// Joined with a sharded (auto-vschema) table on any shard.
	mustExec(t, db, "CREATE TABLE refjoin_t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, ref_id INT NOT NULL)")
	for i := 0; i < 12; i++ {
		mustExec(t, db, fmt.Sprintf("INSERT INTO refjoin_t (ref_id) VALUES (%d)", []int{1, 2, 4}[i%3]))
	}
	if n := perShard(checkPlacement(t, "refjoin_t", "")); n[0] == 0 || n[1] == 0 {
		t.Errorf("refjoin_t rows per shard %v: want rows on both shards for the join", n)
	}
	got := rows(t, db, "SELECT r.name, COUNT(*) FROM refjoin_t j JOIN ref_t r ON r.id = j.ref_id GROUP BY r.id, r.name ORDER BY r.id")
	if fmt.Sprint(got) != "[[one 4] [TWO 4] [FOUR 4]]" {
		t.Errorf("join of a sharded table with ref_t: %v, want [[one 4] [TWO 4] [FOUR 4]]", got)
	}

	mustExec(t, db, "DROP TABLE ref_t", "DROP TABLE refjoin_t")
	for _, pl := range places {
		if _, ok := tableComment(t, servers[pl.server], pl.db, "ref_t"); ok {
			t.Errorf("DROP TABLE ref_t left it on the %s", pl.name)
		}
	}
}

// TestShowShardsAndVindexes: SHOW SHARDS / SHOW VITESS_SHARDS list every
// keyspace/shard with its address; SHOW VSCHEMA VINDEXES the hash vindex.
func TestShowShardsAndVindexes(t *testing.T) {
	p := start(t)
	db := p.DB(t, "customer")
	want := map[string]string{
		"commerce/0":                servers[0].Addr() + " commerce",
		"customer/" + shardNames[0]: servers[1].Addr() + " customer",
		"customer/" + shardNames[1]: servers[2].Addr() + " customer",
	}
	for _, stmt := range []string{"SHOW SHARDS", "SHOW VITESS_SHARDS", "show vitess_shards"} {
		got := map[string]string{}
		for _, r := range rows(t, db, stmt) {
			if len(r) < 3 {
				t.Fatalf("%s: row %v, want keyspace/shard, address, database", stmt, r)
			}
			got[r[0]] = r[1] + " " + r[2]
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", stmt, got, want)
		}
	}
	got := rows(t, db, "SHOW VSCHEMA VINDEXES")
	if fmt.Sprint(got) != "[[customer hash hash]]" {
		t.Errorf("SHOW VSCHEMA VINDEXES: %v, want [[customer hash hash]]", got)
	}
	// The configured tables are listed with their source.
	vs := vschemaTables(t, db)
	if g := fmt.Sprint(vs["ref_t"]); g != "[reference    vschema]" {
		t.Errorf("SHOW VSCHEMA TABLES ref_t: %s, want [reference    vschema]", g)
	}
}
