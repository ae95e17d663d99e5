package engine

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testenv"
)

// TestGeneralWeights: under the general_ci collations the shards send no sort
// weight and the proxy computes it from a table (router/weight.go). Every
// ASCII character, alone and next to letters, and every character of the
// Basic Multilingual Plane plus a few beyond it must sort, group, deduplicate
// and join through the proxy exactly as on one MariaDB, PAD SPACE included
// ('a\t' < 'a' = 'a '). Column u (utf8mb4_unicode_ci, weights from the
// shards) holds the ASCII strings without control characters only: for
// weights from shards the proxy does not know the weight of a space, a known
// gap (docs/compatibility.md).
func TestGeneralWeights(t *testing.T) {
	ctx, proxy, ref := proxyAndRef(t)

	const ddl = `CREATE TABLE collation_weight (
  id INT NOT NULL PRIMARY KEY,
  c VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL,
  c3 VARCHAR(8) CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci NULL,
  u VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
  KEY (c), KEY (c3), KEY (u)
) ENGINE=InnoDB`
	var values []string
	for b := 0; b < 128; b++ {
		ch := string(rune(b))
		values = append(values, ch, "a"+ch, ch+"B", "b"+ch+"b")
	}
	values = append(values, "", " ", "é", "É", "e", "éa", "Ä", "ß", "ss", "Straße", "aÄ", "😀", "a😀", "ñ", "Ñ", "n", "𝒜", "a\u00a0", "a\u00a0b")
	for r := rune(0x80); r <= 0xFFFF; r++ {
		if r < 0xD800 || r > 0xDFFF {
			values = append(values, string(r))
		}
	}
	for _, db := range []*sql.DB{proxy, ref} {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS collation_weight"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			t.Fatal(err)
		}
		var rows []string
		var args []any
		flush := func() {
			if len(rows) == 0 {
				return
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO collation_weight VALUES "+strings.Join(rows, ","), args...); err != nil {
				t.Fatalf("inserting rows: %v", err)
			}
			rows, args = rows[:0], args[:0]
		}
		for i, v := range values {
			var c3, u any = v, v
			if strings.IndexFunc(v, func(r rune) bool { return r > 0xFFFF }) >= 0 {
				c3 = nil // not in utf8mb3
			}
			if strings.IndexFunc(v, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
				u = nil
			}
			rows = append(rows, "(?, ?, ?, ?)")
			args = append(args, i+1, v, c3, u)
			if len(rows) == 500 {
				flush()
			}
		}
		flush()
	}
	t.Cleanup(func() {
		_, _ = proxy.Exec("DROP TABLE IF EXISTS collation_weight")
		_, _ = ref.Exec("DROP TABLE IF EXISTS collation_weight")
	})

	for _, col := range []string{"c", "c3", "u"} {
		for _, q := range []string{
			"SELECT id, HEX(%[1]s) FROM collation_weight ORDER BY %[1]s, id",
			"SELECT id, HEX(%[1]s) FROM collation_weight ORDER BY %[1]s DESC, id",
			"SELECT MIN(id), MAX(id), COUNT(*) FROM collation_weight GROUP BY %[1]s ORDER BY 1",
			"SELECT COUNT(DISTINCT %[1]s) FROM collation_weight",
			"SELECT MIN(id), COUNT(*) FROM collation_weight GROUP BY %[1]s HAVING MAX(%[1]s) = 'Ë' ORDER BY 1",
			"SELECT HEX(MIN(%[1]s)), HEX(MAX(%[1]s)) FROM collation_weight WHERE id > 1",
			"SELECT COUNT(*) FROM collation_weight a JOIN collation_weight b ON a.%[1]s = b.%[1]s",
		} {
			sameRows(ctx, t, proxy, ref, fmt.Sprintf(q, col))
		}
	}
}

// proxyAndRef opens database customer through a 2-shard proxy and on the
// reference MariaDB, for the test, with a minute to run.
func proxyAndRef(t *testing.T) (context.Context, *sql.DB, *sql.DB) {
	_, ctx, proxy, ref := startProxyAndRef(t)
	return ctx, proxy, ref
}

