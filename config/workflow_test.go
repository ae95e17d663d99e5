package config

import (
	"strings"
	"testing"
	"time"
)

const reshardYAML = `
keyspaces:
  customer:
    sharded: true
    shards:
      "-80": {host: 127.0.0.1, port: 3306, user: u, database: c}
      "80-": {host: 127.0.0.1, port: 3307, user: u, database: c}
      "-40": {host: 127.0.0.1, port: 3308, user: u, database: c, serving: false}
      "40-80": {host: 127.0.0.1, port: 3309, user: u, database: c, serving: false}
`

func TestNonServingShards(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, reshardYAML, nil))
	ks, _ := cfg.Keyspaces.Keyspace("customer")
	if len(ks.Shards) != 2 || ks.Shards[0].Name != "-80" || ks.Shards[1].Name != "80-" {
		t.Fatalf("serving shards: %v", ks.Shards)
	}
	if len(ks.NonServing) != 2 || ks.NonServing[0].Name != "-40" || ks.NonServing[1].Name != "40-80" {
		t.Fatalf("non-serving shards: %v", ks.NonServing)
	}
	// Routing sees only serving shards: a keyspace id in -40 goes to -80.
	if s := ks.ShardFor([]byte{0x10}); s.Name != "-80" {
		t.Errorf("ShardFor(0x10) = %s, want -80", s.Name)
	}
	if ks.FindShard("40-80") == nil || len(ks.AllShards()) != 4 {
		t.Errorf("FindShard/AllShards do not see the non-serving shards")
	}
	if ks.NonServing[1].KeyRange.String() != "40-80" {
		t.Errorf("key range %s", ks.NonServing[1].KeyRange)
	}
}

func TestNonServingErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{`
keyspaces:
  customer:
    sharded: true
    shards:
      "-80": {host: h, user: u, serving: false}
      "80-": {host: h, user: u, serving: false}
`, "every shard is serving: false"},
		{`
keyspaces:
  commerce:
    shards:
      "0": {host: h, user: u}
      "-": {host: h, user: u, serving: false}
`, "serving: false is for the shards of a sharded keyspace"},
		{`
keyspaces:
  customer:
    sharded: true
    shards:
      "-80": {host: h, user: u}
      "80-": {host: h, user: u}
      "4x-": {host: h, user: u, serving: false}
`, "shards.4x-"},
		{`
keyspaces:
  customer:
    sharded: true
    shards:
      "-80": {host: h, user: u}
      "40-80": {host: h, user: u}
`, "keyspaces.customer.shards"},
	} {
		_, err := Load(writeConfig(t, c.yaml, nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want error containing %q, got %v", c.want, err)
		}
	}
}

func TestWorkflowConfig(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, reshardYAML+"workflow: {user: wf, password: pw, copy_chunk_rows: 300, copy_throttle: 0.5, switch_timeout: 2s}\n", nil))
	w := cfg.Workflow
	if w.User != "wf" || w.CopyChunkRows != 300 || w.CopyThrottle != 0.5 || w.SwitchTimeout != 2*time.Second || w.SwitchMaxLag != DefaultSwitchMaxLag {
		t.Errorf("workflow config: %+v", w)
	}
	cfg = mustLoad(t, writeConfig(t, reshardYAML, nil))
	if cfg.Workflow.CopyChunkRows != DefaultCopyChunkRows || cfg.Workflow.CopyThrottle != DefaultCopyThrottle {
		t.Errorf("defaults: %+v", cfg.Workflow)
	}
	if _, err := Load(writeConfig(t, reshardYAML+"workflow: {copy_throttle: fast}\n", nil)); err == nil || !strings.Contains(err.Error(), "workflow.copy_throttle") {
		t.Errorf("bad copy_throttle: %v", err)
	}
}
