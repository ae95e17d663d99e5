package reshard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/workflow"
)

// TestWorkflowErrors: every failure says what happened and what to do.
func TestWorkflowErrors(t *testing.T) {
	c := newCluster(t, split24("errors"))
	c.createSchema()
	c.put()
	p0 := c.startProxy()
	db := p0.db("customer")
	seedEvents(t, db, 1, 500)
	create := func() (string, error) {
		return c.wf(p0, "reshard", "e1", "create", "--source-shards", "-80,80-", "--target-shards", "-40,40-80,80-c0,c0-")
	}
	expect := func(what, out string, err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error:\n%s", what, out)
			return
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the message does not say %q:\n%s", what, w, out)
			}
		}
		t.Logf("%s: %s", what, strings.TrimSpace(out))
	}

	// A target that is not empty.
	tdb := c.shardDB(c.spec("80-c0"))
	execOn(t, tdb, "CREATE TABLE events (id BIGINT PRIMARY KEY, k INT NOT NULL, payload VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL, amount DECIMAL(20,4), created TIMESTAMP(3) NULL, flags INT UNSIGNED, data BLOB)")
	execOn(t, tdb, "INSERT INTO events (id, k, payload) VALUES (1, 1, 'x')")
	out, err := create()
	expect("target not empty", out, err, "customer/80-c0", "is not empty", "table events has rows")
	execOn(t, tdb, "DROP TABLE events")

	// A source without a row-based binary log.
	must(t, servers[1].Exec(context.Background(), "SET GLOBAL binlog_format = 'STATEMENT'"))
	out, err = create()
	must(t, servers[1].Exec(context.Background(), "SET GLOBAL binlog_format = 'ROW'"))
	expect("statement-based binlog", out, err, "customer/-80", "binlog_format is STATEMENT", "ROW")

	// A target shard that is not declared.
	out, err = c.wf(p0, "reshard", "e1", "create", "--source-shards", "-80,80-", "--target-shards", "-40,40-80,80-")
	expect("undeclared target", out, err, "80-", "serving: false")

	// Shards that do not cover the same key range.
	out, err = c.wf(p0, "reshard", "e1", "create", "--source-shards", "-80", "--target-shards", "-40,40-80,80-c0")
	expect("other key range", out, err, "do not cover the same key range")

	// DDL through the proxy on a moving table.
	out, err = create()
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	c.waitPhase(p0, "reshard", "e1", workflow.PhaseRunning, time.Minute)
	_, err = db.Exec("ALTER TABLE events ADD COLUMN extra INT")
	var me *mysql.MySQLError
	if !errorsAs(err, &me) || me.Number != 1290 || !strings.Contains(me.Message, "being moved by workflow e1") || !strings.Contains(me.Message, "complete|cancel") {
		t.Errorf("DDL through the proxy on a moving table: %v", err)
	} else {
		t.Logf("DDL through the proxy: %v", err)
	}

	// DDL behind the workflow's back stops it with a message.
	execOn(t, c.shardDB(c.spec("-80")), "ALTER TABLE events ADD COLUMN behind INT")
	deadline := time.Now().Add(30 * time.Second)
	var st *workflow.Status
	for {
		st = c.show(p0, "reshard", "e1")
		if st.Phase == workflow.PhaseError || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.Phase != workflow.PhaseError || !strings.Contains(st.Error, "DDL on moving table events") || !strings.Contains(st.Error, "cancel the workflow") {
		t.Errorf("DDL behind the workflow's back: phase %s, error %q, streams %+v\n%s", st.Phase, st.Error, st.Streams, tail(p0.logs(), 6000))
	} else {
		t.Logf("DDL behind its back: %s", st.Error)
	}
	out, err = c.wf(p0, "reshard", "e1", "switchtraffic")
	expect("switch of a stopped workflow", out, err, "phase running or reversed", "not error")
	out = c.mustWF(p0, "reshard", "e1", "cancel")
	t.Logf("cancel: %s", strings.TrimSpace(out))
	var n int
	must(t, c.shardDB(c.spec("-80")).QueryRow("SELECT COUNT(*) FROM events").Scan(&n))
	if n == 0 {
		t.Error("cancel touched the sources")
	}
	if err := tdb.QueryRow("SELECT COUNT(*) FROM events").Scan(&n); err == nil {
		t.Error("cancel left the targets' tables")
	}
	// DDL is allowed again.
	if _, err := db.Exec("ALTER TABLE events ADD COLUMN after_cancel INT"); err != nil {
		t.Errorf("DDL after cancel: %v", err)
	}

	// An unknown workflow, and a proxy that cannot reach etcd.
	out, err = c.wf(p0, "reshard", "nosuch", "show")
	expect("unknown workflow", out, err, "no workflow nosuch")
	c.etcdServer.Stop()
	out, err = c.wf(p0, "reshard", "e1", "show")
	expect("etcd down", out, err, "etcd at", "did not answer")
	// The proxy serves its last topology meanwhile.
	if _, err := db.Exec("SELECT COUNT(*) FROM events"); err != nil {
		t.Errorf("a query with etcd down: %v", err)
	}
}

func errorsAs(err error, target **mysql.MySQLError) bool {
	if err == nil {
		return false
	}
	e, ok := err.(*mysql.MySQLError)
	if ok {
		*target = e
	}
	return ok
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
