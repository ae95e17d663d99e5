package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/internal/testenv"
)

// startShared starts a proxy over the package's shared servers (global =
// servers[0], shards = servers[1..2]).
func startShared(t *testing.T, extra string) *testenv.Proxy {
	t.Helper()
	testenv.RequireMariaDB(t)
	return testenv.StartProxy(t, testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: testVSchema, Extra: extra})
}

// shardNames2 are the names of the two shards of the shared cluster, in
// server order (servers[1], servers[2]).
var shardNames2 = testenv.ShardNames(2)

// shardOf returns the index (into names) of the shard that owns id under the
// Vitess hash vindex.
func shardOf(t testing.TB, id any, names []string) int {
	t.Helper()
	i, err := testenv.ShardOf(id, names)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// idsOnShard returns n ids >= from that hash to shard idx of names.
func idsOnShard(t testing.TB, idx, n int, from int64, names []string) []int64 {
	t.Helper()
	var out []int64
	for id := from; len(out) < n; id++ {
		if shardOf(t, id, names) == idx {
			out = append(out, id)
		}
	}
	return out
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// fmtValue renders a scanned value: NULL as NULL, anything else quoted, so
// that NULL and the string "NULL" differ.
func fmtValue(b sql.RawBytes) string {
	if b == nil {
		return "NULL"
	}
	return strconv.Quote(string(b))
}

// readRows reads all rows as strings (one string per row, values joined by
// '|', see fmtValue) and the column names.
func readRows(rows *sql.Rows) (cols []string, out []string, err error) {
	defer rows.Close()
	cols, err = rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmtValue(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return cols, out, rows.Err()
}

// query runs a query and returns its column names and rows (see readRows).
func query(q queryer, sqlText string, args ...any) ([]string, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := q.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, nil, err
	}
	return readRows(rows)
}

// mustQuery is query that fails the test on error and returns the rows.
func mustQuery(t testing.TB, q queryer, sqlText string, args ...any) []string {
	t.Helper()
	_, rows, err := query(q, sqlText, args...)
	if err != nil {
		t.Fatalf("%s: %v", sqlText, err)
	}
	return rows
}

// mustExec runs a statement and returns the affected rows.
func mustExec(t testing.TB, e execer, sqlText string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.ExecContext(ctx, sqlText, args...)
	if err != nil {
		t.Fatalf("%s: %v", short(sqlText), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		t.Fatalf("%s: RowsAffected: %v", short(sqlText), err)
	}
	return n
}

func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// wantRows compares rows (as multisets unless ordered).
func wantRows(t testing.TB, what string, got, want []string, ordered bool) {
	t.Helper()
	if d := diffRows(got, want, ordered); d != "" {
		t.Errorf("%s: rows differ:\n%s", what, d)
	}
}

// diffRows describes the difference between two row lists ("" if equal).
func diffRows(got, want []string, ordered bool) string {
	if ordered {
		if strings.Join(got, "\n") == strings.Join(want, "\n") && len(got) == len(want) {
			return ""
		}
		return fmt.Sprintf("got (in order) %d rows:\n  %s\nwant %d rows:\n  %s", len(got), strings.Join(limitRows(got), "\n  "), len(want), strings.Join(limitRows(want), "\n  "))
	}
	count := map[string]int{}
	for _, r := range got {
		count[r]++
	}
	for _, r := range want {
		count[r]--
	}
	var extra, missing []string
	for r, n := range count {
		for ; n > 0; n-- {
			extra = append(extra, r)
		}
		for ; n < 0; n++ {
			missing = append(missing, r)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return ""
	}
	sort.Strings(extra)
	sort.Strings(missing)
	return fmt.Sprintf("got %d rows, want %d; unexpected rows:\n  %s\nmissing rows:\n  %s", len(got), len(want),
		strings.Join(limitRows(extra), "\n  "), strings.Join(limitRows(missing), "\n  "))
}

func limitRows(rows []string) []string {
	if len(rows) == 0 {
		return []string{"(none)"}
	}
	if len(rows) > 20 {
		return append(rows[:20:20], fmt.Sprintf("... (%d more)", len(rows)-20))
	}
	return rows
}

// mysqlErr returns err as a server error, or nil.
func mysqlErr(err error) *mysql.MySQLError {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me
	}
	return nil
}

// wantErr checks that err is a MySQL error with that number whose message
// contains every one of substrs (case-insensitive).
func wantErr(t testing.TB, what string, err error, number uint16, substrs ...string) *mysql.MySQLError {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want error %d", what, number)
		return nil
	}
	me := mysqlErr(err)
	if me == nil {
		t.Errorf("%s: error %v (%T), want MySQL error %d", what, err, err, number)
		return nil
	}
	if me.Number != number {
		t.Errorf("%s: error %d %q, want error %d", what, me.Number, me.Message, number)
		return me
	}
	for _, s := range substrs {
		if !strings.Contains(strings.ToLower(me.Message), strings.ToLower(s)) {
			t.Errorf("%s: error message %q does not contain %q", what, me.Message, s)
		}
	}
	return me
}

// conn returns one dedicated connection of db (session state stays on it).
func conn(t testing.TB, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// directDB opens a connection pool to the database "customer" of a shard
// server, or "" for none.
func directDB(t testing.TB, i int, db string) *sql.DB {
	t.Helper()
	h, err := servers[i].DB(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// checkAlive runs a routed good query on the same connection after an error.
func checkAlive(t testing.TB, what string, q queryer) {
	t.Helper()
	_, rows, err := query(q, "SELECT 1+1")
	if err != nil {
		t.Errorf("%s: connection unusable afterwards: SELECT 1+1: %v", what, err)
		return
	}
	wantRows(t, what+": SELECT 1+1 afterwards", rows, []string{`"2"`}, true)
}

// ctx returns a context that ends after 30 s or with the test.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
