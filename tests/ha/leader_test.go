package ha

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/internal/writeload"
)

// TestLeaderDiesMidRecovery: the proxy leading a failover dies right after
// it promoted the replica (before repointing the others and publishing):
// its etcd lease lapses and the other proxy, which follows the same etcd,
// takes the lock and finishes the recovery. No acknowledged write is lost.
func TestLeaderDiesMidRecovery(t *testing.T) {
	c := newCluster(t, "multi", 3, 2)
	e := startEtcd(t)
	ea := e.client(t, "/ha")
	var once sync.Once
	died := make(chan struct{})
	a := c.proxy(testenv.Options{Etcd: ea, ID: "leader", LockTTL: 2 * time.Second,
		BeforeStep: func(ctx context.Context, ks, shard, step string) {
			if step != ha.StepRepoint {
				return
			}
			once.Do(func() {
				ea.Close() // as if killed: the lock's lease is no longer renewed
				close(died)
			})
			<-ctx.Done() // and nothing more happens here
		}})
	loadA := &writeload.Load{Table: "t", Base: 1 << 40, Workers: 4}
	loadA.Start(open(t, a, "customer"))
	time.Sleep(time.Second)
	wsA := loadA.Stop()

	old := c.groups[0].Primary()
	killed := time.Now()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-died:
	case <-time.After(10 * time.Second):
		t.Fatal("the leader did not reach the repoint step")
	}
	t.Logf("the leading proxy died after promoting, %v after kill -9", time.Since(killed).Round(time.Millisecond))

	b := c.proxy(testenv.Options{Etcd: e.client(t, "/ha"), ID: "survivor", LockTTL: 2 * time.Second})
	loadB := &writeload.Load{Table: "t", Base: 2 << 40, Workers: 4}
	loadB.Start(open(t, b, "customer"))
	np := c.newPrimary(t, old, 0, 20*time.Second, b)
	t.Logf("the other proxy finished: primary %s, %v after kill -9", np.Addr(), time.Since(killed).Round(time.Millisecond))
	time.Sleep(time.Second)
	wsB := loadB.Stop()

	on0 := func(id int64) bool { return c.shardOf(id) == 0 }
	sum := writeload.Summarize(append(wsA, wsB...), on0)
	c.checkAcked(t, np, 0, sum)
	for kind, n := range sum.Errors {
		t.Errorf("%d writes failed (%s): %s", n, kind, sum.Samples[kind])
	}
	var byB *ha.Recovery
	for _, r := range recoveries(t, b) {
		t.Logf("recovery by %s: %s %s -> %s: %s", r.Proxy, r.Outcome, r.OldPrimary, r.NewPrimary, stepList(r))
		if r.Proxy == "survivor" && r.Outcome == ha.OutcomeSuccess {
			byB = &r
		}
	}
	if byB == nil {
		t.Fatal("no successful recovery by the surviving proxy")
	}
	// The replica the leader had not repointed replicates from the new primary.
	for _, s := range c.groups[0].Servers {
		if s != old && s != np {
			waitFor(t, 10*time.Second, "the third server a replica of the new primary", func() bool {
				return roleOf(b, c.names[0], s.Addr()) == "replica"
			})
		}
	}
}
