package config

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/topo"
)

const exampleConfig = "../configs/shardgate.yaml"

const exampleVSchema = "../configs/vschema-customer.json"

func nativeHash(pw string) []byte {
	h1 := sha1.Sum([]byte(pw))
	h2 := sha1.Sum(h1[:])
	return h2[:]
}

// writeConfig writes text as shardgate.yaml (plus extra files) in a fresh
// folder and returns the config's path.
func writeConfig(t *testing.T, text string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "shardgate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return cfg
}

func checkExampleCustomer(t *testing.T, cfg *Config) {
	t.Helper()
	ks, ok := cfg.Keyspaces.Keyspace("customer")
	if !ok {
		t.Fatal("keyspace customer missing")
	}
	if !ks.Sharded || !ks.AutoVSchema || ks.DefaultVindex != "hash" {
		t.Errorf("customer: sharded=%v auto=%v default vindex=%q", ks.Sharded, ks.AutoVSchema, ks.DefaultVindex)
	}
	if len(ks.Shards) != 2 || ks.Shards[0].Name != "-80" || ks.Shards[1].Name != "80-" {
		t.Fatalf("customer shards: %+v", ks.Shards)
	}
	s0, s1 := ks.Shards[0], ks.Shards[1]
	if s0.Addr() != "127.0.0.1:13301" || s1.Addr() != "127.0.0.1:13302" || s0.Network() != "tcp" {
		t.Errorf("addrs %s %s", s0.Addr(), s1.Addr())
	}
	if !s0.HA() || !reflect.DeepEqual(s0.Servers, []string{"127.0.0.1:13301", "127.0.0.1:13311"}) || s1.HA() {
		t.Errorf("servers %v %v", s0.Servers, s1.Servers)
	}
	if s0.Database != "customer" || s0.User != "shardgate" || s0.Password != "change-me" {
		t.Errorf("shard -80: %+v", s0)
	}
	if len(s0.KeyRange.Start) != 0 || !reflect.DeepEqual(s0.KeyRange.End, []byte{0x80}) ||
		!reflect.DeepEqual(s1.KeyRange.Start, []byte{0x80}) || len(s1.KeyRange.End) != 0 {
		t.Errorf("key ranges %v %v", s0.KeyRange, s1.KeyRange)
	}

	cust, ok := ks.Table("CUSTOMER")
	if !ok {
		t.Fatal("table customer missing")
	}
	if cust.Name != "customer" || cust.Type != topo.TableSharded || cust.Column != "customer_id" ||
		cust.VindexName != "hash" || cust.Vindex == nil || cust.Vindex.Type() != "hash" {
		t.Errorf("customer table: %+v", cust)
	}
	if cust.AutoIncrement == nil || *cust.AutoIncrement != (topo.AutoIncrement{Column: "customer_id", Sequence: "commerce.customer_seq"}) {
		t.Errorf("customer auto_increment: %+v", cust.AutoIncrement)
	}
	if c, ok := ks.Table("country"); !ok || c.Type != topo.TableReference || c.Vindex != nil {
		t.Errorf("country table: %+v %v", c, ok)
	}
	if _, ok := ks.Table("nope"); ok {
		t.Error("table nope found")
	}
	if ks.Vindexes["hash"] == nil {
		t.Error("vindex hash missing")
	}

	// ShardFor agrees with the key ranges for hashed ids, and both shards get rows.
	seen := map[string]int{}
	for id := int64(1); id <= 200; id++ {
		ksid, err := cust.Vindex.Map(id)
		if err != nil {
			t.Fatal(err)
		}
		s := ks.ShardFor(ksid)
		if s == nil || !s.KeyRange.Contains(ksid) {
			t.Fatalf("ShardFor(%x) = %+v", ksid, s)
		}
		seen[s.Name]++
	}
	if seen["-80"] == 0 || seen["80-"] == 0 {
		t.Errorf("hash spread: %v", seen)
	}
	if s := ks.ShardFor([]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); s != s0 {
		t.Errorf("ShardFor(7fff…) = %s", s.Name)
	}
	if s := ks.ShardFor([]byte{0x80, 0, 0, 0, 0, 0, 0, 0}); s != s1 {
		t.Errorf("ShardFor(8000…) = %s", s.Name)
	}
}

