package abuse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// joinData fills ja and jb (on the shards and in the reference database):
// n rows each, joined on k (not their sharding column), so a join of them
// runs as a nested loop at the proxy.
func joinData(t testing.TB, n int) {
	t.Helper()
	var ids []int64
	var av, bv []string
	for i := 1; i <= n; i++ {
		ids = append(ids, int64(i))
		av = append(av, fmt.Sprintf("%d,%d,'a%d'", i, i%97, i))
		bv = append(bv, fmt.Sprintf("%d,%d,'b%d'", i, i%89, i))
	}
	loadRows(t, "ja", ids, av)
	loadRows(t, "jb", ids, bv)
}

// joinQueries are cross-shard joins (nested loops at the proxy) and the
// plain queries that follow them; each is run through the proxy inside a
// transaction and compared row by row with a single MariaDB.
var joinQueries = []string{
	"SELECT a.id, a.v, b.id, b.w FROM ja a JOIN jb b ON a.k = b.k WHERE a.id <= 300 ORDER BY a.id, b.id",
	"SELECT a.id, b.id FROM ja a JOIN jb b ON a.k = b.k AND b.id < 50 ORDER BY a.id, b.id",
	"SELECT COUNT(*) FROM ja",
	"SELECT a.id, b.w FROM ja a LEFT JOIN jb b ON a.k = b.k AND b.id > 1000 WHERE a.id < 200 ORDER BY a.id, b.w",
	"SELECT id, v FROM ja WHERE id = 7",
	"SELECT a.id, b.id FROM ja a JOIN jb b ON a.k = b.k AND a.id < b.id WHERE a.id < 100 AND b.id < 400 ORDER BY a.id, b.id",
	"SELECT id, w FROM jb WHERE id IN (3, 400, 999) ORDER BY id",
	"SELECT a.id, b.id FROM ja a JOIN jb b ON a.k = b.k WHERE a.id < 40 ORDER BY a.id, b.id LIMIT 17",
}

// TestJoinInTransaction: cross-shard joins inside a transaction (BEGIN, and
// autocommit=0 as PyMySQL starts) used to answer "malformed column
// definition" and leave the session's answers one query behind: the join's
// inner query went out on the shard connection that the transaction had
// pinned while the outer query's rows were still being read from it.
func TestJoinInTransaction(t *testing.T) {
	p := startProxy(t, "")
	joinData(t, 1200)
	ref := refDB(t)
	want := make([][][]string, len(joinQueries))
	for i, q := range joinQueries {
		want[i] = mustRows(t, ref, q)
		if len(want[i]) == 0 {
			t.Fatalf("reference query returns no rows: %s", q)
		}
	}
	for _, start := range []string{"BEGIN", "SET autocommit=0"} {
		t.Run(start, func(t *testing.T) {
			db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, start); err != nil {
				t.Fatal(err)
			}
			// A write first, so the transaction holds both shards'
			// connections pinned, then the joins and the plain queries, twice.
			if _, err := conn.ExecContext(ctx, "UPDATE ja SET v = v WHERE id IN (1, 2, 3, 4)"); err != nil {
				t.Fatal(err)
			}
			for round := 0; round < 2; round++ {
				for i, q := range joinQueries {
					got, err := queryRows(conn, q)
					if err != nil {
						t.Fatalf("round %d, %s: %v", round, q, err)
					}
					sameRows(t, q, got, want[i])
				}
			}
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
			got := mustRows(t, conn, "SELECT id, v FROM ja WHERE id = 7")
			sameRows(t, "after rollback", got, [][]string{{"7", "a7"}})
		})
	}
	eventually(t, 5*time.Second, "pool in use back to 0", func() bool { return inUse(p) == 0 })
}

// TestJoinInTransactionMemoryBound: inside a transaction a join's outer
// rows still to come are read into memory before the inner query goes out
// on the same shard connection; past limits.max_memory_rows the statement
// fails with 1041 naming the limit (counted in limit_hits), the
// transaction can be rolled back, and the session goes on in step.
func TestJoinInTransactionMemoryBound(t *testing.T) {
	p := startProxy(t, "limits: {max_memory_rows: 500}\n")
	joinData(t, 1200)
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	// 1200 outer rows over 2 shards: more than 500 left to spool.
	_, err = queryRows(conn, "SELECT a.id, b.id FROM ja a JOIN jb b ON a.k = b.k AND b.id < 3")
	wantMySQLError(t, "join in a transaction past max_memory_rows", err, 1041, "HY000", "inside a transaction must hold more than 500 rows")
	if got := limitHits(t, p, "max_memory_rows"); got != 1 {
		t.Errorf("limit_hits{limit=max_memory_rows} = %v, want 1", got)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	// A smaller join in a new transaction works, in step.
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	q := "SELECT a.id, b.id FROM ja a JOIN jb b ON a.k = b.k WHERE a.id <= 200 AND b.id < 100 ORDER BY a.id, b.id"
	sameRows(t, q, mustRows(t, conn, q), mustRows(t, refDB(t), q))
	sameRows(t, "plain query", mustRows(t, conn, "SELECT id, v FROM ja WHERE id = 5"), [][]string{{"5", "a5"}})
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	eventually(t, 5*time.Second, "pool in use back to 0", func() bool { return inUse(p) == 0 })
}

// pymysqlJoins runs joinQueries with PyMySQL as an application does: its
// connection starts with autocommit off, so every query runs inside a
// transaction. It prints each result as JSON, one line per query.
const pymysqlJoins = `
import json, sys
import pymysql
conn = pymysql.connect(host=sys.argv[1], port=int(sys.argv[2]), user="app", password="secret", database="customer")
queries = json.loads(sys.argv[3])
cur = conn.cursor()
for _ in range(2):
    for q in queries:
        cur.execute(q)
        rows = [["NULL" if v is None else str(v) for v in r] for r in cur.fetchall()]
        print(json.dumps(rows))
conn.rollback()
conn.close()
`

// TestJoinInTransactionPyMySQL: the case of the report, with PyMySQL
// itself (autocommit=0 by default): cross-shard joins and plain queries,
// twice, row by row against a single MariaDB.
func TestJoinInTransactionPyMySQL(t *testing.T) {
	const python = "/usr/bin/python3" // Debian's, where python3-pymysql installs
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is missing: %v", python, err)
	}
	p := startProxy(t, "")
	joinData(t, 1200)
	ref := refDB(t)
	qs, _ := json.Marshal(joinQueries)
	host, port, _ := net.SplitHostPort(p.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", pymysqlJoins, host, port, string(qs)).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("PyMySQL: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2*len(joinQueries) {
		t.Fatalf("PyMySQL printed %d results, want %d", len(lines), 2*len(joinQueries))
	}
	for i, line := range lines {
		q := joinQueries[i%len(joinQueries)]
		var got [][]string
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got == nil {
			got = [][]string{}
		}
		sameRows(t, "PyMySQL: "+q, got, mustRows(t, ref, q))
	}
	eventually(t, 5*time.Second, "pool in use back to 0", func() bool { return inUse(p) == 0 })
}
