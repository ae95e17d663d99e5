package topo

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/shardgate/shardgate/internal/yamlcheck"
	"github.com/shardgate/shardgate/vindex"
)

// DefaultShardPort is the port of a shard given by host alone.
const DefaultShardPort = 3306

// RawKeyspace is a keyspace as written: under keyspaces: in the config file,
// or in an etcd document (KeyspaceDoc, which has no vschema_file and no
// tls). Pointers tell "absent" from a zero value.
type RawKeyspace struct {
	Sharded     *bool                `yaml:"sharded"`
	AutoVSchema bool                 `yaml:"auto_vschema"`
	Shards      map[string]*RawShard `yaml:"shards"`
	VSchema     *VSchema             `yaml:"vschema"`
	VSchemaFile string               `yaml:"vschema_file"`
	// Written by online workflows (workflow.go), in etcd documents.
	RoutedTables map[string]string        `yaml:"routed_tables"`
	Workflows    map[string]*WorkflowMark `yaml:"workflows"`
}

// RawShard is a shard of a RawKeyspace as written.
type RawShard struct {
	Servers  []string       `yaml:"servers"`
	Host     string         `yaml:"host"`
	Port     int            `yaml:"port"`
	Socket   string         `yaml:"socket"`
	User     string         `yaml:"user"`
	Password string         `yaml:"password"`
	Database string         `yaml:"database"`
	TLS      *RawBackendTLS `yaml:"tls"`
	// Serving: false declares a shard that takes no traffic yet (the
	// target of a reshard) or any more (its source after the switch).
	Serving *bool `yaml:"serving"`
}

// RawBackendTLS is TLS towards a shard (shards[].tls, or backend_tls for
// every shard without its own).
type RawBackendTLS struct {
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	ServerName string `yaml:"server_name"`
	SkipVerify bool   `yaml:"skip_verify"`
}

// A Builder checks keyspaces as written (RawKeyspace) and builds the
// Snapshot they describe: vindex types, key ranges covering all keyspace
// ids once, sequences in unsharded keyspaces. It collects errors as
// "<File>: <key>: <reason>" (at most 20); package config builds the rest
// of the configuration file with the same Builder, so that one list holds
// the errors of the whole file.
type Builder struct {
	errs
	// File names where the keyspaces are written, in errors: the config
	// file, or the etcd cluster ("etcd /shardgate").
	File string
	// Dir is the folder that relative paths (vschema_file, tls files) are
	// resolved against.
	Dir string
	// Lenient: keyspaces other than those built may exist (they are in
	// etcd), so a name that is not found is no error.
	Lenient bool
	// GlobalKeyspace qualifies sequences named without keyspace; set it
	// before Sequences.
	GlobalKeyspace string
	// BackendTLS is the TLS of the shards that have none of their own
	// (backend_tls).
	BackendTLS *BackendTLS

	snap    *Snapshot
	pending []pendingSeq
}

// NewBuilder returns a Builder of keyspaces written in file; relative
// paths are resolved against dir.
func NewBuilder(file, dir string) *Builder {
	return &Builder{File: file, Dir: dir, snap: &Snapshot{Keyspaces: map[string]*Keyspace{}}}
}

// Errorf adds an error at key.
func (b *Builder) Errorf(key, format string, args ...any) {
	b.add(&Error{File: b.File, Key: key, Reason: fmt.Sprintf(format, args...)})
}

// Add adds an error.
func (b *Builder) Add(e *Error) { b.add(e) }

// Err returns nil, the only error, or Errors.
func (b *Builder) Err() error { return b.err() }

// Snapshot returns the keyspaces built so far.
func (b *Builder) Snapshot() *Snapshot { return b.snap }

// Keyspaces checks and builds the keyspaces of raws (name -> keyspace as
// written), in the order of their names; names differing only in case are
// refused. Their sequences wait for Sequences.
func (b *Builder) Keyspaces(raws map[string]*RawKeyspace) {
	for _, name := range sortedKeys(raws) {
		if other, dup := b.snap.Keyspace(name); dup {
			b.Errorf(yamlcheck.Key("keyspaces", name), "keyspace %q is already defined as %q (keyspace names are case-insensitive)", name, other.Name)
			continue
		}
		ks, seqs := b.keyspace(name, raws[name])
		b.snap.Keyspaces[name] = ks
		b.pending = append(b.pending, seqs...)
	}
}

