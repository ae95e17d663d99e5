package e2e

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

var driverModes = []struct {
	name   string
	params []string
}{
	{"interpolateParams", []string{"interpolateParams=true"}},
	{"serverPrepared", nil},
}

// shardRows reads "id|v" rows of table from each shard directly:
// result[i] = rows of shard i.
func shardRows(t *testing.T, sqlText string) [2][]string {
	t.Helper()
	var out [2][]string
	for i := range out {
		out[i] = mustQuery(t, directDB(t, i+1, "customer"), sqlText)
	}
	return out
}

// TestGoSQLDriverPreparedRouting: one prepared statement, executed many
// times on one connection, routes each execution by its bound values.
func TestGoSQLDriverPreparedRouting(t *testing.T) {
	p := startShared(t, "")
	for _, mode := range driverModes {
		t.Run(mode.name, func(t *testing.T) {
			db := p.DB(t, "customer", mode.params...)
			c := conn(t, db)
			mustExec(t, c, "DROP TABLE IF EXISTS drv_t")
			mustExec(t, c, "CREATE TABLE drv_t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL) DEFAULT CHARSET=utf8mb4")

			ids := make([]int64, 40)
			for i := range ids {
				ids[i] = int64(i*1009 + 1)
			}
			ins, err := c.PrepareContext(ctx(t), "INSERT INTO drv_t (id, v) VALUES (?, ?)")
			if err != nil {
				t.Fatal(err)
			}
			defer ins.Close()
			for _, id := range ids {
				res, err := ins.Exec(id, fmt.Sprintf("v%d 😀", id))
				if err != nil {
					t.Fatalf("prepared INSERT id %d: %v", id, err)
				}
				if n, _ := res.RowsAffected(); n != 1 {
					t.Errorf("prepared INSERT id %d: %d rows affected", id, n)
				}
			}
			// A duplicate key passes through with the shard's code; the statement stays usable.
			_, err = ins.Exec(ids[0], "dup")
			wantErr(t, "duplicate prepared INSERT", err, 1062, "Duplicate")

			want := [2][]string{}
			for _, id := range ids {
				s := shardOf(t, id, shardNames2)
				want[s] = append(want[s], fmt.Sprintf("%q|%q", fmt.Sprint(id), fmt.Sprintf("v%d 😀", id)))
			}
			got := shardRows(t, "SELECT id, v FROM drv_t")
			for i := range got {
				wantRows(t, "rows on shard "+shardNames2[i], got[i], want[i], false)
			}

			sel, err := c.PrepareContext(ctx(t), "SELECT id, v FROM drv_t WHERE id = ?")
			if err != nil {
				t.Fatal(err)
			}
			defer sel.Close()
			for round := 0; round < 2; round++ {
				for _, id := range ids {
					rows, err := sel.Query(id)
					if err != nil {
						t.Fatalf("prepared SELECT id %d: %v", id, err)
					}
					_, r, err := readRows(rows)
					if err != nil {
						t.Fatal(err)
					}
					wantRows(t, fmt.Sprintf("prepared SELECT id %d", id), r, []string{fmt.Sprintf("%q|%q", fmt.Sprint(id), fmt.Sprintf("v%d 😀", id))}, true)
				}
			}

			// IN with parameters, pairs over both shards.
			in, err := c.PrepareContext(ctx(t), "SELECT id FROM drv_t WHERE id IN (?, ?, ?)")
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			for i := 0; i+2 < len(ids); i += 3 {
				rows, err := in.Query(ids[i], ids[i+1], int64(-1))
				if err != nil {
					t.Fatalf("prepared IN: %v", err)
				}
				_, r, err := readRows(rows)
				if err != nil {
					t.Fatal(err)
				}
				wantRows(t, fmt.Sprintf("prepared IN (%d, %d, -1)", ids[i], ids[i+1]), r,
					[]string{fmt.Sprintf("%q", fmt.Sprint(ids[i])), fmt.Sprintf("%q", fmt.Sprint(ids[i+1]))}, false)
			}

			// UPDATE and DELETE re-executed; check the shards directly.
			upd, err := c.PrepareContext(ctx(t), "UPDATE drv_t SET v = ? WHERE id = ?")
			if err != nil {
				t.Fatal(err)
			}
			defer upd.Close()
			del, err := c.PrepareContext(ctx(t), "DELETE FROM drv_t WHERE id = ?")
			if err != nil {
				t.Fatal(err)
			}
			defer del.Close()
			want = [2][]string{}
			for i, id := range ids {
				s := shardOf(t, id, shardNames2)
				if i%3 == 0 {
					res, err := del.Exec(id)
					if err != nil {
						t.Fatalf("prepared DELETE %d: %v", id, err)
					}
					if n, _ := res.RowsAffected(); n != 1 {
						t.Errorf("prepared DELETE %d: %d rows affected, want 1", id, n)
					}
					continue
				}
				res, err := upd.Exec(fmt.Sprintf("u%d", id), id)
				if err != nil {
					t.Fatalf("prepared UPDATE %d: %v", id, err)
				}
				if n, _ := res.RowsAffected(); n != 1 {
					t.Errorf("prepared UPDATE %d: %d rows affected, want 1", id, n)
				}
				want[s] = append(want[s], fmt.Sprintf("%q|%q", fmt.Sprint(id), fmt.Sprintf("u%d", id)))
			}
			got = shardRows(t, "SELECT id, v FROM drv_t")
			for i := range got {
				wantRows(t, "rows on shard "+shardNames2[i]+" after UPDATE/DELETE", got[i], want[i], false)
			}
			// db.Exec/Query with args (text with interpolateParams, prepared+closed otherwise).
			for _, id := range ids[1:5] {
				if n := mustExec(t, db, "UPDATE drv_t SET v = ? WHERE id = ?", "again", id); id%3 != 1 && n != 1 {
					t.Errorf("UPDATE id %d via db.Exec: %d rows", id, n)
				}
			}
			wantRows(t, "db.Query with args", mustQuery(t, db, "SELECT v FROM drv_t WHERE id = ?", ids[1]), []string{`"again"`}, true)
		})
	}
}

