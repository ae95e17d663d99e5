package config

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shardgate/shardgate/internal/yamlcheck"
	"github.com/shardgate/shardgate/topo"
)

// Defaults of the configuration.
const (
	DefaultMySQLAddr       = "127.0.0.1:15306"
	DefaultHTTPAddr        = "127.0.0.1:15000"
	DefaultTransactionMode = "multi"
	DefaultPoolSize        = 64
	DefaultWaitTimeout     = 5 * time.Second
	DefaultConnectTimeout  = 3 * time.Second
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultMaxConnections  = 4096
	DefaultMaxPacketSize   = 64 << 20
	DefaultMaxMemoryRows   = 300000
	DefaultProxySortRows   = 256
	DefaultPlanCacheBytes  = 64 << 20
	DefaultMaxPrepared     = 1024 // prepared statements per session
	DefaultLoginFailures   = 20
	DefaultLoginWindow     = time.Minute
	DefaultDeadlockWait    = 200 * time.Millisecond // deadlock.threshold
	MinDeadlockWait        = 50 * time.Millisecond
	MaxDeadlockWait        = 10 * time.Minute
	NativeAuthPlugin       = "mysql_native_password"
	CachingSHA2AuthPlugin  = "caching_sha2_password"
)

// The YAML file as written. Pointers tell "absent" from a zero value.
type rawConfig struct {
	Listen          rawListen                    `yaml:"listen"`
	Users           []rawUser                    `yaml:"users"`
	Topology        rawTopology                  `yaml:"topology"`
	DefaultKeyspace string                       `yaml:"default_keyspace"`
	GlobalKeyspace  string                       `yaml:"global_keyspace"`
	TransactionMode string                       `yaml:"transaction_mode"`
	Pool            rawPool                      `yaml:"pool"`
	Limits          rawLimits                    `yaml:"limits"`
	Keyspaces       map[string]*topo.RawKeyspace `yaml:"keyspaces"`
	LoginRateLimit  rawLoginRateLimit            `yaml:"login_rate_limit"`
	Log             rawLog                       `yaml:"log"`
	SlowQueryLog    rawSlowQueryLog              `yaml:"slow_query_log"`
	Deadlock        rawDeadlock                  `yaml:"deadlock"`
	Security        rawSecurity                  `yaml:"security"`
	BackendTLS      *topo.RawBackendTLS          `yaml:"backend_tls"`
	HA              rawHA                        `yaml:"ha"`
	Workflow        rawWorkflow                  `yaml:"workflow"`
}

type rawLoginRateLimit struct {
	MaxFailures *int   `yaml:"max_failures"`
	Window      string `yaml:"window"`
}

type rawLog struct {
	JSON  bool   `yaml:"json"`
	Level string `yaml:"level"`
}

type rawSecurity struct {
	AllowFunctions        []string `yaml:"allow_functions"`
	AllowSessionVariables []string `yaml:"allow_session_variables"`
}

type rawSlowQueryLog struct {
	Threshold string `yaml:"threshold"`
}

type rawDeadlock struct {
	Threshold string `yaml:"threshold"`
}

type rawListen struct {
	MySQL       string  `yaml:"mysql"`
	HTTP        string  `yaml:"http"`
	Admin       string  `yaml:"admin"`
	TLS         *rawTLS `yaml:"tls"`
	HTTPTLS     *rawTLS `yaml:"http_tls"`
	DefaultAuth string  `yaml:"default_auth"`
}

type rawTLS struct {
	Cert    string `yaml:"cert"`
	Key     string `yaml:"key"`
	Require bool   `yaml:"require"`
}

type rawUser struct {
	Name         string   `yaml:"name"`
	Password     *string  `yaml:"password"`
	PasswordHash *string  `yaml:"password_hash"`
	Keyspaces    []string `yaml:"keyspaces"`
	ReadOnly     bool     `yaml:"read_only"`
	Admin        bool     `yaml:"admin"`
}

type rawTopology struct {
	Source string  `yaml:"source"`
	Etcd   rawEtcd `yaml:"etcd"`
}

