package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestUnsupportedOnScatter: a SELECT over several shards that needs the
// proxy to merge (ORDER BY, LIMIT, aggregates, GROUP BY, DISTINCT) is either
// refused with 1235 naming the construct (the skeleton) or answered exactly
// as one MariaDB holding all rows answers (once the query engine merges it):
// never a silently wrong answer. An UPDATE of the sharding column is refused
// with 1235. The connection stays usable and nothing changes.
func TestUnsupportedOnScatter(t *testing.T) {
	p := startShared(t, "")
	// The reference: the same rows in one MariaDB.
	if err := servers[3].Exec(context.Background(), "CREATE DATABASE IF NOT EXISTS customer"); err != nil {
		t.Fatal(err)
	}
	ref := conn(t, directDB(t, 3, "customer"))
	for _, mode := range []struct {
		name   string
		params []string
	}{{"text", []string{"interpolateParams=true"}}, {"binary", nil}} {
		t.Run(mode.name, func(t *testing.T) {
			db := p.DB(t, "customer", mode.params...)
			c := conn(t, db)
			// ids of a are on -80, of b on 80-.
			a, b := idsOnShard(t, 0, 3, 1, shardNames2), idsOnShard(t, 1, 3, 1, shardNames2)
			var vals, all []string
			for i, id := range append(a, b...) {
				vals = append(vals, fmt.Sprintf("(%d, 'n%d', %d)", id, i, i%2))
				all = append(all, fmt.Sprintf("%q|%q|%q", fmt.Sprint(id), fmt.Sprintf("n%d", i), fmt.Sprint(i%2)))
			}
			for _, e := range []execer{c, ref} {
				mustExec(t, e, "DROP TABLE IF EXISTS unsup_t")
				mustExec(t, e, "CREATE TABLE unsup_t (customer_id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(32) NOT NULL, grp INT NOT NULL)")
				if n := mustExec(t, e, "INSERT INTO unsup_t VALUES "+strings.Join(vals, ", ")); n != 6 {
					t.Fatalf("INSERT: %d rows affected, want 6", n)
				}
			}
			cross := fmt.Sprintf("%d, %d", a[0], b[0]) // an IN list over both shards
			const (
				multiset = iota
				ordered
				limited // LIMIT without a total order: n rows out of the reference's rows without the LIMIT
			)
			for _, tc := range []struct {
				sql   string
				args  []any
				any   []string // a refusal names one of these
				check int
				n     int    // for limited: row count
				whole string // for limited: the query without LIMIT
			}{
				{sql: "SELECT * FROM unsup_t ORDER BY name", any: []string{"ORDER BY"}, check: ordered},
				{sql: "SELECT * FROM unsup_t ORDER BY grp DESC, customer_id", any: []string{"ORDER BY"}, check: ordered},
				{sql: "SELECT * FROM unsup_t LIMIT 2", any: []string{"LIMIT"}, check: limited, n: 2, whole: "SELECT * FROM unsup_t"},
				{sql: "SELECT * FROM unsup_t ORDER BY customer_id LIMIT 1", any: []string{"ORDER BY", "LIMIT"}, check: ordered},
				{sql: "SELECT * FROM unsup_t ORDER BY customer_id LIMIT 2, 3", any: []string{"ORDER BY", "LIMIT"}, check: ordered},
				{sql: "SELECT COUNT(*) FROM unsup_t", any: []string{"COUNT", "aggregate"}},
				{sql: "SELECT SUM(grp), MAX(name), MIN(customer_id) FROM unsup_t", any: []string{"SUM", "MAX", "aggregate"}},
				{sql: "SELECT AVG(grp) FROM unsup_t", any: []string{"AVG", "aggregate"}},
				{sql: "SELECT grp FROM unsup_t GROUP BY grp", any: []string{"GROUP BY"}},
				{sql: "SELECT grp, COUNT(*) FROM unsup_t GROUP BY grp HAVING COUNT(*) > 1", any: []string{"GROUP BY", "HAVING"}},
				{sql: "SELECT DISTINCT grp FROM unsup_t", any: []string{"DISTINCT"}},
				{sql: "SELECT COUNT(DISTINCT grp) FROM unsup_t", any: []string{"COUNT", "DISTINCT", "aggregate"}},
				{sql: "SELECT * FROM unsup_t WHERE grp = 1 ORDER BY name", any: []string{"ORDER BY"}, check: ordered},
				{sql: "SELECT * FROM unsup_t WHERE customer_id IN (" + cross + ") ORDER BY name", any: []string{"ORDER BY"}, check: ordered},
				{sql: "SELECT COUNT(*) FROM unsup_t WHERE customer_id IN (" + cross + ")", any: []string{"COUNT", "aggregate"}},
				{sql: "SELECT * FROM unsup_t WHERE customer_id IN (?, ?) LIMIT 1", args: []any{a[0], b[0]}, any: []string{"LIMIT"},
					check: limited, n: 1, whole: "SELECT * FROM unsup_t WHERE customer_id IN (?, ?)"},
				{sql: "SELECT * FROM unsup_t WHERE grp = ? ORDER BY name", args: []any{1}, any: []string{"ORDER BY"}, check: ordered},
			} {
				what := tc.sql
				_, got, err := query(c, tc.sql, tc.args...)
				if err != nil {
					me := wantErr(t, what, err, 1235, "not supported")
					if me != nil && me.Number == 1235 {
						ok := false
						for _, s := range tc.any {
							ok = ok || strings.Contains(strings.ToUpper(me.Message), strings.ToUpper(s))
						}
						if !ok {
							t.Errorf("%s: message %q names none of %q", what, me.Message, tc.any)
						}
						if string(me.SQLState[:]) != "42000" {
							t.Errorf("%s: SQLSTATE %s, want 42000", what, me.SQLState[:])
						}
					}
					checkAlive(t, what, c)
					continue
				}
				// Answered: it must be the right answer.
				switch tc.check {
				case limited:
					whole := mustQuery(t, ref, tc.whole, tc.args...)
					if len(got) != tc.n {
						t.Errorf("%s: %d rows %q, want %d", what, len(got), got, tc.n)
					}
					if d := diffRows(got, whole, false); strings.Contains(d, "unexpected rows:\n  \"") {
						t.Errorf("%s: rows not in the table:\n%s", what, d)
					}
				default:
					want := mustQuery(t, ref, tc.sql, tc.args...)
					wantRows(t, what+" (answered by the proxy, compared with one MariaDB)", got, want, tc.check == ordered)
				}
			}
			for _, tc := range []struct {
				sql  string
				args []any
			}{
				{sql: "UPDATE unsup_t SET customer_id = 999 WHERE customer_id = " + fmt.Sprint(a[0])},
				{sql: "UPDATE unsup_t SET customer_id = customer_id + 1000"},
				{sql: "UPDATE unsup_t SET name = 'x', customer_id = ? WHERE customer_id = ?", args: []any{int64(5), b[0]}},
			} {
				_, err := c.ExecContext(ctx(t), tc.sql, tc.args...)
				wantErr(t, tc.sql, err, 1235, "not supported", "customer_id")
				checkAlive(t, tc.sql, c)
			}
			// Nothing changed.
			wantRows(t, "rows after the refused statements", mustQuery(t, c, "SELECT * FROM unsup_t"), all, false)
			// The same constructs are fine inside one shard.
			wantRows(t, "ORDER BY/LIMIT on one shard",
				mustQuery(t, c, "SELECT customer_id FROM unsup_t WHERE customer_id = ? ORDER BY name LIMIT 1", a[1]),
				[]string{fmt.Sprintf("%q", fmt.Sprint(a[1]))}, true)
			wantRows(t, "COUNT on one shard",
				mustQuery(t, c, fmt.Sprintf("SELECT COUNT(*), MAX(name) FROM unsup_t WHERE customer_id = %d", b[2])),
				[]string{`"1"|"n5"`}, true)
			// An UPDATE that sets the sharding column to its own value in the
			// routing predicate is still an update of the sharding column.
			_, err := c.ExecContext(ctx(t), fmt.Sprintf("UPDATE unsup_t SET customer_id = %d WHERE customer_id = %d", a[0], a[0]))
			if err != nil {
				wantErr(t, "UPDATE of the sharding column to the same value", err, 1235, "customer_id")
			}
		})
	}
}