func TestLoadExample(t *testing.T) {
	cfg := mustLoad(t, exampleConfig)
	if cfg.Path != exampleConfig {
		t.Errorf("Path = %q", cfg.Path)
	}
	if cfg.Listen.MySQL != "127.0.0.1:15306" || cfg.Listen.HTTP != "127.0.0.1:15000" || cfg.Listen.TLS != nil {
		t.Errorf("listen: %+v", cfg.Listen)
	}
	if cfg.DefaultKeyspace != "customer" || cfg.GlobalKeyspace != "commerce" || cfg.TransactionMode != "multi" {
		t.Errorf("default %q global %q mode %q", cfg.DefaultKeyspace, cfg.GlobalKeyspace, cfg.TransactionMode)
	}
	if cfg.Topology.Source != "file" || !reflect.DeepEqual(cfg.Topology.Etcd.Endpoints, []string{"127.0.0.1:2379"}) || cfg.Topology.Etcd.Prefix != "/shardgate" {
		t.Errorf("topology: %+v", cfg.Topology)
	}

	if len(cfg.Users) != 3 {
		t.Fatalf("users: %+v", cfg.Users)
	}
	app, rep := cfg.Users[0], cfg.Users[1]
	if ops := cfg.Users[2]; ops.Name != "ops" || !ops.Admin || app.Admin || rep.Admin {
		t.Errorf("admin flags: %+v", cfg.Users)
	}
	if !cfg.HA.Auto() || cfg.HA.ReplUser != "repl" || cfg.HA.BufferWindow != 10*time.Second || cfg.HA.ReplicaMaxLag != 5*time.Second {
		t.Errorf("ha: %+v", cfg.HA)
	}
	if app.Name != "app" || !reflect.DeepEqual(app.NativeHash, nativeHash("secret")) || app.ReadOnly || app.Keyspaces != nil {
		t.Errorf("user app: %+v", app)
	}
	if rep.Name != "reporting" || !reflect.DeepEqual(rep.NativeHash, nativeHash("reporting")) || rep.SHA2Hash != nil ||
		!rep.ReadOnly || !reflect.DeepEqual(rep.Keyspaces, []string{"customer"}) {
		t.Errorf("user reporting: %+v", rep)
	}

	if got := cfg.Keyspaces.Names(); !reflect.DeepEqual(got, []string{"commerce", "customer"}) {
		t.Errorf("keyspaces: %v", got)
	}
	com, ok := cfg.Keyspaces.Keyspace("Commerce")
	if !ok || com.Name != "commerce" || com.Sharded || len(com.Shards) != 1 {
		t.Fatalf("commerce: %+v", com)
	}
	if s := com.Shards[0]; s.Name != "0" || s.KeyRange.Start != nil || s.KeyRange.End != nil || s.Addr() != "127.0.0.1:13300" || s.Database != "commerce" {
		t.Errorf("commerce shard: %+v", s)
	}
	if com.ShardFor([]byte{0xff}) != com.Shards[0] || com.DefaultVindex != "" || len(com.Tables) != 0 {
		t.Errorf("commerce routing/vschema: %+v", com)
	}
	if _, ok := cfg.Keyspaces.Keyspace("nope"); ok {
		t.Error("keyspace nope found")
	}
	checkExampleCustomer(t, cfg)
}

// The example with its inline vschema replaced by the example JSON file.
func exampleWithVSchemaFile(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "    vschema:")
	if i < 0 {
		t.Fatal("example has no inline vschema")
	}
	return text[:i] + "    vschema_file: " + file + "\n"
}

func TestLoadExampleVSchemaFile(t *testing.T) {
	js, err := os.ReadFile(exampleVSchema)
	if err != nil {
		t.Fatal(err)
	}
	// Relative to the config's folder.
	path := writeConfig(t, exampleWithVSchemaFile(t, "vschema-customer.json"), map[string]string{"vschema-customer.json": string(js)})
	cfg := mustLoad(t, path)
	checkExampleCustomer(t, cfg)

	// Absolute.
	abs, _ := filepath.Abs(exampleVSchema)
	cfg2 := mustLoad(t, writeConfig(t, exampleWithVSchemaFile(t, abs), nil))
	checkExampleCustomer(t, cfg2)

	// Same tables as the inline vschema.
	inline := mustLoad(t, exampleConfig)
	a, _ := inline.Keyspaces.Keyspace("customer")
	b, _ := cfg.Keyspaces.Keyspace("customer")
	if len(a.Tables) != len(b.Tables) {
		t.Fatalf("tables: inline %d, file %d", len(a.Tables), len(b.Tables))
	}
	for name, ta := range a.Tables {
		tb := b.Tables[name]
		if tb == nil || ta.Name != tb.Name || ta.Type != tb.Type || ta.Column != tb.Column || ta.VindexName != tb.VindexName ||
			!reflect.DeepEqual(ta.AutoIncrement, tb.AutoIncrement) {
			t.Errorf("table %s: inline %+v, file %+v", name, ta, tb)
		}
	}
}

