package sequences

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/internal/testenv"
)

// Issue 26: the OK packet's insert id and LAST_INSERT_ID() follow MariaDB's
// rules for every kind of id. The same statements run through the proxy and
// on one plain MariaDB (servers[3]) holding the same table; what each side
// reports is compared step by step, ids named by the row that holds them
// (ids differ between the sides: a sequence, or shards that number rows
// themselves, are not one server's AUTO_INCREMENT).

// idFamily is one way a table's ids are made through the proxy.
type idFamily struct {
	name  string
	table string // as the proxy's session (database customer) names it
	// colocated: rows with equal c are on one shard (or the keyspace is
	// unsharded), so UNIQUE (c, v) holds through the proxy as on one
	// server; without it the steps that rely on it are skipped.
	colocated bool
	// split: for shards that number rows themselves, shard c=A's explicit
	// ids are in the 5000000s and shard c=B's in the 9000000s, so that the
	// shards' counters never meet and each id names one row. (Explicit ids
	// decrease after the first of each range, so none is an id the
	// reference server generated after it.)
	split bool
}

// idStep is one statement of the scenario on connection conn: 1 and 2
// plain, 3 with clientFoundRows=true. {T} is the table, {A} and {B} values
// of c on the two shards, {XA}/{XB} prefixes of explicit ids meant for
// them. A statement with args is prepared (binary protocol).
type idStep struct {
	conn      int
	sql       string
	args      []any
	colocated bool // needs idFamily.colocated
}

