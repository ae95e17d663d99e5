package ha

import (
	"context"
	"testing"
	"time"

	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/internal/writeload"
)

// checkAcked fails the test unless every acknowledged write of shard i is
// on server s, and returns how many of the failed ones are there too.
func (c *cluster) checkAcked(t *testing.T, s *mariadbd.Server, i int, sum writeload.Summary) int {
	t.Helper()
	have, err := writeload.IDs(context.Background(), direct(t, s), "customer.t")
	if err != nil {
		t.Fatal(err)
	}
	if missing := writeload.Missing(sum.Acked, have); len(missing) > 0 {
		t.Errorf("%d acknowledged writes are not on the primary %s of shard %s: %v", len(missing), s.Addr(), c.names[i], head(missing))
	}
	applied := 0
	for id := range sum.Failed {
		if have[id] {
			applied++
		}
	}
	return applied
}

func head(ids []int64) []int64 {
	if len(ids) > 10 {
		return ids[:10]
	}
	return ids
}

// recoveries returns the recovery records a proxy reports.
func recoveries(t *testing.T, p *testenv.Proxy) []ha.Recovery {
	t.Helper()
	recs, err := p.HA.Recoveries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// newPrimary waits until every proxy routes shard i's writes to a server
// other than old and returns it.
func (c *cluster) newPrimary(t *testing.T, old *mariadbd.Server, i int, timeout time.Duration, ps ...*testenv.Proxy) *mariadbd.Server {
	t.Helper()
	var got *mariadbd.Server
	waitFor(t, timeout, "a new primary on every proxy", func() bool {
		got = nil
		for _, p := range ps {
			for _, s := range p.HA.Shards() {
				if s.Keyspace != "customer" || s.Shard != c.names[i] {
					continue
				}
				if s.Primary == "" || s.Primary == old.Addr() {
					return false
				}
				for _, srv := range c.groups[i].Servers {
					if srv.Addr() == s.Primary {
						if got != nil && got != srv {
							return false
						}
						got = srv
					}
				}
			}
		}
		return got != nil
	})
	return got
}

// TestKillPrimaryTwoProxies: kill -9 of a shard's primary while two proxies
// (sharing etcd) write to it. Exactly one proxy recovers, both follow; no
// acknowledged write is lost; clients see errors only for statements that
// were in flight on the dead primary (1213, outcome unknown).
func TestKillPrimaryTwoProxies(t *testing.T) {
	c := newCluster(t, "multi", 3, 2)
	e := startEtcd(t)
	p1 := c.proxy(testenv.Options{Etcd: e.client(t, "/ha"), ID: "p1", LockTTL: 2 * time.Second})
	p2 := c.proxy(testenv.Options{Etcd: e.client(t, "/ha"), ID: "p2", LockTTL: 2 * time.Second})
	load := &writeload.Load{Table: "t", Base: 1 << 40, Workers: 4}
	load.Start(open(t, p1, "customer"), open(t, p2, "customer"))
	time.Sleep(time.Second)

	old := c.groups[0].Primary()
	killed := time.Now()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	np := c.newPrimary(t, old, 0, 15*time.Second, p1, p2)
	t.Logf("new primary %s on both proxies %v after kill -9", np.Addr(), time.Since(killed).Round(time.Millisecond))
	time.Sleep(1500 * time.Millisecond)
	ws := load.Stop()

	on0 := func(id int64) bool { return c.shardOf(id) == 0 }
	sum := writeload.Summarize(ws, on0)
	applied := c.checkAcked(t, np, 0, sum)
	un, ok := writeload.Unavailability(ws, killed, on0)
	t.Logf("shard %s: %d writes acknowledged, %d failed (%s), %d of them applied; writes unavailable for %v (%v)",
		c.names[0], len(sum.Acked), len(sum.Failed), sum, applied, un.Round(time.Millisecond), ok)
	if !ok || len(sum.Acked) < 50 {
		t.Errorf("too few writes acknowledged on shard %s: %d", c.names[0], len(sum.Acked))
	}
	for kind, n := range sum.Errors {
		if kind != "1213" {
			t.Errorf("%d client errors of kind %s on shard %s (only statements in flight on the dead primary may fail, with 1213): %s", n, kind, c.names[0], sum.Samples[kind])
		}
	}
	if n := sum.Errors["1213"]; n > 2*2*load.Workers {
		t.Errorf("%d statements failed with 1213: more than were in flight", n)
	}
	other := writeload.Summarize(ws, func(id int64) bool { return !on0(id) })
	if len(other.Failed) > 0 {
		t.Errorf("writes to the other shard failed: %s", other)
	}
	c.checkAcked(t, c.groups[1].Primary(), 1, other)

	// One recovery, by one proxy, recorded in etcd with its steps.
	success := 0
	for _, r := range recoveries(t, p2) {
		t.Logf("recovery %s by %s: %s %s -> %s term %d in %.0fms: %s", r.ID, r.Proxy, r.Outcome, r.OldPrimary, r.NewPrimary, r.Term, r.DurationMS, stepList(r))
		if r.Kind == "failover" && r.Outcome == ha.OutcomeSuccess {
			success++
		}
	}
	if success != 1 {
		t.Errorf("%d successful failovers recorded, want 1", success)
	}
	if got := roleOf(p1, c.names[0], old.Addr()); got != "down" {
		t.Errorf("the killed primary is reported %q", got)
	}
}

func stepList(r ha.Recovery) string {
	s := ""
	for _, st := range r.Steps {
		if s != "" {
			s += ", "
		}
		s += st.Name
		if !st.OK {
			s += "(failed: " + st.Detail + ")"
		}
		s += " " + time.Duration(st.DurationMS*float64(time.Millisecond)).Round(time.Millisecond).String()
	}
	return s
}
