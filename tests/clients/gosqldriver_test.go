package clients

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// goDriverModes: prepared statements on the server (the driver's default)
// and parameters interpolated by the driver into text queries.
var goDriverModes = []struct{ name, param string }{
	{"serverPrepared", "interpolateParams=false"},
	{"interpolateParams", "interpolateParams=true"},
}

// TestGoSQLDriver drives github.com/go-sql-driver/mysql against the proxy and
// the plain reference server, in both parameter modes.
func TestGoSQLDriver(t *testing.T) {
	p := start(t)
	idA, idB := idOnShard(t, 0, 3000), idOnShard(t, 1, 3000)
	for _, tg := range targets(t, p) {
		for _, m := range goDriverModes {
			sfx := "ip"
			if m.name == "serverPrepared" {
				sfx = "sp"
			}
			t.Run(tg.name+"/"+m.name, func(t *testing.T) {
				g := goDriver{tg: tg, param: m.param, sfx: sfx, idA: idA, idB: idB}
				t.Run("types", g.types)
				t.Run("multiStatements", g.multiStatements)
				t.Run("results", g.results)
				t.Run("cancel", g.cancel)
				t.Run("session", g.session)
			})
		}
	}
}

type goDriver struct {
	tg       target
	param    string // interpolateParams=...
	sfx      string // table name suffix
	idA, idB int64  // ids on shard 0 and shard 1
}

func (g goDriver) db(t *testing.T, params ...string) *sql.DB {
	return open(t, g.tg.addr, "customer", append([]string{g.param, "parseTime=true", "loc=UTC"}, params...)...)
}

