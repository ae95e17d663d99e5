package sequences

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// lidStep is one statement of the LAST_INSERT_ID scenario and what MySQL
// reports after it, as names of rows (the v column) or "0".
type lidStep struct {
	conn int // 1 or 2
	sql  string
	args []any // prepared when set
	err  bool  // the statement fails (duplicate key)
	// ok: Result.LastInsertId() (the OK packet); c1, c2: SELECT
	// LAST_INSERT_ID() on connection 1 and 2 afterwards.
	ok, c1, c2 string
}

var lidSteps = []lidStep{
	{conn: 1, sql: "INSERT INTO lid_t (v) VALUES ('a'), ('b'), ('c')", ok: "a", c1: "a", c2: "0"},
	{conn: 2, sql: "INSERT INTO lid_t (v) VALUES ('d')", ok: "d", c1: "a", c2: "d"},
	// An explicit id is not generated: LAST_INSERT_ID() keeps its value
	// (the OK packet reports the id stored, as MySQL's does).
	{conn: 1, sql: "INSERT INTO lid_t (id, v) VALUES (1000000, 'e')", ok: "e", c1: "a", c2: "d"},
	{conn: 1, sql: "INSERT INTO lid_t (id, v) VALUES (NULL, 'f'), (0, 'g')", ok: "f", c1: "f", c2: "d"},
	{conn: 1, sql: "INSERT INTO lid_t (id, v) VALUES (2000000, 'h'), (NULL, 'i')", ok: "i", c1: "i", c2: "d"},
	{conn: 1, sql: "UPDATE lid_t SET v = 'x' WHERE v = 'nothing'", ok: "0", c1: "i", c2: "d"},
	{conn: 1, sql: "INSERT INTO lid_t (v) VALUES (?), (?)", args: []any{"j", "k"}, ok: "j", c1: "j", c2: "d"},
	{conn: 2, sql: "INSERT INTO lid_t (id, v) VALUES (?, ?)", args: []any{nil, "l"}, ok: "l", c1: "j", c2: "l"},
	{conn: 1, sql: "INSERT INTO lid_t (id, v) VALUES (?, ?)", args: []any{int64(3000000), "m"}, ok: "m", c1: "j", c2: "l"},
	{conn: 1, sql: "INSERT INTO lid_t (id, v) VALUES (1000000, 'dup')", err: true, c1: "j", c2: "l"},
	{conn: 2, sql: "INSERT INTO lid_t (v) VALUES ('n'), ('o'), ('p'), ('q')", ok: "n", c1: "j", c2: "n"},
}

// lidObserved is what one side reported for each step, as raw ids.
type lidObserved struct {
	ok, c1, c2 []int64
	errs       []error
	rowID      map[int64]string // id -> v at the end
	prepC1     int64            // SELECT LAST_INSERT_ID() + ? (prepared) on connection 1 at the end
}

// runLID plays lidSteps on two connections of db.
func runLID(t *testing.T, db *sql.DB) lidObserved {
	t.Helper()
	ctx := context.Background()
	var conns [3]*sql.Conn
	for i := 1; i <= 2; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	var o lidObserved
	for _, st := range lidSteps {
		res, err := conns[st.conn].ExecContext(ctx, st.sql, st.args...)
		o.errs = append(o.errs, err)
		var ok int64
		if err == nil {
			if ok, err = res.LastInsertId(); err != nil {
				t.Fatal(err)
			}
		}
		o.ok = append(o.ok, ok)
		o.c1 = append(o.c1, oneInt(t, conns[1], "SELECT LAST_INSERT_ID()"))
		o.c2 = append(o.c2, oneInt(t, conns[2], "SELECT LAST_INSERT_ID()"))
	}
	o.prepC1 = oneInt(t, conns[1], "SELECT LAST_INSERT_ID() + ?", 0)
	o.rowID = map[int64]string{}
	for _, r := range rows(t, db, "SELECT id, v FROM lid_t") {
		id, _ := strconv.ParseInt(r[0], 10, 64)
		o.rowID[id] = r[1]
	}
	return o
}