// startProxyAndRef is proxyAndRef that also returns the proxy.
func startProxyAndRef(t *testing.T) (*testenv.Proxy, context.Context, *sql.DB, *sql.DB) {
	p := startProxy(t, 2, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	var dbs [2]*sql.DB
	for i, dsn := range []string{p.DSN("customer"), "root@tcp(" + refServer().Addr() + ")/customer"} {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return p, ctx, dbs[0], dbs[1]
}

// createOnBoth creates table through the proxy and on the reference with the
// statements given (CREATE, INSERT …), and drops it when the test ends.
func createOnBoth(ctx context.Context, t *testing.T, proxy, ref *sql.DB, table string, stmts ...string) {
	t.Helper()
	for _, db := range []*sql.DB{proxy, ref} {
		for _, q := range append([]string{"DROP TABLE IF EXISTS " + table}, stmts...) {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	t.Cleanup(func() { _, _ = proxy.Exec("DROP TABLE " + table); _, _ = ref.Exec("DROP TABLE " + table) })
}

// sameRows checks that q returns the same rows in the same order through the
// proxy (a connection pool or a transaction) and on the reference. With
// args the statement is prepared (the binary protocol).
func sameRows(ctx context.Context, t *testing.T, proxy, ref queryer, q string, args ...any) {
	t.Helper()
	got, err := textRows(ctx, proxy, q, args...)
	if err != nil {
		t.Errorf("%s through the proxy: %v", q, err)
		return
	}
	want, err := textRows(ctx, ref, q, args...)
	if err != nil {
		t.Fatalf("%s on the reference: %v", q, err)
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d rows through the proxy, %d on MariaDB", q, len(got), len(want))
		return
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: row %d is %s through the proxy, %s on MariaDB", q, i+1, got[i], want[i])
			return
		}
	}
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// textRows reads every row as rowText.
func textRows(ctx context.Context, db queryer, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	res, err := readResult(rows)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(res.rows))
	for i, r := range res.rows {
		out[i] = rowText(r)
	}
	return out, nil
}

// TestEnumOrder: MariaDB orders ENUM and SET columns by their position in
// the type, which the proxy does not know. Across shards, ordering,
// grouping or deduplicating by one is refused with 1235 naming the column
// (never a result in the wrong order or with split groups); the ways around
// it the message names, MIN/MAX (which compare the text) and a query routed
// to one shard answer as one MariaDB does.
func TestEnumOrder(t *testing.T) {
	ctx, proxy, ref := proxyAndRef(t)
	createOnBoth(ctx, t, proxy, ref, "enum_order",
		"CREATE TABLE enum_order (id BIGINT NOT NULL PRIMARY KEY, e ENUM('zebra','apple','mango') NOT NULL, s SET('b','a') NOT NULL)",
		"INSERT INTO enum_order VALUES (1,'zebra','a'),(2,'apple','b'),(3,'mango','a,b'),(4,'zebra','b'),(5,'apple',''),(6,'mango','a'),(7,'zebra','a,b'),(8,'apple','a'),(9,'mango','b'),(10,'zebra','')")

	for _, q := range []string{
		"SELECT id, e FROM enum_order ORDER BY e, id",
		"SELECT e, COUNT(*) FROM enum_order GROUP BY e",
		"SELECT DISTINCT e FROM enum_order",
		"SELECT id FROM enum_order ORDER BY s DESC, id",
		"SELECT COUNT(DISTINCT e) FROM enum_order",
	} {
		_, err := textRows(ctx, proxy, q)
		if err == nil || !strings.Contains(err.Error(), "1235") || !strings.Contains(err.Error(), "ENUM or SET column") {
			t.Errorf("%s: got %v, want error 1235 naming the ENUM or SET column", q, err)
		}
	}
	for _, q := range []string{
		"SELECT id, e FROM enum_order ORDER BY e+0, id",
		"SELECT id, e FROM enum_order ORDER BY CAST(e AS CHAR), id",
		"SELECT e+0 AS pos, COUNT(*) FROM enum_order GROUP BY pos ORDER BY pos",
		"SELECT MIN(e), MAX(e), MIN(s), MAX(s) FROM enum_order",
		"SELECT id, e FROM enum_order WHERE id = 3 ORDER BY e",
	} {
		sameRows(ctx, t, proxy, ref, q)
	}
}

// TestBinJoinCondition: an ON condition between utf8mb4_bin columns of tables
// joined at the proxy is checked on a shard with the values as literals,
// which must keep the binary collation ('card' != 'Card').
func TestBinJoinCondition(t *testing.T) {
	ctx, proxy, ref := proxyAndRef(t)
	createOnBoth(ctx, t, proxy, ref, "bin_join",
		"CREATE TABLE bin_join (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, m VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL)",
		"INSERT INTO bin_join VALUES (1,1,'card'),(2,1,'Card'),(3,2,'cash'),(4,2,'CASH'),(5,1,'card'),(6,2,NULL)")
	for _, q := range []string{
		"SELECT a.id, b.id FROM bin_join a LEFT JOIN bin_join b ON b.k = a.k AND b.m = a.m ORDER BY a.id, b.id",
		"SELECT a.id, b.id FROM bin_join a LEFT JOIN bin_join b ON b.k = a.k AND b.m < a.m ORDER BY a.id, b.id",
		"SELECT a.id, b.id FROM bin_join a JOIN bin_join b ON b.m = a.m ORDER BY a.id, b.id",
	} {
		sameRows(ctx, t, proxy, ref, q)
	}
}
