package topo

import (
	"strings"
	"testing"
)

func TestWorkflowMarksInDoc(t *testing.T) {
	doc := []byte(`{"sharded": true,
 "shards": {"-80": {"host": "h", "user": "u"}, "80-": {"host": "h", "user": "u"},
            "-40": {"host": "h", "user": "u", "serving": false}},
 "routed_tables": {"T1": "commerce"},
 "workflows": {"w1": {"type": "reshard", "hold": "switch-1"}, "w2": {"type": "movetables", "tables": ["T2"]}}}`)
	commerce := []byte(`{"shards": {"0": {"host": "h", "user": "u"}}}`)
	snap, err := BuildSnapshot(map[string][]byte{"customer": doc, "commerce": commerce}, SnapshotOptions{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := snap.Keyspace("customer")
	if ks.RoutedTo("t1") != "commerce" || ks.RoutedTo("T1") != "commerce" || ks.RoutedTo("x") != "" {
		t.Errorf("routed tables: %v", ks.RoutedTables)
	}
	if wf, hold := ks.MovingTable("t2"); wf != "w1" || !hold {
		t.Errorf("MovingTable(t2) = %s %v (w1 moves every table and holds)", wf, hold)
	}
	if !ks.Holding() {
		t.Error("Holding() = false")
	}
	d, err := ParseKeyspaceDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	if d.Shards["-40"].Serving == nil || *d.Shards["-40"].Serving {
		t.Error("serving flag lost")
	}
	// topo put must not undo a running workflow's marks.
	plain := *d
	plain.Workflows = nil
	if why := WorkflowMarksChanged(d, &plain); why == "" {
		t.Error("dropping the workflow marks was not noticed")
	}
	if why := WorkflowMarksChanged(d, d); why != "" {
		t.Errorf("same document: %s", why)
	}
	bad := []byte(`{"sharded": true, "shards": {"-": {"host": "h", "user": "u"}}, "workflows": {"w": {"type": "copy"}}}`)
	if _, err := BuildSnapshot(map[string][]byte{"customer": bad}, SnapshotOptions{Source: "test"}); err == nil || !strings.Contains(err.Error(), "must be reshard or movetables") {
		t.Errorf("bad workflow type: %v", err)
	}
}