type rawPool struct {
	Size           *int   `yaml:"size"`
	MaxIdle        *int   `yaml:"max_idle"`
	WaitTimeout    string `yaml:"wait_timeout"`
	ConnectTimeout string `yaml:"connect_timeout"`
	IdleTimeout    string `yaml:"idle_timeout"`
}

type rawLimits struct {
	MaxConnections *int   `yaml:"max_connections"`
	MaxPacketSize  string `yaml:"max_packet_size"` // bytes, or with a unit: 64MiB, 16M, 512KiB
	MaxMemoryRows  *int   `yaml:"max_memory_rows"`
	ProxySortRows  *int   `yaml:"proxy_sort_rows"`
	PlanCacheBytes string `yaml:"plan_cache_bytes"` // bytes, or with a unit
	MaxPrepared    *int   `yaml:"max_prepared_stmts_per_session"`
	IdleTimeout    string `yaml:"idle_timeout"`
	QueryTimeout   string `yaml:"query_timeout"`
}

// Load reads, checks and builds the configuration file at path. Every error
// names the file, the key path and the reason, e.g.
// `shardgate.yaml: default_keyspace: keyspace "x" is not defined`; with
// several errors it returns Errors (one per line). Relative paths in the file
// (vschema_file, tls cert and key) are relative to the file's folder.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is Load of data read from path (used for messages and to resolve
// relative paths).
func Parse(path string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(path, "YAML syntax error: ", []string{err.Error()})
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &topo.Error{File: path, Reason: "the file is empty"}
	}
	b := &builder{Builder: topo.NewBuilder(path, filepath.Dir(path))}
	yamlcheck.Check(root.Content[0], reflect.TypeOf(rawConfig{}), "", func(line int, key, reason string) {
		b.Add(&topo.Error{File: path, Line: line, Key: key, Reason: reason})
	})
	if err := b.Err(); err != nil {
		return nil, err
	}

	var raw rawConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, yamlErrors(path, "", te.Errors)
		}
		return nil, yamlErrors(path, "", []string{err.Error()})
	}

	cfg := b.build(&raw)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// builder builds a Config from the file as written: the keyspaces with
// topo's Builder, which also collects the errors of the whole file.
type builder struct {
	*topo.Builder
}