// Sequences checks the sequences of the auto_increment columns of the
// keyspaces built, now that all are known, and qualifies those named
// without keyspace with GlobalKeyspace.
func (b *Builder) Sequences() {
	for _, p := range b.pending {
		b.sequence(p)
	}
	b.pending = nil
}

// Lookup finds a keyspace by name (any case) for a reference at key; it
// reports an error unless the keyspace is defined (or may be, in etcd).
// It returns the canonical name.
func (b *Builder) Lookup(key, name string) (*Keyspace, string, bool) {
	if k, ok := b.snap.Keyspace(name); ok {
		return k, k.Name, true
	}
	if b.Lenient {
		return nil, name, true
	}
	b.Errorf(key, "keyspace %q is not defined", name)
	return nil, name, false
}

// Path resolves a path of the config against the file's folder and checks
// that it exists.
func (b *Builder) Path(key, p string) string {
	if p == "" {
		b.Errorf(key, "a file name is required")
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(b.Dir, p)
	}
	if _, err := os.Stat(p); err != nil {
		b.Errorf(key, "%v", err)
	}
	return p
}

// TLS checks a TLS section towards shards; file names are resolved
// against the config file's folder.
func (b *Builder) TLS(key string, r *RawBackendTLS) *BackendTLS {
	t := &BackendTLS{ServerName: r.ServerName, SkipVerify: r.SkipVerify}
	if r.CA != "" {
		t.CA = b.Path(yamlcheck.Key(key, "ca"), r.CA)
	}
	if (r.Cert == "") != (r.Key == "") {
		b.Errorf(key, "a client certificate needs both cert and key")
	}
	if r.Cert != "" {
		t.Cert = b.Path(yamlcheck.Key(key, "cert"), r.Cert)
	}
	if r.Key != "" {
		t.Key = b.Path(yamlcheck.Key(key, "key"), r.Key)
	}
	return t
}

// pendingSeq is an auto_increment whose sequence is checked once all
// keyspaces are known.
type pendingSeq struct {
	ai   *AutoIncrement
	errf func(reason string)
}

func (b *Builder) sequence(p pendingSeq) {
	ksName, table, qualified := strings.Cut(p.ai.Sequence, ".")
	if !qualified {
		table = ksName
		ksName = b.GlobalKeyspace
		if ksName == "" {
			p.errf(fmt.Sprintf("sequence %q names no keyspace and global_keyspace is not set: write \"keyspace.%s\"", p.ai.Sequence, p.ai.Sequence))
			return
		}
	}
	if ksName == "" || table == "" || strings.Contains(table, ".") {
		p.errf(fmt.Sprintf(`sequence %q: want "keyspace.table" or "table"`, p.ai.Sequence))
		return
	}
	k, ok := b.snap.Keyspace(ksName)
	switch {
	case ok && k.Sharded:
		p.errf(fmt.Sprintf("sequence %q: keyspace %q is sharded; sequence tables live in an unsharded keyspace", p.ai.Sequence, k.Name))
		return
	case ok:
		ksName = k.Name
	case !b.Lenient:
		p.errf(fmt.Sprintf("sequence %q: keyspace %q is not defined", p.ai.Sequence, ksName))
		return
	}
	p.ai.Sequence = ksName + "." + table
}

func validKeyspaceName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	return !strings.ContainsAny(name, ".`/\\\"' \t\r\n")
}