var idSteps = []idStep{
	{conn: 1, sql: "INSERT INTO {T} (c, v) VALUES ({A}, 'a1')"},
	{conn: 1, sql: "INSERT INTO {T} (c, v) VALUES ({B}, 'b1'), ({A}, 'a2'), ({B}, 'b2')"},
	{conn: 2, sql: "INSERT INTO {T} (c, v) VALUES ({B}, 'b3')"},
	{conn: 1, sql: "INSERT INTO {T} (c, id, v) VALUES ({A}, {XA}900, 'a3')"},
	{conn: 1, sql: "INSERT INTO {T} (c, id, v) VALUES ({A}, {XA}800, 'a4'), ({B}, {XB}700, 'b4')"},
	{conn: 1, sql: "INSERT INTO {T} (c, id, v) VALUES ({A}, {XA}600, 'a5'), ({B}, NULL, 'b5'), ({A}, 0, 'a6')"},
	{conn: 1, sql: "INSERT INTO {T} (c, id, v) VALUES ({B}, DEFAULT, 'b6')"},
	{conn: 1, sql: "INSERT INTO {T} (c, id, v) VALUES ({A}, {XA}900, 'dup')"},
	{conn: 1, sql: "INSERT INTO {T} (c, v) VALUES (?, ?), (?, ?)", args: []any{"{A}", "a7", "{B}", "b7"}},
	{conn: 1, sql: "INSERT INTO {T} (c, id, v) VALUES (?, ?, ?)", args: []any{"{B}", "{XB}500", "b8"}},
	{conn: 2, sql: "INSERT INTO {T} (c, id, v) VALUES (?, ?, ?)", args: []any{"{A}", nil, "a8"}},
	{conn: 1, sql: "INSERT INTO {T} SET c = {B}, v = 'b9'"},
	{conn: 1, sql: "INSERT INTO {T} VALUES (NULL, {A}, 'a9', 0)"},
	{conn: 1, sql: "BEGIN"},
	{conn: 1, sql: "INSERT INTO {T} (c, v) VALUES ({B}, 'b10'), ({A}, 'a10')"},
	{conn: 1, sql: "ROLLBACK"},
	{conn: 1, sql: "START TRANSACTION"},
	{conn: 1, sql: "INSERT INTO {T} (c, v) VALUES (?, ?)", args: []any{"{A}", "a11"}},
	{conn: 1, sql: "COMMIT"},
	{conn: 1, sql: "UPDATE {T} SET v = 'a1x' WHERE c = {A} AND v = 'a1'"},
	{conn: 1, sql: "SELECT LAST_INSERT_ID(777000001)"},
	{conn: 2, sql: "SELECT LAST_INSERT_ID(?)", args: []any{"777000002"}},
	{conn: 1, sql: "UPDATE {T} SET n = LAST_INSERT_ID(n + 777000100) WHERE c = {B} AND v = 'b3'", colocated: true},
	{conn: 1, sql: "UPDATE {T} SET n = LAST_INSERT_ID(n + 777000150) WHERE c = {B} AND v = 'nothing'", colocated: true},
	{conn: 1, sql: "INSERT INTO {T} (c, v, n) VALUES ({A}, 'a12', LAST_INSERT_ID(777000200))"},
	{conn: 1, sql: "INSERT INTO {T} (c, id, v, n) VALUES ({A}, {XA}400, 'a13', LAST_INSERT_ID(777000300))"},
	{conn: 1, sql: "DELETE FROM {T} WHERE c = {A} AND v = 'a13' AND LAST_INSERT_ID(777000400)", colocated: true},
	{conn: 1, sql: "INSERT IGNORE INTO {T} (c, v) VALUES ({A}, 'a1x')", colocated: true},
	{conn: 1, sql: "INSERT IGNORE INTO {T} (c, v) VALUES ({A}, 'a1x'), ({A}, 'a14')", colocated: true},
	{conn: 1, sql: "INSERT IGNORE INTO {T} (c, v) VALUES ({B}, 'b11'), ({A}, 'a1x')", colocated: true},
	{conn: 1, sql: "INSERT IGNORE INTO {T} (c, id, v) VALUES ({A}, {XA}900, 'ignored')"},
	{conn: 1, sql: "INSERT INTO {T} (c, v) VALUES ({A}, 'a1x') ON DUPLICATE KEY UPDATE n = n + 1", colocated: true},
	{conn: 1, sql: "INSERT INTO {T} (c, v) VALUES ({A}, 'a15') ON DUPLICATE KEY UPDATE n = n + 1", colocated: true},
	{conn: 1, sql: "INSERT INTO {T} (c, v) VALUES ({A}, 'a2') ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)", colocated: true},
	{conn: 1, sql: "INSERT INTO {T} (c, v) VALUES ({A}, 'a1x'), ({A}, 'a16') ON DUPLICATE KEY UPDATE n = n + 1", colocated: true},
	{conn: 1, sql: "INSERT INTO {T} (c, id, v) VALUES ({A}, {XA}900, 'zz') ON DUPLICATE KEY UPDATE n = n + 1"},
	{conn: 3, sql: "INSERT INTO {T} (c, v) VALUES ({A}, 'a1x') ON DUPLICATE KEY UPDATE n = n", colocated: true},
	{conn: 3, sql: "INSERT INTO {T} (c, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE n = n", args: []any{"{B}", "b12"}, colocated: true},
	{conn: 3, sql: "INSERT INTO {T} (c, v) VALUES ({B}, 'b12'), ({A}, 'a17') ON DUPLICATE KEY UPDATE n = n", colocated: true},
	{conn: 3, sql: "INSERT INTO {T} (c, v) VALUES ({B}, 'b13')"},
	{conn: 1, sql: "REPLACE INTO {T} (c, v) VALUES ({B}, 'b14')"},
	{conn: 1, sql: "REPLACE INTO {T} (c, id, v) VALUES ({A}, {XA}800, 'a4r')"},
	{conn: 2, sql: "INSERT INTO {T} (c, v) VALUES ({B}, 'b15'), ({B}, 'b16'), ({A}, 'a18')"},
}

// idObs is what one side reported after one step.
type idObs struct {
	err  uint16 // MySQL error number, 0 for success
	ok   int64  // Result.LastInsertId(), -1 for a query
	rows string // a query's result
	lid  [4]int64
	plid int64 // prepared SELECT LAST_INSERT_ID() + ? on connection 1
}

// idSide runs the scenario on one side (a proxy or the reference server).
type idSide struct {
	name  string
	dbs   [4]*sql.DB // [1], [2]: plain, [3]: clientFoundRows
	table string
	obs   []idObs
	rowOf map[int64]string // id -> v at the end
	final []string         // "c|v|n" of every row at the end, sorted
}

