package reshard

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/workflow"
)

// TestSwitchAbortsOnStalledCatchup makes a target's applier stall (a row
// it must write is locked there) just before a switch: the catch-up does
// not finish within workflow.switch_timeout, so the switch aborts, the
// fence is undone and writes go on on the sources without a client error;
// once the lock is gone the next switch succeeds.
func TestSwitchAbortsOnStalledCatchup(t *testing.T) {
	c := newCluster(t, split24("stall"))
	c.extra = "workflow: {switch_timeout: 1s}\n"
	c.createSchema()
	c.put()
	p0, p1 := c.startProxy(), c.startProxy()
	db := p0.db("customer")
	seedAccounts(t, db)
	seedEvents(t, db, 1, 1000)
	w := startWorkload(t, []*sql.DB{p0.db("customer"), p1.db("customer")}, []*sql.DB{p0.db("customer"), p1.db("customer")}, 1_000_000)
	c.mustWF(p0, "reshard", "stall", "create", "--source-shards", "-80,80-", "--target-shards", "-40,40-80,80-c0,c0-")
	c.waitPhase(p0, "reshard", "stall", workflow.PhaseRunning, time.Minute)
	c.waitCaughtUp(p0, "reshard", "stall")

	// Lock row 7 on its target, then change it on its source.
	targets := []string{"-40", "40-80", "80-c0", "c0-"}
	tdb := c.shardDB(c.spec(c.shardOf(7, targets)))
	lock, err := tdb.BeginTx(context.Background(), nil)
	must(t, err)
	var p string
	must(t, lock.QueryRow("SELECT payload FROM events WHERE id = 7 FOR UPDATE").Scan(&p))
	_, err = db.Exec("UPDATE events SET payload = 'stalled' WHERE id = 7")
	must(t, err)
	time.Sleep(200 * time.Millisecond)

	start := time.Now()
	out, err := c.wf(p1, "reshard", "stall", "switchtraffic")
	took := time.Since(start)
	if err == nil || !strings.Contains(out, "switch aborted") || !strings.Contains(out, "switch_timeout") {
		t.Fatalf("switchtraffic with a stalled stream: %v\n%s", err, out)
	}
	t.Logf("switchtraffic aborted in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(out))
	st := c.show(p0, "reshard", "stall")
	if st.Phase != workflow.PhaseRunning || st.TrafficOn != "sources" || st.Switching != nil {
		t.Fatalf("after the abort: phase %s, traffic on %s, switching %v", st.Phase, st.TrafficOn, st.Switching)
	}
	last := st.Switches[len(st.Switches)-1]
	if last.OK || last.HeldMS > 5000 {
		t.Errorf("the aborted switch's record: ok %v, held %.0f ms", last.OK, last.HeldMS)
	}
	// Writes go to the sources, where the tables have their names again.
	_, err = db.Exec("INSERT INTO events (id, k, payload) VALUES (77777777, 1, 'after abort')")
	must(t, err)
	src := c.shardDB(c.spec(c.shardOf(77777777, []string{"-80", "80-"})))
	var n int
	must(t, src.QueryRow("SELECT COUNT(*) FROM events WHERE id = 77777777").Scan(&n))
	if n != 1 {
		t.Errorf("the write after the abort is not on its source")
	}

	must(t, lock.Rollback())
	c.waitCaughtUp(p0, "reshard", "stall")
	out = c.mustWF(p1, "reshard", "stall", "switchtraffic")
	t.Logf("second switchtraffic: %s", strings.TrimSpace(out))
	c.vdiffClean(p0, "reshard", "stall")
	w.finish(t)
	w.checkNoErrors(t)
	c.checkData(t, w, targets)
}
