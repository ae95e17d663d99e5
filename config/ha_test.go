package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReplicationGroup(t *testing.T) {
	text := edit(t, `"-80": {host: 127.0.0.1, port: 13301, user: root}`,
		`"-80": {servers: ["127.0.0.1:13301", "127.0.0.1:13311", "127.0.0.1:13321"], user: root, database: cust}`)
	text = "ha:\n  failover: auto\n  replication: {user: repl, password: pw}\n  probe_interval: 200ms\n  buffer_window: 3s\n  buffer_size: 50\n  replica_max_lag: 2s\n  recovery_block_period: 1m\nusers:\n  - {name: ops, password: x, admin: true}\n" +
		strings.Replace(text, "users:\n", "", 1)
	cfg := mustLoad(t, writeConfig(t, text, nil))
	ks, _ := cfg.Keyspaces.Keyspace("customer")
	s0, s1 := ks.Shards[0], ks.Shards[1]
	if !s0.HA() || !reflect.DeepEqual(s0.Servers, []string{"127.0.0.1:13301", "127.0.0.1:13311", "127.0.0.1:13321"}) || s0.Host != "" || s0.Database != "cust" {
		t.Errorf("group shard: %+v", s0)
	}
	if s0.Addr() != "127.0.0.1:13301" || s0.Roles == nil || s0.Roles.Load() != nil {
		t.Errorf("group shard addr %s roles %v", s0.Addr(), s0.Roles)
	}
	if s1.HA() || !reflect.DeepEqual(s1.Servers, []string{"127.0.0.1:13302"}) {
		t.Errorf("host/port shard is a group of one: %+v", s1.Servers)
	}
	want := HAConfig{Failover: "auto", ReplUser: "repl", ReplPassword: "pw", ProbeInterval: 200 * time.Millisecond,
		ProbeTimeout: time.Second, BufferWindow: 3 * time.Second, BufferSize: 50, ReplicaMaxLag: 2 * time.Second,
		RecoveryBlockPeriod: time.Minute, RelayWaitTimeout: DefaultRelayWaitTimeout, RequireSemiSync: true}
	if cfg.HA != want {
		t.Errorf("ha = %+v\nwant %+v", cfg.HA, want)
	}
	if len(cfg.Users) != 2 || !cfg.Users[0].Admin || cfg.Users[1].Admin {
		t.Errorf("admin flags: %+v", cfg.Users)
	}

	// Defaults: no ha section means discovery only.
	cfg = mustLoad(t, writeConfig(t, base, nil))
	if cfg.HA.Failover != "off" || cfg.HA.ProbeInterval != DefaultProbeInterval || cfg.HA.BufferWindow != DefaultBufferWindow ||
		cfg.HA.BufferSize != DefaultBufferSize || cfg.HA.ReplicaMaxLag != DefaultReplicaMaxLag {
		t.Errorf("default ha: %+v", cfg.HA)
	}

	for _, c := range []struct{ text, key, want string }{
		{edit(t, `"-80": {host: 127.0.0.1, port: 13301, user: root}`, `"-80": {servers: ["127.0.0.1:1", "127.0.0.1:1"], user: root}`),
			"keyspaces.customer.shards.-80.servers[1]", "listed twice"},
		{edit(t, `"-80": {host: 127.0.0.1, port: 13301, user: root}`, `"-80": {servers: ["127.0.0.1"], user: root}`),
			"keyspaces.customer.shards.-80.servers[0]", "want host:port"},
		{edit(t, `"-80": {host: 127.0.0.1, port: 13301, user: root}`, `"-80": {servers: ["a:1", "b:2"], host: a, user: root}`),
			"keyspaces.customer.shards.-80", "not both"},
		{"ha: {failover: auto}\n" + base, "ha.replication.user", "needs the account"},
		{"ha: {failover: maybe}\n" + base, "ha.failover", "auto or off"},
		{"ha: {probe_interval: 1ms}\n" + base, "ha.probe_interval", "at least 10ms"},
		{"ha: {replica_max_lag: x}\n" + base, "ha.replica_max_lag", "duration"},
	} {
		_, err := Load(writeConfig(t, c.text, nil))
		if err == nil || !strings.Contains(err.Error(), c.key+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want error at %s with %q, got %v", c.key, c.want, err)
		}
	}
}
