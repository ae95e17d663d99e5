// Package abuse tests the trust boundary of issue 25: what an ordinary
// account can do through the MySQL port alone must not break the proxy for
// other sessions. Every test runs a real proxy (in this process, so the
// tests can read its pools, goroutines and heap) over real mariadbd
// servers: cross-shard joins inside transactions, abandoned sessions,
// memory bounds per statement, COM_CHANGE_USER.
package abuse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// servers: 0 = global keyspace "commerce" (and the reference database
// "ref" that the tests compare with), 1-2 = shards of "customer".
var servers []*mariadbd.Server

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, 3, &servers)) }

const testVSchema = `vindexes:
  hash: {type: hash}
tables:
  ja:
    column_vindexes: [{column: id, name: hash}]
  jb:
    column_vindexes: [{column: id, name: hash}]
  big_a:
    column_vindexes: [{column: id, name: hash}]
  big_b:
    column_vindexes: [{column: id, name: hash}]
  kv:
    column_vindexes: [{column: id, name: hash}]
  blobs:
    column_vindexes: [{column: id, name: hash}]
`

// inproc is a proxy in the test process with metrics and the admin
// endpoints wired as serve wires them.
type inproc = testenv.Proxy

// startProxy starts a proxy whose configuration has extra top-level YAML
// (limits, pool); it stops when the test ends.
func startProxy(t testing.TB, extra string) *inproc {
	t.Helper()
	testenv.RequireMariaDB(t)
	ensureDatabases(t)
	y := testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: testVSchema, Extra: extra}.YAML()
	y = strings.Replace(y, "users:\n", "users:\n  - name: cust\n    password: custpw\n    keyspaces: [customer]\n", 1)
	return testenv.StartProxyYAMLWith(t, y, testenv.Options{Ops: true})
}

// inUse is the number of backend connections checked out of all pools.
func inUse(p *inproc) int {
	n := 0
	for _, pl := range p.Router.Pools() {
		_, u := pl.Stats()
		n += u
	}
	return n
}

var createDBs sync.Once

// ensureDatabases creates the keyspaces' databases, the reference database
// and the tables, once per package.
func ensureDatabases(t testing.TB) {
	t.Helper()
	var err error
	createDBs.Do(func() {
		ctx := context.Background()
		if err = servers[0].Exec(ctx, "CREATE DATABASE IF NOT EXISTS commerce", "CREATE DATABASE IF NOT EXISTS ref"); err != nil {
			return
		}
		for _, s := range servers {
			db := "customer"
			if s == servers[0] {
				db = "ref"
			}
			if err = s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
				return
			}
			for _, ddl := range tableDDL {
				if err = s.Exec(ctx, "USE "+db, ddl); err != nil {
					return
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

var tableDDL = []string{
	"CREATE TABLE IF NOT EXISTS ja (id BIGINT PRIMARY KEY, k INT, v VARCHAR(40), KEY(k))",
	"CREATE TABLE IF NOT EXISTS jb (id BIGINT PRIMARY KEY, k INT, w VARCHAR(40), KEY(k))",
	"CREATE TABLE IF NOT EXISTS big_a (id BIGINT PRIMARY KEY, k INT, pad VARCHAR(100))",
	"CREATE TABLE IF NOT EXISTS big_b (id BIGINT PRIMARY KEY, k INT, pad VARCHAR(100))",
	"CREATE TABLE IF NOT EXISTS kv (id BIGINT PRIMARY KEY, v VARCHAR(64))",
	"CREATE TABLE IF NOT EXISTS blobs (id BIGINT PRIMARY KEY, b LONGBLOB)",
}

// loadRows writes rows into table through the proxy's shards directly
// (each row on the shard its id hashes to) and into the reference
// database; values are the VALUES tuples without parentheses, id first.
func loadRows(t testing.TB, table string, ids []int64, values []string) {
	t.Helper()
	ctx := context.Background()
	names := testenv.ShardNames(2)
	per := make([][]string, 2)
	for i, id := range ids {
		sh, err := testenv.ShardOf(uint64(id), names)
		if err != nil {
			t.Fatal(err)
		}
		per[sh] = append(per[sh], "("+values[i]+")")
	}
	insert := func(s *mariadbd.Server, db string, tuples []string) {
		for start := 0; start < len(tuples); start += 2000 {
			end := min(start+2000, len(tuples))
			if err := s.Exec(ctx, "USE "+db, "INSERT INTO "+table+" VALUES "+strings.Join(tuples[start:end], ",")); err != nil {
				t.Fatal(err)
			}
		}
	}
	for sh := range per {
		if err := servers[1+sh].Exec(ctx, "DELETE FROM customer."+table); err != nil {
			t.Fatal(err)
		}
		insert(servers[1+sh], "customer", per[sh])
	}
	all := make([]string, len(values))
	for i, v := range values {
		all[i] = "(" + v + ")"
	}
	if err := servers[0].Exec(ctx, "DELETE FROM ref."+table); err != nil {
		t.Fatal(err)
	}
	insert(servers[0], "ref", all)
}

// dsn and openDB: the harness's (a go-sql-driver DSN for user:pw on db;
// a handle closed with the test).
var (
	dsn    = testenv.DSN
	openDB = testenv.OpenDB
)

// refDB is the reference database on a single MariaDB.
func refDB(t testing.TB) *sql.DB {
	t.Helper()
	return openDB(t, "root@tcp("+servers[0].Addr()+")/ref")
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryRows runs a query and returns its rows as strings (NULL as "NULL").
func queryRows(q queryer, query string, args ...any) ([][]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return readAll(rs)
}

// readAll reads every row of rs as strings (NULL as "NULL") and closes it.
func readAll(rs *sql.Rows) ([][]string, error) {
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rs.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range raw {
			if v == nil {
				row[i] = "NULL"
			} else {
				row[i] = string(v)
			}
		}
		out = append(out, row)
	}
	return out, rs.Err()
}

func mustRows(t testing.TB, q queryer, query string, args ...any) [][]string {
	t.Helper()
	r, err := queryRows(q, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return r
}

// sameRows compares two results row by row.
func sameRows(t testing.TB, what string, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d\ngot  %v\nwant %v", what, len(got), len(want), head(got), head(want))
	}
	for i := range want {
		if strings.Join(got[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Fatalf("%s: row %d is %q, want %q", what, i, got[i], want[i])
		}
	}
}

func head(r [][]string) [][]string { return r[:min(len(r), 5)] }

// mysqlError returns err as a server error, or nil.
func mysqlError(err error) *mysql.MySQLError {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me
	}
	return nil
}

// goroutines waits for the goroutine count to settle at most slack above
// base and returns it.
func settleGoroutines(base, slack int, within time.Duration) int {
	deadline := time.Now().Add(within)
	n := runtime.NumGoroutine()
	for n > base+slack && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// waitFor polls f until it is true (true) or the timeout passes (false).
func waitFor(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// eventually polls f until it is true or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fmtInts(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}
