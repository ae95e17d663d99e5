package reshard

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/workflow"
)

// split24 is customer on 2 shards, with 4 target shards declared.
func split24(name string) []shardSpec {
	c := "c_" + name
	t := "t_" + name
	return []shardSpec{
		{"-80", 1, c, true}, {"80-", 2, c, true},
		{"-40", 3, t, false}, {"40-80", 4, t, false}, {"80-c0", 3, t + "2", false}, {"c0-", 4, t + "2", false},
	}
}

// TestReshardSplitAndMerge splits customer from 2 shards to 4 and merges it
// back to 2, through two proxies, while bank transfers (twopc) and
// autocommit writers run through both: vdiff finds no difference, each
// switch holds statements briefly, no client sees an error, and every
// acknowledged write is on the shard its keyspace id names.
func TestReshardSplitAndMerge(t *testing.T) {
	c := newCluster(t, split24("splitmerge"))
	c.createSchema()
	c.put()
	p0, p1 := c.startProxy(), c.startProxy()
	db0, db1 := p0.db("customer"), p1.db("customer")
	seedAccounts(t, db0)
	seedEvents(t, db0, 1, 3000)
	w := startWorkload(t, []*sql.DB{db0, db1}, []*sql.DB{db0, db1}, 1_000_000)
	time.Sleep(500 * time.Millisecond)

	// Split 2 -> 4, switch, back, and forth again.
	c.mustWF(p0, "reshard", "split", "create", "--source-shards", "-80,80-", "--target-shards", "-40,40-80,80-c0,c0-")
	st := c.waitPhase(p1, "reshard", "split", workflow.PhaseRunning, 2*time.Minute)
	t.Logf("split: copied %d rows", st.RowsCopied)
	c.vdiffClean(p1, "reshard", "split")
	for i, verb := range []string{"switchtraffic", "reversetraffic", "switchtraffic"} {
		c.waitCaughtUp(p0, "reshard", "split")
		out := c.mustWF([]*proxyProc{p0, p1}[i%2], "reshard", "split", verb)
		t.Logf("%s: %s", verb, strings.TrimSpace(out))
		c.vdiffClean(p1, "reshard", "split")
	}
	c.mustWF(p0, "reshard", "split", "complete")
	if st := c.show(p0, "reshard", "split"); st.Phase != workflow.PhaseCompleted {
		t.Fatalf("phase %s after complete", st.Phase)
	}

	// Merge 4 -> 2 onto the first two databases (emptied by complete).
	c.editDoc("customer", func(d *topo.KeyspaceDoc) {
		f := false
		for _, s := range split24("splitmerge")[:2] {
			d.Shards[s.name] = &topo.ShardDoc{Host: "127.0.0.1", Port: servers[s.server].Port, User: "root", Database: s.db, Serving: &f}
		}
	})
	time.Sleep(500 * time.Millisecond)
	c.mustWF(p1, "reshard", "merge", "create", "--source-shards", "-40,40-80,80-c0,c0-", "--target-shards", "-80,80-")
	c.waitPhase(p0, "reshard", "merge", workflow.PhaseRunning, 2*time.Minute)
	c.waitCaughtUp(p0, "reshard", "merge")
	c.vdiffClean(p0, "reshard", "merge")
	c.waitCaughtUp(p0, "reshard", "merge") // vdiff paused the streams: a switch refuses a lagging one
	out := c.mustWF(p1, "reshard", "merge", "switchtraffic")
	t.Logf("merge switchtraffic: %s", strings.TrimSpace(out))
	c.mustWF(p1, "reshard", "merge", "complete")
	time.Sleep(500 * time.Millisecond)
	w.finish(t)
	w.checkNoErrors(t)
	c.checkData(t, w, []string{"-80", "80-"})
	for _, name := range []string{"split", "merge"} {
		for _, sw := range c.show(p0, "reshard", name).Switches {
			t.Logf("%s %s switch: held %.0f ms, steps %v", name, sw.Direction, sw.HeldMS, sw.Steps)
			if !sw.OK {
				t.Errorf("%s switch aborted: %s", name, sw.Error)
			}
		}
	}
}