// types: every type as a parameter (binary protocol with server-side
// prepared statements, escaped literals with interpolateParams) and in
// results of both protocols.
func (g goDriver) types(t *testing.T) {
	db := g.db(t)
	table := "gd_types_" + g.sfx
	mustExec(t, db, "DROP TABLE IF EXISTS "+table,
		"CREATE TABLE "+table+" (id BIGINT NOT NULL PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, i INT, iu INT UNSIGNED, b BIGINT, bu BIGINT UNSIGNED,"+
			" dec1 DECIMAL(20,6), f FLOAT, dbl DOUBLE, d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6),"+
			" vc VARCHAR(100), tx TEXT, bl BLOB, bn BINARY(4), js JSON, n INT NULL) DEFAULT CHARSET=utf8mb4")

	type row struct {
		id       int64
		ti       int8
		tiu      uint8
		i        int32
		iu       uint32
		b        int64
		bu       uint64
		dec      string
		f        float32
		dbl      float64
		d, dt    time.Time
		ts       time.Time
		tm       string
		vc, tx   string
		bl, bn   []byte
		js       string
		n        sql.NullInt64
		nullable []any
	}
	want := row{
		id: g.idA, ti: -128, tiu: 255, i: math.MinInt32, iu: math.MaxUint32, b: math.MinInt64, bu: math.MaxUint64,
		dec: "-12345678901234.123456", f: 1.5, dbl: math.Pi,
		d:  time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		dt: time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC),
		ts: time.Date(2023, 7, 1, 1, 2, 3, 654321000, time.UTC),
		tm: "25:01:02.345678", vc: "héllo 😀 'q' \"dq\" \\ back", tx: strings.Repeat("абв😀xyz ", 1000),
		bl: []byte{0, 1, 2, 0xff, 0x80, 0x27, 0x5c, 0x22, 0x0a, 0x0d, 0x1a}, bn: []byte{0, 0xfe, 0x41, 0},
		js: `{"a": 1, "b": [true, null, "x😀"]}`,
	}
	cols := "id, ti, tiu, i, iu, b, bu, dec1, f, dbl, d, dt, ts, tm, vc, tx, bl, bn, js, n"
	ins := "INSERT INTO " + table + " (" + cols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	if res := exec1(t, db, ins, want.id, want.ti, want.tiu, want.i, want.iu, want.b, want.bu, want.dec, want.f, want.dbl,
		want.d, want.dt, want.ts, want.tm, want.vc, want.tx, want.bl, want.bn, want.js, nil); res != nil {
		n, _ := res.RowsAffected()
		eq(t, "INSERT all types: RowsAffected", n, int64(1))
	}
	nulls := make([]any, 20)
	nulls[0] = g.idB
	if res := exec1(t, db, ins, nulls...); res != nil {
		n, _ := res.RowsAffected()
		eq(t, "INSERT NULLs: RowsAffected", n, int64(1))
	}

	read := func(what string, q string, args ...any) {
		t.Helper()
		ctx, cancel := ctx30()
		defer cancel()
		rs, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		defer rs.Close()
		if !rs.Next() {
			t.Errorf("%s: no row (%v)", what, rs.Err())
			return
		}
		var r row
		if err := rs.Scan(&r.id, &r.ti, &r.tiu, &r.i, &r.iu, &r.b, &r.bu, &r.dec, &r.f, &r.dbl, &r.d, &r.dt, &r.ts, &r.tm,
			&r.vc, &r.tx, &r.bl, &r.bn, &r.js, &r.n); err != nil {
			t.Errorf("%s: Scan: %v", what, err)
			return
		}
		check := func(col string, got, want any) {
			t.Helper()
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
				t.Errorf("%s: column %s: got %.200q, want %.200q", what, col, fmt.Sprintf("%#v", got), fmt.Sprintf("%#v", want))
			}
		}
		check("id", r.id, want.id)
		check("ti", r.ti, want.ti)
		check("tiu", r.tiu, want.tiu)
		check("i", r.i, want.i)
		check("iu", r.iu, want.iu)
		check("b", r.b, want.b)
		check("bu", r.bu, want.bu)
		check("dec1", r.dec, want.dec)
		check("f", r.f, want.f)
		check("dbl", r.dbl, want.dbl)
		check("d", r.d.String(), want.d.String())
		check("dt", r.dt.String(), want.dt.String())
		check("ts", r.ts.String(), want.ts.String())
		check("tm", r.tm, want.tm)
		check("vc", r.vc, want.vc)
		check("tx", r.tx, want.tx)
		check("bl", r.bl, want.bl)
		check("bn", r.bn, want.bn)
		check("js", r.js, want.js)
		check("n", r.n, sql.NullInt64{})
		if rs.Next() {
			t.Errorf("%s: more than one row", what)
		}
	}
	sel := "SELECT " + cols + " FROM " + table
	read("SELECT with a parameter", sel+" WHERE id = ?", g.idA)
	read("SELECT as text", fmt.Sprintf("%s WHERE id = %d", sel, g.idA))
	// A cross-shard scatter, merged by the proxy.
	read("SELECT scatter", sel+" WHERE vc = ?", want.vc)

	// The row of NULLs, read into RawBytes: nil for every column.
	_, r, err := queryRows(db, sel+" WHERE id = ?", g.idB)
	switch {
	case err != nil:
		t.Errorf("SELECT NULL row: %v", err)
	case len(r) != 1:
		t.Errorf("SELECT NULL row: %d rows", len(r))
	default:
		if got := strings.Join(r[0][1:], ","); got != strings.TrimSuffix(strings.Repeat("NULL,", 19), ",") {
			t.Errorf("SELECT NULL row: got %s", got)
		}
	}

	// Stored values as the server sees them.
	_, r, err = queryRows(db, "SELECT HEX(vc), HEX(bl), CAST(dt AS CHAR), CAST(ts AS CHAR), CAST(bu AS CHAR) FROM "+table+" WHERE id = ?", g.idA)
	if err != nil || len(r) != 1 {
		t.Errorf("SELECT HEX(...): %v %v", r, err)
	} else {
		eq(t, "HEX(vc)", r[0][0], strings.ToUpper(fmt.Sprintf("%x", want.vc)))
		eq(t, "HEX(bl)", r[0][1], strings.ToUpper(fmt.Sprintf("%x", want.bl)))
		eq(t, "CAST(dt AS CHAR)", r[0][2], "2024-02-29 13:14:15.123456")
		eq(t, "CAST(ts AS CHAR)", r[0][3], "2023-07-01 01:02:03.654321")
		eq(t, "CAST(bu AS CHAR)", r[0][4], "18446744073709551615")
	}

	// A statement prepared once, executed with each shard's id and with
	// parameters of changing types.
	st, err := db.Prepare("SELECT id, vc FROM " + table + " WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, arg := range []any{g.idA, fmt.Sprint(g.idB), float64(g.idA), uint64(g.idB)} {
		var id int64
		var vc sql.NullString
		if err := st.QueryRow(arg).Scan(&id, &vc); err != nil {
			t.Errorf("prepared SELECT with %T %v: %v", arg, arg, err)
			continue
		}
		want := g.idA
		if fmt.Sprint(arg) == fmt.Sprint(g.idB) {
			want = g.idB
		}
		eq(t, fmt.Sprintf("prepared SELECT with %T %v", arg, arg), id, want)
	}

	// Large parameters (more than one 16 MB packet is too slow here: 1 MB).
	big := bytes.Repeat([]byte{0, 1, 0xfe, 0xff, '\'', '\\'}, 1<<20/6)
	exec1(t, db, "UPDATE "+table+" SET tx = NULL, bl = ? WHERE id = ?", big[:60000], g.idB)
	var got []byte
	if err := db.QueryRow("SELECT bl FROM "+table+" WHERE id = ?", g.idB).Scan(&got); err != nil {
		t.Errorf("SELECT large blob: %v", err)
	} else if !bytes.Equal(got, big[:60000]) {
		t.Errorf("large blob: got %d bytes, want %d (not equal)", len(got), 60000)
	}
}

