package etcd

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/topo"
)

// vschemaJSON is the customer keyspace's vschema with extra tables, each
// sharded by the hash of the given column.
func vschemaJSON(extra map[string]string) []byte {
	tables := map[string]any{"customer": map[string]any{"column_vindexes": []any{map[string]any{"column": "customer_id", "name": "hash"}}}}
	for name, col := range extra {
		tables[name] = map[string]any{"column_vindexes": []any{map[string]any{"column": col, "name": "hash"}}}
	}
	b, _ := json.Marshal(map[string]any{"sharded": true, "vindexes": map[string]any{"hash": map[string]any{"type": "hash"}}, "tables": tables})
	return b
}

// applyVSchema replaces customer's vschema the way `shardgate vschema apply` does.
func (c *cluster) applyVSchema(extra map[string]string) error {
	return topo.ApplyVSchema(context.Background(), c.admin, "customer", vschemaJSON(extra), topo.SnapshotOptions{GlobalKeyspace: "commerce"})
}

func hasTable(p *testProxy, table string) bool {
	ks, ok := p.R.Snapshot().Keyspace("customer")
	if !ok {
		return false
	}
	_, ok = ks.Table(table)
	return ok
}

func shardAddr(p *testProxy, ks, shard string) string {
	k, ok := p.R.Snapshot().Keyspace(ks)
	if !ok {
		return ""
	}
	for _, s := range k.Shards {
		if s.Name == shard {
			return s.Addr()
		}
	}
	return ""
}

const createCustomer = "CREATE TABLE customer (customer_id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL)"

// Two proxies on one etcd: a vschema change written through the CLI's code
// path reaches both within a second, and rows of the new table land on the
// shard the vindex of the new vschema names.
func TestVSchemaApplyReachesBothProxies(t *testing.T) {
	c := newCluster(t)
	c.put()
	a, b := c.mustProxy(""), c.mustProxy("")
	dbA, dbB := a.db(t), b.db(t)
	mustExec(t, dbA, createCustomer)

	// items is sharded by owner_id, not by its primary key: only the
	// vschema says so (auto_vschema would pick id).
	for _, s := range servers[1:3] {
		if err := s.Exec(context.Background(), "CREATE TABLE "+c.db+"_customer.items (id BIGINT NOT NULL PRIMARY KEY, owner_id BIGINT NOT NULL, note VARCHAR(32))"); err != nil {
			t.Fatal(err)
		}
	}
	// Before the change, B either refuses items (not in the vschema) or,
	// once schema tracking has seen the table (auto_vschema: the DDL above
	// makes B re-read the shards, at a time this test does not control),
	// routes it by its primary key. Either is right; what matters is that
	// after the change every proxy routes it by owner_id, checked below.
	if plan := vexplainPlan(t, dbB, "INSERT INTO items (id, owner_id, note) VALUES (1000001, 1, 'x')"); plan != "" && strings.Contains(plan, "hash(owner_id)") {
		t.Fatalf("items before the vschema change is already routed by owner_id: %s", plan)
	}

	start := time.Now()
	if err := c.applyVSchema(map[string]string{"items": "owner_id"}); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*testProxy{"A": a, "B": b} {
		eventually(t, time.Second, "proxy "+name+" follows the new vschema", func() bool { return hasTable(p, "items") })
		t.Logf("proxy %s has the new vschema %s after it was written", name, time.Since(start).Round(time.Millisecond))
	}

	for id := int64(1); id <= 40; id++ {
		db := dbA
		if id%2 == 0 {
			db = dbB
		}
		mustExec(t, db, "INSERT INTO items (id, owner_id, note) VALUES (?, ?, ?)", id, id*7919, "n")
	}
	for i, s := range servers[1:3] {
		rows, err := direct(t, s, c.db+"_customer").Query("SELECT owner_id FROM items")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var owner int64
			if err := rows.Scan(&owner); err != nil {
				t.Fatal(err)
			}
			if shardIndex(t, owner) != i {
				t.Errorf("row with owner_id %d is on shard %d, the hash vindex says %d", owner, i, shardIndex(t, owner))
			}
			n++
		}
		rows.Close()
		t.Logf("shard %d holds %d rows", i, n)
	}
	if n := count(t, dbB, "SELECT COUNT(*) FROM items"); n != 40 {
		t.Errorf("40 rows inserted, %d read back", n)
	}
	// A point query by the new vindex column reads one shard.
	var note string
	if err := dbA.QueryRow("SELECT note FROM items WHERE owner_id = ?", 7*7919).Scan(&note); err != nil || note != "n" {
		t.Errorf("point query by owner_id: %q, %v", note, err)
	}
}

