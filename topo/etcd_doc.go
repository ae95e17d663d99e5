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

func (d *KeyspaceDoc) raw() *RawKeyspace {
	rk := &RawKeyspace{Sharded: d.Sharded, AutoVSchema: d.AutoVSchema, VSchema: d.VSchema, Shards: map[string]*RawShard{},
		RoutedTables: d.RoutedTables, Workflows: d.Workflows}
	for name, s := range d.Shards {
		if s == nil {
			rk.Shards[name] = nil
			continue
		}
		rk.Shards[name] = &RawShard{Servers: s.Servers, Host: s.Host, Port: s.Port, Socket: s.Socket, User: s.User, Password: s.Password, Database: s.Database, Serving: s.Serving}
	}
	return rk
}

// Doc returns the keyspace as an etcd document: its vschema_file (resolved
// against dir) inlined; its shards' tls is left out (a document has none).
func (rk *RawKeyspace) Doc(dir string) (*KeyspaceDoc, error) {
	d := &KeyspaceDoc{Sharded: rk.Sharded, AutoVSchema: rk.AutoVSchema, VSchema: rk.VSchema, Shards: map[string]*ShardDoc{},
		RoutedTables: rk.RoutedTables, Workflows: rk.Workflows}
	for sn, s := range rk.Shards {
		if s == nil {
			s = &RawShard{}
		}
		d.Shards[sn] = &ShardDoc{Servers: s.Servers, Host: s.Host, Port: s.Port, Socket: s.Socket, User: s.User, Password: s.Password, Database: s.Database, Serving: s.Serving}
	}
	if rk.VSchemaFile != "" {
		p := rk.VSchemaFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		vdata, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		vs, el := parseVSchemaJSON(vdata)
		if len(el) > 0 {
			return nil, fmt.Errorf("%s: %w", p, errorsOf(el))
		}
		d.VSchema = vs
	}
	return d, nil
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
// the Snapshot they describe, with the checks config.Load makes on a config file's
// keyspaces: vindex types, key ranges covering all keyspace ids once,
// sequences in unsharded keyspaces that exist. Errors read
// "<source>: keyspaces.<name>.<key>: <reason>".
func BuildSnapshot(docs map[string][]byte, opts SnapshotOptions) (*Snapshot, error) {
	var c errs
	raws := map[string]*RawKeyspace{}
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
	b := NewBuilder(opts.Source, "")
	b.GlobalKeyspace = opts.GlobalKeyspace
	b.Lenient = true // other keyspaces may exist
	_, b.pending = b.keyspace(name, d.raw())
	b.Sequences()
	return b.Err()
}

func buildKeyspaces(source string, raws map[string]*RawKeyspace, global string) (*Snapshot, error) {
	b := NewBuilder(source, "") // strict: every keyspace is here
	b.GlobalKeyspace = global
	b.Keyspaces(raws)
	if global != "" {
		if k, ok := b.snap.Keyspace(global); ok && k.Sharded {
			b.Errorf(yamlcheck.Key("keyspaces", k.Name), "keyspace %q is the global keyspace of the proxies (global_keyspace) and must be unsharded", k.Name)
		}
	}
	b.Sequences()
	if err := b.Err(); err != nil {
		return nil, err
	}
	return b.snap, nil
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
