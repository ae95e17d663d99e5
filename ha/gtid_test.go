package ha

import (
	"testing"
	"time"
)

func TestParsePosition(t *testing.T) {
	p := ParsePosition("0-1-100, 3-77-5,bad,4-x-1")
	if len(p) != 2 || p.Seq(0) != 100 || p.Seq(3) != 5 || p.Seq(9) != 0 {
		t.Fatalf("%v", p)
	}
	if g, ok := p.In(3); !ok || g.Server != 77 || g.String() != "3-77-5" {
		t.Fatalf("In(3) = %v %v", g, ok)
	}
	if p.String() != "0-1-100,3-77-5" || len(ParsePosition("")) != 0 {
		t.Fatalf("String %q", p.String())
	}
}

func TestErrant(t *testing.T) {
	const me, primary, dom = 20, 10, 1
	for _, c := range []struct {
		binlog, replicated string
		want               bool
	}{
		{"1-10-50", "1-10-50", false}, // replicated everything, nothing of its own
		{"1-20-51", "1-10-50", true},  // a transaction of its own past what it replicated
		{"1-20-50", "1-10-50", true},  // same sequence number, its own server id: diverged
		{"1-20-50", "1-20-50", false}, // a demoted primary: its own writes were replicated (MASTER_DEMOTE_TO_SLAVE)
		{"1-10-50", "", false},
		{"2-20-5,1-10-50", "1-10-50", false}, // another domain is not this shard's
	} {
		if got := errant(ParsePosition(c.binlog), ParsePosition(c.replicated), me, dom); got != c.want {
			t.Errorf("errant(%s, %s) = %v, want %v", c.binlog, c.replicated, got, c.want)
		}
	}
	_ = primary
}

func TestLag(t *testing.T) {
	now := time.Now()
	w := &shardWatch{samples: []sample{{now.Add(-10 * time.Second), 100}, {now.Add(-4 * time.Second), 105}, {now.Add(-time.Second), 110}}}
	for _, c := range []struct {
		seq  uint64
		want time.Duration
	}{{110, 0}, {120, 0}, {107, time.Second}, {104, 4 * time.Second}, {100, 4 * time.Second}, {99, 10 * time.Second}, {50, 10 * time.Second}} {
		if got := w.lag(c.seq, now); got != c.want {
			t.Errorf("lag(%d) = %v, want %v", c.seq, got, c.want)
		}
	}
	if (&shardWatch{}).lag(5, now) != 0 {
		t.Error("lag without samples")
	}
}