// multiStatements: several statements in one Exec and one Query
// (CLIENT_MULTI_STATEMENTS), one result each, over both shards.
func (g goDriver) multiStatements(t *testing.T) {
	db := g.db(t, "multiStatements=true")
	table := "gd_multi_" + g.sfx
	mustExec(t, db, "DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20))")
	c := conn(t, db)
	err := c.Raw(func(dc any) error {
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("driver connection %T is not an ExecerContext", dc)
		}
		res, err := ex.ExecContext(context.Background(), fmt.Sprintf(
			"INSERT INTO %[1]s (id, v) VALUES (%[2]d, 'a'); INSERT INTO %[1]s (id, v) VALUES (%[3]d, 'b'), (1, 'c'), (2, 'd'); UPDATE %[1]s SET v = 'x' WHERE id IN (%[2]d, %[3]d); DELETE FROM %[1]s WHERE id = 424242",
			table, g.idA, g.idB), nil)
		if err != nil {
			return fmt.Errorf("multi-statement Exec: %w", err)
		}
		mr, ok := res.(mysql.Result)
		if !ok {
			return fmt.Errorf("result %T is not a mysql.Result", res)
		}
		eq(t, "multi-statement Exec: AllRowsAffected", fmt.Sprint(mr.AllRowsAffected()), "[1 3 2 0]")
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	eq(t, "rows after multi-statement Exec", fmtRows(rows(t, c, "SELECT id, v FROM "+table+" ORDER BY id")),
		fmtRows([][]string{{"1", "c"}, {"2", "d"}, {fmt.Sprint(g.idA), "x"}, {fmt.Sprint(g.idB), "x"}}))

	// Query: four result sets, including one without columns (UPDATE) in the middle.
	ctx, cancel := ctx30()
	defer cancel()
	rs, err := c.QueryContext(ctx, fmt.Sprintf(
		"SELECT 1 AS one; SELECT id, v FROM %[1]s WHERE id IN (%[2]d, %[3]d) ORDER BY id; UPDATE %[1]s SET v = 'y' WHERE id = 1; SELECT v FROM %[1]s WHERE id = 1; SELECT COUNT(*) FROM %[1]s",
		table, g.idA, g.idB))
	if err != nil {
		t.Fatalf("multi-statement Query: %v", err)
	}
	var sets []string
	for {
		cols, _ := rs.Columns()
		var rowsOut []string
		for rs.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, v := range vals {
				parts = append(parts, string(v))
			}
			rowsOut = append(rowsOut, strings.Join(parts, ","))
		}
		sets = append(sets, strings.Join(cols, ",")+":"+strings.Join(rowsOut, ";"))
		if !rs.NextResultSet() {
			break
		}
	}
	if err := rs.Err(); err != nil {
		t.Errorf("multi-statement Query: %v", err)
	}
	rs.Close()
	// go-sql-driver skips result sets without columns (the UPDATE).
	want := []string{"one:1", fmt.Sprintf("id,v:%d,x;%d,x", min(g.idA, g.idB), max(g.idA, g.idB)), "v:y", "COUNT(*):4"}
	eq(t, "multi-statement Query: result sets", strings.Join(sets, " | "), strings.Join(want, " | "))
	// The connection is in a clean state afterwards.
	eq(t, "query after multi-statement Query", one(t, c, "SELECT 2+2"), "4")

	// An error in the second statement: the first one ran, the rest did not.
	_, err = c.ExecContext(ctx, fmt.Sprintf("UPDATE %[1]s SET v = 'z' WHERE id = 2; SELECT * FROM no_such_table_gd; UPDATE %[1]s SET v = 'w' WHERE id = 2", table))
	if me := mysqlErr(err); me == nil || me.Number != 1146 {
		t.Errorf("multi-statement with a bad second statement: error %v, want 1146", err)
	}
	eq(t, "multi-statement error: first statement ran, third did not", one(t, c, "SELECT v FROM "+table+" WHERE id = 2"), "z")
	eq(t, "query after a failed multi-statement", one(t, c, "SELECT 3+3"), "6")
}

