package txn

import (
	"strconv"
	"testing"
	"time"
)

// TestActionsRing: the resolver's history keeps the last historySize
// actions, newest first.
func TestActionsRing(t *testing.T) {
	c := &Coordinator{}
	for i := 0; i < historySize+5; i++ {
		c.history.add(Action{Action: ActionRollback, DTID: strconv.Itoa(i)})
	}
	got := c.Actions()
	if len(got) != historySize {
		t.Fatalf("%d actions kept, want %d", len(got), historySize)
	}
	if got[0].DTID != strconv.Itoa(historySize+4) || got[len(got)-1].DTID != "5" {
		t.Fatalf("newest %s, oldest %s", got[0].DTID, got[len(got)-1].DTID)
	}
	if got[0].Time.IsZero() {
		t.Error("an action without its time")
	}
}

// TestWarnLimiter: a repeated warning goes through once a minute, with the
// number held back meanwhile.
func TestWarnLimiter(t *testing.T) {
	var w warnLimiter
	now := time.Now()
	if n, ok := w.allow(now); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for i := 1; i <= 59; i++ {
		if _, ok := w.allow(now.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("let through after %ds", i)
		}
	}
	if n, ok := w.allow(now.Add(61 * time.Second)); !ok || n != 59 {
		t.Fatalf("after a minute: %v, %d held back (want 59)", ok, n)
	}
}
