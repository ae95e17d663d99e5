package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/topo"
)

func TestEtcdConfig(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := `topology:
  source: etcd
  etcd:
    endpoints: [10.0.0.5:2379, "https://etcd2:2379"]
    prefix: /prod/shardgate/
    dial_timeout: 1500ms
    cache_file: cache/topology.json
    tls: {ca: ca.pem, cert: cert.pem, key: key.pem}
users: [{name: app, password: x}]
`
	cfg, err := Parse(filepath.Join(dir, "c.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Topology.Etcd
	if e.Prefix != "/prod/shardgate" || e.DialTimeout != 1500*time.Millisecond || len(e.Endpoints) != 2 ||
		e.CacheFile != filepath.Join(dir, "cache/topology.json") || e.TLS == nil || e.TLS.CA != filepath.Join(dir, "ca.pem") || e.TLS.Key != filepath.Join(dir, "key.pem") {
		t.Errorf("etcd config: %+v", e)
	}

	for _, tc := range []struct{ text, key, want string }{
		{"topology: {source: etcd, etcd: {endpoints: [x], prefix: nope}}", "topology.etcd.prefix", `starting with "/"`},
		{"topology: {source: etcd, etcd: {endpoints: [127.0.0.1:2379], dial_timeout: soon}}", "topology.etcd.dial_timeout", "duration"},
		{"topology: {source: etcd, etcd: {endpoints: [127.0.0.1:2379], tls: {cert: c.pem}}}", "topology.etcd.tls", "cert and key go together"},
		{"topology: {source: etcd, etcd: {endpoints: [127.0.0.1:2379], tls: {ca: missing.pem}}}", "topology.etcd.tls.ca", "missing.pem"},
		{"topology: {source: etcd, etcd: {endpoints: [127.0.0.1:2379], cachefile: x}}", "topology.etcd.cachefile", "cache_file"},
		{"topology: {source: etcd, etcd: {endpoints: ['host only']}}", "topology.etcd.endpoints[0]", "host:port"},
	} {
		_, err := Parse(filepath.Join(dir, "c.yaml"), []byte(tc.text+"\nusers: [{name: app, password: x}]\n"))
		if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %s: ...%s", tc.text, err, tc.key, tc.want)
		}
	}
}

func TestExportKeyspaces(t *testing.T) {
	dir := t.TempDir()
	vs := `{"vindexes": {"xx": {"type": "xxhash"}}, "tables": {"t": {"column_vindexes": [{"column": "id", "name": "xx"}]}}}`
	if err := os.WriteFile(filepath.Join(dir, "vs.json"), []byte(vs), 0o600); err != nil {
		t.Fatal(err)
	}
	text := `keyspaces:
  ks:
    sharded: true
    shards:
      "-": {host: 127.0.0.1, user: root}
    vschema_file: vs.json
`
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	docs, _, err := ExportKeyspaces(p)
	if err != nil {
		t.Fatal(err)
	}
	d := docs["ks"]
	if d == nil || d.VSchema == nil || d.VSchema.Vindexes["xx"].Type != "xxhash" {
		t.Fatalf("vschema_file not inlined: %+v", d)
	}
	if _, err := topo.BuildSnapshot(map[string][]byte{"ks": d.Marshal()}, topo.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestEtcdExampleConfig(t *testing.T) {
	cfg, err := Load("../configs/shardgate-etcd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Topology.Source != "etcd" || len(cfg.Topology.Etcd.Endpoints) != 3 || cfg.Topology.Etcd.CacheFile == "" || cfg.GlobalKeyspace != "commerce" {
		t.Errorf("example: %+v", cfg.Topology)
	}
}
