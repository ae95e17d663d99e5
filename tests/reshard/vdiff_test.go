package reshard

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/workflow"
)

// TestVDiffFindsCorruption corrupts the targets behind the workflow's
// back, one row at a time: a changed value, a row missing, an extra row, a
// row on the wrong shard; vdiff finds each, with its key, and the CLI
// fails.
func TestVDiffFindsCorruption(t *testing.T) {
	c := newCluster(t, split24("vdiff"))
	c.createSchema()
	c.put()
	p0 := c.startProxy()
	seedEvents(t, p0.db("customer"), 1, 3000)
	c.mustWF(p0, "reshard", "vd", "create", "--source-shards", "-80,80-", "--target-shards", "-40,40-80,80-c0,c0-")
	c.waitPhase(p0, "reshard", "vd", workflow.PhaseRunning, time.Minute)
	c.waitCaughtUp(p0, "reshard", "vd")
	c.vdiffClean(p0, "reshard", "vd")

	targets := []string{"-40", "40-80", "80-c0", "c0-"}
	on := func(id int64) shardSpec { return c.spec(c.shardOf(id, targets)) }
	diff := func() *workflow.VDiffReport {
		out, err := c.wf(p0, "reshard", "vd", "vdiff", "--json")
		if err == nil {
			t.Errorf("vdiff exits 0 although the targets differ:\n%s", out)
		}
		var rep workflow.VDiffReport
		if jerr := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); jerr != nil {
			t.Fatalf("vdiff --json: %v\n%s", jerr, out)
		}
		return &rep
	}
	hasKey := func(rep *workflow.VDiffReport, kind, pk string) bool {
		for _, tb := range rep.Tables {
			for _, k := range tb.Keys {
				if k.Kind == kind && strings.Join(k.PK, ",") == pk {
					return true
				}
			}
		}
		return false
	}

	// One wrong value.
	_, err := c.shardDB(on(1234)).Exec("UPDATE events SET payload = 'corrupted' WHERE id = 1234")
	must(t, err)
	rep := diff()
	if rep.Mismatched != 1 || rep.ExtraSource+rep.ExtraTarget+rep.Misplaced != 0 || !hasKey(rep, "mismatched", "1234") {
		t.Errorf("one changed row: %+v", rep)
	}
	t.Logf("changed row found: %d rows compared, %+v", rep.RowsCompared, rep.Tables)
	// One row missing, one extra, one on the wrong shard.
	execOn(t, c.shardDB(on(1000)), "DELETE FROM events WHERE id = 1000")
	execOn(t, c.shardDB(on(1)), "INSERT INTO events (id, k, payload) VALUES (99999999, 1, 'extra')")
	wrong := c.spec("-40")
	if on(2000).name == "-40" {
		wrong = c.spec("c0-")
	}
	execOn(t, c.shardDB(on(2000)), "DELETE FROM events WHERE id = 2000")
	execOn(t, c.shardDB(wrong), "INSERT INTO events (id, k, payload, amount, created, flags, data) VALUES (2000, 2000 % 7, 'seed 2000 ünïcode', 2000.5, '2024-01-02 03:04:05.678', 4294967295, X'00FF07d0')")
	rep = diff()
	if rep.Mismatched != 1 || rep.ExtraSource != 1 || rep.ExtraTarget != 1 || rep.Misplaced != 1 ||
		!hasKey(rep, "extra_source", "1000") || !hasKey(rep, "extra_target", "99999999") || !hasKey(rep, "misplaced", "2000") {
		t.Errorf("missing, extra and misplaced rows: %+v", rep.Tables)
	}
}

func execOn(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