// typesRow is one row of types_t, and what each column must read back as.
type typesRow struct {
	id   int64
	args []any    // i, u, d, f, dt, da, ti, s, b, t8
	text []string // expected values (fmtValue), in column order, without id
}

const typesCols = "i, u, d, f, dt, da, ti, s, b, t8"

func typesRows(t *testing.T) []typesRow {
	// One row on each shard, and one with every value NULL.
	a := idsOnShard(t, 0, 2, 1000, shardNames2)
	b := idsOnShard(t, 1, 1, 1000, shardNames2)
	blob := []byte{0, 1, 2, 0xff, '\'', '\\', 0x1a, '"', 0xc3}
	return []typesRow{
		{
			id: a[0],
			args: []any{int64(math.MinInt64), uint64(math.MaxUint64), "-12345678901234.123456", 3.141592653589793,
				time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.UTC), "2024-02-29", "-838:59:59",
				"héllo 😀 'single' \"double\" back\\slash", blob, int64(-128)},
			text: []string{`"-9223372036854775808"`, `"18446744073709551615"`, `"-12345678901234.123456"`, `"3.141592653589793"`,
				`"2024-02-29 23:59:58.123456"`, `"2024-02-29"`, `"-838:59:59.000000"`,
				fmtValue([]byte("héllo 😀 'single' \"double\" back\\slash")), fmtValue(blob), `"-128"`},
		},
		{
			id: b[0],
			args: []any{int64(math.MaxInt64), uint64(0), "0.000001", -1.5e-300,
				time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), "1000-01-01", "00:00:00.5",
				"", []byte{}, int64(127)},
			text: []string{`"9223372036854775807"`, `"0"`, `"0.000001"`, `"-1.5e-300"`,
				`"1999-12-31 00:00:00.000000"`, `"1000-01-01"`, `"00:00:00.500000"`,
				`""`, `""`, `"127"`},
		},
		{
			id:   a[1],
			args: []any{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
			text: []string{"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"},
		},
	}
}