func (b *builder) build(raw *rawConfig) *Config {
	cfg := &Config{Path: b.File}

	// listen
	cfg.Listen.MySQL = b.addr("listen.mysql", raw.Listen.MySQL, DefaultMySQLAddr)
	cfg.Listen.HTTP = b.addr("listen.http", raw.Listen.HTTP, DefaultHTTPAddr)
	if t := raw.Listen.TLS; t != nil {
		cfg.Listen.TLS = &TLSConfig{
			Cert:    b.Path("listen.tls.cert", t.Cert),
			Key:     b.Path("listen.tls.key", t.Key),
			Require: t.Require,
		}
	}
	if raw.Listen.Admin != "" {
		cfg.Listen.Admin = b.addr("listen.admin", raw.Listen.Admin, "")
	}
	if t := raw.Listen.HTTPTLS; t != nil {
		if t.Require {
			b.Errorf("listen.http_tls.require", "has no meaning for HTTP (an https listener serves only TLS)")
		}
		cfg.Listen.HTTPTLS = &TLSConfig{Cert: b.Path("listen.http_tls.cert", t.Cert), Key: b.Path("listen.http_tls.key", t.Key)}
	}
	switch raw.Listen.DefaultAuth {
	case "":
		cfg.Listen.DefaultAuth = NativeAuthPlugin
	case NativeAuthPlugin, CachingSHA2AuthPlugin:
		cfg.Listen.DefaultAuth = raw.Listen.DefaultAuth
	default:
		b.Errorf("listen.default_auth", "must be %s or %s, not %q", NativeAuthPlugin, CachingSHA2AuthPlugin, raw.Listen.DefaultAuth)
	}

	// topology
	cfg.Topology.Source = raw.Topology.Source
	switch cfg.Topology.Source {
	case "":
		cfg.Topology.Source = "file"
	case "file", "etcd":
	default:
		b.Errorf("topology.source", "must be file or etcd, not %q", raw.Topology.Source)
	}
	cfg.Topology.Etcd = b.etcd(&raw.Topology.Etcd, cfg.Topology.Source == "etcd")

	// transaction_mode
	cfg.TransactionMode = raw.TransactionMode
	switch cfg.TransactionMode {
	case "":
		cfg.TransactionMode = DefaultTransactionMode
	case "single", "multi", "twopc":
	default:
		b.Errorf("transaction_mode", "must be single, multi or twopc, not %q", raw.TransactionMode)
	}

	// pool
	cfg.Pool.Size = b.positive("pool.size", raw.Pool.Size, DefaultPoolSize)
	cfg.Pool.MaxIdle = cfg.Pool.Size
	if raw.Pool.MaxIdle != nil {
		cfg.Pool.MaxIdle = *raw.Pool.MaxIdle
		if cfg.Pool.MaxIdle < 0 || cfg.Pool.MaxIdle > cfg.Pool.Size {
			b.Errorf("pool.max_idle", "must be between 0 and pool.size (%d), not %d", cfg.Pool.Size, cfg.Pool.MaxIdle)
		}
	}
	cfg.Pool.WaitTimeout = b.duration("pool.wait_timeout", raw.Pool.WaitTimeout, DefaultWaitTimeout, false)
	cfg.Pool.ConnectTimeout = b.duration("pool.connect_timeout", raw.Pool.ConnectTimeout, DefaultConnectTimeout, false)
	cfg.Pool.IdleTimeout = b.duration("pool.idle_timeout", raw.Pool.IdleTimeout, DefaultIdleTimeout, true)

	// limits
	cfg.Limits.MaxConnections = b.positive("limits.max_connections", raw.Limits.MaxConnections, DefaultMaxConnections)
	cfg.Limits.MaxMemoryRows = b.positive("limits.max_memory_rows", raw.Limits.MaxMemoryRows, DefaultMaxMemoryRows)
	cfg.Limits.ProxySortRows = DefaultProxySortRows
	if v := raw.Limits.ProxySortRows; v != nil {
		if *v < 0 || *v > 100000 {
			b.Errorf("limits.proxy_sort_rows", "must be between 0 (shards always sort) and 100000, not %d", *v)
		} else {
			cfg.Limits.ProxySortRows = *v
		}
	}
	cfg.Limits.MaxPreparedStmtsPerSession = b.positive("limits.max_prepared_stmts_per_session", raw.Limits.MaxPrepared, DefaultMaxPrepared)
	if cfg.Limits.MaxPreparedStmtsPerSession > 16382 {
		b.Errorf("limits.max_prepared_stmts_per_session", "must be at most 16382 (MariaDB's default max_prepared_stmt_count, for the whole server), not %d", cfg.Limits.MaxPreparedStmtsPerSession)
	}
	cfg.Limits.IdleTimeout = b.duration("limits.idle_timeout", raw.Limits.IdleTimeout, 0, true)
	cfg.Limits.QueryTimeout = b.duration("limits.query_timeout", raw.Limits.QueryTimeout, 0, true)

	cfg.Security = b.security(&raw.Security)

	// login_rate_limit, log, slow_query_log
	cfg.LoginRateLimit.MaxFailures = DefaultLoginFailures
	if v := raw.LoginRateLimit.MaxFailures; v != nil {
		if *v < 0 {
			b.Errorf("login_rate_limit.max_failures", "must be 0 (no limit) or a positive number, not %d", *v)
		} else {
			cfg.LoginRateLimit.MaxFailures = *v
		}
	}
	cfg.LoginRateLimit.Window = b.duration("login_rate_limit.window", raw.LoginRateLimit.Window, DefaultLoginWindow, false)
	cfg.Log.JSON = raw.Log.JSON
	cfg.Log.Level = raw.Log.Level
	switch raw.Log.Level {
	case "":
		cfg.Log.Level = "info"
	case "debug", "info", "warn", "error":
	default:
		b.Errorf("log.level", "must be debug, info, warn or error, not %q", raw.Log.Level)
	}
	cfg.HA = b.ha(&raw.HA)
	cfg.Workflow = b.workflow(&raw.Workflow)
	cfg.SlowQueryLog.Threshold = b.duration("slow_query_log.threshold", raw.SlowQueryLog.Threshold, 0, true)
	cfg.Deadlock.Threshold = b.duration("deadlock.threshold", raw.Deadlock.Threshold, DefaultDeadlockWait, true)
	if t := cfg.Deadlock.Threshold; t != 0 && (t < MinDeadlockWait || t > MaxDeadlockWait) {
		b.Errorf("deadlock.threshold", "must be 0 (no detection) or between %s and %s, not %s", MinDeadlockWait, MaxDeadlockWait, t)
		cfg.Deadlock.Threshold = DefaultDeadlockWait
	}
	if raw.BackendTLS != nil {
		cfg.BackendTLS = b.TLS("backend_tls", raw.BackendTLS)
	}

	cfg.Limits.MaxPacketSize = DefaultMaxPacketSize
	if raw.Limits.MaxPacketSize != "" {
		n, err := parseSize(raw.Limits.MaxPacketSize)
		switch {
		case err != nil:
			b.Errorf("limits.max_packet_size", "%v", err)
		case n < 1024 || n > 1<<30:
			b.Errorf("limits.max_packet_size", "must be between 1KiB and 1GiB (MySQL's largest max_allowed_packet), not %d", n)
		default:
			cfg.Limits.MaxPacketSize = int(n)
		}
	}

	cfg.Limits.PlanCacheBytes = DefaultPlanCacheBytes
	if raw.Limits.PlanCacheBytes != "" {
		n, err := parseSize(raw.Limits.PlanCacheBytes)
		switch {
		case err != nil:
			b.Errorf("limits.plan_cache_bytes", "%v", err)
		case n < 1<<20:
			b.Errorf("limits.plan_cache_bytes", "must be at least 1MiB, not %d", n)
		default:
			cfg.Limits.PlanCacheBytes = n
		}
	}

	// keyspaces
	b.Lenient = cfg.Topology.Source == "etcd" // keyspaces not in the file may exist
	b.BackendTLS = cfg.BackendTLS
	b.Keyspaces(raw.Keyspaces)
	cfg.Keyspaces = b.Snapshot()
	if len(raw.Keyspaces) == 0 && !b.Lenient {
		b.Errorf("keyspaces", "no keyspace is defined (or set topology.source: etcd)")
	}

	if raw.DefaultKeyspace != "" {
		_, cfg.DefaultKeyspace, _ = b.Lookup("default_keyspace", raw.DefaultKeyspace)
	}
	if raw.GlobalKeyspace != "" {
		k, name, _ := b.Lookup("global_keyspace", raw.GlobalKeyspace)
		cfg.GlobalKeyspace = name
		if k != nil && k.Sharded {
			b.Errorf("global_keyspace", "keyspace %q is sharded; the global keyspace must be unsharded", name)
		}
	}

	// auto_increment sequences
	b.GlobalKeyspace = cfg.GlobalKeyspace
	b.Sequences()

	// users
	byName := map[string]int{}
	for i, ru := range raw.Users {
		key := yamlcheck.Index("users", i)
		if u, ok := b.user(key, ru); ok {
			if j, dup := byName[u.Name]; dup {
				b.Errorf(yamlcheck.Key(key, "name"), "duplicate user %q (also users[%d])", u.Name, j)
				continue
			}
			byName[u.Name] = i
			cfg.Users = append(cfg.Users, u)
		}
	}
	return cfg
}