// results: LastInsertId from the sequence, RowsAffected of cross-shard
// statements, clientFoundRows.
func (g goDriver) results(t *testing.T) {
	db := g.db(t)
	auto, plain := "gd_auto_"+g.sfx, "gd_plain_"+g.sfx
	mustExec(t, db, "DROP TABLE IF EXISTS "+auto, "DROP TABLE IF EXISTS "+plain,
		"CREATE TABLE "+auto+" (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE "+plain+" (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20))")
	c := conn(t, db)
	seen := map[int64]bool{}
	for i := 0; i < 3; i++ {
		res := exec1(t, c, "INSERT INTO "+auto+" (v) VALUES (?)", fmt.Sprint("s", i))
		if res == nil {
			continue
		}
		id, err := res.LastInsertId()
		if err != nil || id <= 0 {
			t.Errorf("INSERT %d: LastInsertId %d, %v", i, id, err)
			continue
		}
		seen[id] = true
		eq(t, fmt.Sprintf("row of LastInsertId %d", id), one(t, c, "SELECT v FROM "+auto+" WHERE id = ?", id), fmt.Sprint("s", i))
		eq(t, "SELECT LAST_INSERT_ID()", one(t, c, "SELECT LAST_INSERT_ID()"), fmt.Sprint(id))
	}
	eq(t, "distinct LastInsertIds", len(seen), 3)
	if res := exec1(t, c, "INSERT INTO "+auto+" (v) VALUES ('m0'), ('m1'), ('m2')"); res != nil {
		first, _ := res.LastInsertId()
		n, _ := res.RowsAffected()
		eq(t, "multi-row INSERT: RowsAffected", n, int64(3))
		// LAST_INSERT_ID of a multi-row INSERT is the first row's id, the
		// others follow it.
		eq(t, "multi-row INSERT: rows from LastInsertId on",
			fmtRows(rows(t, c, "SELECT id - ?, v FROM "+auto+" WHERE id IN (?, ?, ?) ORDER BY id", first, first, first+1, first+2)),
			fmtRows([][]string{{"0", "m0"}, {"1", "m1"}, {"2", "m2"}}))
	}
	if res := exec1(t, c, "INSERT INTO "+plain+" (id, v) VALUES (?, 'a'), (?, 'b'), (1, 'c')", g.idA, g.idB); res != nil {
		n, _ := res.RowsAffected()
		eq(t, "INSERT over two shards: RowsAffected", n, int64(3))
		id, _ := res.LastInsertId()
		eq(t, "INSERT with explicit ids: LastInsertId", id, int64(0))
	}
	affected := func(what string, e execer, q string, want int64, args ...any) {
		t.Helper()
		if res := exec1(t, e, q, args...); res != nil {
			n, _ := res.RowsAffected()
			eq(t, what+": RowsAffected", n, want)
		}
	}
	affected("UPDATE over two shards", c, "UPDATE "+plain+" SET v = 'u' WHERE id IN (?, ?)", 2, g.idA, g.idB)
	affected("UPDATE unchanged rows", c, "UPDATE "+plain+" SET v = 'u' WHERE id IN (?, ?)", 0, g.idA, g.idB)
	affected("UPDATE scatter", c, "UPDATE "+plain+" SET v = 'w'", 3)
	affected("DELETE no row", c, "DELETE FROM "+plain+" WHERE id = ?", 0, int64(987654))
	// clientFoundRows: matched rows, not changed rows (CLIENT_FOUND_ROWS).
	fr := g.db(t, "clientFoundRows=true")
	affected("clientFoundRows UPDATE unchanged rows over two shards", fr, "UPDATE "+plain+" SET v = 'w' WHERE id IN (?, ?)", 2, g.idA, g.idB)
	affected("DELETE scatter", c, "DELETE FROM "+plain, 3)
}

