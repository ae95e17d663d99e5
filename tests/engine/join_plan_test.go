package engine

import (
	"database/sql"
	"strings"
	"testing"
)

// TestJoinPlans checks the plans of joins of three and more tables across
// shards: co-located tables and reference tables pushed down together as
// one leaf, the leaves joined left-deep at the proxy. VEXPLAIN PLAN shows
// the tree.
func TestJoinPlans(t *testing.T) {
	p := startProxy(t, 2, "")
	db, err := sql.Open("mysql", p.DSN("customer"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		sql  string
		want []string // substrings of the plan, in order
	}{
		{"SELECT c.name, p.name FROM customer c JOIN corder o ON o.customer_id = c.customer_id JOIN commerce.product p ON p.product_id = o.product_id WHERE c.customer_id IN (1, 2, 3)",
			[]string{"JoinSelect", "Join (nested loop at the proxy, inner", "outer: Route IN keyspace=customer", "JOIN `corder` AS `o`", "inner: Route Unsharded keyspace=commerce"}},
		{"SELECT p.payment_id, o.order_id, k.name FROM payment p LEFT JOIN corder o ON o.order_id = p.order_id LEFT JOIN customer c ON c.customer_id = o.customer_id LEFT JOIN country k ON k.code = c.country_code",
			[]string{"JoinSelect", "Join (nested loop at the proxy, left", "outer: Route Scatter keyspace=customer", "inner: Route Scatter", "LEFT JOIN `customer` AS `c`", "LEFT JOIN `country` AS `k`"}},
		{"SELECT p.payment_id, o.order_id, c.name FROM payment p JOIN corder o ON o.order_id = p.order_id JOIN customer c ON c.customer_id = p.customer_id ORDER BY p.payment_id LIMIT 5",
			[]string{"JoinSelect", "Join (nested loop at the proxy, inner", "outer: Join (nested loop at the proxy, inner", "outer: Route Scatter keyspace=customer", "inner: Route Scatter keyspace=customer", "inner: Route IN keyspace=customer query=", "Sort keys", "Limit"}},
	} {
		rows, err := db.Query("VEXPLAIN PLAN " + c.sql)
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		var lines []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		rows.Close()
		plan := strings.Join(lines, "\n")
		t.Logf("%s\n%s", c.sql, plan)
		rest := plan
		for _, w := range c.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s: plan lacks %q (in order):\n%s", c.sql, w, plan)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}