// A shard moved to another server is followed; a transaction open on the
// old server across the move commits there, on the connection it holds.
func TestShardMove(t *testing.T) {
	c := newCluster(t)
	c.put()
	a, b := c.mustProxy(""), c.mustProxy("")
	dbA, dbB := a.db(t), b.db(t)
	mustExec(t, dbA, createCustomer)
	for id := int64(1); id <= 20; id++ {
		mustExec(t, dbA, "INSERT INTO customer (customer_id, name) VALUES (?, ?)", id, "before")
	}
	// Copy the 80- shard to servers[3], plus a row only the copy has.
	oldDB, newDB := direct(t, servers[2], c.db+"_customer"), direct(t, servers[3], c.db+"_customer")
	mustExec(t, newDB, createCustomer)
	rows, err := oldDB.Query("SELECT customer_id, name FROM customer")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		mustExec(t, newDB, "INSERT INTO customer VALUES (?, ?)", id, name)
	}
	rows.Close()
	marker := idOn(t, 1, 1000)
	mustExec(t, newDB, "INSERT INTO customer VALUES (?, 'only on the new server')", marker)

	// A transaction on the old 80- server, open across the move.
	ctx := context.Background()
	tx, err := dbA.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	inTx := idOn(t, 1, 2000)
	if _, err := tx.Exec("INSERT INTO customer (customer_id, name) VALUES (?, 'tx across the move')", inTx); err != nil {
		t.Fatal(err)
	}

	d := c.doc("customer")
	d.Shards["80-"].Port = servers[3].Port
	start := time.Now()
	if err := topo.PutKeyspaceDocs(ctx, c.admin, map[string]*topo.KeyspaceDoc{"customer": d}, topo.SnapshotOptions{GlobalKeyspace: "commerce"}, false); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*testProxy{"A": a, "B": b} {
		eventually(t, time.Second, "proxy "+name+" follows the move", func() bool { return shardAddr(p, "customer", "80-") == servers[3].Addr() })
		t.Logf("proxy %s routes 80- to the new server %s after the write", name, time.Since(start).Round(time.Millisecond))
	}
	for _, db := range []*sql.DB{dbA, dbB} {
		var name string
		if err := db.QueryRow("SELECT name FROM customer WHERE customer_id = ?", marker).Scan(&name); err != nil || name != "only on the new server" {
			t.Errorf("row on the new server: %q, %v", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit of the transaction open across the move: %v", err)
	}
	if n := count(t, oldDB, "SELECT COUNT(*) FROM customer WHERE customer_id = ?", inTx); n != 1 {
		t.Errorf("the transaction open across the move did not commit on its (old) server")
	}
	// New writes go to the new server.
	after := idOn(t, 1, 3000)
	mustExec(t, dbB, "INSERT INTO customer (customer_id, name) VALUES (?, 'after')", after)
	if count(t, newDB, "SELECT COUNT(*) FROM customer WHERE customer_id = ?", after) != 1 || count(t, oldDB, "SELECT COUNT(*) FROM customer WHERE customer_id = ?", after) != 0 {
		t.Errorf("a row inserted after the move is not (only) on the new server")
	}
	// The -80 shard kept its pool; 80-'s is the new server's.
	for _, p := range a.R.Pools() {
		if p.Name() == "customer/80-" && p.Addr() != servers[3].Addr() {
			t.Errorf("pool %s dials %s, want %s", p.Name(), p.Addr(), servers[3].Addr())
		}
	}
}

// Bad documents are refused, logged and counted while traffic goes on; the
// proxies keep the last good version of the keyspace, and other keyspaces
// still follow etcd.
func TestBadDocumentRefused(t *testing.T) {
	c := newCluster(t)
	c.put()
	a, b := c.mustProxy(""), c.mustProxy("")
	dbA, dbB := a.db(t), b.db(t)
	mustExec(t, dbA, createCustomer)
	good, _, err := c.admin.Keyspace(context.Background(), "customer")
	if err != nil {
		t.Fatal(err)
	}
	l := startLoad(t, 1, dbA, dbB)
	time.Sleep(200 * time.Millisecond)

	unknownVindex := strings.Replace(string(good), `"type": "hash"`, `"type": "hashh"`, 1)
	d := c.doc("customer")
	delete(d.Shards, "80-")
	bad := []struct {
		what, doc, want string
	}{
		{"invalid JSON", `{"sharded": true, "shards": {`, "JSON syntax error"},
		{"unknown vindex type", unknownVindex, "hashh"},
		{"shards not covering the key range", string(d.Marshal()), "keyspaces.customer.shards"},
	}
	for i, bd := range bad {
		if bd.doc == string(good) {
			t.Fatalf("%s: the bad document is the good one", bd.what)
		}
		c.rawPut("customer", []byte(bd.doc))
		for name, p := range map[string]*testProxy{"A": a, "B": b} {
			eventually(t, 2*time.Second, bd.what+": refused by proxy "+name, func() bool { return p.W.Rejected() == uint64(i+1) })
			if msg := p.W.LastRejection(); !strings.Contains(msg, bd.want) {
				t.Errorf("%s: proxy %s's rejection %q does not mention %q", bd.what, name, msg, bd.want)
			}
			if n := p.Logs.FilterMessageSnippet("refused").Len(); n != i+1 {
				t.Errorf("%s: proxy %s logged %d refusals, want %d", bd.what, name, n, i+1)
			}
			ks, _ := p.R.Snapshot().Keyspace("customer")
			if len(ks.Shards) != 2 || ks.Vindexes["hash"] == nil {
				t.Errorf("%s: proxy %s does not keep the last good customer keyspace", bd.what, name)
			}
		}
		t.Logf("%s refused: %s", bd.what, a.W.LastRejection())
	}

	// While customer's document is bad, a new keyspace is still applied.
	extra := fmt.Sprintf(`{"sharded": false, "shards": {"0": {"host": "127.0.0.1", "port": %d, "user": "root", "database": "%s_commerce"}}}`, servers[0].Port, c.db)
	c.rawPut("extra", []byte(extra))
	for name, p := range map[string]*testProxy{"A": a, "B": b} {
		eventually(t, time.Second, "proxy "+name+" gets keyspace extra", func() bool { _, ok := p.R.Snapshot().Keyspace("extra"); return ok })
	}
	// The CLI's path checks before writing: nothing is written.
	badVS := []byte(`{"sharded": true, "vindexes": {"hash": {"type": "nosuch"}}, "tables": {}}`)
	if err := topo.ApplyVSchema(context.Background(), c.admin, "customer", badVS, topo.SnapshotOptions{}); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("vschema apply of an unknown vindex type: %v, want refused", err)
	}

	c.rawPut("customer", good)
	time.Sleep(300 * time.Millisecond)
	l.stop(t)
	if a.W.Rejected() != 3 || b.W.Rejected() != 3 {
		t.Errorf("rejections: A %d, B %d, want 3", a.W.Rejected(), b.W.Rejected())
	}
}