// cancel: a query cancelled by its context returns at once, and the pool
// keeps working.
func (g goDriver) cancel(t *testing.T) {
	db := g.db(t)
	db.SetMaxOpenConns(2)
	table := "gd_cancel_" + g.sfx
	mustExec(t, db, "DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (id BIGINT NOT NULL PRIMARY KEY)")
	exec1(t, db, "INSERT INTO "+table+" (id) VALUES (?), (?)", g.idA, g.idB)
	for _, q := range []struct{ what, sql string }{
		{"SELECT SLEEP(10)", "SELECT SLEEP(10)"},
		{"routed SELECT SLEEP(10)", fmt.Sprintf("SELECT SLEEP(10) FROM %s WHERE id = %d", table, g.idA)},
		{"scatter SELECT SLEEP(5)", "SELECT SLEEP(5) FROM " + table},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		began := time.Now()
		_, _, err := queryRows(ctxQueryer{db, ctx}, q.sql)
		took := time.Since(began)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s cancelled after 300ms: error %v, want context.DeadlineExceeded", q.what, err)
		}
		if took > 2*time.Second {
			t.Errorf("%s cancelled after 300ms returned after %v", q.what, took)
		}
		// The pool (two connections) stays usable: queries on both shards.
		for i := 0; i < 4; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var n int64
			err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+" WHERE id IN (?, ?)", g.idA, g.idB).Scan(&n)
			cancel()
			if err != nil || n != 2 {
				t.Errorf("after cancelling %s: query %d: %d, %v", q.what, i, n, err)
			}
		}
	}
}

// ctxQueryer runs queries with a fixed context.
type ctxQueryer struct {
	db  *sql.DB
	ctx context.Context
}

func (q ctxQueryer) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.db.QueryContext(q.ctx, query, args...)
}