// name renders an id as the row that has it.
func (o *lidObserved) name(id int64) string {
	if id == 0 {
		return "0"
	}
	if v, ok := o.rowID[id]; ok {
		return v
	}
	return "id " + strconv.FormatInt(id, 10) + " (no such row)"
}

// TestLastInsertID: LAST_INSERT_ID() and the OK packet's last-insert-id are
// per session and report the first id a statement generated, as on a plain
// MariaDB with an AUTO_INCREMENT table that runs the same statements.
func TestLastInsertID(t *testing.T) {
	p := start(t)
	dropEverywhere(t, "lid_t", "lid_t_seq")
	const create = "CREATE TABLE lid_t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10) NOT NULL)"
	db := p.DB(t, "customer")
	mustExec(t, db, create)
	if err := servers[3].Exec(context.Background(), "CREATE DATABASE IF NOT EXISTS ref", "DROP TABLE IF EXISTS ref.lid_t", "CREATE TABLE ref."+create[len("CREATE TABLE "):]); err != nil {
		t.Fatal(err)
	}
	ref, err := sql.Open("mysql", "root@tcp("+servers[3].Addr()+")/ref")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()

	sides := map[string]lidObserved{"mariadb": runLID(t, ref), "proxy": runLID(t, db)}
	for _, side := range []string{"mariadb", "proxy"} {
		o := sides[side]
		for i, st := range lidSteps {
			if (o.errs[i] != nil) != st.err {
				t.Errorf("%s: step %d %s: error %v, want error: %v", side, i+1, st.sql, o.errs[i], st.err)
			}
			got := fmt.Sprintf("ok=%s c1=%s c2=%s", o.name(o.ok[i]), o.name(o.c1[i]), o.name(o.c2[i]))
			if st.err {
				got = fmt.Sprintf("ok=- c1=%s c2=%s", o.name(o.c1[i]), o.name(o.c2[i]))
			}
			want := fmt.Sprintf("ok=%s c1=%s c2=%s", st.ok, st.c1, st.c2)
			if st.err {
				want = fmt.Sprintf("ok=- c1=%s c2=%s", st.c1, st.c2)
			}
			if got != want {
				t.Errorf("%s: after step %d (conn %d: %s %v): %s, want %s", side, i+1, st.conn, st.sql, st.args, got, want)
			}
		}
		if want := o.c1[len(o.c1)-1]; o.prepC1 != want {
			t.Errorf("%s: prepared SELECT LAST_INSERT_ID() + 0 = %d, want %d", side, o.prepC1, want)
		}
		// A multi-row INSERT's ids increase in row order from the first.
		ids := map[string]int64{}
		for id, v := range o.rowID {
			ids[v] = id
		}
		for _, seq := range []string{"abc", "fg", "jk", "nopq"} {
			for k := 1; k < len(seq); k++ {
				if a, b := ids[seq[k-1:k]], ids[seq[k:k+1]]; b <= a {
					t.Errorf("%s: row %c has id %d after row %c with id %d", side, seq[k], b, seq[k-1], a)
				}
			}
		}
		var names []string
		for _, v := range o.rowID {
			names = append(names, v)
		}
		if len(o.rowID) != 17 {
			t.Errorf("%s: %d rows (%s), want 17", side, len(o.rowID), strings.Join(names, ","))
		}
	}
	// The proxy's rows are where the hash vindex puts them.
	checkPlacement(t, "lid_t", "v")
}