// etcd stopped and started again under load: no client query fails, the
// proxies notice, then follow changes again and re-register.
func TestEtcdRestartUnderLoad(t *testing.T) {
	c := newCluster(t)
	c.put()
	a, b := c.mustProxy(""), c.mustProxy("")
	dbA, dbB := a.db(t), b.db(t)
	mustExec(t, dbA, createCustomer)
	l := startLoad(t, 1, dbA, dbB)
	time.Sleep(300 * time.Millisecond)

	c.etcd.stop()
	for name, p := range map[string]*testProxy{"A": a, "B": b} {
		eventually(t, 6*time.Second, "proxy "+name+" notices etcd is gone", func() bool { return !p.W.Connected() })
	}
	time.Sleep(500 * time.Millisecond)
	c.etcd.start()
	for name, p := range map[string]*testProxy{"A": a, "B": b} {
		eventually(t, 10*time.Second, "proxy "+name+" reconnects", func() bool { return p.W.Connected() })
	}
	if err := c.applyVSchema(map[string]string{"after_restart": "id"}); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*testProxy{"A": a, "B": b} {
		d := eventually(t, 5*time.Second, "proxy "+name+" follows a change after the restart", func() bool { return hasTable(p, "after_restart") })
		t.Logf("proxy %s applied a change made after the restart in %s", name, d.Round(time.Millisecond))
	}
	eventually(t, 15*time.Second, "both proxies registered again", func() bool {
		ps, err := c.admin.Proxies(context.Background())
		return err == nil && len(ps) == 2
	})
	time.Sleep(200 * time.Millisecond)
	l.stop(t)
}

