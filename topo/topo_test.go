package topo

import (
	"os"
	"strings"
	"testing"

	"github.com/shardgate/shardgate/vindex"
)

const exampleVSchema = "../configs/vschema-customer.json"

func TestLoadVSchemaJSON(t *testing.T) {
	js, err := os.ReadFile(exampleVSchema)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := LoadVSchemaJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if vs.Sharded == nil || !*vs.Sharded || vs.Vindexes["hash"].Type != "hash" ||
		vs.Tables["customer"].ColumnVindexes[0].Column != "customer_id" || vs.Tables["country"].Type != "reference" {
		t.Errorf("vschema: %+v", vs)
	}

	// Vitess keys shardgate ignores load fine; params may be any scalar.
	vitess := `{
	"sharded": true,
	"require_explicit_routing": false,
	"vindexes": {"xx": {"type": "xxhash", "params": {"n": 3, "b": true}}},
	"tables": {
		"t": {
			"column_vindexes": [{"columns": ["ID"], "name": "xx"}],
			"columns": [{"name": "id", "type": "INT64"}],
			"column_list_authoritative": true
		}
	}
}`
	if _, err := LoadVSchemaJSON([]byte(vitess)); err != nil {
		t.Errorf("vitess vschema: %v", err)
	}

	bad := []struct{ json, want string }{
		{`{"sharded": true, "tables": {"t": {"colum_vindexes": []}}}`, `tables.t.colum_vindexes: unknown key "colum_vindexes"`},
		{`{"vindexes": {"h": {"type": "hsah"}}}`, `vindexes.h: unknown vindex type "hsah"`},
		{`{"vindexes": {"h": {"type": "hash"}}, "tables": {"t": {"column_vindexes": [{"column": "a", "name": "x"}]}}}`, `tables.t.column_vindexes[0].name: unknown vindex "x"`},
		{`{"sharded": true, "tables": {"t": {}}}`, `tables.t: a table of a sharded keyspace needs column_vindexes`},
		{`{"sharded": "yes"}`, `sharded: expected true or false, got "yes"`},
		{"{\n  \"sharded\": true,\n  \"tables\": {,}\n}", "line 3: JSON syntax error"},
		{`[1]`, "a vschema is a JSON object"},
		{``, "the file is empty"},
		{`{} {}`, "more data after"},
	}
	for _, c := range bad {
		_, err := LoadVSchemaJSON([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadVSchemaJSON(%s): got %v, want %q", c.json, err, c.want)
		}
	}
}

func TestShardForNoRanges(t *testing.T) {
	var empty Keyspace
	if empty.ShardFor([]byte{1}) != nil {
		t.Error("empty keyspace has a shard")
	}
	r, _ := vindex.ParseKeyRange("-80")
	k := &Keyspace{Sharded: true, Shards: []*Shard{{Name: "-80", KeyRange: r}, {Name: "x"}}}
	k.Shards[1].KeyRange, _ = vindex.ParseKeyRange("c0-")
	if k.ShardFor([]byte{0x90}) != nil {
		t.Error("a key in no range found a shard")
	}
	var s *Snapshot
	if _, ok := s.Keyspace("x"); ok || s.Names() != nil {
		t.Error("nil snapshot")
	}
}
