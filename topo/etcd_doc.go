package topo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/shardgate/shardgate/internal/yamlcheck"
)

// KeyspaceDoc is one keyspace as stored in etcd: JSON with the keys of a
// keyspace in the YAML config (sharded, auto_vschema, shards, vschema).
// vschema_file is not allowed there (a proxy has no such file): `shardgate
// topo put` inlines it.
type KeyspaceDoc struct {
	Sharded     *bool                `yaml:"sharded" json:"sharded,omitempty"`
	AutoVSchema bool                 `yaml:"auto_vschema" json:"auto_vschema,omitempty"`
	Shards      map[string]*ShardDoc `yaml:"shards" json:"shards"`
	VSchema     *VSchema             `yaml:"vschema" json:"vschema,omitempty"`
	// RoutedTables and Workflows are written by online workflows
	// (topo/workflow.go); an operator's document has neither.
	RoutedTables map[string]string        `yaml:"routed_tables" json:"routed_tables,omitempty"`
	Workflows    map[string]*WorkflowMark `yaml:"workflows" json:"workflows,omitempty"`
}

// ShardDoc is a shard of a KeyspaceDoc, as in the YAML config.
type ShardDoc struct {
	Servers  []string `yaml:"servers" json:"servers,omitempty"`
	Host     string   `yaml:"host" json:"host,omitempty"`
	Port     int      `yaml:"port" json:"port,omitempty"`
	Socket   string   `yaml:"socket" json:"socket,omitempty"`
	User     string   `yaml:"user" json:"user,omitempty"`
	Password string   `yaml:"password" json:"password,omitempty"`
	Database string   `yaml:"database" json:"database,omitempty"`
	Serving  *bool    `yaml:"serving" json:"serving,omitempty"`
}

// Marshal encodes the document as etcd stores it (keys sorted, indented).
func (d *KeyspaceDoc) Marshal() []byte {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil { // only plain data: cannot happen
		panic(err)
	}
	return append(b, '\n')
}

func (d *KeyspaceDoc) raw() *rawKeyspace {
	rk := &rawKeyspace{Sharded: d.Sharded, AutoVSchema: d.AutoVSchema, VSchema: d.VSchema, Shards: map[string]*rawShard{},
		RoutedTables: d.RoutedTables, Workflows: d.Workflows}
	for name, s := range d.Shards {
		if s == nil {
			rk.Shards[name] = nil
			continue
		}
		rk.Shards[name] = &rawShard{Servers: s.Servers, Host: s.Host, Port: s.Port, Socket: s.Socket, User: s.User, Password: s.Password, Database: s.Database, Serving: s.Serving}
	}
	return rk
}

// ParseKeyspaceDoc decodes a keyspace document and checks its shape: JSON
// syntax, unknown keys, the kinds of values. Errors name the key path
// ("shards.-80.port: expected an integer, got \"x\""). What depends on the
// values (vindex types, key ranges, ...) is checked by BuildSnapshot.
func ParseKeyspaceDoc(data []byte) (*KeyspaceDoc, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		if err == io.EOF {
			return nil, &Error{Reason: "the document is empty"}
		}
		return nil, &Error{Reason: "JSON syntax error: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Reason: "JSON syntax error: more data after the top-level object"}
	}
	if _, ok := tree.(map[string]any); !ok {
		return nil, &Error{Reason: `a keyspace document is a JSON object ({"sharded": ..., "shards": {...}, "vschema": {...}})`}
	}
	var n yaml.Node
	if err := n.Encode(jsonNumbers(tree)); err != nil {
		return nil, &Error{Reason: err.Error()}
	}
	var c errs
	yamlcheck.Check(&n, reflect.TypeOf(KeyspaceDoc{}), "", func(_ int, key, reason string) {
		if key == "vschema_file" {
			reason = "vschema_file is not allowed in etcd: put the vschema itself under vschema (shardgate topo put does that)"
		}
		c.add(&Error{Key: key, Reason: reason})
	})
	if err := c.err(); err != nil {
		return nil, err
	}
	d := new(KeyspaceDoc)
	if err := n.Decode(d); err != nil {
		return nil, &Error{Reason: err.Error()}
	}
	return d, nil
}

// SnapshotOptions are the settings of the proxy's own config that a
// topology from etcd is checked against.
type SnapshotOptions struct {
	// Source names where the documents come from in errors, e.g.
	// "etcd /shardgate".
	Source string
	// GlobalKeyspace qualifies sequences named without keyspace and must be
	// unsharded when present. It need not be among the documents.
	GlobalKeyspace string
}

