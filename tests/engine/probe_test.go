package engine

import (
	"fmt"
	"strings"
	"testing"
)

// TestProxySortProbe: a scatter ORDER BY or DISTINCT first fetches each
// shard's rows unsorted, up to limits.proxy_sort_rows (256) a shard, and
// sorts them at the proxy; with more rows the shards sort and the proxy
// merges. Both paths must return what one MariaDB returns, row for row, for
// collated (general_ci, unicode_ci), binary, decimal and integer keys, with
// LIMIT/OFFSET, with DISTINCT and with prepared statements. The proxy's
// counters show which path ran: every small result was sorted at the proxy,
// a large one fell back once, and its plan then skips the probe.
func TestProxySortProbe(t *testing.T) {
	p, ctx, proxy, ref := startProxyAndRef(t)
	traps := []string{"'émile'", "'Emile'", "'EMILE'", "'Bob '", "'bob'", "'ß'", "'s'", "'a\\t'", "'a'", "'😀'", "'😁'", "'zz'", "NULL", "'Zz'", "'é'"}
	var values []string
	for i := 1; i <= 700; i++ {
		d := fmt.Sprintf("'v%02d'", i%37)
		if i%41 == 0 {
			d = "NULL"
		}
		values = append(values, fmt.Sprintf("(%d, %d, %s, %s, 'ü%d', x'%02x%02x', %d.%02d)",
			i, (i*7919)%101-50, traps[i%len(traps)], d, i%23, i%5, i%3, (i*31)%17-8, i%100))
	}
	createOnBoth(ctx, t, proxy, ref, "probe_sort",
		"CREATE TABLE probe_sort (id BIGINT NOT NULL PRIMARY KEY, k INT, c VARCHAR(20), d VARCHAR(10), u VARCHAR(10) COLLATE utf8mb4_unicode_ci, b VARBINARY(4), m DECIMAL(6,2))",
		"INSERT INTO probe_sort VALUES "+strings.Join(values, ","))

	queries := []string{
		"SELECT id, c FROM probe_sort %s ORDER BY c, id",
		"SELECT id, c FROM probe_sort %s ORDER BY c DESC, id DESC",
		"SELECT DISTINCT d FROM probe_sort %s ORDER BY d",
		"SELECT DISTINCT u FROM probe_sort %s ORDER BY u DESC",
		"SELECT DISTINCT k, d FROM probe_sort %s ORDER BY k, d",
		"SELECT id, b, m FROM probe_sort %s ORDER BY b, m DESC, id",
		"SELECT id, c FROM probe_sort %s ORDER BY c, id LIMIT 7 OFFSET 3",
		"SELECT id, LOWER(c) AS lc FROM probe_sort %s ORDER BY lc, id",
	}
	sorted0, large0 := p.Router.ProbeStats()
	for _, q := range queries {
		sameRows(ctx, t, proxy, ref, fmt.Sprintf(q, "WHERE id BETWEEN 100 AND 299"))
	}
	sameRows(ctx, t, proxy, ref, "SELECT id, c FROM probe_sort WHERE id BETWEEN ? AND ? ORDER BY c, id", 17, 160)
	sorted1, large1 := p.Router.ProbeStats()
	if sorted1-sorted0 != uint64(len(queries)+1) || large1 != large0 {
		t.Errorf("small results: %d sorted at the proxy, %d too large; want %d and 0", sorted1-sorted0, large1-large0, len(queries)+1)
	}

	// 700 rows: about 350 a shard, past the probe's 256.
	for _, q := range queries {
		sameRows(ctx, t, proxy, ref, fmt.Sprintf(q, ""))
	}
	sorted2, large2 := p.Router.ProbeStats()
	if sorted2 != sorted1 || large2-large1 != uint64(len(queries)) {
		t.Errorf("large results: %d sorted at the proxy, %d too large; want 0 and %d", sorted2-sorted1, large2-large1, len(queries))
	}
	// The plans remember: the second run goes straight to the shards' sort.
	for _, q := range queries {
		sameRows(ctx, t, proxy, ref, fmt.Sprintf(q, ""))
	}
	if sorted3, large3 := p.Router.ProbeStats(); sorted3 != sorted2 || large3 != large2 {
		t.Errorf("second run of large results: %d probes sorted, %d too large; want none", sorted3-sorted2, large3-large2)
	}

	// Wide rows: 100 rows of 4000 bytes pass the probe's 256 KiB.
	var wide []string
	for i := 1; i <= 100; i++ {
		wide = append(wide, fmt.Sprintf("(%d, REPEAT('%c', 4000))", i, 'A'+i%26))
	}
	createOnBoth(ctx, t, proxy, ref, "probe_wide",
		"CREATE TABLE probe_wide (id BIGINT NOT NULL PRIMARY KEY, w VARCHAR(4000))",
		"INSERT INTO probe_wide VALUES "+strings.Join(wide, ","))
	sameRows(ctx, t, proxy, ref, "SELECT id, w FROM probe_wide ORDER BY w DESC, id")
	if sorted, large := p.Router.ProbeStats(); sorted != sorted2 || large != large2+1 {
		t.Errorf("wide rows: %d probes sorted, %d too large; want 0 and 1", sorted-sorted2, large-large2)
	}
	sorted2, large2 = p.Router.ProbeStats()

	// In a transaction the probe and the shards' sorted query share the
	// transaction's connections: a large result falls back on them.
	tx, err := proxy.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SELECT id, m FROM probe_sort WHERE id BETWEEN 1 AND 40 ORDER BY m, id", "SELECT id, d FROM probe_sort ORDER BY d DESC, id"} {
		sameRows(ctx, t, tx, ref, q)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if sorted, large := p.Router.ProbeStats(); sorted != sorted2+1 || large != large2+1 {
		t.Errorf("in a transaction: %d probes sorted, %d too large; want 1 and 1", sorted-sorted2, large-large2)
	}
	sorted2, large2 = p.Router.ProbeStats()

	// Statements that must not run twice never probe.
	for _, q := range []string{
		"SELECT id, c FROM probe_sort WHERE id BETWEEN 1 AND 50 ORDER BY c, id FOR UPDATE",
		"SELECT id, c, @n := id FROM probe_sort WHERE id BETWEEN 1 AND 50 ORDER BY c, id",
	} {
		if _, err := textRows(ctx, proxy, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	if sorted4, large4 := p.Router.ProbeStats(); sorted4 != sorted2 || large4 != large2 {
		t.Errorf("locking read and assignment: %d probes sorted, %d too large; want none", sorted4-sorted2, large4-large2)
	}
}
