package router

import (
	"fmt"
	"testing"
)

func TestPlanCacheBound(t *testing.T) {
	c := newPlanCache(2)
	for i := range 3 {
		c.put(cacheKey{"ks", fmt.Sprint(i), 0}, &cacheEntry{plan: &Plan{Kind: fmt.Sprint(i)}})
	}
	if c.get(cacheKey{"ks", "0", 0}) != nil {
		t.Error("the least recently used plan was kept beyond the bound")
	}
	if e := c.get(cacheKey{"ks", "2", 0}); e == nil || e.plan.Kind != "2" {
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

// BenchmarkPlanCacheGet is the lookup of a cached plan, run once per
// statement; `go test -bench PlanCache ./router`.
func BenchmarkPlanCacheGet(b *testing.B) {
	c := newPlanCache(5000)
	for i := range 5000 {
		c.put(cacheKey{"customer", fmt.Sprintf("SELECT c FROM sbtest%d WHERE id = ?", i), 0}, &cacheEntry{plan: &Plan{}})
	}
	key := cacheKey{"customer", "SELECT c FROM sbtest42 WHERE id = ?", 0}
	b.ReportAllocs()
	for b.Loop() {
		if c.get(key) == nil {
			b.Fatal("miss")
		}
	}
}
