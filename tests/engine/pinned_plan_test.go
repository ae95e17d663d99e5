package engine

import (
	"database/sql"
	"strings"
	"testing"
)

// TestPinnedPlans checks the plans of the planner gaps of issue 21 (item
// 6; corpus category gaps): a statement whose sharded tables are all pinned
// to one keyspace id is ONE route to ONE shard (VEXPLAIN PLAN shows one
// EqualUnique route, VEXPLAIN QUERIES one query), on 2 and on 4 shards;
// values on different shards run the usual plan; what still needs several
// shards is refused with 1235 naming the construct.
func TestPinnedPlans(t *testing.T) {
	loadOnce(t)
	pinned := []string{
		"SELECT * FROM corder o WHERE o.customer_id = 5 AND EXISTS (SELECT 1 FROM customer c WHERE c.customer_id = 5 AND c.name LIKE 'a%')",
		"SELECT * FROM (SELECT * FROM corder WHERE customer_id = 5) d JOIN customer c ON c.customer_id = d.customer_id WHERE c.customer_id = 5",
		"SELECT d.order_id, c.name FROM (SELECT * FROM corder WHERE customer_id = 7) d JOIN customer c ON c.customer_id = d.customer_id",
		"SELECT order_id FROM corder WHERE customer_id = 5 AND product_id IN (SELECT product_id FROM corder WHERE customer_id = 5)",
		"SELECT * FROM customer WHERE customer_id = 5 AND score > (SELECT AVG(qty) FROM corder WHERE customer_id = 5)",
		"SELECT * FROM (SELECT customer_id, name FROM customer WHERE customer_id = 7 ORDER BY customer_id LIMIT 5) t",
		"SELECT * FROM (SELECT customer_id, COUNT(*) AS n FROM corder WHERE customer_id = 5 GROUP BY customer_id) t",
		"SELECT * FROM corder WHERE customer_id = 1 AND product_id IN (SELECT product_id FROM corder WHERE customer_id = 2)",
		"SELECT c.name, p.amount FROM customer c JOIN payment p ON p.payment_id = c.customer_id WHERE c.customer_id = 5",
		"WITH t AS (SELECT * FROM corder WHERE customer_id = 5) SELECT t.order_id, c.name FROM t JOIN customer c ON c.customer_id = t.customer_id",
		"SELECT name FROM customer WHERE customer_id = 5 UNION SELECT status FROM corder WHERE customer_id = 5",
		"SELECT COUNT(*) FROM (SELECT customer_id FROM customer WHERE customer_id = 7 UNION SELECT customer_id FROM corder WHERE customer_id = 7) t",
		"SELECT o.order_id, ROW_NUMBER() OVER (ORDER BY o.order_id) AS rn FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE c.customer_id = 5",
		"SELECT order_id, ROW_NUMBER() OVER (ORDER BY order_id) FROM corder WHERE customer_id = 5",
		"SELECT status, COUNT(*) FROM corder WHERE customer_id = 5 GROUP BY status WITH ROLLUP",
	}
	// Not one shard: the usual plan (its first line).
	unpinned := []struct{ sql, plan string }{
		{"SELECT * FROM (SELECT * FROM corder WHERE customer_id = 5) d JOIN customer c ON c.customer_id = d.customer_id WHERE c.customer_id = 6", "JoinSelect"},
		{"SELECT name FROM customer WHERE customer_id = 5 UNION SELECT status FROM corder WHERE customer_id = 6", "Union"},
		{"SELECT p.payment_id, c.name FROM payment p RIGHT JOIN customer c ON c.customer_id = p.customer_id", "Join (nested loop at the proxy, left"},
		{"SELECT o.order_id FROM payment p JOIN corder o ON o.order_id = p.order_id ORDER BY p.payment_id", "Trim 1 hidden columns"},
		{"SELECT status FROM corder GROUP BY status ORDER BY SUM(qty)+1", "Sort keys=[col-2 asc]"},
	}
	refused := []struct{ sql, msg string }{
		{"SELECT * FROM corder WHERE customer_id = 5 AND order_id IN (SELECT order_id FROM corder WHERE customer_id = 6)", "pinned to belong to different shards"},
		{"SELECT * FROM corder o WHERE o.customer_id = 5 AND EXISTS (SELECT 1 FROM customer c WHERE c.name LIKE 'a%')", "a subquery on a sharded table"},
		{"SELECT c.customer_id, (SELECT COUNT(*) FROM payment p WHERE p.customer_id = c.customer_id) AS n FROM customer c WHERE c.customer_id = 5", "a subquery on a sharded table"},
		{"SELECT c.customer_id, o.order_id FROM customer c LEFT JOIN corder o ON o.customer_id = 5 AND c.customer_id = 5", "LEFT JOIN without an equality"},
		{"SELECT order_id, SUM(qty) OVER (PARTITION BY customer_id) FROM corder", "window functions across shards"},
		{"SELECT status, COUNT(*) FROM corder GROUP BY status WITH ROLLUP", "WITH ROLLUP across shards"},
		{"SELECT o.order_id, p.payment_id FROM customer c JOIN corder o ON o.customer_id = c.customer_id RIGHT JOIN payment p ON p.order_id = o.order_id", "RIGHT JOIN across shards whose left side is a join"},
	}
	for _, n := range topologies {
		p := startProxy(t, n, "")
		db, err := sql.Open("mysql", p.DSN("customer"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		lines := func(q string) ([][]string, error) {
			rows, err := db.Query(q)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			cols, _ := rows.Columns()
			var out [][]string
			for rows.Next() {
				vals := make([]any, len(cols))
				strs := make([]sql.NullString, len(cols))
				for i := range vals {
					vals[i] = &strs[i]
				}
				if err := rows.Scan(vals...); err != nil {
					return nil, err
				}
				var l []string
				for _, s := range strs {
					l = append(l, s.String)
				}
				out = append(out, l)
			}
			return out, rows.Err()
		}
		for _, q := range pinned {
			plan, err := lines("VEXPLAIN PLAN " + q)
			if err != nil {
				t.Errorf("shards=%d: %s: %v", n, q, err)
				continue
			}
			if len(plan) == 0 || !strings.HasPrefix(plan[0][0], "Route EqualUnique ") {
				t.Errorf("shards=%d: %s: want one EqualUnique route, plan:\n%v", n, q, plan)
			}
			queries, err := lines("VEXPLAIN QUERIES " + q)
			if err != nil {
				t.Errorf("shards=%d: %s: %v", n, q, err)
				continue
			}
			if len(queries) != 1 {
				t.Errorf("shards=%d: %s: want one query to one shard, sent %v", n, q, queries)
			}
		}
		for _, c := range unpinned {
			plan, err := lines("VEXPLAIN PLAN " + c.sql)
			if err != nil {
				t.Errorf("shards=%d: %s: %v", n, c.sql, err)
				continue
			}
			var all []string
			for _, l := range plan {
				all = append(all, l[0])
			}
			if !strings.Contains(strings.Join(all, "\n"), c.plan) {
				t.Errorf("shards=%d: %s: plan lacks %q:\n%s", n, c.sql, c.plan, strings.Join(all, "\n"))
			}
		}
		for _, c := range refused {
			_, err := lines(c.sql)
			if !is1235(err) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("shards=%d: %s: want 1235 naming %q, got %v", n, c.sql, c.msg, err)
			}
		}
	}
}