// TestGoSQLDriverTypes: every common type round-trips through the proxy
// with the text protocol (interpolateParams) and the binary one.
func TestGoSQLDriverTypes(t *testing.T) {
	p := startShared(t, "")
	for _, mode := range driverModes {
		t.Run(mode.name, func(t *testing.T) {
			db := p.DB(t, "customer", mode.params...)
			mustExec(t, db, "DROP TABLE IF EXISTS types_t")
			mustExec(t, db, `CREATE TABLE types_t (id BIGINT NOT NULL PRIMARY KEY, i BIGINT NULL, u BIGINT UNSIGNED NULL,
				d DECIMAL(30,6) NULL, f DOUBLE NULL, dt DATETIME(6) NULL, da DATE NULL, ti TIME(6) NULL,
				s VARCHAR(100) CHARACTER SET utf8mb4 NULL, b BLOB NULL, t8 TINYINT NULL) DEFAULT CHARSET=utf8mb4`)
			rows := typesRows(t)
			for _, r := range rows {
				args := append([]any{r.id}, r.args...)
				if n := mustExec(t, db, "INSERT INTO types_t (id, "+typesCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", args...); n != 1 {
					t.Errorf("INSERT id %d: %d rows affected", r.id, n)
				}
			}
			sel := "SELECT " + typesCols + " FROM types_t WHERE id = "
			prep, err := db.Prepare(sel + "?")
			if err != nil {
				t.Fatal(err)
			}
			defer prep.Close()
			for _, r := range rows {
				want := strings.Join(r.text, "|")
				owner := shardOf(t, r.id, shardNames2)
				// Directly on the owning shard: the values were stored right.
				wantRows(t, fmt.Sprintf("id %d read directly on its shard", r.id),
					mustQuery(t, directDB(t, owner+1, "customer"), sel+fmt.Sprint(r.id)), []string{want}, true)
				// Text protocol through the proxy (routed and scattered).
				wantRows(t, fmt.Sprintf("id %d text query", r.id), mustQuery(t, db, sel+fmt.Sprint(r.id)), []string{want}, true)
				// Binary protocol (prepared) through the proxy, compared with the same
				// prepared query directly on the shard.
				direct := mustQuery(t, directDB(t, owner+1, "customer"), sel+"?", r.id)
				pr, err := prep.Query(r.id)
				if err != nil {
					t.Fatalf("prepared SELECT id %d: %v", r.id, err)
				}
				_, got, err := readRows(pr)
				if err != nil {
					t.Fatal(err)
				}
				wantRows(t, fmt.Sprintf("id %d binary protocol through the proxy vs direct", r.id), got, direct, true)
				wantRows(t, fmt.Sprintf("id %d binary protocol through the proxy", r.id), got, []string{want}, true)
			}
			// Scatter text read of all rows.
			var all []string
			for _, r := range rows {
				all = append(all, fmt.Sprintf("%q|", fmt.Sprint(r.id))+strings.Join(r.text, "|"))
			}
			wantRows(t, "scatter read of all types", mustQuery(t, db, "SELECT id, "+typesCols+" FROM types_t"), all, false)

			// Typed scans (parseTime for DATETIME/DATE).
			tdb := p.DB(t, "customer", append([]string{"parseTime=true"}, mode.params...)...)
			r0 := rows[0]
			var (
				i   int64
				u   uint64
				d   string
				f   float64
				dt  time.Time
				da  time.Time
				ti  string
				s   string
				b   []byte
				t8  int8
				nul sql.NullInt64
			)
			if err := tdb.QueryRow("SELECT "+typesCols+" FROM types_t WHERE id = ?", r0.id).Scan(&i, &u, &d, &f, &dt, &da, &ti, &s, &b, &t8); err != nil {
				t.Fatalf("typed scan: %v", err)
			}
			if i != math.MinInt64 || u != math.MaxUint64 || d != "-12345678901234.123456" || f != 3.141592653589793 ||
				!dt.Equal(r0.args[4].(time.Time)) || da.Format("2006-01-02") != "2024-02-29" || !strings.HasPrefix(ti, "-838:59:59") ||
				s != r0.args[7].(string) || !bytes.Equal(b, r0.args[8].([]byte)) || t8 != -128 {
				t.Errorf("typed scan: got %v %v %v %v %v %v %v %q %x %v", i, u, d, f, dt, da, ti, s, b, t8)
			}
			if err := tdb.QueryRow("SELECT i FROM types_t WHERE id = ?", rows[2].id).Scan(&nul); err != nil || nul.Valid {
				t.Errorf("NULL scan: %v, %v", nul, err)
			}
		})
	}
}