const minimal = `
users:
  - {name: app, password: secret}
keyspaces:
  main:
    shards:
      "0": {host: db1, user: app}
`

func TestDefaults(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, minimal, nil))
	if cfg.Listen.MySQL != "127.0.0.1:15306" || cfg.Listen.HTTP != "127.0.0.1:15000" || cfg.Listen.TLS != nil {
		t.Errorf("listen: %+v", cfg.Listen)
	}
	want := PoolConfig{Size: 64, MaxIdle: 64, WaitTimeout: 5 * time.Second, ConnectTimeout: 3 * time.Second, IdleTimeout: 5 * time.Minute}
	if cfg.Pool != want {
		t.Errorf("pool = %+v, want %+v", cfg.Pool, want)
	}
	if cfg.Limits != (Limits{MaxConnections: 4096, MaxPacketSize: 64 << 20, MaxMemoryRows: 300000, ProxySortRows: 256,
		PlanCacheBytes: 64 << 20, MaxPreparedStmtsPerSession: 1024}) {
		t.Errorf("limits = %+v", cfg.Limits)
	}
	if cfg.TransactionMode != "multi" || cfg.Topology.Source != "file" || cfg.Topology.Etcd.Prefix != "/shardgate" {
		t.Errorf("mode %q topology %+v", cfg.TransactionMode, cfg.Topology)
	}
	if cfg.DefaultKeyspace != "" || cfg.GlobalKeyspace != "" {
		t.Errorf("default %q global %q", cfg.DefaultKeyspace, cfg.GlobalKeyspace)
	}
	if cfg.Deadlock.Threshold != 200*time.Millisecond {
		t.Errorf("deadlock.threshold = %s, want 200ms", cfg.Deadlock.Threshold)
	}
	ks, _ := cfg.Keyspaces.Keyspace("main")
	s := ks.Shards[0]
	if ks.Sharded || s.Port != 3306 || s.Database != "main" || s.Addr() != "db1:3306" {
		t.Errorf("keyspace %+v shard %+v", ks, s)
	}
}