func (s *idSide) run(t *testing.T, f idFamily, steps []idStep, a, b int64) {
	t.Helper()
	ctx := context.Background()
	var conns [4]*sql.Conn
	for i := 1; i <= 3; i++ {
		c, err := s.dbs[i].Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	r := strings.NewReplacer("{T}", s.table, "{A}", strconv.FormatInt(a, 10), "{B}", strconv.FormatInt(b, 10),
		"{XA}", "5000", "{XB}", map[bool]string{true: "9000", false: "5000"}[f.split])
	for _, st := range steps {
		q := r.Replace(st.sql)
		args := make([]any, len(st.args))
		for i, v := range st.args {
			if str, ok := v.(string); ok {
				str = r.Replace(str)
				if n, err := strconv.ParseInt(str, 10, 64); err == nil {
					args[i] = n
					continue
				}
				args[i] = str
				continue
			}
			args[i] = v
		}
		o := idObs{ok: -1}
		if strings.HasPrefix(q, "SELECT") {
			rs, err := conns[st.conn].QueryContext(ctx, q, args...)
			if err == nil {
				var vals []string
				for rs.Next() {
					var v sql.NullString
					if err := rs.Scan(&v); err != nil {
						t.Fatal(err)
					}
					vals = append(vals, v.String)
				}
				err = rs.Err()
				rs.Close()
				o.rows = strings.Join(vals, ",")
			}
			o.err = errNumber(t, err)
		} else {
			res, err := conns[st.conn].ExecContext(ctx, q, args...)
			o.err = errNumber(t, err)
			if err == nil {
				if o.ok, err = res.LastInsertId(); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := 1; i <= 3; i++ {
			o.lid[i] = oneInt(t, conns[i], "SELECT LAST_INSERT_ID()")
		}
		o.plid = oneInt(t, conns[1], "SELECT LAST_INSERT_ID() + ?", 0)
		s.obs = append(s.obs, o)
	}
	s.rowOf = map[int64]string{}
	for _, row := range rows(t, s.dbs[1], "SELECT id, c, v, n FROM "+s.table) {
		id, _ := strconv.ParseInt(row[0], 10, 64)
		if prev, dup := s.rowOf[id]; dup {
			t.Errorf("%s: id %d names rows %s and %s", s.name, id, prev, row[2])
		}
		s.rowOf[id] = row[2]
		c := map[string]string{strconv.FormatInt(a, 10): "A", strconv.FormatInt(b, 10): "B"}[row[1]]
		s.final = append(s.final, c+"|"+row[2]+"|"+row[3])
	}
	sort.Strings(s.final)
}

// errNumber returns the MySQL error number of err (0 for nil); another
// error fails the test.
func errNumber(t *testing.T, err error) uint16 {
	t.Helper()
	if err == nil {
		return 0
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Fatalf("not a MySQL error: %v", err)
	}
	return me.Number
}

// render describes step i as names: an id is the v of its row, else the
// first step that reported it ("@3"), so rolled-back and LAST_INSERT_ID(expr)
// values compare too.
func (s *idSide) render(i int) string {
	seen := map[int64]int{}
	for k := 0; k <= i; k++ {
		for _, id := range append([]int64{s.obs[k].ok}, s.obs[k].lid[1:]...) {
			if _, ok := seen[id]; !ok {
				seen[id] = k + 1
			}
		}
	}
	name := func(id int64) string {
		switch {
		case id == 0:
			return "0"
		case id < 0:
			return "-"
		}
		if v, ok := s.rowOf[id]; ok {
			return v
		}
		return "@" + strconv.Itoa(seen[id])
	}
	o := s.obs[i]
	if o.err != 0 {
		return fmt.Sprintf("error %d; LAST_INSERT_ID() %s %s %s", o.err, name(o.lid[1]), name(o.lid[2]), name(o.lid[3]))
	}
	rowsText := ""
	if o.rows != "" {
		var names []string
		for _, v := range strings.Split(o.rows, ",") {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				names = append(names, v)
				continue
			}
			names = append(names, name(n))
		}
		rowsText = " rows [" + strings.Join(names, ",") + "]"
	}
	prepared := ""
	if o.plid != o.lid[1] {
		prepared = fmt.Sprintf(" (prepared: %s)", name(o.plid))
	}
	return fmt.Sprintf("ok id %s%s; LAST_INSERT_ID() %s%s %s %s", name(o.ok), rowsText, name(o.lid[1]), prepared, name(o.lid[2]), name(o.lid[3]))
}

// runIDFamily plays idSteps through proxy (database customer) and on the
// reference server, and compares them.
func runIDFamily(t *testing.T, f idFamily, proxy func(params ...string) *sql.DB) {
	t.Helper()
	ctx := context.Background()
	refTable := f.table[strings.LastIndexByte(f.table, '.')+1:]
	if err := servers[3].Exec(ctx, "CREATE DATABASE IF NOT EXISTS ref", "DROP TABLE IF EXISTS ref."+refTable,
		fmt.Sprintf(idCreate, "ref."+refTable)); err != nil {
		t.Fatal(err)
	}
	refDB := func(params ...string) *sql.DB {
		dsn := "root@tcp(" + servers[3].Addr() + ")/ref"
		if len(params) > 0 {
			dsn += "?" + strings.Join(params, "&")
		}
		h, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	var steps []idStep
	for _, st := range idSteps {
		if !st.colocated || f.colocated {
			steps = append(steps, st)
		}
	}
	a, b := shardKeys(t)
	ref := &idSide{name: "mariadb", table: refTable, dbs: [4]*sql.DB{nil, refDB(), refDB(), refDB("clientFoundRows=true")}}
	prx := &idSide{name: "proxy", table: f.table, dbs: [4]*sql.DB{nil, proxy(), proxy(), proxy("clientFoundRows=true")}}
	ref.run(t, f, steps, a, b)
	prx.run(t, f, steps, a, b)
	for i, st := range steps {
		if want, got := ref.render(i), prx.render(i); got != want {
			t.Errorf("%s: after step %d (conn %d: %s %v):\n  proxy:   %s\n  mariadb: %s", f.name, i+1, st.conn, st.sql, st.args, got, want)
		}
	}
	if got, want := strings.Join(prx.final, " "), strings.Join(ref.final, " "); got != want {
		t.Errorf("%s: rows (c|v|n) through the proxy:\n  %s\non the reference:\n  %s", f.name, got, want)
	}
}

// TestInsertIDRules: sequence ids (a table auto-vschema derived, and one
// the vschema lists without auto_increment), ids the shards number
// themselves (a keyspace without auto_vschema), and an unsharded keyspace,
// each against one MariaDB: one-row, multi-row and multi-shard INSERTs,
// explicit ids, NULL/0/DEFAULT, failures, transactions, text and binary
// protocol, INSERT IGNORE, ON DUPLICATE KEY UPDATE (also with found rows),
// REPLACE and LAST_INSERT_ID(expr).
func TestInsertIDRules(t *testing.T) {
	for _, tbl := range []string{"iq_seq", "iq_ov", "iq_sa"} {
		dropEverywhere(t, tbl, tbl+"_seq")
	}
	dropEverywhere(t, "iq_u")
	p := start(t)
	db := p.DB(t, "customer")
	mustExec(t, db, fmt.Sprintf(idCreate, "iq_seq"), fmt.Sprintf(idCreate, "iq_ov"), fmt.Sprintf(idCreate, "commerce.iq_u"))
	vs := vschemaTables(t, db)
	for tbl, want := range map[string]string{
		"iq_seq": "[sharded id hash id from commerce.iq_seq_seq auto]",
		"iq_ov":  "[sharded c hash id from commerce.iq_ov_seq vschema+auto]",
	} {
		if got := fmt.Sprint(vs[tbl]); got != want {
			t.Errorf("SHOW VSCHEMA TABLES %s: %s, want %s", tbl, got, want)
		}
	}

	// Ids the shards number themselves: a keyspace without auto_vschema
	// whose vschema lists the table without auto_increment. Shard 80- counts
	// from 1000000, so ids name one row through the proxy.
	q := testenv.StartProxy(t, testenv.Topology{Global: servers[0], Shards: servers[1:3], NoAutoVSchema: true,
		VSchema: "vindexes:\n  hash: {type: hash}\ntables:\n  iq_sa:\n    column_vindexes: [{column: c, name: hash}]\n"})
	mustExec(t, q.DB(t, "customer"), fmt.Sprintf(idCreate, "iq_sa"))
	if err := servers[2].Exec(context.Background(), "ALTER TABLE customer.iq_sa AUTO_INCREMENT = 1000000"); err != nil {
		t.Fatal(err)
	}

	for _, f := range []struct {
		idFamily
		p *testenv.Proxy
	}{
		{idFamily{name: "sequence of an auto-vschema table", table: "iq_seq"}, p},
		{idFamily{name: "sequence of a listed table", table: "iq_ov", colocated: true}, p},
		{idFamily{name: "shards' AUTO_INCREMENT", table: "iq_sa", colocated: true, split: true}, q},
		{idFamily{name: "unsharded keyspace", table: "commerce.iq_u", colocated: true}, p},
	} {
		t.Run(f.table, func(t *testing.T) {
			runIDFamily(t, f.idFamily, func(params ...string) *sql.DB { return f.p.DB(t, "customer", params...) })
		})
	}
	// Rows are on every shard, where the hash vindex puts them, and the
	// sequences' ids are unique across shards.
	checkPlacement(t, "iq_seq", "v")
	checkKeyPlacement(t, "iq_ov", "c", len(readShards(t, "iq_ov", "")))
	for _, tbl := range []string{"iq_seq", "iq_ov", "iq_sa"} {
		if n := perShard(readShards(t, tbl, "")); n[0] == 0 || n[1] == 0 {
			t.Errorf("%s: rows per shard %v, want rows on both", tbl, n)
		}
	}
	seen := map[int64]bool{}
	for _, r := range readShards(t, "iq_ov", "") {
		if seen[r.id] {
			t.Errorf("iq_ov: id %d on both shards", r.id)
		}
		seen[r.id] = true
	}
}

// TestLastInsertIDExprAcrossShards: LAST_INSERT_ID(expr) in a statement
// that reaches several shards has no last evaluation: refused with 1235,
// and LAST_INSERT_ID() is left as it was; on one shard it works.
func TestLastInsertIDExprAcrossShards(t *testing.T) {
	dropEverywhere(t, "iq_x", "iq_x_seq")
	p := start(t)
	db := p.DB(t, "customer")
	mustExec(t, db, fmt.Sprintf(idCreate, "iq_x"))
	a, b := shardKeys(t)
	mustExec(t, db, fmt.Sprintf("INSERT INTO iq_x (c, v) VALUES (%d, 'a'), (%d, 'b')", a, b))
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustExec(t, c, "SELECT LAST_INSERT_ID(123456789)")
	for _, q := range []string{
		"UPDATE iq_x SET n = LAST_INSERT_ID(n + 1)",
		"SELECT LAST_INSERT_ID(id) FROM iq_x ORDER BY id",
		fmt.Sprintf("INSERT INTO iq_x (c, v, n) VALUES (%d, 'x', LAST_INSERT_ID(5)), (%d, 'y', 0)", a, b),
		"SELECT MAX(LAST_INSERT_ID(id)) FROM iq_x",
		"SET @x = LAST_INSERT_ID(7)",
	} {
		_, err := c.ExecContext(context.Background(), q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1235 || !strings.Contains(me.Message, "LAST_INSERT_ID(expr)") {
			t.Errorf("%s: %v, want error 1235 naming LAST_INSERT_ID(expr)", q, err)
		}
		if got := oneInt(t, c, "SELECT LAST_INSERT_ID()"); got != 123456789 {
			t.Errorf("after %s: LAST_INSERT_ID() = %d, want 123456789 (unchanged)", q, got)
		}
	}
	id := oneInt(t, c, "SELECT id FROM iq_x WHERE v = 'b'")
	if got := one(t, c, "SELECT LAST_INSERT_ID(id) FROM iq_x WHERE id = ?", id); got != strconv.FormatInt(id, 10) {
		t.Errorf("SELECT LAST_INSERT_ID(id) ... WHERE id = %d: %s", id, got)
	}
	if got := oneInt(t, c, "SELECT LAST_INSERT_ID()"); got != id {
		t.Errorf("after SELECT LAST_INSERT_ID(id) on one shard: LAST_INSERT_ID() = %d, want %d", got, id)
	}
}