// TestPreparedReexecuteWithoutTypes re-executes a prepared statement with
// new-params-bound-flag = 0 (the types sent at the first execution are
// reused, as libmariadb and sysbench do): values must not turn into NULL and
// routing is still decided per execution.
func TestPreparedReexecuteWithoutTypes(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS drv_t")
	mustExec(t, db, "CREATE TABLE drv_t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NULL) DEFAULT CHARSET=utf8mb4")

	c, err := client.Connect(p.Addr, "app", "secret", "customer", func(c *client.Conn) error {
		c.UnsetCapability(gmysql.CLIENT_DEPRECATE_EOF)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ins, err := c.Prepare("INSERT INTO drv_t (id, v) VALUES (?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{1, 2, 3, 4, 5, 100, 101, 102, 1000, 1001}
	if _, err := ins.Execute(ids[0], "v1"); err != nil { // types bound here
		t.Fatal(err)
	}
	for _, id := range ids[1:] {
		v := fmt.Sprintf("v%d", id)
		pkt := execPacket(ins.ID, lenencInt64(id), lenencString(v))
		c.ResetSequence()
		if err := c.WritePacket(pkt); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadOKPacket(); err != nil {
			t.Errorf("re-execute INSERT id %d without types: %v", id, err)
		}
	}
	want := [2][]string{}
	for _, id := range ids {
		s := shardOf(t, id, shardNames2)
		want[s] = append(want[s], fmt.Sprintf("%q|%q", fmt.Sprint(id), fmt.Sprintf("v%d", id)))
	}
	got := shardRows(t, "SELECT id, v FROM drv_t")
	for i := range got {
		wantRows(t, "rows on shard "+shardNames2[i], got[i], want[i], false)
	}

	sel, err := c.Prepare("SELECT v FROM drv_t WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	res, err := sel.Execute(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := res.GetString(0, 0); res.RowNumber() != 1 || v != "v1" {
		t.Errorf("first execution: %d rows, %q", res.RowNumber(), v)
	}
	for _, id := range ids[1:] {
		c.ResetSequence()
		if err := c.WritePacket(execPacket(sel.ID, lenencInt64(id))); err != nil {
			t.Fatal(err)
		}
		vals, err := readBinaryStrings(c)
		if err != nil {
			t.Errorf("re-execute SELECT id %d without types: %v", id, err)
			continue
		}
		if len(vals) != 1 || vals[0] != fmt.Sprintf("v%d", id) {
			t.Errorf("re-execute SELECT id %d without types: rows %q, want [v%d]", id, vals, id)
		}
	}
	// COM_STMT_RESET and COM_STMT_CLOSE keep the connection usable.
	if _, err := c.Execute("SELECT 1"); err != nil {
		t.Errorf("after re-executions: %v", err)
	}
	if err := sel.Close(); err != nil {
		t.Error(err)
	}
	r, err := c.Execute("SELECT v FROM drv_t WHERE id = 100")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := r.GetString(0, 0); v != "v100" {
		t.Errorf("after COM_STMT_CLOSE: %q", v)
	}
}

// execPacket builds COM_STMT_EXECUTE with new-params-bound-flag = 0 (values
// only), with a 4-byte header room for packet.Conn.WritePacket.
func execPacket(id uint32, values ...[]byte) []byte {
	b := make([]byte, 4, 64)
	b = append(b, gmysql.COM_STMT_EXECUTE)
	b = binary.LittleEndian.AppendUint32(b, id)
	b = append(b, 0)                                  // flags: CURSOR_TYPE_NO_CURSOR
	b = binary.LittleEndian.AppendUint32(b, 1)        // iteration count
	b = append(b, make([]byte, (len(values)+7)/8)...) // NULL bitmap: none
	b = append(b, 0)                                  // new-params-bound-flag = 0
	for _, v := range values {
		b = append(b, v...)
	}
	return b
}

func lenencInt64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

func lenencString(s string) []byte { return append(gmysql.PutLengthEncodedInt(uint64(len(s))), s...) }

// readBinaryStrings reads a binary result set of string columns (no
// DEPRECATE_EOF) and returns the first column of each row.
func readBinaryStrings(c *client.Conn) ([]string, error) {
	p, err := c.ReadPacket()
	if err != nil {
		return nil, err
	}
	if p[0] == gmysql.ERR_HEADER {
		return nil, fmt.Errorf("error packet: %q", p[9:])
	}
	ncols, _, _ := gmysql.LengthEncodedInt(p)
	for i := uint64(0); i < ncols; i++ {
		if _, err := c.ReadPacket(); err != nil {
			return nil, err
		}
	}
	if p, err = c.ReadPacket(); err != nil || p[0] != gmysql.EOF_HEADER {
		return nil, fmt.Errorf("want EOF after column definitions: %v %x", err, p)
	}
	var out []string
	for {
		p, err := c.ReadPacket()
		if err != nil {
			return nil, err
		}
		if p[0] == gmysql.EOF_HEADER && len(p) < 9 {
			sort.Strings(out)
			return out, nil
		}
		if p[0] != 0 {
			return nil, fmt.Errorf("bad binary row %x", p)
		}
		pos := 1 + int(ncols+7+2)/8
		if p[1]&(1<<2) != 0 { // first column NULL (bit offset 2)
			out = append(out, "NULL")
			continue
		}
		n, _, m := gmysql.LengthEncodedInt(p[pos:])
		out = append(out, string(p[pos+m:pos+m+int(n)]))
	}
}

// TestPreparedLongData: parameters larger than the driver's long-data size
// go through COM_STMT_SEND_LONG_DATA (go-sql-driver with a small
// maxAllowedPacket) and must arrive whole, on the right shard.
func TestPreparedLongData(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer", "maxAllowedPacket=65536")
	mustExec(t, db, "DROP TABLE IF EXISTS drv_t")
	mustExec(t, db, "CREATE TABLE drv_t (id BIGINT NOT NULL PRIMARY KEY, v MEDIUMTEXT NULL, b MEDIUMBLOB NULL) DEFAULT CHARSET=utf8mb4")
	c := conn(t, db)
	ins, err := c.PrepareContext(ctx(t), "INSERT INTO drv_t (id, v, b) VALUES (?, ?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	text := strings.Repeat("long text é😀 ", 8000) // ~150 KB
	blob := make([]byte, 300<<10)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	ids := append(idsOnShard(t, 0, 2, 1, shardNames2), idsOnShard(t, 1, 2, 1, shardNames2)...)
	for i, id := range ids {
		v := fmt.Sprintf("%d:%s", i, text)
		b := append([]byte{byte(i)}, blob...)
		if _, err := ins.Exec(id, v, b); err != nil {
			t.Fatalf("INSERT id %d with long data: %v", id, err)
		}
	}
	for i, id := range ids {
		owner := shardOf(t, id, shardNames2)
		var v string
		var b []byte
		if err := directDB(t, owner+1, "customer").QueryRow("SELECT v, b FROM drv_t WHERE id = ?", id).Scan(&v, &b); err != nil {
			t.Errorf("id %d on shard %s: %v", id, shardNames2[owner], err)
			continue
		}
		if v != fmt.Sprintf("%d:%s", i, text) || !bytes.Equal(b, append([]byte{byte(i)}, blob...)) {
			t.Errorf("id %d: long data arrived as %d text bytes and %d blob bytes (want %d and %d) or with other content",
				id, len(v), len(b), len(fmt.Sprintf("%d:%s", i, text)), len(blob)+1)
		}
		// And read back through the proxy with the binary protocol.
		var pv string
		if err := c.QueryRowContext(ctx(t), "SELECT v FROM drv_t WHERE id = ?", id).Scan(&pv); err != nil || pv != v {
			t.Errorf("id %d read through the proxy: %d bytes, %v", id, len(pv), err)
		}
	}
	// The statement can be re-executed with short values afterwards
	// (COM_STMT_RESET clears long data between executions).
	short := idsOnShard(t, 1, 3, 1, shardNames2)[2]
	if _, err := ins.Exec(short, "short", []byte("s")); err != nil {
		t.Fatalf("re-execute with short values: %v", err)
	}
	wantRows(t, "short values after long data", mustQuery(t, c, "SELECT v, b FROM drv_t WHERE id = ?", short), []string{`"short"|"s"`}, true)
}

// TestClientFoundRows: with CLIENT_FOUND_ROWS (go-sql-driver
// clientFoundRows=true) an UPDATE reports matched rows, also when it
// changes nothing, routed or scattered; without it, changed rows.
func TestClientFoundRows(t *testing.T) {
	p := startShared(t, "")
	a := idsOnShard(t, 0, 2, 1, shardNames2)
	b := idsOnShard(t, 1, 2, 1, shardNames2)
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS drv_t")
	mustExec(t, db, "CREATE TABLE drv_t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL)")
	for _, params := range []string{"interpolateParams=true", "interpolateParams=false"} {
		mustExec(t, db, "DELETE FROM drv_t")
		mustExec(t, db, "INSERT INTO drv_t VALUES (?, 'x'), (?, 'x'), (?, 'x'), (?, 'y')", a[0], a[1], b[0], b[1])
		// In order, from the rows x, x, x, y.
		for _, tc := range []struct {
			found bool
			sql   string
			args  []any
			want  int64
		}{
			{true, "UPDATE drv_t SET v = 'x' WHERE id = ?", []any{a[0]}, 1},
			{false, "UPDATE drv_t SET v = 'x' WHERE id = ?", []any{a[0]}, 0},
			{true, "UPDATE drv_t SET v = 'x' WHERE v = 'x'", nil, 3},
			{false, "UPDATE drv_t SET v = 'x' WHERE v = 'x'", nil, 0},
			{true, "UPDATE drv_t SET v = 'x'", nil, 4},
			{false, "UPDATE drv_t SET v = 'y'", nil, 4},
			{true, "UPDATE drv_t SET v = 'y' WHERE id IN (?, ?)", []any{a[1], b[1]}, 2},
			{false, "UPDATE drv_t SET v = 'z' WHERE id IN (?, ?)", []any{a[1], b[1]}, 2},
			{false, "UPDATE drv_t SET v = 'z' WHERE id IN (?, ?)", []any{a[1], b[1]}, 0},
		} {
			h := directDB2(t, p.DSN("customer", params, "clientFoundRows="+fmt.Sprint(tc.found)))
			if n := mustExec(t, h, tc.sql, tc.args...); n != tc.want {
				t.Errorf("clientFoundRows=%v %s %s %v: %d rows affected, want %d", tc.found, params, tc.sql, tc.args, n, tc.want)
			}
		}
	}
}

// TestPreparedErrors: errors at COM_STMT_PREPARE and executing a closed
// statement; the connection stays usable.
func TestPreparedErrors(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS drv_t")
	mustExec(t, db, "CREATE TABLE drv_t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL)")
	mustExec(t, db, "INSERT INTO drv_t VALUES (1, 'one'), (100, 'hundred')")
	c := conn(t, db)
	for _, tc := range []struct {
		sql  string
		code uint16
	}{
		{"SELEC v FROMM drv_t WHERE id = ?", 1064},
		{"SELECT v FROM no_such_table_ps WHERE id = ?", 1146},
	} {
		st, err := c.PrepareContext(ctx(t), tc.sql)
		wantErr(t, "prepare "+tc.sql, err, tc.code)
		if err == nil {
			st.Close()
		}
		var v string
		if err := c.QueryRowContext(ctx(t), "SELECT v FROM drv_t WHERE id = ?", 100).Scan(&v); err != nil || v != "hundred" {
			t.Errorf("after prepare %s failed: %q, %v", tc.sql, v, err)
		}
	}

	rc := rawConnect(t, p.Addr, "customer")
	st, err := rc.Prepare("SELECT v FROM drv_t WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := st.Execute(int64(1)); err != nil {
		t.Fatal(err)
	} else if v, _ := r.GetString(0, 0); v != "one" {
		t.Errorf("prepared SELECT: %q", v)
	}
	// COM_STMT_RESET answers OK and the statement still executes.
	rc.ResetSequence()
	pkt := binary.LittleEndian.AppendUint32([]byte{0, 0, 0, 0, gmysql.COM_STMT_RESET}, st.ID)
	if err := rc.WritePacket(pkt); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.ReadOKPacket(); err != nil {
		t.Errorf("COM_STMT_RESET: %v", err)
	}
	if r, err := st.Execute(int64(100)); err != nil {
		t.Errorf("execute after COM_STMT_RESET: %v", err)
	} else if v, _ := r.GetString(0, 0); v != "hundred" {
		t.Errorf("execute after COM_STMT_RESET: %q", v)
	}
	// Executing a closed statement: error 1243, connection usable.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = st.Execute(int64(1))
	wantErrGoMySQL(t, "execute a closed statement", err, 1243, "")
	if r, err := rc.Execute("SELECT v FROM drv_t WHERE id = 1"); err != nil {
		t.Errorf("after executing a closed statement: %v", err)
	} else if v, _ := r.GetString(0, 0); v != "one" {
		t.Errorf("after executing a closed statement: %q", v)
	}
}