// A transaction open across a topology change (a vschema change: every shard
// keeps its pool) completes on its connections.
func TestTransactionAcrossTopologyChange(t *testing.T) {
	c := newCluster(t)
	c.put()
	a := c.mustProxy("")
	db := a.db(t)
	mustExec(t, db, createCustomer)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{idOn(t, 0, 10), idOn(t, 1, 10), idOn(t, 0, 100), idOn(t, 1, 100)}
	for _, id := range ids[:2] {
		if _, err := tx.Exec("INSERT INTO customer (customer_id, name) VALUES (?, 'tx')", id); err != nil {
			t.Fatal(err)
		}
	}
	poolsBefore := fmt.Sprint(a.R.Pools())
	if err := c.applyVSchema(map[string]string{"during_tx": "id"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "the proxy follows the change", func() bool { return hasTable(a, "during_tx") })
	if after := fmt.Sprint(a.R.Pools()); after != poolsBefore {
		t.Errorf("pools changed by a vschema change: %s -> %s", poolsBefore, after)
	}
	for _, id := range ids[2:] {
		if _, err := tx.Exec("INSERT INTO customer (customer_id, name) VALUES (?, 'tx')", id); err != nil {
			t.Fatalf("statement in the transaction after the change: %v", err)
		}
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM customer WHERE name = 'tx'").Scan(&n); err != nil || n != 4 {
		t.Fatalf("inside the transaction: %d rows, %v; want 4", n, err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM customer WHERE name = 'tx'"); n != 0 {
		t.Fatalf("another session sees %d uncommitted rows", n)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM customer WHERE name = 'tx'"); n != 4 {
		t.Fatalf("after commit: %d rows, want 4", n)
	}
}

// A table created by DDL through one proxy in an auto_vschema keyspace
// routes on the other at once (schema notice through etcd), with its
// sequence.
func TestAutoVSchemaDDLSharedThroughEtcd(t *testing.T) {
	c := newCluster(t)
	c.put()
	a, b := c.mustProxy(""), c.mustProxy("")
	dbA, dbB := a.db(t), b.db(t)
	mustExec(t, dbA, "CREATE TABLE auto_t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL)")
	start := time.Now()
	var lastErr error
	eventually(t, time.Second, "proxy B routes the table proxy A created", func() bool {
		_, lastErr = dbB.Exec("INSERT INTO auto_t (v) VALUES (0)")
		if lastErr != nil {
			t.Logf("%s: %v", time.Since(start), lastErr)
		}
		return lastErr == nil
	})
	t.Logf("proxy B routes auto_t %s after proxy A's CREATE TABLE returned", time.Since(start).Round(time.Millisecond))
	for i := 1; i <= 10; i++ {
		mustExec(t, dbA, "INSERT INTO auto_t (v) VALUES (?)", i)
		mustExec(t, dbB, "INSERT INTO auto_t (v) VALUES (?)", i)
	}
	var n, distinct int
	if err := dbA.QueryRow("SELECT COUNT(*), COUNT(DISTINCT id) FROM auto_t").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != 21 || distinct != 21 {
		t.Errorf("auto_t: %d rows, %d distinct ids; want 21 and 21", n, distinct)
	}
}

// Unreachable etcd at startup: a clear error, unless a cache file of the
// last topology is configured; the proxy started from the cache catches up
// once etcd is back.
func TestStartupWithoutEtcd(t *testing.T) {
	c := newCluster(t)
	c.put()
	cache := c.dir + "/topology-cache.json"
	a := c.mustProxy(cache)
	mustExec(t, a.db(t), createCustomer)
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("cache file not written: %v", err)
	}
	c.etcd.stop()

	_, err := c.startProxy("")
	if err == nil || !strings.Contains(err.Error(), "cache_file") || !strings.Contains(err.Error(), c.etcd.endpoint()) {
		t.Fatalf("start without etcd and without cache: %v; want an error naming etcd and cache_file", err)
	}
	t.Logf("start without etcd: %v", err)
	p, err := c.startProxy(cache)
	if err != nil {
		t.Fatalf("start without etcd, with the cache file: %v", err)
	}
	db := p.db(t)
	mustExec(t, db, "INSERT INTO customer (customer_id, name) VALUES (1, 'from cache')")
	if n := count(t, db, "SELECT COUNT(*) FROM customer"); n != 1 {
		t.Errorf("%d rows", n)
	}

	c.etcd.start()
	// The admin client reconnects with a backoff of its own.
	eventually(t, 10*time.Second, "vschema apply once etcd is back", func() bool { return c.applyVSchema(map[string]string{"late": "id"}) == nil })
	eventually(t, 10*time.Second, "the proxy started from the cache follows etcd once it is back", func() bool { return hasTable(p, "late") })
}

// vexplainPlan returns VEXPLAIN PLAN's text for sql, or "" when the proxy
// refuses to plan it.
func vexplainPlan(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	rows, err := db.Query("VEXPLAIN PLAN " + q)
	if err != nil {
		return ""
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