// session: SET of session variables is honoured by later statements on
// both shards.
func (g goDriver) session(t *testing.T) {
	db := g.db(t)
	table := "gd_sess_" + g.sfx
	mustExec(t, db, "DROP TABLE IF EXISTS "+table,
		"CREATE TABLE "+table+" (id BIGINT NOT NULL PRIMARY KEY, s VARCHAR(3), ts TIMESTAMP NULL DEFAULT NULL, n INT)")
	exec1(t, db, "INSERT INTO "+table+" (id, n) VALUES (?, 0), (?, 0)", g.idA, g.idB)
	c := conn(t, db)
	ids := []int64{g.idA, g.idB}

	// sql_mode
	mustExec(t, c, "SET SESSION sql_mode = ''")
	eq(t, "@@sql_mode after SET sql_mode=''", one(t, c, "SELECT @@sql_mode"), "")
	for i, id := range ids {
		if res := exec1(t, c, "UPDATE "+table+" SET s = 'abcdef' WHERE id = ?", id); res != nil {
			eq(t, fmt.Sprintf("non-strict truncation on shard %s", shardNames[i]), one(t, c, "SELECT s FROM "+table+" WHERE id = ?", id), "abc")
		}
	}
	mustExec(t, c, "SET sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE'")
	eq(t, "@@sql_mode after SET", one(t, c, "SELECT @@SESSION.sql_mode"), "STRICT_ALL_TABLES,NO_ZERO_DATE")
	for i, id := range ids {
		_, err := c.ExecContext(context.Background(), "UPDATE "+table+" SET s = 'ghijkl' WHERE id = ?", id)
		if me := mysqlErr(err); me == nil || me.Number != 1406 {
			t.Errorf("strict mode on shard %s: UPDATE of a too-long value: error %v, want 1406 (Data too long)", shardNames[i], err)
		}
	}

	// time_zone
	mustExec(t, c, "SET time_zone = '+02:00'")
	eq(t, "@@time_zone", one(t, c, "SELECT @@time_zone"), "+02:00")
	for i, id := range ids {
		eq(t, fmt.Sprintf("NOW() - UTC_TIMESTAMP() on shard %s with time_zone +02:00", shardNames[i]),
			one(t, c, "SELECT TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), NOW()) FROM "+table+" WHERE id = ?", id), "120")
		exec1(t, c, "UPDATE "+table+" SET ts = '2024-01-01 12:00:00' WHERE id = ?", id)
	}
	eq(t, "CONVERT_TZ", one(t, c, "SELECT CAST(CONVERT_TZ('2024-01-01 12:00:00', @@time_zone, '+00:00') AS CHAR)"), "2024-01-01 10:00:00")
	eq(t, "UNIX_TIMESTAMP in +02:00", one(t, c, "SELECT UNIX_TIMESTAMP('2024-01-01 12:00:00')"), "1704103200")
	mustExec(t, c, "SET time_zone = '+00:00'")
	for i, id := range ids {
		eq(t, fmt.Sprintf("TIMESTAMP written in +02:00, read in +00:00 on shard %s", shardNames[i]),
			one(t, c, "SELECT CAST(ts AS CHAR) FROM "+table+" WHERE id = ?", id), "2024-01-01 10:00:00")
	}

	// Transaction isolation, under both names. Behaviour: in a transaction,
	// a row changed (and committed) by another session after the first read
	// is seen again by READ COMMITTED, not by REPEATABLE READ.
	other := open(t, g.tg.addr, "customer", g.param)
	isolation := func(level string) {
		t.Helper()
		for i, id := range ids {
			mustExec(t, c, "BEGIN")
			before := one(t, c, "SELECT n FROM "+table+" WHERE id = ?", id)
			exec1(t, other, "UPDATE "+table+" SET n = n + 1 WHERE id = ?", id)
			after := one(t, c, "SELECT n FROM "+table+" WHERE id = ?", id)
			mustExec(t, c, "COMMIT")
			changed := before != after
			if want := level == "READ-COMMITTED"; changed != want {
				t.Errorf("%s on shard %s: a committed change was seen=%v inside the transaction (%s then %s), want %v",
					level, shardNames[i], changed, before, after, want)
			}
		}
	}
	mustExec(t, c, "SET SESSION tx_isolation = 'READ-COMMITTED'")
	eq(t, "@@tx_isolation after SET tx_isolation", one(t, c, "SELECT @@tx_isolation"), "READ-COMMITTED")
	isolation("READ-COMMITTED")
	mustExec(t, c, "SET SESSION tx_isolation = 'REPEATABLE-READ'")
	isolation("REPEATABLE-READ")
	if g.tg.name == "proxy" {
		// MySQL 8's name, which MariaDB 10.11 does not know: the proxy
		// accepts it and sends tx_isolation.
		mustExec(t, c, "SET SESSION transaction_isolation = 'READ-COMMITTED'")
		eq(t, "@@tx_isolation after SET transaction_isolation", one(t, c, "SELECT @@tx_isolation"), "READ-COMMITTED")
		eq(t, "@@transaction_isolation after SET transaction_isolation", one(t, c, "SELECT @@transaction_isolation"), "READ-COMMITTED")
		isolation("READ-COMMITTED")
		mustExec(t, c, "SET @@SESSION.transaction_isolation = 'REPEATABLE-READ'")
		eq(t, "@@transaction_isolation after SET @@SESSION.transaction_isolation", one(t, c, "SELECT @@transaction_isolation"), "REPEATABLE-READ")
		isolation("REPEATABLE-READ")
		// go-sql-driver's DSN parameter sends SET transaction_isolation at connect.
		ti := open(t, g.tg.addr, "customer", g.param, "transaction_isolation=%27READ-COMMITTED%27")
		eq(t, "DSN transaction_isolation='READ-COMMITTED': @@tx_isolation", one(t, ti, "SELECT @@tx_isolation"), "READ-COMMITTED")
	}
	mustExec(t, c, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
	eq(t, "@@tx_isolation after SET SESSION TRANSACTION ISOLATION LEVEL", one(t, c, "SELECT @@tx_isolation"), "READ-COMMITTED")
	isolation("READ-COMMITTED")

	// autocommit=0: writes on both shards wait for COMMIT / ROLLBACK.
	mustExec(t, c, "SET autocommit = 0")
	eq(t, "@@autocommit", one(t, c, "SELECT @@autocommit"), "0")
	for _, id := range ids {
		exec1(t, c, "UPDATE "+table+" SET n = 100 WHERE id = ?", id)
	}
	eq(t, "autocommit=0: others do not see the change", one(t, other, "SELECT COUNT(*) FROM "+table+" WHERE n = 100"), "0")
	mustExec(t, c, "ROLLBACK")
	eq(t, "autocommit=0: after ROLLBACK", one(t, c, "SELECT COUNT(*) FROM "+table+" WHERE n = 100"), "0")
	for _, id := range ids {
		exec1(t, c, "UPDATE "+table+" SET n = 200 WHERE id = ?", id)
	}
	mustExec(t, c, "COMMIT")
	eq(t, "autocommit=0: after COMMIT", one(t, other, "SELECT COUNT(*) FROM "+table+" WHERE n = 200"), "2")
	mustExec(t, c, "SET autocommit = 1")

	// Several variables in one SET, and user variables.
	mustExec(t, c, "SET @a = 5, SESSION sql_mode = 'ANSI_QUOTES', @@session.time_zone = '-05:00', max_join_size = 1000000")
	eq(t, "multi-variable SET", strings.Join(rows(t, c, "SELECT @a, @@sql_mode, @@time_zone, @@max_join_size")[0], ","), "5,ANSI_QUOTES,-05:00,1000000")
	for i, id := range ids {
		eq(t, fmt.Sprintf("ANSI_QUOTES on shard %s", shardNames[i]), one(t, c, `SELECT "n" FROM `+table+" WHERE id = ?", id), "200")
	}
}
