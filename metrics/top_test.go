package metrics

import (
	"testing"
	"time"
)

// TestTopQueriesSlots: a plan's slot finds its statistics without
// normalizing again, and after an eviction a slot that pointed at the
// evicted statement records into a fresh entry that Top shows, not into the
// dropped one.
func TestTopQueriesSlots(t *testing.T) {
	top := NewTopQueries(2)
	var a, b, c topSlot
	top.Add(&a, "SELECT a FROM t WHERE id = 1", time.Millisecond, false)
	top.Add(&a, "SELECT a FROM t WHERE id = 2", time.Millisecond, false) // same plan, same entry
	top.Add(&b, "SELECT b FROM t", 10*time.Millisecond, false)
	if got := top.Top(10); len(got) != 2 || got[1].Count != 2 || got[1].SQL != "SELECT a FROM t WHERE id = ?" {
		t.Fatalf("before eviction: %+v", got)
	}
	top.Add(&c, "SELECT c FROM t", 20*time.Millisecond, false) // evicts a's statement (least time)
	top.Add(&a, "SELECT a FROM t WHERE id = 3", 30*time.Millisecond, true)
	got := top.Top(10)
	if len(got) != 2 || got[0].SQL != "SELECT a FROM t WHERE id = ?" || got[0].Count != 1 || got[0].Errors != 1 {
		t.Fatalf("after eviction, a's run must be counted in a fresh entry: %+v", got)
	}
}
