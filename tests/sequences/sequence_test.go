package sequences

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestExplicitNullZero: an explicit id is kept as given; NULL and 0 get ids
// from the sequence (MariaDB's default sql_mode, without
// NO_AUTO_VALUE_ON_ZERO), in text and prepared INSERTs, with and without a
// column list, and INSERT ... SET.
func TestExplicitNullZero(t *testing.T) {
	p := start(t)
	dropEverywhere(t, "exp_t", "exp_t_seq")
	db := p.DB(t, "customer")
	mustExec(t, db, "CREATE TABLE exp_t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	// The reference: a plain MariaDB in its default sql_mode.
	if m := one(t, direct(t, servers[3], ""), "SELECT @@GLOBAL.sql_mode"); strings.Contains(m, "NO_AUTO_VALUE_ON_ZERO") {
		t.Fatalf("reference sql_mode %q", m)
	}

	type ins struct {
		sql  string
		args []any
	}
	for _, s := range []ins{
		{"INSERT INTO exp_t (id, v) VALUES (424242, 'explicit')", nil},
		{"INSERT INTO exp_t (id, v) VALUES (NULL, 'null'), (0, 'zero'), (424243, 'explicit2')", nil},
		{"INSERT INTO exp_t VALUES (NULL, 'nocols-null'), (0, 'nocols-zero'), (525252, 'nocols-explicit')", nil},
		{"INSERT INTO exp_t SET v = 'set-omitted'", nil},
		{"INSERT INTO exp_t SET id = 0, v = 'set-zero'", nil},
		{"INSERT INTO exp_t (id, v) VALUES (?, ?)", []any{int64(626262), "ps-explicit"}},
		{"INSERT INTO exp_t (id, v) VALUES (?, ?)", []any{nil, "ps-null"}},
		{"INSERT INTO exp_t (id, v) VALUES (?, ?)", []any{int64(0), "ps-zero"}},
		{"INSERT INTO exp_t (id, v) VALUES (?, ?)", []any{uint64(0), "ps-uzero"}},
		{"INSERT INTO exp_t (id, v) VALUES (?, ?), (?, ?)", []any{int64(727272), "ps-explicit2", nil, "ps-null2"}},
	} {
		if _, err := db.Exec(s.sql, s.args...); err != nil {
			t.Errorf("%s %v: %v", s.sql, s.args, err)
		}
	}
	rs := checkPlacement(t, "exp_t", "v")
	got := map[string]int64{}
	for _, r := range rs {
		got[r.v] = r.id
	}
	explicit := map[string]int64{"explicit": 424242, "explicit2": 424243, "nocols-explicit": 525252, "ps-explicit": 626262, "ps-explicit2": 727272}
	for v, want := range explicit {
		if id, ok := got[v]; !ok || id != want {
			t.Errorf("row %s: id %d (present %v), want the explicit %d", v, id, ok, want)
		}
	}
	next, _ := seqNext(t, "exp_t_seq")
	generated := map[int64]string{}
	for _, v := range []string{"null", "zero", "nocols-null", "nocols-zero", "set-omitted", "set-zero", "ps-null", "ps-zero", "ps-uzero", "ps-null2"} {
		id, ok := got[v]
		switch {
		case !ok:
			t.Errorf("row %s missing", v)
		case id < 1 || id >= next:
			t.Errorf("row %s: id %d, want one from the sequence exp_t_seq (1 <= id < next_id %d)", v, id, next)
		case generated[id] != "":
			t.Errorf("rows %s and %s both got id %d", generated[id], v, id)
		}
		generated[id] = v
	}
	if len(rs) != 15 {
		t.Errorf("exp_t has %d rows, want 15", len(rs))
	}
	// Rows are found through the proxy by their ids.
	for v, id := range got {
		if r := one(t, db, "SELECT v FROM exp_t WHERE id = ?", id); r != v {
			t.Errorf("SELECT v FROM exp_t WHERE id = %d: %q, want %q", id, r, v)
		}
	}
}

// createMySeq (re)creates a Vitess-format sequence table in commerce.
func createMySeq(t *testing.T, name string, cache int) {
	t.Helper()
	if err := servers[0].Exec(context.Background(), "CREATE DATABASE IF NOT EXISTS commerce",
		"DROP TABLE IF EXISTS commerce."+name,
		"CREATE TABLE commerce."+name+" (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY(id)) COMMENT 'vitess_sequence'",
		fmt.Sprintf("INSERT INTO commerce.%s VALUES (0, 1, %d)", name, cache)); err != nil {
		t.Fatal(err)
	}
}

// TestVSchemaSequence: a vschema table with auto_increment from
// commerce.my_seq gets its ids from it; NEXT n VALUES / NEXT VALUE FOR /
// NEXTVAL() hand out ids of the same sequence.
func TestVSchemaSequence(t *testing.T) {
	createMySeq(t, "my_seq", 100)
	dropEverywhere(t, "my_t", "my_t_seq")
	p := start(t)
	db := p.DB(t, "customer")
	// The shards' table has no AUTO_INCREMENT: ids can only come from my_seq.
	mustExec(t, db, "CREATE TABLE my_t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	if _, ok := tableComment(t, servers[0], "commerce", "my_t_seq"); ok {
		t.Errorf("CREATE TABLE of a vschema table created commerce.my_t_seq: its sequence is my_seq")
	}
	if got, want := fmt.Sprint(vschemaTables(t, db)["my_t"]), "[sharded id hash id from commerce.my_seq vschema]"; got != want {
		t.Errorf("SHOW VSCHEMA TABLES my_t: %s, want %s", got, want)
	}
	mustExec(t, db, "INSERT INTO my_t (v) VALUES ('a'), ('b'), ('c')")
	if _, err := db.Exec("INSERT INTO my_t (id, v) VALUES (?, ?), (?, ?)", nil, "d", 0, "e"); err != nil {
		t.Fatal(err)
	}
	rs := checkPlacement(t, "my_t", "v")
	byV := map[string]int64{}
	for _, r := range rs {
		byV[r.v] = r.id
	}
	if got := fmt.Sprint(byV["a"], byV["b"], byV["c"], byV["d"], byV["e"]); got != "1 2 3 4 5" {
		t.Errorf("ids of a..e = %s, want 1 2 3 4 5 (my_seq starts at next_id 1)", got)
	}
	if next, _ := seqNext(t, "my_seq"); next != 101 {
		t.Errorf("my_seq next_id = %d after one block, want 101 (cache 100)", next)
	}

	x := oneInt(t, db, "SELECT NEXT 5 VALUES FROM commerce.my_seq")
	y := oneInt(t, db, "SELECT NEXT 5 VALUES FROM commerce.my_seq")
	if x <= 5 {
		t.Errorf("NEXT 5 VALUES = %d, but ids up to 5 were used", x)
	}
	if y < x+5 {
		t.Errorf("NEXT 5 VALUES gave %d then %d: the first batch is %d..%d", x, y, x, x+4)
	}
	z := oneInt(t, db, "SELECT NEXT ? VALUES FROM my_seq", 3) // prepared; unqualified: the global keyspace
	if z < y+5 {
		t.Errorf("NEXT ? VALUES (3) = %d, want >= %d", z, y+5)
	}
	nv := oneInt(t, db, "SELECT NEXT VALUE FOR my_seq")
	if nv < z+3 {
		t.Errorf("NEXT VALUE FOR my_seq = %d, want >= %d", nv, z+3)
	}
	nv2 := oneInt(t, db, "SELECT NEXTVAL(my_seq)")
	if nv2 <= nv {
		t.Errorf("NEXTVAL(my_seq) = %d after NEXT VALUE FOR gave %d", nv2, nv)
	}
	nv3 := oneInt(t, db, "SELECT NEXT VALUE FOR commerce.my_seq")
	if nv3 <= nv2 {
		t.Errorf("NEXT VALUE FOR commerce.my_seq = %d after %d", nv3, nv2)
	}
	mustExec(t, db, "INSERT INTO my_t (v) VALUES ('f')")
	if f := oneInt(t, db, "SELECT id FROM my_t WHERE v = 'f'"); f <= nv3 {
		t.Errorf("INSERT after NEXT VALUE FOR %d got id %d", nv3, f)
	}
	// A sequence of another keyspace is refused or unknown, not invented.
	if _, err := db.Exec("SELECT NEXT VALUE FOR nosuch_seq"); err == nil {
		t.Errorf("NEXT VALUE FOR a missing sequence table: no error")
	}
}

// TestNextValuesBatchAcrossProxies: SELECT NEXT n VALUES returns the first
// of n consecutive ids reserved for the caller (as in Vitess: the batch is
// first..first+n-1). With two proxies on the sequence, no id of a batch may
// be handed out by the other proxy.
func TestNextValuesBatchAcrossProxies(t *testing.T) {
	createMySeq(t, "batch_seq", 10)
	a := start(t)
	b := restart(t, a)
	da, dbb := a.DB(t, "customer"), b.DB(t, "customer")

	claimed := map[int64]string{}
	claim := func(who string, first, n int64) {
		for id := first; id < first+n; id++ {
			if prev, ok := claimed[id]; ok {
				t.Errorf("id %d handed out twice: %s and %s", id, prev, who)
			}
			claimed[id] = who
		}
	}
	a1 := oneInt(t, da, "SELECT NEXT 8 VALUES FROM batch_seq") // proxy a: block [1,11)
	claim("a: NEXT 8 VALUES = "+strconv.FormatInt(a1, 10), a1, 8)
	b1 := oneInt(t, dbb, "SELECT NEXT VALUE FOR batch_seq") // proxy b: block [11,21)
	claim("b: NEXT VALUE = "+strconv.FormatInt(b1, 10), b1, 1)
	a2 := oneInt(t, da, "SELECT NEXT 5 VALUES FROM batch_seq") // 2 left in a's block: not enough
	claim("a: NEXT 5 VALUES = "+strconv.FormatInt(a2, 10), a2, 5)
	for i := 0; i < 5; i++ {
		bi := oneInt(t, dbb, "SELECT NEXTVAL(batch_seq)")
		claim("b: NEXTVAL = "+strconv.FormatInt(bi, 10), bi, 1)
	}
	// And the same through INSERTs' view: a's next batch after b's block.
	a3 := oneInt(t, da, "SELECT NEXT 20 VALUES FROM batch_seq")
	claim("a: NEXT 20 VALUES = "+strconv.FormatInt(a3, 10), a3, 20)
	for i := 0; i < 10; i++ {
		bi := oneInt(t, dbb, "SELECT NEXTVAL(batch_seq)")
		claim("b: NEXTVAL = "+strconv.FormatInt(bi, 10), bi, 1)
	}
	next, _ := seqNext(t, "batch_seq")
	for id, who := range claimed {
		if id >= next {
			t.Errorf("id %d (%s) is not below batch_seq's next_id %d: not reserved", id, who, next)
		}
	}
}
