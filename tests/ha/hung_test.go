package ha

import (
	"context"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/writeload"
)

// binlogSeq is a server's last GTID sequence number in its domain.
func binlogSeq(t *testing.T, s *mariadbd.Server) (seq int64, readOnly bool) {
	t.Helper()
	var pos string
	var ro int
	if err := direct(t, s).QueryRow("SELECT @@gtid_binlog_pos, @@read_only").Scan(&pos, &ro); err != nil {
		t.Fatal(err)
	}
	for _, g := range splitPos(pos) {
		seq = max(seq, g)
	}
	return seq, ro == 1
}

func splitPos(pos string) []int64 {
	var out []int64
	var cur int64
	dashes := 0
	for i := 0; i <= len(pos); i++ {
		if i == len(pos) || pos[i] == ',' {
			if dashes == 2 {
				out = append(out, cur)
			}
			cur, dashes = 0, 0
			continue
		}
		switch c := pos[i]; {
		case c == '-':
			dashes++
			cur = 0
		case c >= '0' && c <= '9':
			cur = cur*10 + int64(c-'0')
		}
	}
	return out
}

// TestHungPrimary: SIGSTOP of a primary under load. It is taken for hung
// after two probe timeouts and replaced; after SIGCONT it is fenced
// (read_only, reported drained) and takes no write; every acknowledged
// write is on the new primary.
func TestHungPrimary(t *testing.T) {
	c := newCluster(t, "multi", 3, 2)
	p := c.proxy(testOptions())
	load := &writeload.Load{Table: "t", Base: 1 << 40, Workers: 4}
	load.Start(open(t, p, "customer"))
	time.Sleep(time.Second)

	old := c.groups[0].Primary()
	stopped := time.Now()
	if err := old.Pause(); err != nil {
		t.Fatal(err)
	}
	np := c.newPrimary(t, old, 0, 20*time.Second, p)
	t.Logf("SIGSTOP: new primary %s %v later", np.Addr(), time.Since(stopped).Round(time.Millisecond))
	time.Sleep(time.Second)

	if err := old.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	waitFor(t, 10*time.Second, "the old primary fenced and drained", func() bool {
		_, ro := binlogSeq(t, old)
		return ro && roleOf(p, c.names[0], old.Addr()) == "drained"
	})
	t.Logf("SIGCONT: the old primary was read-only and reported drained %v later", time.Since(resumed).Round(time.Millisecond))
	fenced, _ := binlogSeq(t, old)
	time.Sleep(1500 * time.Millisecond)
	ws := load.Stop()
	if after, _ := binlogSeq(t, old); after != fenced {
		t.Errorf("the old primary took writes after it was fenced: GTID sequence %d -> %d", fenced, after)
	}

	on0 := func(id int64) bool { return c.shardOf(id) == 0 }
	sum := writeload.Summarize(ws, on0)
	c.checkAcked(t, np, 0, sum)
	onOld, err := writeload.IDs(context.Background(), direct(t, old), "customer.t")
	if err != nil {
		t.Fatal(err)
	}
	onNew, err := writeload.IDs(context.Background(), direct(t, np), "customer.t")
	if err != nil {
		t.Fatal(err)
	}
	var extra []int64
	for id := range onOld {
		if !onNew[id] {
			extra = append(extra, id)
			if !sum.Failed[id] {
				t.Errorf("id %d is on the old primary only and its client was told it succeeded", id)
			}
		}
	}
	un, _ := writeload.Unavailability(ws, stopped, on0)
	t.Logf("%d acknowledged, %d failed (%s); %d failed writes ran on the old primary when it resumed (their clients got an error saying the outcome is unknown); writes unavailable %v",
		len(sum.Acked), len(sum.Failed), sum, len(extra), un.Round(time.Millisecond))
	for kind, n := range sum.Errors {
		if kind != "1213" {
			t.Errorf("%d errors of kind %s: %s", n, kind, sum.Samples[kind])
		}
	}
}