func TestSettings(t *testing.T) {
	text := `
listen: {mysql: ":0", http: "[::1]:8080", tls: {cert: c.pem, key: k.pem, require: true}}
transaction_mode: twopc
pool: {size: 8, max_idle: 2, wait_timeout: 250ms, connect_timeout: 1s, idle_timeout: 0}
limits: {max_connections: 10, max_packet_size: 16MiB, max_memory_rows: 1000, proxy_sort_rows: 0, plan_cache_bytes: 8MiB, max_prepared_stmts_per_session: 50}
deadlock: {threshold: 0}
users:
  - {name: nopw, password: ""}
  - {name: hashed, password_hash: "*14e65567abdb5135d0cfd9a70b3032c179a49ee7", keyspaces: [MAIN]}
global_keyspace: main
keyspaces:
  main:
    shards:
      "-": {socket: /run/mysqld/m.sock, user: app, database: maindb}
    vschema:
      tables:
        seq: {type: sequence}
        t: {auto_increment: {column: ID, sequence: seq}}
  auto:
    sharded: true
    auto_vschema: true
    shards:
      "-40": &s {host: h, port: 1, user: u}
      40-80: *s
      "80-c0": {<<: *s, port: 2}
      c0-: {<<: *s, port: 3}
`
	path := writeConfig(t, text, map[string]string{"c.pem": "x", "k.pem": "y"})
	cfg := mustLoad(t, path)
	dir := filepath.Dir(path)
	if cfg.Listen.MySQL != ":0" || cfg.Listen.HTTP != "[::1]:8080" ||
		*cfg.Listen.TLS != (TLSConfig{Cert: filepath.Join(dir, "c.pem"), Key: filepath.Join(dir, "k.pem"), Require: true}) {
		t.Errorf("listen: %+v %+v", cfg.Listen, cfg.Listen.TLS)
	}
	if cfg.Pool != (PoolConfig{Size: 8, MaxIdle: 2, WaitTimeout: 250 * time.Millisecond, ConnectTimeout: time.Second}) {
		t.Errorf("pool: %+v", cfg.Pool)
	}
	if cfg.Limits != (Limits{MaxConnections: 10, MaxPacketSize: 16 << 20, MaxMemoryRows: 1000, PlanCacheBytes: 8 << 20, MaxPreparedStmtsPerSession: 50}) || cfg.TransactionMode != "twopc" {
		t.Errorf("limits %+v mode %s", cfg.Limits, cfg.TransactionMode)
	}
	if cfg.Deadlock.Threshold != 0 {
		t.Errorf("deadlock.threshold %s, want 0 (off)", cfg.Deadlock.Threshold)
	}
	if u := cfg.Users[0]; u.NativeHash != nil || u.SHA2Hash != nil {
		t.Errorf("empty password: %+v", u)
	}
	if u := cfg.Users[1]; !reflect.DeepEqual(u.NativeHash, nativeHash("secret")) || !reflect.DeepEqual(u.Keyspaces, []string{"main"}) {
		t.Errorf("hashed: %+v", u)
	}

	main, _ := cfg.Keyspaces.Keyspace("main")
	if s := main.Shards[0]; s.Network() != "unix" || s.Addr() != "/run/mysqld/m.sock" || s.Database != "maindb" || s.Port != 0 {
		t.Errorf("socket shard: %+v", s)
	}
	if tb, _ := main.Table("seq"); tb.Type != topo.TableSequence {
		t.Errorf("seq: %+v", tb)
	}
	if tb, _ := main.Table("T"); tb.AutoIncrement.Column != "id" || tb.AutoIncrement.Sequence != "main.seq" || tb.Type != topo.TableSharded {
		t.Errorf("t: %+v", tb.AutoIncrement)
	}

	auto, _ := cfg.Keyspaces.Keyspace("auto")
	var names []string
	for _, s := range auto.Shards {
		names = append(names, s.Name+"@"+s.Addr())
	}
	if !reflect.DeepEqual(names, []string{"-40@h:1", "40-80@h:1", "80-c0@h:2", "c0-@h:3"}) {
		t.Errorf("shards: %v", names)
	}
	if auto.DefaultVindex != "hash" || auto.Vindexes["hash"] == nil || auto.Vindexes["hash"].Type() != "hash" {
		t.Errorf("auto_vschema vindex: %q %v", auto.DefaultVindex, auto.Vindexes)
	}
	if s := auto.ShardFor([]byte{0x41}); s.Name != "40-80" {
		t.Errorf("ShardFor(41) = %s", s.Name)
	}
	if s := auto.ShardFor([]byte{0xc0}); s.Name != "c0-" {
		t.Errorf("ShardFor(c0) = %s", s.Name)
	}
	// A hand-built keyspace (no cached ranges) routes too.
	hand := &topo.Keyspace{Sharded: true, Shards: auto.Shards}
	if s := hand.ShardFor([]byte{0x90}); s.Name != "80-c0" {
		t.Errorf("hand-built ShardFor(90) = %s", s.Name)
	}
}

func TestPasswordHash(t *testing.T) {
	// MySQL: SELECT PASSWORD('secret') = *14E65567ABDB5135D0CFD9A70B3032C179A49EE7
	const mysqlHash = "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"
	got := "*" + strings.ToUpper(hex.EncodeToString(nativeHash("secret")))
	if got != mysqlHash {
		t.Fatalf("SHA1(SHA1(secret)) = %s, want %s", got, mysqlHash)
	}
	h, err := ParseNativeHash(mysqlHash)
	if err != nil || !reflect.DeepEqual(h, nativeHash("secret")) {
		t.Fatalf("ParseNativeHash: %x %v", h, err)
	}

	cfg := mustLoad(t, writeConfig(t, minimal, nil))
	u := cfg.Users[0]
	if !reflect.DeepEqual(u.NativeHash, nativeHash("secret")) {
		t.Errorf("NativeHash = %x", u.NativeHash)
	}
	s1 := sha256.Sum256([]byte("secret"))
	s2 := sha256.Sum256(s1[:])
	if !reflect.DeepEqual(u.SHA2Hash, s2[:]) {
		t.Errorf("SHA2Hash = %x", u.SHA2Hash)
	}
	// The plaintext is kept nowhere in the Config.
	if strings.Contains(strings.ToLower(dump(cfg)), "secret") {
		t.Error("the config keeps the plaintext password")
	}
}

