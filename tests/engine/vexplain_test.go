package engine

import (
	"context"
	"strings"
	"testing"
)

// TestVExplainMergeShapes checks that VEXPLAIN PLAN shows the plan trees of
// the merge shapes: union parts merged before the union, and DISTINCT
// aggregates over several argument sets.
func TestVExplainMergeShapes(t *testing.T) {
	p := startProxy(t, 2, "")
	db := p.DB(t, "customer")
	cases := []struct {
		sql  string
		want []string
	}{
		{"(SELECT customer_id FROM customer ORDER BY customer_id LIMIT 5) UNION (SELECT customer_id FROM corder WHERE customer_id = 3) ORDER BY 1",
			[]string{"Union distinct-parts=2 order=[col0 asc]", "  SelectMerge", "  MergeSort keys=", "  Route EqualUnique"}},
		{"((SELECT name FROM customer) UNION (SELECT name FROM country) ORDER BY name LIMIT 3) UNION ALL SELECT name FROM commerce.product",
			[]string{"Union distinct-parts=0", "  Union distinct-parts=2 order=[col0 asc] limit=", "    Route Scatter", "  Route Unsharded"}},
		{"SELECT status, COUNT(DISTINCT customer_id), COUNT(DISTINCT product_id, qty) FROM corder GROUP BY status",
			[]string{"SelectMerge", "count_distinct(", "set=2", "tagged by col", "__sg_tag"}},
	}
	for _, c := range cases {
		rows, err := db.QueryContext(context.Background(), "VEXPLAIN PLAN "+c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		var b strings.Builder
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(string)
		}
		for rows.Next() {
			if err := rows.Scan(vals...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				b.WriteString(*v.(*string) + "\n")
			}
		}
		rows.Close()
		plan := b.String()
		t.Logf("%s\n%s", c.sql, plan)
		for _, w := range c.want {
			if !strings.Contains(plan, w) {
				t.Errorf("%s: plan lacks %q:\n%s", c.sql, w, plan)
			}
		}
	}
}
