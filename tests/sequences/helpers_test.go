package sequences

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// shardNames are the customer shards, in server order (servers[1], servers[2]).
var shardNames = testenv.ShardNames(2)

// start starts a proxy over the package's servers with testVSchema.
func start(t *testing.T) *testenv.Proxy {
	t.Helper()
	testenv.RequireMariaDB(t)
	return testenv.StartProxy(t, testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: testVSchema})
}

// restart starts another proxy on p's configuration (its own port) and stops
// it when the test ends.
func restart(t *testing.T, p *testenv.Proxy) *testenv.Proxy {
	t.Helper()
	q, err := testenv.RunProxy(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Stop)
	return q
}

// shardOf returns the index into shardNames of the shard owning id under the
// Vitess hash vindex.
func shardOf(t testing.TB, id int64) int {
	t.Helper()
	i, err := testenv.ShardOf(id, shardNames)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// direct opens a connection pool to server s, database db, as root.
func direct(t testing.TB, s *mariadbd.Server, db string) *sql.DB {
	t.Helper()
	h, err := s.DB(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// rows runs a query and returns every row as strings (NULL as "NULL").
func rows(t testing.TB, q queryer, query string, args ...any) [][]string {
	t.Helper()
	rs, err := q.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rs.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
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
	if err := rs.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// one returns the single value of a one-row, one-column query.
func one(t testing.TB, q queryer, query string, args ...any) string {
	t.Helper()
	r := rows(t, q, query, args...)
	if len(r) != 1 || len(r[0]) != 1 {
		t.Fatalf("%s: want one value, got %v", query, r)
	}
	return r[0][0]
}

// oneInt is one as an int64.
func oneInt(t testing.TB, q queryer, query string, args ...any) int64 {
	t.Helper()
	s := one(t, q, query, args...)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: %q is not an integer", query, s)
	}
	return n
}

// mustExec runs statements, failing the test on the first error.
func mustExec(t testing.TB, e execer, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := e.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// shardRow is a row read directly from one shard.
type shardRow struct {
	shard int
	id    int64
	v     string // the rest of the row, joined by "|"
}

// readShards reads `SELECT id, <cols>` of customer.table from every shard
// directly (not through the proxy).
func readShards(t testing.TB, table, cols string) []shardRow {
	t.Helper()
	var out []shardRow
	for i, s := range servers[1:3] {
		db := direct(t, s, "customer")
		q := "SELECT id"
		if cols != "" {
			q += ", " + cols
		}
		for _, r := range rows(t, db, q+" FROM "+table) {
			id, err := strconv.ParseInt(r[0], 10, 64)
			if err != nil {
				t.Fatalf("%s on shard %s: id %q", table, shardNames[i], r[0])
			}
			out = append(out, shardRow{shard: i, id: id, v: strings.Join(r[1:], "|")})
		}
	}
	return out
}

// checkPlacement reads table from every shard and checks that no id is used
// twice (across shards) and that every row is on the shard the hash vindex
// maps its id to. It returns the rows.
func checkPlacement(t testing.TB, table, cols string) []shardRow {
	t.Helper()
	all := readShards(t, table, cols)
	seen := map[int64]int{}
	dups, misplaced := 0, 0
	for _, r := range all {
		if prev, ok := seen[r.id]; ok {
			if dups < 10 {
				t.Errorf("%s: id %d is on shard %s and again on shard %s", table, r.id, shardNames[prev], shardNames[r.shard])
			}
			dups++
		}
		seen[r.id] = r.shard
		if want := shardOf(t, r.id); want != r.shard {
			if misplaced < 10 {
				t.Errorf("%s: id %d is on shard %s, the hash vindex maps it to %s", table, r.id, shardNames[r.shard], shardNames[want])
			}
			misplaced++
		}
	}
	if dups+misplaced > 0 {
		t.Errorf("%s: %d rows, %d duplicate ids, %d rows on the wrong shard", table, len(all), dups, misplaced)
	}
	return all
}

// perShard counts rows by shard.
func perShard(rs []shardRow) [2]int {
	var n [2]int
	for _, r := range rs {
		n[r.shard]++
	}
	return n
}

// seqNext reads next_id and cache of commerce.<seq> directly.
func seqNext(t testing.TB, seq string) (next, cache int64) {
	t.Helper()
	db := direct(t, servers[0], "commerce")
	if err := db.QueryRow("SELECT next_id, cache FROM `"+seq+"` WHERE id = 0").Scan(&next, &cache); err != nil {
		t.Fatalf("sequence commerce.%s: %v", seq, err)
	}
	return next, cache
}

// tableComment returns the comment of db.table on s, and whether it exists.
func tableComment(t testing.TB, s *mariadbd.Server, db, table string) (string, bool) {
	t.Helper()
	r := rows(t, direct(t, s, ""), "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, table)
	if len(r) == 0 {
		return "", false
	}
	return r[0][0], true
}

// vschemaTables returns SHOW VSCHEMA TABLES through the proxy by table name:
// the row's Type, Column, Vindex, AutoIncrement, Source.
func vschemaTables(t testing.TB, q queryer) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range rows(t, q, "SHOW VSCHEMA TABLES") {
		if len(r) < 6 {
			t.Fatalf("SHOW VSCHEMA TABLES: row %v has %d columns, want 6 (Tables, Type, Column, Vindex, AutoIncrement, Source)", r, len(r))
		}
		out[strings.ToLower(r[0])] = r[1:]
	}
	return out
}

// dropEverywhere drops table on the shards (customer), and seqs in commerce,
// directly: tests start from a clean slate even when a server is reused.
func dropEverywhere(t testing.TB, table string, seqs ...string) {
	t.Helper()
	ctx := context.Background()
	for _, s := range servers[1:3] {
		if err := s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS customer", "DROP TABLE IF EXISTS customer."+table); err != nil {
			t.Fatal(err)
		}
	}
	stmts := []string{"CREATE DATABASE IF NOT EXISTS commerce", "DROP TABLE IF EXISTS commerce." + table}
	for _, s := range seqs {
		stmts = append(stmts, "DROP TABLE IF EXISTS commerce."+s)
	}
	if err := servers[0].Exec(ctx, stmts...); err != nil {
		t.Fatal(err)
	}
}

func sortedIDs(rs []shardRow) []int64 {
	ids := make([]int64, len(rs))
	for i, r := range rs {
		ids[i] = r.id
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func fmtIDs(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		if i == 20 {
			fmt.Fprintf(&b, "... (%d)", len(ids))
			break
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

// idCreate is every family's table: id numbered by the server (or a
// sequence), c the sharding column of the families sharded by c.
const idCreate = "CREATE TABLE %s (id BIGINT NOT NULL AUTO_INCREMENT, c BIGINT NOT NULL, v VARCHAR(20) NOT NULL, n BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (id), UNIQUE KEY (c, v))"

// shardKeys returns two values of c that the hash vindex puts on the two
// shards.
func shardKeys(t *testing.T) (a, b int64) {
	t.Helper()
	for c := int64(1); a == 0 || b == 0; c++ {
		if shardOf(t, c) == 0 && a == 0 {
			a = c
		} else if shardOf(t, c) == 1 && b == 0 {
			b = c
		}
	}
	return a, b
}
