// Package security tests shardgate's trust boundary as an attacker with an
// ordinary account would try it, through the proxy's MySQL port only, and
// checks the shards' own state afterwards (rows, users, plugins, files,
// variables, servers up): what the proxy parsed and allowed is all that may
// reach a shard, whatever rights the shard account has. The proxy here
// reaches the shards as root, the worst case; TestLeastPrivilegeAccount runs
// the same cluster through the least-privilege account the docs ask for.
package security

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// servers: 0 = global keyspace "commerce" (and keyspace "vault" beside it),
// 1-2 = shards of "customer".
var servers []*mariadbd.Server

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, 3, &servers)) }

const vschema = `vindexes:
  hash: {type: hash}
tables:
  customer:
    column_vindexes: [{column: customer_id, name: hash}]
`

// Users besides testenv's app/secret (all keyspaces) and reader/reader
// (read-only): comm may use commerce only.
const extraUsers = `  - name: comm
    password: commpw
    keyspaces: [commerce]
`

// options shape a test proxy.
type options struct {
	extra     string // top-level YAML
	shardUser string // the shard account ("" = root)
	shardPass string
}

// startProxy starts an in-process proxy over the package's servers with a
// third keyspace "vault", unsharded, in a database of the global server
// (which also holds a database "hidden" that is no keyspace).
func startProxy(t testing.TB, o options) *testenv.Proxy {
	t.Helper()
	testenv.RequireMariaDB(t)
	prepareData(t)
	topology := testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: vschema, Extra: o.extra,
		ShardUser: o.shardUser, ShardPassword: o.shardPass}
	y := topology.YAML()
	y = strings.Replace(y, "users:\n", "users:\n"+extraUsers, 1)
	user := o.shardUser
	if user == "" {
		user = "root"
	}
	y += fmt.Sprintf("  vault:\n    sharded: false\n    shards:\n      \"0\": {host: 127.0.0.1, port: %d, user: %s, password: %q, database: vault}\n",
		servers[0].Port, user, o.shardPass)
	return testenv.StartProxyYAML(t, y)
}

var prepared bool

