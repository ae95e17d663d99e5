package metrics

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestTopQueriesSlots: a plan's slot finds its statistics without
// normalizing again, and after an eviction a slot that pointed at the
// evicted statement records into a fresh entry that Top shows, not into the
// dropped one.
func TestTopQueriesSlots(t *testing.T) {
	top := NewTopQueries(2)
	var a, b, c topSlot
	top.Add(&a, "SELECT a FROM t WHERE id = 1", time.Millisecond, false, 0, 0)
	top.Add(&a, "SELECT a FROM t WHERE id = 2", time.Millisecond, false, 0, 0) // same plan, same entry
	top.Add(&b, "SELECT b FROM t", 10*time.Millisecond, false, 0, 0)
	if got := top.Top(10); len(got) != 2 || got[1].Count != 2 || got[1].SQL != "SELECT a FROM t WHERE id = ?" {
		t.Fatalf("before eviction: %+v", got)
	}
	top.Add(&c, "SELECT c FROM t", 20*time.Millisecond, false, 0, 0) // evicts a's statement (least time)
	top.Add(&a, "SELECT a FROM t WHERE id = 3", 30*time.Millisecond, true, 0, 0)
	got := top.Top(10)
	if len(got) != 2 || got[0].SQL != "SELECT a FROM t WHERE id = ?" || got[0].Count != 1 || got[0].Errors != 1 {
		t.Fatalf("after eviction, a's run must be counted in a fresh entry: %+v", got)
	}
}

// TestTopQueriesTextBound: an entry keeps at most maxTopText bytes of its
// statement, cut at a character boundary, so large statements cannot make
// the table large.
func TestTopQueriesTextBound(t *testing.T) {
	top := NewTopQueries(10)
	long := "SELECT é" + strings.Repeat("x", 5000) + " FROM t"
	top.Add(nil, long, time.Millisecond, false, 0, 0)
	got := top.Top(1)[0].SQL
	if len(got) > maxTopText+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) || !strings.HasPrefix(got, "SELECT é") {
		t.Fatalf("entry text of %d bytes: %.40q…", len(got), got)
	}
	cut := strings.Repeat("a", maxTopText-1) + "é" // the cut falls inside é
	if got := topText(cut); !utf8.ValidString(got) || len(got) != maxTopText-1+len("…") {
		t.Errorf("cut inside a character: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

// TestTopQueriesDigest: rows, shards and percentiles accumulate per
// statement, and Reset forgets everything, also for plans that point at it.
func TestTopQueriesDigest(t *testing.T) {
	top := NewTopQueries(10)
	var a topSlot
	for i := 1; i <= 100; i++ {
		top.Add(&a, "SELECT a FROM t WHERE id = 1", time.Duration(i)*time.Millisecond, i == 100, 2, 1)
	}
	q := top.Top(1)[0]
	if q.Count != 100 || q.Errors != 1 || q.Rows != 200 || q.Shards != 100 {
		t.Fatalf("digest %+v", q)
	}
	// true p50 = 50ms, p95 = 95ms, p99 = 99ms; estimates are within 2x above
	for _, c := range []struct {
		got, truth time.Duration
	}{{q.P50, 50 * time.Millisecond}, {q.P95, 95 * time.Millisecond}, {q.P99, 99 * time.Millisecond}} {
		if c.got < c.truth || c.got > 2*c.truth {
			t.Errorf("percentile %v for a true %v", c.got, c.truth)
		}
	}
	if q.P99 > q.Max {
		t.Errorf("p99 %v above max %v", q.P99, q.Max)
	}
	top.Reset()
	if n := len(top.Top(10)); n != 0 {
		t.Fatalf("%d entries after reset", n)
	}
	top.Add(&a, "SELECT a FROM t WHERE id = 2", time.Millisecond, false, 0, 1)
	if got := top.Top(10); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("after reset, a plan's run starts a fresh entry: %+v", got)
	}
}