// BuildSnapshot checks keyspace documents (name -> JSON) together and builds
// the Snapshot they describe, with the checks Load makes on a config file's
// keyspaces: vindex types, key ranges covering all keyspace ids once,
// sequences in unsharded keyspaces that exist. Errors read
// "<source>: keyspaces.<name>.<key>: <reason>".
func BuildSnapshot(docs map[string][]byte, opts SnapshotOptions) (*Snapshot, error) {
	var c errs
	raws := map[string]*rawKeyspace{}
	for _, name := range sortedKeys(docs) {
		d, err := ParseKeyspaceDoc(docs[name])
		if err != nil {
			for _, e := range asErrors(err) {
				c.add(&Error{File: opts.Source, Key: yamlcheck.Key("keyspaces", name) + prefixDot(e.Key), Reason: e.Reason})
			}
			continue
		}
		raws[name] = d.raw()
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return buildKeyspaces(opts.Source, raws, opts.GlobalKeyspace)
}

// CheckKeyspaceDoc checks one keyspace document alone: references to other
// keyspaces (sequences) are not checked.
func CheckKeyspaceDoc(name string, data []byte, opts SnapshotOptions) error {
	d, err := ParseKeyspaceDoc(data)
	if err != nil {
		var c errs
		for _, e := range asErrors(err) {
			c.add(&Error{File: opts.Source, Key: yamlcheck.Key("keyspaces", name) + prefixDot(e.Key), Reason: e.Reason})
		}
		return c.err()
	}
	b := &builder{file: opts.Source}
	b.cfg = &Config{GlobalKeyspace: opts.GlobalKeyspace, Keyspaces: &Snapshot{Keyspaces: map[string]*Keyspace{}}}
	b.cfg.Topology.Source = "etcd" // lenient: other keyspaces may exist
	_, pending := b.keyspace(name, d.raw())
	for _, p := range pending {
		b.sequence(p)
	}
	return b.err()
}

func buildKeyspaces(source string, raws map[string]*rawKeyspace, global string) (*Snapshot, error) {
	b := &builder{file: source}
	b.cfg = &Config{GlobalKeyspace: global, Keyspaces: &Snapshot{Keyspaces: map[string]*Keyspace{}}}
	b.cfg.Topology.Source = "file" // strict: every keyspace is here
	var pending []pendingSeq
	for _, name := range sortedKeys(raws) {
		if other, dup := b.cfg.Keyspaces.Keyspace(name); dup {
			b.errf(yamlcheck.Key("keyspaces", name), "keyspace %q is already defined as %q (keyspace names are case-insensitive)", name, other.Name)
			continue
		}
		ks, seqs := b.keyspace(name, raws[name])
		b.cfg.Keyspaces.Keyspaces[name] = ks
		pending = append(pending, seqs...)
	}
	if global != "" {
		if k, ok := b.cfg.Keyspaces.Keyspace(global); ok && k.Sharded {
			b.errf(yamlcheck.Key("keyspaces", k.Name), "keyspace %q is the global keyspace of the proxies (global_keyspace) and must be unsharded", k.Name)
		}
	}
	for _, p := range pending {
		b.sequence(p)
	}
	if err := b.err(); err != nil {
		return nil, err
	}
	return b.cfg.Keyspaces, nil
}

func asErrors(err error) Errors {
	switch e := err.(type) {
	case Errors:
		return e
	case *Error:
		return Errors{e}
	}
	return Errors{{Reason: err.Error()}}
}

// ExportKeyspaces loads the config file at path (checking it as Load does)
// and returns its keyspaces as etcd documents, vschema_file inlined.
func ExportKeyspaces(path string) (map[string]*KeyspaceDoc, *Config, error) {
	cfg, err := Load(path)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var raw rawConfig
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, nil, err
	}
	out := map[string]*KeyspaceDoc{}
	for name, rk := range raw.Keyspaces {
		if rk == nil {
			rk = &rawKeyspace{}
		}
		d := &KeyspaceDoc{Sharded: rk.Sharded, AutoVSchema: rk.AutoVSchema, VSchema: rk.VSchema, Shards: map[string]*ShardDoc{},
			RoutedTables: rk.RoutedTables, Workflows: rk.Workflows}
		for sn, s := range rk.Shards {
			if s == nil {
				s = &rawShard{}
			}
			d.Shards[sn] = &ShardDoc{Servers: s.Servers, Host: s.Host, Port: s.Port, Socket: s.Socket, User: s.User, Password: s.Password, Database: s.Database, Serving: s.Serving}
		}
		if rk.VSchemaFile != "" {
			p := rk.VSchemaFile
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(path), p)
			}
			vdata, err := os.ReadFile(p)
			if err != nil {
				return nil, nil, err
			}
			vs, el := parseVSchemaJSON(vdata)
			if len(el) > 0 {
				return nil, nil, fmt.Errorf("%s: %w", p, errorsOf(el))
			}
			d.VSchema = vs
		}
		out[name] = d
	}
	return out, cfg, nil
}