// TestLastInsertIDInStatements: the classic parent/child pattern, where
// later statements use LAST_INSERT_ID() as a value, sees the id the proxy
// generated for the session (the shards' own LAST_INSERT_ID() is of some
// pooled backend connection).
func TestLastInsertIDInStatements(t *testing.T) {
	dropEverywhere(t, "li_parent", "li_parent_seq")
	dropEverywhere(t, "li_child", "li_child_seq")
	p := start(t)
	db := p.DB(t, "customer")
	mustExec(t, db,
		"CREATE TABLE li_parent (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10) NOT NULL)",
		"CREATE TABLE li_child (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, parent_id BIGINT NOT NULL, v VARCHAR(10) NOT NULL)")
	// Move the parents' ids away from the children's, so a wrong
	// LAST_INSERT_ID() cannot match by chance.
	mustExec(t, direct(t, servers[0], "commerce"), "UPDATE li_parent_seq SET next_id = 5000 WHERE id = 0")
	ctx := context.Background()
	// On a plain MariaDB the pattern works: the reference for what follows.
	if err := servers[3].Exec(ctx, "CREATE DATABASE IF NOT EXISTS ref", "DROP TABLE IF EXISTS ref.li_parent, ref.li_child",
		"CREATE TABLE ref.li_parent (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10) NOT NULL) AUTO_INCREMENT = 5000",
		"CREATE TABLE ref.li_child (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, parent_id BIGINT NOT NULL, v VARCHAR(10) NOT NULL)",
		"INSERT INTO ref.li_parent (v) VALUES ('p')", "INSERT INTO ref.li_child (parent_id, v) VALUES (LAST_INSERT_ID(), 'c')"); err != nil {
		t.Fatal(err)
	}
	if got := oneInt(t, direct(t, servers[3], "ref"), "SELECT parent_id FROM li_child WHERE v = 'c'"); got != 5000 {
		t.Fatalf("reference MariaDB: child's parent_id %d, want 5000", got)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 4; i++ {
		res, err := c.ExecContext(ctx, fmt.Sprintf("INSERT INTO li_parent (v) VALUES ('p%d')", i))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := res.LastInsertId()
		if got := oneInt(t, c, "SELECT id FROM li_parent WHERE v = ?", fmt.Sprintf("p%d", i)); got != pid || pid < 5000 {
			t.Fatalf("parent p%d: id %d, LastInsertId %d", i, got, pid)
		}
		if _, err := c.ExecContext(ctx, fmt.Sprintf("INSERT INTO li_child (parent_id, v) VALUES (LAST_INSERT_ID(), 'c%d')", i)); err != nil {
			t.Errorf("INSERT INTO li_child (parent_id, v) VALUES (LAST_INSERT_ID(), ...): %v", err)
			continue
		}
		if got := oneInt(t, c, "SELECT parent_id FROM li_child WHERE v = ?", fmt.Sprintf("c%d", i)); got != pid {
			t.Errorf("child c%d: parent_id = %d, want LAST_INSERT_ID() = %d (the parent's id)", i, got, pid)
		}
		// LAST_INSERT_ID() is now the child's id; a parent row is found by it only by the child's id.
		cid := oneInt(t, c, "SELECT id FROM li_child WHERE v = ?", fmt.Sprintf("c%d", i))
		if got := oneInt(t, c, "SELECT LAST_INSERT_ID()"); got != cid {
			t.Errorf("after the child insert LAST_INSERT_ID() = %d, want the child's id %d", got, cid)
		}
		if got := one(t, c, "SELECT v FROM li_child WHERE id = LAST_INSERT_ID()"); got != fmt.Sprintf("c%d", i) {
			t.Errorf("SELECT v FROM li_child WHERE id = LAST_INSERT_ID(): %q, want c%d", got, i)
		}
		res, err = c.ExecContext(ctx, "UPDATE li_child SET v = CONCAT(v, 'u') WHERE id = LAST_INSERT_ID()")
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Errorf("UPDATE ... WHERE id = LAST_INSERT_ID(): %d rows, want 1", n)
		}
	}
	checkPlacement(t, "li_child", "parent_id")
}
