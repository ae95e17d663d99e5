package reshard

import (
	"database/sql"
	"strings"
	"testing"
	"time"

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

	c.mustWF(p0, "reshard", "split", "create", "--source-shards", "-80,80-", "--target-shards", "-40,40-80,80-c0,c0-")
	st := c.waitPhase(p1, "reshard", "split", workflow.PhaseRunning, 2*time.Minute)
	t.Logf("copied %d rows", st.RowsCopied)
	c.waitCaughtUp(p1, "reshard", "split")
	out := c.mustWF(p1, "reshard", "split", "vdiff", "--json")
	t.Logf("vdiff: %s", strings.TrimSpace(out))
	out = c.mustWF(p0, "reshard", "split", "switchtraffic")
	t.Logf("switchtraffic: %s", strings.TrimSpace(out))
	time.Sleep(time.Second)
	c.waitCaughtUp(p1, "reshard", "split")
	out = c.mustWF(p1, "reshard", "split", "vdiff")
	t.Logf("vdiff after the switch: %s", strings.TrimSpace(out))
	out = c.mustWF(p0, "reshard", "split", "complete")
	t.Logf("complete: %s", strings.TrimSpace(out))
	time.Sleep(time.Second)
	w.finish(t)
	w.checkNoErrors(t)
	c.checkData(t, w, []string{"-40", "40-80", "80-c0", "c0-"})
}
