package topo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	docCommerce = `{"sharded": false, "shards": {"0": {"host": "10.0.0.1", "user": "root", "database": "commerce"}},
  "vschema": {"tables": {"customer_seq": {"type": "sequence"}}}}`
	docCustomer = `{"sharded": true, "auto_vschema": true,
  "shards": {"-80": {"host": "10.0.0.2", "port": 3306, "user": "root"}, "80-": {"host": "10.0.0.3", "user": "root"}},
  "vschema": {"vindexes": {"hash": {"type": "hash"}},
    "tables": {"customer": {"column_vindexes": [{"column": "customer_id", "name": "hash"}],
      "auto_increment": {"column": "customer_id", "sequence": "customer_seq"}}}}}`
)

func TestBuildSnapshot(t *testing.T) {
	opts := SnapshotOptions{Source: "etcd /sg", GlobalKeyspace: "commerce"}
	snap, err := BuildSnapshot(map[string][]byte{"commerce": []byte(docCommerce), "customer": []byte(docCustomer)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := snap.Keyspace("customer")
	tbl, _ := ks.Table("customer")
	if len(ks.Shards) != 2 || ks.Shards[0].Database != "customer" || ks.Shards[1].Port != 3306 || tbl.AutoIncrement.Sequence != "commerce.customer_seq" {
		t.Errorf("customer: %+v %+v", ks.Shards[0], tbl.AutoIncrement)
	}

	for _, tc := range []struct {
		name string
		docs map[string]string
		want string
	}{
		{"invalid JSON", map[string]string{"commerce": `{"sharded": false,`}, "etcd /sg: keyspaces.commerce: JSON syntax error"},
		{"unknown key", map[string]string{"commerce": `{"shards": {"0": {"host": "h", "user": "u"}}, "vschema_file": "x.json"}`}, "vschema_file is not allowed in etcd"},
		{"wrong kind", map[string]string{"commerce": `{"shards": {"0": {"host": "h", "user": "u", "port": "x"}}}`}, "keyspaces.commerce.shards.0.port: expected an integer"},
		{"unknown vindex type", map[string]string{"commerce": docCommerce, "customer": strings.Replace(docCustomer, `"type": "hash"`, `"type": "hashh"`, 1)}, `keyspaces.customer.vschema.vindexes.hash: unknown vindex type "hashh"`},
		{"gap in key range", map[string]string{"commerce": docCommerce, "customer": strings.Replace(docCustomer, `"80-"`, `"90-"`, 1)}, "keyspaces.customer.shards"},
		{"sequence keyspace missing", map[string]string{"customer": docCustomer}, `keyspace "commerce" is not defined`},
		{"global keyspace sharded", map[string]string{"commerce": docCustomer}, "global keyspace"},
	} {
		docs := map[string][]byte{}
		for k, v := range tc.docs {
			docs[k] = []byte(v)
		}
		_, err := BuildSnapshot(docs, opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestKeyspaceDocRoundTrip(t *testing.T) {
	d, err := ParseKeyspaceDoc([]byte(docCustomer))
	if err != nil {
		t.Fatal(err)
	}
	d2, err := ParseKeyspaceDoc(d.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Marshal()) != string(d2.Marshal()) || d2.Shards["-80"].Port != 3306 || !d2.AutoVSchema || d2.VSchema.Tables["customer"].AutoIncrement.Sequence != "customer_seq" {
		t.Errorf("round trip: %s", d2.Marshal())
	}
}

// The watcher's policy: a bad document keeps the keyspace's last good
// version and does not hold back good changes to other keyspaces; each bad
// version is counted once.
func TestWatcherReconcile(t *testing.T) {
	w := NewWatcher(&Etcd{prefix: "/sg"}, "commerce", "me", nil)
	w.current = map[string][]byte{"commerce": []byte(docCommerce), "customer": []byte(docCustomer)}
	if w.reconcile() == nil || len(w.snap.Keyspaces) != 2 {
		t.Fatal("first topology not built")
	}
	bad := []byte(strings.Replace(docCustomer, `"type": "hash"`, `"type": "nosuch"`, 1))
	w.current["customer"] = bad
	if s := w.reconcile(); s != nil {
		t.Errorf("a bad document made a new topology")
	}
	if w.Rejected() != 1 || !strings.Contains(w.LastRejection(), "nosuch") {
		t.Errorf("rejected %d: %s", w.Rejected(), w.LastRejection())
	}
	// A good new keyspace goes through; the bad one is not counted again.
	w.current["extra"] = []byte(`{"shards": {"0": {"host": "h", "user": "u"}}}`)
	s := w.reconcile()
	if s == nil {
		t.Fatal("the good keyspace was held back")
	}
	if _, ok := s.Keyspace("extra"); !ok || w.Rejected() != 1 {
		t.Errorf("extra missing or rejection counted twice (%d)", w.Rejected())
	}
	if ks, _ := s.Keyspace("customer"); ks.Vindexes["hash"] == nil {
		t.Errorf("customer lost its last good version")
	}
	// Deleting commerce would leave customer's sequence without keyspace.
	delete(w.current, "commerce")
	if s := w.reconcile(); s != nil {
		t.Errorf("a refused deletion made a new topology")
	}
	if w.Rejected() != 2 || !strings.Contains(w.LastRejection(), "deletion") {
		t.Errorf("deletion: rejected %d: %s", w.Rejected(), w.LastRejection())
	}
	// Back to the versions in force: nothing to apply, nothing refused.
	w.current["commerce"] = []byte(docCommerce)
	w.current["customer"] = []byte(docCustomer)
	if s := w.reconcile(); s != nil || len(w.rejected) != 0 || len(w.snap.Keyspaces) != 3 {
		t.Errorf("back to the topology in force: new snapshot %v, rejected %v", s != nil, w.rejected)
	}
	// A good change to the once-bad keyspace applies.
	w.current["customer"] = []byte(strings.Replace(docCustomer, "10.0.0.3", "10.0.0.4", 1))
	if s := w.reconcile(); s == nil || w.Rejected() != 2 {
		t.Errorf("a good change was not applied")
	} else if ks, _ := s.Keyspace("customer"); ks.Shards[1].Host != "10.0.0.4" {
		t.Errorf("80- on %s", ks.Shards[1].Host)
	}
}

func TestCacheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.json")
	w := NewWatcher(&Etcd{prefix: "/sg"}, "", "me", nil)
	w.cacheFile = path
	w.accepted = map[string][]byte{"commerce": []byte(docCommerce)}
	w.writeCache()
	docs, err := readCache(path)
	if err != nil || string(docs["commerce"]) != docCommerce {
		t.Fatalf("cache: %v %q", err, docs["commerce"])
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readCache(path); err == nil {
		t.Error("a broken cache file was read")
	}
}
