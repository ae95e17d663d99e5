package abuse

import (
	"fmt"
	"strings"
	"testing"
)

// wideSelect is a statement of about size bytes whose normalized text is
// its own (column aliases are not literals): n distinct ones make n plans.
func wideSelect(n, size int) string {
	var b strings.Builder
	b.WriteString("SELECT id")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, ", id AS c%d_%d", n, i)
	}
	b.WriteString(" FROM kv WHERE id = 1")
	return b.String()
}

// TestPlanCacheBytes: the plan cache was bounded by entries only (10000),
// so 1 MB statements kept 200 MB of plans. It is bounded by
// limits.plan_cache_bytes too, and plans of huge statements are not cached;
// nothing else keeps a large statement's memory either (the metrics' plan
// table, the top-queries texts, the session's parser).
func TestPlanCacheBytes(t *testing.T) {
	// The heap may keep the cache's budget and the rest of what statements
	// leave: the top-queries table (up to 5000 texts of at most 1 KiB) and
	// buffers.
	const budget, slack = 4 << 20, 8 << 20
	p := startProxy(t, "limits: {plan_cache_bytes: 4MiB}\n")
	bigData(t, 10)
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	db.SetMaxOpenConns(1)
	mustRows(t, db, "SELECT v FROM kv WHERE id = 1")
	base := retainedMB()
	_, _, entries0 := p.Router.CacheStats()
	run := func(n, size int) {
		for i := 0; i < n; i++ {
			q := wideSelect(i, size)
			rows := mustRows(t, db, q)
			if len(rows) != 1 || rows[0][0] != "1" || len(rows[0]) < 2 {
				t.Fatalf("statement %d: %v", i, head(rows))
			}
		}
	}
	run(1200, 8<<10)
	grown := retainedMB() - base
	_, _, entries := p.Router.CacheStats()
	t.Logf("1200 statements of 8 KiB: %d plans cached, estimated %d KiB; the heap kept %.1f MiB more", entries-entries0, p.Router.CacheBytes()>>10, grown)
	if p.Router.CacheBytes() > budget {
		t.Errorf("plan cache holds an estimated %d bytes, want at most %d", p.Router.CacheBytes(), budget)
	}
	if grown > (budget+slack)>>20 {
		t.Errorf("the heap kept %.1f MiB after 1200 statements of 8 KiB, want at most %d MiB (plan_cache_bytes %d MiB)", grown, (budget+slack)>>20, budget>>20)
	}

	// Statements of 1 MB: planned at every run, never cached.
	run(20, 1<<20)
	_, _, after := p.Router.CacheStats()
	grown = retainedMB() - base
	t.Logf("then 20 statements of 1 MiB: %d plans cached (was %d); the heap kept %.1f MiB more", after-entries0, entries-entries0, grown)
	if after > entries {
		t.Errorf("%d plans cached after 1 MiB statements, want at most %d (huge plans are not cached)", after, entries)
	}
	if grown > (budget+slack)>>20 {
		t.Errorf("the heap kept %.1f MiB, want at most %d MiB", grown, (budget+slack)>>20)
	}
}