// dump prints every string and byte slice reachable from v.
func dump(v any) string {
	var b strings.Builder
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				b.Write(v.Bytes())
				return
			}
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(k)
				walk(v.MapIndex(k))
			}
		case reflect.String:
			b.WriteString(v.String())
			b.WriteByte(' ')
		}
	}
	walk(reflect.ValueOf(v))
	return b.String()
}

// base is a valid config; the bad cases edit it.
const base = `users:
  - {name: app, password: secret}
default_keyspace: customer
global_keyspace: commerce
keyspaces:
  commerce:
    shards:
      "0": {host: 127.0.0.1, port: 13300, user: root}
  customer:
    sharded: true
    shards:
      "-80": {host: 127.0.0.1, port: 13301, user: root}
      "80-": {host: 127.0.0.1, port: 13302, user: root}
    vschema:
      vindexes: {hash: {type: hash}}
      tables:
        customer:
          column_vindexes: [{column: customer_id, name: hash}]
          auto_increment: {column: customer_id, sequence: commerce.customer_seq}
`

func TestBaseIsValid(t *testing.T) {
	mustLoad(t, writeConfig(t, base, nil))
}

func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(base, old) {
		t.Fatalf("base has no %q", old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestBadConfigs(t *testing.T) {
	type tc struct {
		name  string
		text  string
		extra map[string]string
		key   string // "shardgate.yaml: " + key + ": " must appear ("" = skip)
		want  []string
	}
	cases := []tc{
		{name: "gap", text: edit(t, `"-80":`, `"-40":`),
			key: "keyspaces.customer.shards", want: []string{`shards "-40" and "80-" leave a gap 40-80`}},
		{name: "overlap", text: edit(t, `"80-":`, `"40-":`),
			key: "keyspaces.customer.shards", want: []string{`shards "-80" and "40-" overlap`}},
		{name: "bad shard name", text: edit(t, `"80-":`, `"8x-":`),
			key: "keyspaces.customer.shards.8x-", want: []string{"not hex"}},
		{name: "unknown vindex", text: edit(t, "name: hash}", "name: hsh}"),
			key: "keyspaces.customer.vschema.tables.customer.column_vindexes[0].name", want: []string{`unknown vindex "hsh"`}},
		{name: "unknown default keyspace", text: edit(t, "default_keyspace: customer", "default_keyspace: x"),
			key: "default_keyspace", want: []string{`keyspace "x" is not defined`}},
		{name: "yaml syntax", text: edit(t, "global_keyspace: commerce", "global_keyspace: [commerce"),
			want: []string{"shardgate.yaml: line ", "YAML syntax error"}},
		{name: "yaml syntax tab", text: edit(t, "default_keyspace:", "\tdefault_keyspace:"),
			want: []string{"shardgate.yaml: line 3: YAML syntax error"}},
		{name: "deadlock threshold too small", text: "deadlock: {threshold: 5ms}\n" + base,
			key: "deadlock.threshold", want: []string{"between 50ms and 10m0s, not 5ms"}},
		{name: "deadlock threshold not a duration", text: "deadlock: {threshold: soon}\n" + base,
			key: "deadlock.threshold", want: []string{"want a duration"}},
		{name: "unknown top-level key", text: "listn: {mysql: x}\n" + base,
			key: "listn", want: []string{`unknown key "listn"`, "(line 1)", "listen"}},
		{name: "unknown shard key", text: edit(t, `"0": {host:`, `"0": {hots:`),
			key: "keyspaces.commerce.shards.0.hots", want: []string{`unknown key "hots"`, "(line 8)", "host"}},
		{name: "unknown vschema key", text: edit(t, "column_vindexes:", "colum_vindexes:"),
			key: "keyspaces.customer.vschema.tables.customer.colum_vindexes", want: []string{`unknown key "colum_vindexes"`}},
		{name: "duplicate key", text: base + "default_keyspace: commerce\n",
			key: "default_keyspace", want: []string{"appears twice", "line 3"}},
		{name: "port not a number", text: edit(t, "port: 13300", "port: abc"),
			key: "keyspaces.commerce.shards.0.port", want: []string{`expected an integer, got "abc"`}},
		{name: "shards not a mapping", text: edit(t, `    shards:
      "0": {host: 127.0.0.1, port: 13300, user: root}`, "    shards: [a]"),
			key: "keyspaces.commerce.shards", want: []string{"expected a mapping"}},
		{name: "unknown vindex type", text: edit(t, "type: hash}", "type: hsah}"),
			key: "keyspaces.customer.vschema.vindexes.hash", want: []string{`unknown vindex type "hsah"`}},
		{name: "vindex without type", text: edit(t, "{hash: {type: hash}}", "{hash: {}}"),
			key: "keyspaces.customer.vschema.vindexes.hash.type", want: []string{"type is required"}},
		{name: "sharded table without vindex", text: edit(t, "          column_vindexes: [{column: customer_id, name: hash}]\n", ""),
			key: "keyspaces.customer.vschema.tables.customer", want: []string{"needs column_vindexes"}},
		{name: "unsharded with two shards", text: edit(t, `"0": {host: 127.0.0.1, port: 13300, user: root}`, `"-80": {host: a, user: root}
      "80-": {host: b, user: root}`),
			key: "keyspaces.commerce.shards", want: []string{"exactly one shard", "sharded: true"}},
		{name: "unsharded with a partial range", text: edit(t, `"0": {host: 127.0.0.1`, `"-80": {host: 127.0.0.1`),
			key: "keyspaces.commerce.shards.-80", want: []string{"whole range"}},
		{name: "shard without host", text: edit(t, `"0": {host: 127.0.0.1, port: 13300, user: root}`, `"0": {port: 13300, user: root}`),
			key: "keyspaces.commerce.shards.0", want: []string{"needs host", "socket"}},
		{name: "shard without user", text: edit(t, `port: 13300, user: root}`, `port: 13300}`),
			key: "keyspaces.commerce.shards.0.user", want: []string{"required"}},
		{name: "bad port", text: edit(t, "port: 13300", "port: 70000"),
			key: "keyspaces.commerce.shards.0.port", want: []string{"70000"}},
		{name: "no shards", text: edit(t, `    shards:
      "0": {host: 127.0.0.1, port: 13300, user: root}`, ""),
			key: "keyspaces.commerce.shards", want: []string{"at least one shard"}},
		{name: "duplicate user", text: edit(t, "  - {name: app, password: secret}", "  - {name: app, password: secret}\n  - {name: app, password: other}"),
			key: "users[1].name", want: []string{`duplicate user "app"`}},
		{name: "bad password_hash", text: edit(t, "password: secret", `password_hash: "14E65567ABDB5135D0CFD9A70B3032C179A49EE7"`),
			key: "users[0].password_hash", want: []string{`"*" and 40 hex digits`}},
		{name: "password_hash not hex", text: edit(t, "password: secret", `password_hash: "*Z4E65567ABDB5135D0CFD9A70B3032C179A49EE7"`),
			key: "users[0].password_hash", want: []string{"not a hex digit"}},
		{name: "password and hash", text: edit(t, "password: secret", `password: x, password_hash: ""`),
			key: "users[0]", want: []string{"not both"}},
		{name: "no password", text: edit(t, "{name: app, password: secret}", "{name: app}"),
			key: "users[0]", want: []string{"needs password or password_hash"}},
		{name: "user without name", text: edit(t, "{name: app, password: secret}", "{password: secret}"),
			key: "users[0].name", want: []string{"required"}},
		{name: "user keyspace", text: edit(t, "{name: app, password: secret}", "{name: app, password: secret, keyspaces: [customer, nope]}"),
			key: "users[0].keyspaces[1]", want: []string{`keyspace "nope" is not defined`}},
		{name: "global keyspace sharded", text: edit(t, "global_keyspace: commerce", "global_keyspace: customer"),
			key: "global_keyspace", want: []string{"must be unsharded"}},
		{name: "unknown global keyspace", text: edit(t, "global_keyspace: commerce", "global_keyspace: comerce"),
			key: "global_keyspace", want: []string{`keyspace "comerce" is not defined`}},
		{name: "bad transaction_mode", text: "transaction_mode: 2pc\n" + base,
			key: "transaction_mode", want: []string{`must be single, multi or twopc, not "2pc"`}},
		{name: "unknown table type", text: edit(t, "        customer:\n", "        country: {type: refrence}\n        customer:\n"),
			key: "keyspaces.customer.vschema.tables.country.type", want: []string{`unknown table type "refrence"`}},
		{name: "sequence table in sharded keyspace", text: edit(t, "        customer:\n", "        customer_seq: {type: sequence}\n        customer:\n"),
			key: "keyspaces.customer.vschema.tables.customer_seq.type", want: []string{"unsharded keyspace"}},
		{name: "reference table with vindex", text: edit(t, "        customer:\n", "        country: {type: reference, column_vindexes: [{column: a, name: hash}]}\n        customer:\n"),
			key: "keyspaces.customer.vschema.tables.country.column_vindexes", want: []string{"a reference table has no column_vindexes"}},
		{name: "sequence keyspace sharded", text: edit(t, "sequence: commerce.customer_seq", "sequence: customer.customer_seq"),
			key: "keyspaces.customer.vschema.tables.customer.auto_increment.sequence", want: []string{`keyspace "customer" is sharded`}},
		{name: "sequence keyspace unknown", text: edit(t, "sequence: commerce.customer_seq", "sequence: nope.customer_seq"),
			key: "keyspaces.customer.vschema.tables.customer.auto_increment.sequence", want: []string{`keyspace "nope" is not defined`}},
		{name: "bare sequence without global keyspace", text: strings.Replace(edit(t, "sequence: commerce.customer_seq", "sequence: customer_seq"), "global_keyspace: commerce\n", "", 1),
			key: "keyspaces.customer.vschema.tables.customer.auto_increment.sequence", want: []string{"global_keyspace is not set"}},
		{name: "auto_vschema unsharded", text: edit(t, "  commerce:\n", "  commerce:\n    auto_vschema: true\n"),
			key: "keyspaces.commerce.auto_vschema", want: []string{"needs a sharded keyspace"}},
		{name: "sharded disagrees with vschema", text: edit(t, "      vindexes: {hash", "      sharded: false\n      vindexes: {hash"),
			key: "keyspaces.customer.vschema.sharded", want: []string{"the vschema says sharded: false"}},
		{name: "duplicate keyspace by case", text: base + "  Commerce:\n    shards: {\"0\": {host: h, user: u}}\n",
			key: "keyspaces.commerce", want: []string{"already defined"}},
		{name: "bad keyspace name", text: base + "  a.b:\n    shards: {\"0\": {host: h, user: u}}\n",
			key: `keyspaces["a.b"]`, want: []string{"without dots"}},
		{name: "bad listen address", text: "listen: {mysql: 15306}\n" + base,
			key: "listen.mysql", want: []string{"host:port"}},
		{name: "tls file missing", text: "listen: {tls: {cert: c.pem, key: k.pem}}\n" + base,
			key: "listen.tls.cert", want: []string{"c.pem", "no such file"}},
		{name: "bad duration", text: "pool: {wait_timeout: 5}\n" + base,
			key: "pool.wait_timeout", want: []string{"missing unit"}},
		{name: "bad pool size", text: "pool: {size: 0}\n" + base,
			key: "pool.size", want: []string{"positive"}},
		{name: "max_idle above size", text: "pool: {size: 4, max_idle: 5}\n" + base,
			key: "pool.max_idle", want: []string{"between 0 and pool.size (4)"}},
		{name: "bad packet size", text: "limits: {max_packet_size: 64XB}\n" + base,
			key: "limits.max_packet_size", want: []string{"64MiB"}},
		{name: "negative proxy_sort_rows", text: "limits: {proxy_sort_rows: -1}\n" + base,
			key: "limits.proxy_sort_rows", want: []string{"between 0 (shards always sort) and 100000, not -1"}},
		{name: "tiny plan cache", text: "limits: {plan_cache_bytes: 64KiB}\n" + base,
			key: "limits.plan_cache_bytes", want: []string{"at least 1MiB"}},
		{name: "prepared statements per session above the server's", text: "limits: {max_prepared_stmts_per_session: 20000}\n" + base,
			key: "limits.max_prepared_stmts_per_session", want: []string{"at most 16382"}},
		{name: "no prepared statements per session", text: "limits: {max_prepared_stmts_per_session: 0}\n" + base,
			key: "limits.max_prepared_stmts_per_session", want: []string{"positive"}},
		{name: "bad topology source", text: "topology: {source: consul}\n" + base,
			key: "topology.source", want: []string{"file or etcd"}},
		{name: "etcd without endpoints", text: "topology: {source: etcd}\n" + base,
			key: "topology.etcd.endpoints", want: []string{"at least one endpoint"}},
		{name: "no keyspaces", text: "users: []\n",
			key: "keyspaces", want: []string{"no keyspace"}},
		{name: "empty file", text: "# nothing\n",
			want: []string{"shardgate.yaml: the file is empty"}},
		{name: "top level not a mapping", text: "- a\n",
			want: []string{"shardgate.yaml: line 1: expected a mapping"}},
		{name: "vschema and vschema_file", text: edit(t, "    vschema:\n", "    vschema_file: v.json\n    vschema:\n"),
			key: "keyspaces.customer.vschema_file", want: []string{"not both"}},
		{name: "vschema_file missing", text: base[:strings.Index(base, "    vschema:")] + "    vschema_file: missing.json\n",
			key: "keyspaces.customer.vschema_file", want: []string{"missing.json", "no such file"}},
		{name: "vschema_file unknown key", text: base[:strings.Index(base, "    vschema:")] + "    vschema_file: v.json\n",
			extra: map[string]string{"v.json": `{"sharded": true, "vindexes": {"hash": {"type": "hash"}}, "tables": {"customer": {"colum_vindexes": []}}}`},
			key:   "keyspaces.customer.vschema_file", want: []string{`v.json: tables.customer.colum_vindexes: unknown key "colum_vindexes"`}},
		{name: "vschema_file unknown vindex", text: base[:strings.Index(base, "    vschema:")] + "    vschema_file: v.json\n",
			extra: map[string]string{"v.json": `{"sharded": true, "vindexes": {"hash": {"type": "hash"}}, "tables": {"customer": {"column_vindexes": [{"column": "id", "name": "hsh"}]}}}`},
			key:   "keyspaces.customer.vschema_file", want: []string{`v.json: tables.customer.column_vindexes[0].name: unknown vindex "hsh"`}},
		{name: "vschema_file syntax", text: base[:strings.Index(base, "    vschema:")] + "    vschema_file: v.json\n",
			extra: map[string]string{"v.json": "{\n  \"sharded\": true,\n  \"tables\": {\"customer\" {}}\n}"},
			key:   "keyspaces.customer.vschema_file", want: []string{"v.json: line 3: JSON syntax error"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, c.text, c.extra)
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			msg := err.Error()
			t.Log(strings.ReplaceAll(msg, filepath.Dir(path), "DIR"))
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error does not start with the file name %s: %s", path, msg)
			}
			if c.key != "" && !strings.Contains(msg, "shardgate.yaml: "+c.key+": ") {
				t.Errorf("error does not name key %q: %s", c.key, msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not say %q: %s", w, msg)
				}
			}
			var e *topo.Error
			if !errors.As(err, &e) || e.File != path {
				t.Errorf("error is not a *topo.Error of the file: %#v", err)
			}
		})
	}
}

func TestSeveralErrors(t *testing.T) {
	text := strings.Replace(edit(t, "default_keyspace: customer", "default_keyspace: x"), "global_keyspace: commerce", "global_keyspace: y", 1)
	_, err := Load(writeConfig(t, text, nil))
	var es topo.Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[0], `default_keyspace: keyspace "x"`) || !strings.Contains(lines[1], `global_keyspace: keyspace "y"`) {
		t.Errorf("errors: %v", err)
	}
}

func TestEtcdSource(t *testing.T) {
	// With etcd, keyspaces may live only in etcd: references are not checked.
	text := `topology: {source: etcd, etcd: {endpoints: [127.0.0.1:2379]}}
default_keyspace: customer
users: [{name: app, password: x, keyspaces: [customer]}]
`
	cfg := mustLoad(t, writeConfig(t, text, nil))
	if cfg.DefaultKeyspace != "customer" || len(cfg.Keyspaces.Keyspaces) != 0 {
		t.Errorf("config: %+v", cfg)
	}
}