// prepareData creates the databases and rows every test starts from.
func prepareData(t testing.TB) {
	t.Helper()
	if prepared {
		return
	}
	ctx := context.Background()
	must(t, servers[0].Exec(ctx,
		"CREATE DATABASE IF NOT EXISTS commerce", "CREATE DATABASE IF NOT EXISTS vault",
		"CREATE TABLE IF NOT EXISTS commerce.g_t (id BIGINT PRIMARY KEY, v VARCHAR(20))",
		"REPLACE INTO commerce.g_t VALUES (1, 'one'), (2, 'two')",
		"CREATE TABLE IF NOT EXISTS vault.secrets (id INT PRIMARY KEY, secret VARCHAR(40))",
		"REPLACE INTO vault.secrets VALUES (1, 'the vault secret')",
		// A database of the server that is no keyspace of the proxy.
		"CREATE DATABASE IF NOT EXISTS hidden", "CREATE TABLE IF NOT EXISTS hidden.h (h VARCHAR(40))",
		"DELETE FROM hidden.h", "INSERT INTO hidden.h VALUES ('not for clients')"))
	for _, s := range servers[1:3] {
		must(t, s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS customer",
			"CREATE TABLE IF NOT EXISTS customer.customer (customer_id BIGINT PRIMARY KEY, name VARCHAR(40))",
			"DELETE FROM customer.customer"))
	}
	// Rows through a plain proxy, each on the shard its hash names.
	seed := testenv.StartProxy(t, testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: vschema})
	defer seed.Stop()
	db := seed.DB(t, "customer")
	for _, id := range []int{1, 2, 3, 4, 5, 6} {
		_, err := db.Exec("INSERT INTO customer (customer_id, name) VALUES (?, ?)", id, fmt.Sprintf("name-%d", id))
		must(t, err)
	}
	db.Close()
	prepared = true
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// open returns a database/sql handle through the proxy.
func open(t testing.TB, addr, user, pw, db string, params ...string) *sql.DB {
	t.Helper()
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/%s", user, pw, addr, db)
	if len(params) > 0 {
		dsn += "?" + strings.Join(params, "&")
	}
	h, err := sql.Open("mysql", dsn)
	must(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

// direct opens a root connection to server s, database db.
func direct(t testing.TB, s *mariadbd.Server, db string) *sql.DB {
	t.Helper()
	h, err := s.DB(db)
	must(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

func code(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// scalar reads one value (NULL as "NULL").
func scalar(t testing.TB, db interface {
	QueryRow(string, ...any) *sql.Row
}, q string, args ...any) string {
	t.Helper()
	var v sql.NullString
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if !v.Valid {
		return "NULL"
	}
	return v.String
}

// rows reads a whole result as strings, one line per row.
func rows(t testing.TB, db interface {
	Query(string, ...any) (*sql.Rows, error)
}, q string, args ...any) []string {
	t.Helper()
	rs, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	out, err := scanAll(rs)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func scanAll(rs *sql.Rows) ([]string, error) {
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = fmt.Sprintf("%q", v.String)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out, rs.Err()
}

// shardState is what an attack must not change on the servers.
type shardState struct {
	customers  []string // every customer row, both shards
	gt         []string
	users      string // accounts on every server
	maxConns   string
	plugins    string // active plugins of the global server
	routines   string
	tables     string // tables of the served databases
	readOnly   string // @@global.read_only of each server
	serversUp  bool
	fileExists bool
}

var outfile = filepath.Join(os.TempDir(), "shardgate-security-outfile.txt")

func readState(t testing.TB) shardState {
	t.Helper()
	var st shardState
	st.serversUp = true
	for i, s := range servers {
		db := direct(t, s, "")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err != nil {
			st.serversUp = false
			t.Errorf("server %d down: %v", i, err)
			continue
		}
		st.users += strings.Join(rows(t, db, "SELECT user, host FROM mysql.user ORDER BY user, host"), ",") + ";"
		st.maxConns += scalar(t, db, "SELECT @@global.max_connections") + ";"
		st.readOnly += scalar(t, db, "SELECT @@global.read_only") + ";"
		st.routines += strings.Join(rows(t, db, "SELECT routine_schema, routine_name FROM information_schema.routines ORDER BY 1, 2"), ",") + ";"
		st.tables += strings.Join(rows(t, db, "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('commerce','customer','vault','hidden') ORDER BY 1, 2"), ",") + ";"
		if i > 0 {
			st.customers = append(st.customers, rows(t, db, "SELECT customer_id, name FROM customer.customer ORDER BY customer_id")...)
		}
	}
	if st.serversUp {
		g := direct(t, servers[0], "")
		st.plugins = strings.Join(rows(t, g, "SELECT plugin_name FROM information_schema.plugins WHERE plugin_status = 'ACTIVE' ORDER BY 1"), ",")
		st.gt = rows(t, g, "SELECT id, v FROM commerce.g_t ORDER BY id")
	}
	_, err := os.Stat(outfile)
	st.fileExists = err == nil
	return st
}

func (a shardState) diff(b shardState) []string {
	var d []string
	cmp := func(what string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			d = append(d, fmt.Sprintf("%s: %v -> %v", what, x, y))
		}
	}
	cmp("customer rows", a.customers, b.customers)
	cmp("commerce.g_t rows", a.gt, b.gt)
	cmp("accounts", a.users, b.users)
	cmp("max_connections", a.maxConns, b.maxConns)
	cmp("read_only", a.readOnly, b.readOnly)
	cmp("active plugins", a.plugins, b.plugins)
	cmp("routines", a.routines, b.routines)
	cmp("tables", a.tables, b.tables)
	cmp("servers up", a.serversUp, b.serversUp)
	cmp("outfile written", a.fileExists, b.fileExists)
	return d
}