func (b *Builder) keyspace(name string, rk *RawKeyspace) (*Keyspace, []pendingSeq) {
	key := yamlcheck.Key("keyspaces", name)
	if rk == nil {
		rk = &RawKeyspace{}
	}
	if !validKeyspaceName(name) {
		b.Errorf(key, "keyspace name %q must be 1 to 64 characters without dots, quotes, slashes or spaces", name)
	}
	ks := &Keyspace{Name: name, AutoVSchema: rk.AutoVSchema}

	// The vschema and where its errors point.
	vs := rk.VSchema
	vsErr := func(k, reason string) { b.Errorf(yamlcheck.Key(key, "vschema")+prefixDot(k), "%s", reason) }
	vsOK := true
	switch {
	case rk.VSchema != nil && rk.VSchemaFile != "":
		b.Errorf(yamlcheck.Key(key, "vschema_file"), "give vschema or vschema_file, not both")
		vsOK = false
	case rk.VSchemaFile != "":
		fk := yamlcheck.Key(key, "vschema_file")
		p := rk.VSchemaFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(b.Dir, p)
		}
		vsErr = func(k, reason string) {
			if k != "" {
				reason = k + ": " + reason
			}
			b.Errorf(fk, "%s: %s", rk.VSchemaFile, reason)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.Errorf(fk, "%v", err)
			vsOK = false
			break
		}
		var el Errors
		vs, el = parseVSchemaJSON(data)
		for _, e := range el {
			b.Errorf(fk, "%s: %s", rk.VSchemaFile, e.Error())
		}
		vsOK = len(el) == 0
	}

	// sharded: from the keyspace, else from its vschema.
	if rk.Sharded != nil {
		ks.Sharded = *rk.Sharded
		if vs != nil && vs.Sharded != nil && *vs.Sharded != ks.Sharded {
			vsErr("sharded", fmt.Sprintf("the vschema says sharded: %v but the keyspace says sharded: %v", *vs.Sharded, ks.Sharded))
		}
	} else if vs != nil && vs.Sharded != nil {
		ks.Sharded = *vs.Sharded
	}
	if ks.AutoVSchema && !ks.Sharded {
		b.Errorf(yamlcheck.Key(key, "auto_vschema"), "auto_vschema needs a sharded keyspace (sharded: true)")
	}

	b.shards(ks, key, rk)
	b.workflowMarks(ks, key, rk)

	var pending []pendingSeq
	if vsOK {
		bv := buildVSchema(vs, &ks.Sharded, ks.AutoVSchema, vsErr)
		ks.Tables, ks.Vindexes, ks.DefaultVindex = bv.tables, bv.vindexes, bv.defaultVindex
		for _, lower := range sortedKeys(ks.Tables) {
			t := ks.Tables[lower]
			if t.AutoIncrement == nil {
				continue
			}
			k := yamlcheck.Key(yamlcheck.Key("tables", t.Name), "auto_increment") + ".sequence"
			pending = append(pending, pendingSeq{ai: t.AutoIncrement, errf: func(reason string) { vsErr(k, reason) }})
		}
	} else {
		ks.Tables, ks.Vindexes = map[string]*Table{}, map[string]vindex.Vindex{}
	}
	return ks, pending
}

func prefixDot(k string) string {
	if k == "" || strings.HasPrefix(k, "[") {
		return k
	}
	return "." + k
}

