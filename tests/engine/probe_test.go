package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shardgate/shardgate/router"
)

// TestProxySortProbe: a scatter ORDER BY or DISTINCT first fetches each
// shard's rows unsorted, up to limits.proxy_sort_rows (256) a shard, and
// sorts them at the proxy; with more rows the shards sort and the proxy
// merges. Both paths must return what one MariaDB returns, row for row, for
// collated (general_ci, unicode_ci), binary, decimal and integer keys, with
// LIMIT/OFFSET, with DISTINCT and with prepared statements. The proxy's
// counters show which path ran: every small result was sorted at the proxy
// (a unicode_ci key's plan after one run that let the shards sort), a large
// one fell back once, and its plan then skips the probe.
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
	// The probe asks the shards for COLLATION(u) only; u's unicode_ci is a
	// collation the proxy does not weigh, so its first probe lets the
	// shards sort and its plan's later probes carry the shards' weights.
	before := p.Router.ProbeStats()
	for _, q := range queries {
		sameRows(ctx, t, proxy, ref, fmt.Sprintf(q, "WHERE id BETWEEN 100 AND 299"))
	}
	sameRows(ctx, t, proxy, ref, "SELECT id, c FROM probe_sort WHERE id BETWEEN ? AND ? ORDER BY c, id", 17, 160)
	sameRows(ctx, t, proxy, ref, fmt.Sprintf(queries[3], "WHERE id BETWEEN 100 AND 299"))
	after := p.Router.ProbeStats()
	if got, want := probeDelta(before, after), (router.ProbeCounts{Sorted: uint64(len(queries)) + 1, Collation: 1}); got != want {
		t.Errorf("small results: probes %+v, want %+v", got, want)
	}

	// 700 rows: about 350 a shard, past the probe's 256. These are new
	// plans: u's first probe stops at its collation, its second at the cut.
	before = after
	for _, q := range queries {
		sameRows(ctx, t, proxy, ref, fmt.Sprintf(q, ""))
	}
	after = p.Router.ProbeStats()
	if got, want := probeDelta(before, after), (router.ProbeCounts{Large: uint64(len(queries)) - 1, Collation: 1}); got != want {
		t.Errorf("large results: probes %+v, want %+v", got, want)
	}
	before = after
	for _, q := range queries {
		sameRows(ctx, t, proxy, ref, fmt.Sprintf(q, ""))
	}
	after = p.Router.ProbeStats()
	if got, want := probeDelta(before, after), (router.ProbeCounts{Large: 1}); got != want {
		t.Errorf("second run of large results: probes %+v, want %+v", got, want)
	}
	// The plans remember: the third run goes straight to the shards' sort.
	before = after
	for _, q := range queries {
		sameRows(ctx, t, proxy, ref, fmt.Sprintf(q, ""))
	}
	after = p.Router.ProbeStats()
	if got := probeDelta(before, after); got != (router.ProbeCounts{}) {
		t.Errorf("third run of large results: probes %+v, want none", got)
	}

	// Wide rows: 100 rows of 4000 bytes pass the probe's 256 KiB.
	var wide []string
	for i := 1; i <= 100; i++ {
		wide = append(wide, fmt.Sprintf("(%d, REPEAT('%c', 4000))", i, 'A'+i%26))
	}
	createOnBoth(ctx, t, proxy, ref, "probe_wide",
		"CREATE TABLE probe_wide (id BIGINT NOT NULL PRIMARY KEY, w VARCHAR(4000))",
		"INSERT INTO probe_wide VALUES "+strings.Join(wide, ","))
	before = after
	sameRows(ctx, t, proxy, ref, "SELECT id, w FROM probe_wide ORDER BY w DESC, id")
	after = p.Router.ProbeStats()
	if got, want := probeDelta(before, after), (router.ProbeCounts{Large: 1}); got != want {
		t.Errorf("wide rows: probes %+v, want %+v", got, want)
	}

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
	before, after = after, p.Router.ProbeStats()
	if got, want := probeDelta(before, after), (router.ProbeCounts{Sorted: 1, Large: 1}); got != want {
		t.Errorf("in a transaction: probes %+v, want %+v", got, want)
	}

	// Statements that must not run twice never probe. (An assignment to a
	// user variable, @n := id, is refused before it gets that far: it would
	// stay on a pooled shard connection.)
	for _, q := range []string{
		"SELECT id, c FROM probe_sort WHERE id BETWEEN 1 AND 50 ORDER BY c, id FOR UPDATE",
	} {
		if _, err := textRows(ctx, proxy, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	before, after = after, p.Router.ProbeStats()
	if got := probeDelta(before, after); got != (router.ProbeCounts{}) {
		t.Errorf("locking read: probes %+v, want none", got)
	}
}

func probeDelta(before, after router.ProbeCounts) router.ProbeCounts {
	return router.ProbeCounts{Sorted: after.Sorted - before.Sorted, Large: after.Large - before.Large, Collation: after.Collation - before.Collation}
}

// TestProbeCollationChange: the probe checks its keys' collation on every
// run, so a column ALTERed on the shards behind the proxy's back, from
// general_ci (where 'ß' weighs as 's') to unicode_ci (where it weighs as
// 'ss'), is sorted by its new collation from the next statement on.
func TestProbeCollationChange(t *testing.T) {
	p, ctx, proxy, ref := startProxyAndRef(t)
	words := []string{"ß", "sa", "ss", "st", "s", "sz", "ßa", "Æ", "ae", "af", "ad", "SS", "s ", "ſ"}
	var values []string
	for i := 1; i <= 60; i++ {
		values = append(values, fmt.Sprintf("(%d, '%s')", i, words[i%len(words)]))
	}
	createOnBoth(ctx, t, proxy, ref, "probe_coll",
		"CREATE TABLE probe_coll (id BIGINT NOT NULL PRIMARY KEY, c VARCHAR(20) COLLATE utf8mb4_general_ci)",
		"INSERT INTO probe_coll VALUES "+strings.Join(values, ","))
	const q = "SELECT id, c FROM probe_coll WHERE id BETWEEN 1 AND 60 ORDER BY c, id"
	general, err := textRows(ctx, ref, q)
	if err != nil {
		t.Fatal(err)
	}
	before := p.Router.ProbeStats()
	sameRows(ctx, t, proxy, ref, q)
	after := p.Router.ProbeStats()
	if got, want := probeDelta(before, after), (router.ProbeCounts{Sorted: 1}); got != want {
		t.Errorf("general_ci: probes %+v, want %+v", got, want)
	}

	const alter = "ALTER TABLE probe_coll MODIFY c VARCHAR(20) COLLATE utf8mb4_unicode_ci"
	for _, s := range shardServers(2) {
		db, err := s.DB(shardDB(2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, alter); err != nil {
			t.Fatalf("shard %s: %v", s.Addr(), err)
		}
	}
	if _, err := ref.ExecContext(ctx, alter); err != nil {
		t.Fatal(err)
	}
	unicode, err := textRows(ctx, ref, q)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(general) == fmt.Sprint(unicode) {
		t.Fatalf("the two collations order the rows alike; the test needs rows they order differently:\n%v", unicode)
	}

	// The first run finds the new collation and lets the shards sort; the
	// plan's next probe carries their weights.
	for i, want := range []router.ProbeCounts{{Collation: 1}, {Sorted: 1}} {
		before = after
		sameRows(ctx, t, proxy, ref, q)
		after = p.Router.ProbeStats()
		if got := probeDelta(before, after); got != want {
			t.Errorf("unicode_ci, run %d: probes %+v, want %+v", i+1, got, want)
		}
	}
}