func (b *builder) addr(key, v, def string) string {
	if v == "" {
		return def
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		b.Errorf(key, "want host:port, got %q: %v", v, err)
		return v
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		b.Errorf(key, "port %q of %q is not a number from 0 to 65535", port, v)
	}
	_ = host // "" listens on all addresses
	return v
}

func (b *builder) positive(key string, v *int, def int) int {
	if v == nil {
		return def
	}
	if *v <= 0 {
		b.Errorf(key, "must be a positive number, not %d", *v)
		return def
	}
	return *v
}

func (b *builder) duration(key, v string, def time.Duration, zeroOK bool) time.Duration {
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.Errorf(key, "want a duration such as 5s, 500ms or 5m: %v", err)
		return def
	}
	if d < 0 || (d == 0 && !zeroOK) {
		b.Errorf(key, "must be positive, not %s", v)
		return def
	}
	return d
}

// parseSize parses a byte count: 65536, 64MiB, 64M, 512KiB, 1G (binary units).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult := int64(1)
	switch unit {
	case "", "b":
	case "k", "kb", "kib":
		mult = 1 << 10
	case "m", "mb", "mib":
		mult = 1 << 20
	case "g", "gb", "gib":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("want a size in bytes such as 67108864 or 64MiB, got %q", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("want a size in bytes such as 67108864 or 64MiB, got %q", s)
	}
	return n * mult, nil
}