func (b *Builder) shards(ks *Keyspace, key string, rk *RawKeyspace) {
	skey := yamlcheck.Key(key, "shards")
	if len(rk.Shards) == 0 {
		b.Errorf(skey, "a keyspace needs at least one shard")
		return
	}
	all := sortedKeys(rk.Shards)
	byName := map[string]*Shard{}
	ok := true
	var names, idle []string // serving, and declared serving: false
	for _, name := range all {
		s, good := b.shard(ks.Name, yamlcheck.Key(skey, name), name, rk.Shards[name])
		byName[name] = s
		ok = ok && good
		if rs := rk.Shards[name]; rs != nil && rs.Serving != nil && !*rs.Serving {
			idle = append(idle, name)
		} else {
			names = append(names, name)
		}
	}
	if len(idle) > 0 && !ks.Sharded {
		b.Errorf(yamlcheck.Key(skey, idle[0]), "serving: false is for the shards of a sharded keyspace (the targets of a reshard)")
		return
	}
	if len(names) == 0 {
		b.Errorf(skey, "every shard is serving: false: a keyspace needs shards that serve (together covering the whole key range)")
		return
	}
	for _, name := range idle {
		r, err := vindex.ParseKeyRange(name)
		if err != nil {
			b.Errorf(yamlcheck.Key(skey, name), "%v", err)
			ok = false
			continue
		}
		if ok {
			byName[name].KeyRange = r
			ks.NonServing = append(ks.NonServing, byName[name])
		}
	}
	sortShardsByRange(ks.NonServing)

	if !ks.Sharded {
		if len(names) > 1 {
			b.Errorf(skey, "an unsharded keyspace has exactly one shard, not %d (%s); set sharded: true to split it by key range", len(names), quoteList(names))
			return
		}
		if r, err := vindex.ParseKeyRange(names[0]); err == nil && (len(r.Start) > 0 || len(r.End) > 0) {
			b.Errorf(yamlcheck.Key(skey, names[0]), `the shard of an unsharded keyspace holds the whole range: name it "0" or "-", not %q`, names[0])
			return
		}
		if ok {
			ks.Shards = []*Shard{byName[names[0]]}
		}
		return
	}

	// Sharded: each name a key range, together covering all keyspace ids once.
	for _, name := range names {
		if _, err := vindex.ParseKeyRange(name); err != nil {
			b.Errorf(yamlcheck.Key(skey, name), "%v", err)
			ok = false
		}
	}
	if !ok {
		return
	}
	sorted, ranges, err := vindex.SortShards(names)
	if err != nil {
		b.Errorf(skey, "%v", err)
		return
	}
	for i, name := range sorted {
		s := byName[name]
		s.KeyRange = ranges[i]
		ks.Shards = append(ks.Shards, s)
	}
	ks.ranges = ranges
}

func (b *Builder) shard(ksName, key, name string, rs *RawShard) (*Shard, bool) {
	if rs == nil {
		rs = &RawShard{}
	}
	s := &Shard{
		Name:     name,
		Host:     rs.Host,
		Port:     rs.Port,
		Socket:   rs.Socket,
		User:     rs.User,
		Password: rs.Password,
		Database: rs.Database,
		TLS:      b.BackendTLS,
		Roles:    new(RoleCell),
	}
	if rs.TLS != nil {
		s.TLS = b.TLS(yamlcheck.Key(key, "tls"), rs.TLS)
	}
	ok := true
	switch {
	case len(rs.Servers) > 0 && (s.Host != "" || s.Port != 0 || s.Socket != ""):
		b.Errorf(key, "give servers (a replication group) or host/port (or socket), not both")
		ok = false
	case len(rs.Servers) > 0:
		seen := map[string]bool{}
		for i, a := range rs.Servers {
			if err := checkServerAddr(a); err != nil {
				b.Errorf(yamlcheck.Index(yamlcheck.Key(key, "servers"), i), "%v", err)
				ok = false
			} else if seen[a] {
				b.Errorf(yamlcheck.Index(yamlcheck.Key(key, "servers"), i), "server %s is listed twice", a)
				ok = false
			}
			seen[a] = true
		}
		s.Servers = append([]string(nil), rs.Servers...)
		if len(s.Servers) == 1 { // a group of one is a plain shard
			host, port, _ := net.SplitHostPort(s.Servers[0])
			s.Host = host
			s.Port, _ = strconv.Atoi(port)
		}
	case s.Host == "" && s.Socket == "":
		b.Errorf(key, "the shard needs host (and port), socket, or servers (a primary and its replicas)")
		ok = false
	}
	if s.Port == 0 && s.Host != "" {
		s.Port = DefaultShardPort
	}
	if s.Port < 0 || s.Port > 65535 {
		b.Errorf(yamlcheck.Key(key, "port"), "must be a port number from 1 to 65535, not %d", s.Port)
		ok = false
	}
	if len(s.Servers) == 0 {
		s.Servers = []string{s.Addr()}
	}
	if s.User == "" {
		b.Errorf(yamlcheck.Key(key, "user"), "the MySQL user of the shard is required")
		ok = false
	}
	if s.Database == "" {
		s.Database = ksName
	}
	return s, ok
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	sort.Strings(q)
	return strings.Join(q, ", ")
}
