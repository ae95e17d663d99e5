package reshard

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/workflow"
)

// runnerOf returns the proxy that runs the workflow now.
func (c *cluster) runnerOf(p *proxyProc, typ, name string) *proxyProc {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := c.show(p, typ, name)
		c.mu.Lock()
		for _, q := range c.proxies {
			if st.Runner != "" && strings.HasSuffix(st.Runner, "-"+q.mysql) {
				c.mu.Unlock()
				return q
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			c.t.Fatalf("no proxy runs workflow %s (runner %q)", name, st.Runner)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKillRunner kills -9 the proxy that runs a workflow during its copy
// and again during its binlog catch-up, with an XA transaction prepared
// on a source before the second kill and committed after it: another
// proxy takes over each time from the positions in etcd, and nothing is
// lost or applied twice.
func TestKillRunner(t *testing.T) {
	c := newCluster(t, split24("kill"))
	c.extra = "workflow: {copy_chunk_rows: 300, copy_throttle: 0}\n"
	c.createSchema()
	c.put()
	p0, _ := c.startProxy(), c.startProxy()
	seedAccounts(t, p0.db("customer"))
	seedEvents(t, p0.db("customer"), 1, 20000)
	// Clients write through a third proxy, which is never killed and
	// never runs workflows.
	pc := c.startProxyWith("workflow: {runner: false}\n")
	w := startWorkload(t, []*sql.DB{pc.db("customer")}, []*sql.DB{pc.db("customer")}, 1_000_000)

	c.mustWF(p0, "reshard", "kill", "create", "--source-shards", "-80,80-", "--target-shards", "-40,40-80,80-c0,c0-")
	// 1. During the copy.
	var copied int64
	for deadline := time.Now().Add(time.Minute); ; {
		st := c.show(pc, "reshard", "kill")
		if st.Phase != workflow.PhaseCopying {
			t.Fatalf("the copy ended before the kill (phase %s): make it longer", st.Phase)
		}
		if copied = st.RowsCopied; copied > 2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the copy does not progress: %d rows", copied)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := c.runnerOf(pc, "reshard", "kill")
	r.kill9()
	t.Logf("kill -9 the runner (proxy %d) during the copy, after %d rows", r.n, copied)
	st := c.waitPhase(pc, "reshard", "kill", workflow.PhaseRunning, 2*time.Minute)
	t.Logf("the copy resumed on %s and finished: %d rows copied (the chunk in flight at the kill is copied twice, as REPLACE)", st.Runner, st.RowsCopied)
	r.start()

	// 2. During the catch-up, with an XA transaction prepared on a source.
	c.waitCaughtUp(pc, "reshard", "kill")
	src := c.shardDB(c.spec("-80"))
	conn, err := src.Conn(context.Background())
	must(t, err)
	defer conn.Close()
	t.Cleanup(func() { _, _ = src.Exec("XA ROLLBACK 'wfkill'") }) // if the test stops half way
	xaID := int64(0)
	for id := int64(50_000_000); ; id++ {
		if c.shardOf(id, []string{"-80", "80-"}) == "-80" {
			xaID = id
			break
		}
	}
	for _, q := range []string{"XA START 'wfkill'", fmt.Sprintf("INSERT INTO events (id, k, payload) VALUES (%d, 1, 'xa')", xaID), "XA END 'wfkill'", "XA PREPARE 'wfkill'"} {
		_, err := conn.ExecContext(context.Background(), q)
		must(t, err)
	}
	time.Sleep(700 * time.Millisecond) // the stream saves its position meanwhile
	r = c.runnerOf(pc, "reshard", "kill")
	r.kill9()
	t.Logf("kill -9 the runner (proxy %d) during the catch-up, an XA transaction prepared", r.n)
	_, err = conn.ExecContext(context.Background(), "XA COMMIT 'wfkill'")
	must(t, err)
	// Another proxy runs it again.
	deadline := time.Now().Add(time.Minute)
	for {
		st := c.show(pc, "reshard", "kill")
		if st.Runner != "" && !strings.HasSuffix(st.Runner, "-"+r.mysql) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no proxy took the workflow over: runner %s", st.Runner)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.start()
	c.waitCaughtUp(pc, "reshard", "kill")
	c.vdiffClean(pc, "reshard", "kill")
	target := c.shardOf(xaID, []string{"-40", "40-80", "80-c0", "c0-"})
	var payload string
	if err := c.shardDB(c.spec(target)).QueryRow("SELECT payload FROM events WHERE id = ?", xaID).Scan(&payload); err != nil || payload != "xa" {
		t.Errorf("the XA transaction's row is not on target %s: %q %v", target, payload, err)
	}
	c.waitCaughtUp(pc, "reshard", "kill")
	c.mustWF(pc, "reshard", "kill", "switchtraffic")
	time.Sleep(300 * time.Millisecond)
	w.finish(t)
	w.checkNoErrors(t)
	c.checkData(t, w, []string{"-40", "40-80", "80-c0", "c0-"})
}

// TestXAPreparedAcrossSnapshot: an XA transaction prepared on a source
// before the copy starts and committed after it has begun is neither lost
// (its rows are logged at PREPARE, before any position a snapshot could
// give) nor applied twice.
func TestXAPreparedAcrossSnapshot(t *testing.T) {
	c := newCluster(t, split24("xasnap"))
	c.createSchema()
	c.put()
	p0 := c.startProxy()
	seedEvents(t, p0.db("customer"), 1, 2000)
	src := c.shardDB(c.spec("80-"))
	conn, err := src.Conn(context.Background())
	must(t, err)
	defer conn.Close()
	t.Cleanup(func() { _, _ = src.Exec("XA ROLLBACK 'snap'") })
	var ids []int64
	upd := int64(1000)
	for c.shardOf(upd, []string{"-80", "80-"}) != "80-" {
		upd++
	}
	for id := int64(90_000_000); len(ids) < 3; id++ {
		if c.shardOf(id, []string{"-80", "80-"}) == "80-" {
			ids = append(ids, id)
		}
	}
	for _, q := range []string{"XA START 'snap'",
		fmt.Sprintf("INSERT INTO events (id, k, payload) VALUES (%d, 1, 'xa1'), (%d, 1, 'xa2'), (%d, 1, 'xa3')", ids[0], ids[1], ids[2]),
		fmt.Sprintf("UPDATE events SET payload = 'xa-updated' WHERE id = %d", upd), "XA END 'snap'", "XA PREPARE 'snap'"} {
		_, err := conn.ExecContext(context.Background(), q)
		must(t, err)
	}
	c.mustWF(p0, "reshard", "xasnap", "create", "--source-shards", "-80,80-", "--target-shards", "-40,40-80,80-c0,c0-")
	time.Sleep(1500 * time.Millisecond)
	_, err = conn.ExecContext(context.Background(), "XA COMMIT 'snap'")
	must(t, err)
	c.waitPhase(p0, "reshard", "xasnap", workflow.PhaseRunning, time.Minute)
	c.waitCaughtUp(p0, "reshard", "xasnap")
	c.vdiffClean(p0, "reshard", "xasnap")
	targets := []string{"-40", "40-80", "80-c0", "c0-"}
	for i, id := range ids {
		var p string
		err := c.shardDB(c.spec(c.shardOf(id, targets))).QueryRow("SELECT payload FROM events WHERE id = ?", id).Scan(&p)
		if err != nil || p != fmt.Sprintf("xa%d", i+1) {
			t.Errorf("row %d of the XA transaction: %q %v", id, p, err)
		}
	}
	var p string
	if err := c.shardDB(c.spec(c.shardOf(upd, targets))).QueryRow("SELECT payload FROM events WHERE id = ?", upd).Scan(&p); err != nil || p != "xa-updated" {
		t.Errorf("the XA transaction's update of row %d: %q %v", upd, p, err)
	}
}
