package router

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shardgate/shardgate/router/planner"
)

func TestPlanCacheBound(t *testing.T) {
	c := newPlanCache(2, 0)
	for i := range 3 {
		c.put(cacheKey{"ks", fmt.Sprint(i), 0}, &cacheEntry{plan: &planner.Plan{Kind: planner.Kind(i)}})
	}
	if c.get(cacheKey{"ks", "0", 0}) != nil {
		t.Error("the least recently used plan was kept beyond the bound")
	}
	if e := c.get(cacheKey{"ks", "2", 0}); e == nil || e.plan.Kind != planner.Kind(2) {
		t.Errorf("newest plan: got %v", e)
	}
	if e := c.get(cacheKey{"other", "2", 0}); e != nil {
		t.Error("a plan of another keyspace answered")
	}
	hits, misses, size := c.stats()
	if hits != 1 || misses != 2 || size != 2 {
		t.Errorf("stats hits=%d misses=%d size=%d, want 1 2 2", hits, misses, size)
	}
}

// TestPlanCacheBytesBound: the estimated bytes stay within the budget (the
// least recently used go), and a plan above 1/hugePlanShare of it is not
// cached at all.
func TestPlanCacheBytesBound(t *testing.T) {
	const budget = 1 << 20
	c := newPlanCache(10000, budget)
	text := strings.Repeat("x", 2<<10) // ~10 KiB estimated: about 100 fit
	for i := range 200 {
		c.put(cacheKey{"ks", fmt.Sprint(i, text), 0}, &cacheEntry{plan: &planner.Plan{}})
		if c.size() > budget {
			t.Fatalf("after %d plans the cache holds %d bytes, budget %d", i+1, c.size(), budget)
		}
	}
	if c.get(cacheKey{"ks", fmt.Sprint(199, text), 0}) == nil || c.get(cacheKey{"ks", fmt.Sprint(0, text), 0}) != nil {
		t.Error("the newest plan must stay and the oldest go")
	}
	_, _, n := c.stats()
	huge := cacheKey{"ks", strings.Repeat("y", budget/hugePlanShare), 0}
	c.put(huge, &cacheEntry{plan: &planner.Plan{}})
	if _, _, m := c.stats(); m != n || c.get(huge) != nil {
		t.Errorf("a huge plan was cached (%d entries, was %d)", m, n)
	}
	c.clear()
	if c.size() != 0 {
		t.Errorf("size %d after clear", c.size())
	}
}

// BenchmarkPlanCacheGet is the lookup of a cached plan, run once per
// statement; `go test -bench PlanCache ./router`.
func BenchmarkPlanCacheGet(b *testing.B) {
	c := newPlanCache(5000, 0)
	for i := range 5000 {
		c.put(cacheKey{"customer", fmt.Sprintf("SELECT c FROM sbtest%d WHERE id = ?", i), 0}, &cacheEntry{plan: &planner.Plan{}})
	}
	key := cacheKey{"customer", "SELECT c FROM sbtest42 WHERE id = ?", 0}
	b.ReportAllocs()
	for b.Loop() {
		if c.get(key) == nil {
			b.Fatal("miss")
		}
	}
}
