package clients

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/internal/testenv"
)

// shardNames are the customer shards in server order (servers[1], servers[2]).
var shardNames = testenv.ShardNames(2)

// start starts a proxy over the package's servers; it stops with the test.
func start(t testing.TB) *testenv.Proxy {
	t.Helper()
	testenv.RequireMariaDB(t)
	return testenv.StartProxy(t, testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: testVSchema})
}

var refOnce struct {
	sync.Once
	err error
}

// reference returns the address of the plain MariaDB server (servers[3])
// after giving it what the proxy offers: user app/secret and the databases
// customer and commerce.
func reference(t testing.TB) string {
	t.Helper()
	testenv.RequireMariaDB(t)
	refOnce.Do(func() {
		refOnce.err = servers[3].Exec(context.Background(),
			"CREATE DATABASE IF NOT EXISTS customer",
			"CREATE DATABASE IF NOT EXISTS commerce",
			"CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'secret'",
			"GRANT ALL ON *.* TO 'app'@'%'")
	})
	if refOnce.err != nil {
		t.Fatal(refOnce.err)
	}
	return servers[3].Addr()
}

// target is where a client runs: the proxy, or the plain reference server.
type target struct {
	name string // "proxy" or "reference"
	addr string
}

func targets(t testing.TB, p *testenv.Proxy) []target {
	return []target{{"proxy", p.Addr}, {"reference", reference(t)}}
}

// shardOf returns the index into shardNames of the shard owning id.
func shardOf(t testing.TB, id int64) int {
	t.Helper()
	i, err := testenv.ShardOf(id, shardNames)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// idOnShard returns the smallest id >= from owned by shard idx.
func idOnShard(t testing.TB, idx int, from int64) int64 {
	t.Helper()
	for id := from; ; id++ {
		if shardOf(t, id) == idx {
			return id
		}
	}
}

// checkResult is what one run of a client program reported.
type checkResult struct {
	ok, failed int
	fails      []string
}

// runChecks runs a client program that prints "ok <name>" and
// "FAIL <name>: <detail>" lines, reports every FAIL as a test error
// (prefixed by what) and returns the counts. A non-zero exit without a FAIL
// line, or a zero exit with one, is an error too.
func runChecks(t *testing.T, what string, timeout time.Duration, name string, args ...string) checkResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var res checkResult
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "ok "):
			res.ok++
		case strings.HasPrefix(line, "FAIL "):
			res.failed++
			res.fails = append(res.fails, strings.TrimPrefix(line, "FAIL "))
			t.Errorf("%s: %s", what, strings.TrimPrefix(line, "FAIL "))
		default:
			t.Logf("%s: %s", what, line)
		}
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Errorf("%s: %s did not finish within %v (stderr: %s)", what, name, timeout, tailString(stderr.String(), 3000))
	case errors.As(err, &ee):
		if res.failed == 0 {
			t.Errorf("%s: %s exited with %d without a FAIL line; stderr:\n%s", what, name, ee.ExitCode(), tailString(stderr.String(), 3000))
		}
	case err != nil:
		t.Fatalf("%s: %s: %v", what, name, err)
	default:
		if res.failed > 0 {
			t.Errorf("%s: %s exited with 0 after %d FAIL lines", what, name, res.failed)
		}
		if res.ok == 0 {
			t.Errorf("%s: %s reported no check; stdout:\n%s\nstderr:\n%s", what, name, stdout.String(), tailString(stderr.String(), 3000))
		}
	}
	if s := strings.TrimSpace(stderr.String()); s != "" && (res.failed > 0 || err != nil) {
		t.Logf("%s: stderr:\n%s", what, tailString(s, 3000))
	}
	t.Logf("%s: %d checks ok, %d failed", what, res.ok, res.failed)
	return res
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func hostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// dsn is a go-sql-driver DSN for app/secret at addr, database db.
func dsn(addr, db string, params ...string) string {
	s := "app:secret@tcp(" + addr + ")/" + db
	if len(params) > 0 {
		s += "?" + strings.Join(params, "&")
	}
	return s
}

// open opens a database/sql pool at addr; it is closed with the test.
func open(t testing.TB, addr, db string, params ...string) *sql.DB {
	t.Helper()
	h, err := sql.Open("mysql", dsn(addr, db, params...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// conn returns one dedicated connection of db.
func conn(t testing.TB, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func ctx30() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// queryRows runs a query and returns its rows as strings (NULL as "NULL").
func queryRows(q queryer, query string, args ...any) ([]string, [][]string, error) {
	ctx, cancel := ctx30()
	defer cancel()
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]string
	for rs.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]string, len(cols))
		for i, b := range raw {
			if b == nil {
				row[i] = "NULL"
			} else {
				row[i] = string(b)
			}
		}
		out = append(out, row)
	}
	return cols, out, rs.Err()
}

// rows is queryRows that reports an error (and returns nil) on failure.
func rows(t testing.TB, q queryer, query string, args ...any) [][]string {
	t.Helper()
	_, r, err := queryRows(q, query, args...)
	if err != nil {
		t.Errorf("%s: %v", query, err)
		return nil
	}
	return r
}

// one returns the single value of a one-row, one-column query ("" and an
// error on failure).
func one(t testing.TB, q queryer, query string, args ...any) string {
	t.Helper()
	_, r, err := queryRows(q, query, args...)
	if err != nil {
		t.Errorf("%s: %v", query, err)
		return ""
	}
	if len(r) != 1 || len(r[0]) != 1 {
		t.Errorf("%s: want one value, got %v", query, r)
		return ""
	}
	return r[0][0]
}

// mustExec runs statements, failing the test on the first error.
func mustExec(t testing.TB, e execer, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		ctx, cancel := ctx30()
		_, err := e.ExecContext(ctx, q)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// exec runs one statement and reports an error; it returns the result or nil.
func exec1(t testing.TB, e execer, q string, args ...any) sql.Result {
	t.Helper()
	ctx, cancel := ctx30()
	defer cancel()
	res, err := e.ExecContext(ctx, q, args...)
	if err != nil {
		t.Errorf("%s: %v", q, err)
		return nil
	}
	return res
}

// mysqlErr returns err as a server error, or nil.
func mysqlErr(err error) *mysql.MySQLError {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me
	}
	return nil
}

// eq reports got != want as an error.
func eq[T comparable](t testing.TB, what string, got, want T) bool {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
		return false
	}
	return true
}

// fmtRows renders rows compactly for messages.
func fmtRows(r [][]string) string {
	var b strings.Builder
	for i, row := range r {
		if i > 0 {
			b.WriteString("; ")
		}
		if i == 20 {
			fmt.Fprintf(&b, "... (%d rows)", len(r))
			break
		}
		b.WriteString(strings.Join(row, "|"))
	}
	return "[" + b.String() + "]"
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// runQuiet runs a command and returns its combined output.
func runQuiet(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}