func (b *builder) user(key string, ru rawUser) (User, bool) {
	u := User{Name: ru.Name, ReadOnly: ru.ReadOnly, Admin: ru.Admin}
	ok := true
	if ru.Name == "" {
		b.Errorf(yamlcheck.Key(key, "name"), "the user name is required")
		ok = false
	}
	switch {
	case ru.Password != nil && ru.PasswordHash != nil:
		b.Errorf(key, "user %q: give password or password_hash, not both", ru.Name)
		ok = false
	case ru.Password != nil:
		if pw := *ru.Password; pw != "" {
			h1 := sha1.Sum([]byte(pw))
			h2 := sha1.Sum(h1[:])
			u.NativeHash = h2[:]
			s1 := sha256.Sum256([]byte(pw))
			s2 := sha256.Sum256(s1[:])
			u.SHA2Hash = s2[:]
		}
	case ru.PasswordHash != nil:
		h, err := ParseNativeHash(*ru.PasswordHash)
		if err != nil {
			b.Errorf(yamlcheck.Key(key, "password_hash"), "user %q: %v", ru.Name, err)
			ok = false
		}
		u.NativeHash = h
	default:
		b.Errorf(key, `user %q needs password or password_hash (password: "" for an account without password)`, ru.Name)
		ok = false
	}
	for j, name := range ru.Keyspaces {
		_, canon, found := b.Lookup(yamlcheck.Index(yamlcheck.Key(key, "keyspaces"), j), name)
		if !found {
			ok = false
		}
		u.Keyspaces = append(u.Keyspaces, canon)
	}
	return u, ok
}

// ParseNativeHash decodes a mysql_native_password hash as MySQL's PASSWORD()
// prints it and mysql.user.authentication_string holds it: "*" and 40 hex
// digits, SHA1(SHA1(password)). "" (no password) gives nil.
func ParseNativeHash(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) != 41 || s[0] != '*' {
		return nil, fmt.Errorf(`a password_hash is "*" and 40 hex digits (MySQL's PASSWORD() format, SHA1(SHA1(password))); got %d characters`, len(s))
	}
	h, err := hex.DecodeString(s[1:])
	if err != nil {
		return nil, fmt.Errorf(`a password_hash is "*" and 40 hex digits (MySQL's PASSWORD() format, SHA1(SHA1(password))); it has a character that is not a hex digit`)
	}
	return h, nil
}

// security reads the allowances that widen what clients may run on the
// shards: names are kept lower case, functions as name or db.name.
func (b *builder) security(raw *rawSecurity) Security {
	return Security{
		AllowFunctions:        b.names("security.allow_functions", raw.AllowFunctions, true),
		AllowSessionVariables: b.names("security.allow_session_variables", raw.AllowSessionVariables, false),
	}
}

// names checks a list of names (qualified: name or database.name) and
// returns them lower case.
func (b *builder) names(key string, raw []string, qualified bool) []string {
	var out []string
	for i, n := range raw {
		n = strings.ToLower(strings.TrimSpace(n))
		if !validName(n, qualified) {
			b.Errorf(fmt.Sprintf("%s[%d]", key, i), "%q is not a name (letters, digits, _ and $%s)", raw[i], map[bool]string{true: "; or database.name"}[qualified])
			continue
		}
		out = append(out, n)
	}
	return out
}

// validName accepts an identifier of letters, digits, _ and $ (with one dot
// when qualified is allowed).
func validName(s string, qualified bool) bool {
	parts := []string{s}
	if qualified {
		parts = strings.Split(s, ".")
		if len(parts) > 2 {
			return false
		}
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for _, c := range p {
			if !(c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}
