package topo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/shardgate/shardgate/internal/yamlcheck"
	"github.com/shardgate/shardgate/vindex"
)

// VSchema is one keyspace's Vitess VSchema as written: inline in the config
// (`vschema:`) or in a Vitess VSchema JSON file (`vschema_file:`), same keys.
type VSchema struct {
	Sharded  *bool                     `yaml:"sharded,omitempty" json:"sharded,omitempty"`
	Vindexes map[string]*VSchemaVindex `yaml:"vindexes,omitempty" json:"vindexes,omitempty"`
	Tables   map[string]*VSchemaTable  `yaml:"tables,omitempty" json:"tables,omitempty"`

	// Vitess keys accepted so that a Vitess vschema loads as is; shardgate
	// ignores them.
	RequireExplicitRouting bool   `yaml:"require_explicit_routing,omitempty" json:"require_explicit_routing,omitempty"`
	ForeignKeyMode         string `yaml:"foreign_key_mode,omitempty" json:"foreign_key_mode,omitempty"`
}

// VSchemaVindex is a vindex definition: a type of vindex.New and its params.
type VSchemaVindex struct {
	Type   string            `yaml:"type" json:"type"`
	Params map[string]string `yaml:"params,omitempty" json:"params,omitempty"`
	Owner  string            `yaml:"owner,omitempty" json:"owner,omitempty"` // Vitess lookup owner; ignored
}

// VSchemaTable is a table entry. Type is "" (sharded by its first column
// vindex in a sharded keyspace; a plain table in an unsharded one),
// "reference" or "sequence".
type VSchemaTable struct {
	Type           string                `yaml:"type,omitempty" json:"type,omitempty"`
	ColumnVindexes []VSchemaColumnVindex `yaml:"column_vindexes,omitempty" json:"column_vindexes,omitempty"`
	AutoIncrement  *VSchemaAutoIncrement `yaml:"auto_increment,omitempty" json:"auto_increment,omitempty"`

	// Vitess keys accepted and ignored.
	Columns                 []any `yaml:"columns,omitempty" json:"columns,omitempty"`
	ColumnListAuthoritative bool  `yaml:"column_list_authoritative,omitempty" json:"column_list_authoritative,omitempty"`
	// Vitess keys shardgate does not support: an error when set.
	Pinned string `yaml:"pinned,omitempty" json:"pinned,omitempty"`
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
}

// VSchemaColumnVindex ties a column to a vindex. Vitess' one-element
// `columns: [c]` is accepted for `column: c`.
type VSchemaColumnVindex struct {
	Column  string   `yaml:"column,omitempty" json:"column,omitempty"`
	Columns []string `yaml:"columns,omitempty" json:"columns,omitempty"`
	Name    string   `yaml:"name" json:"name"`
}

// VSchemaAutoIncrement fills Column from Sequence ("keyspace.table", or
// "table" in the global keyspace) when an INSERT leaves it out.
type VSchemaAutoIncrement struct {
	Column   string `yaml:"column" json:"column"`
	Sequence string `yaml:"sequence" json:"sequence"`
}

// LoadVSchemaJSON parses a Vitess VSchema JSON document (one keyspace's
// vschema) and checks what it can without the rest of the configuration:
// unknown keys, vindex types, the vindexes tables name, table types. Errors
// name the key path ("tables.customer.column_vindexes[0].name: ...").
func LoadVSchemaJSON(data []byte) (*VSchema, error) {
	vs, el := parseVSchemaJSON(data)
	if len(el) > 0 {
		return nil, errorsOf(el)
	}
	var c errs
	buildVSchema(vs, vs.Sharded, false, func(key, reason string) {
		c.add(&Error{Key: key, Reason: reason})
	})
	if err := c.err(); err != nil {
		return nil, err
	}
	return vs, nil
}

func errorsOf(el Errors) error {
	if len(el) == 1 {
		return el[0]
	}
	return el
}

// parseVSchemaJSON decodes and checks the shape only.
func parseVSchemaJSON(data []byte) (*VSchema, Errors) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		e := &Error{Reason: "JSON syntax error: " + err.Error()}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			e.Line = 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		}
		if err == io.EOF {
			e.Reason = "the file is empty"
		}
		return nil, Errors{e}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errors{{Reason: "JSON syntax error: more data after the top-level object"}}
	}
	if _, ok := tree.(map[string]any); !ok {
		return nil, Errors{{Reason: "a vschema is a JSON object ({\"sharded\": ..., \"vindexes\": ..., \"tables\": ...})"}}
	}
	var n yaml.Node
	if err := n.Encode(jsonNumbers(tree)); err != nil {
		return nil, Errors{{Reason: err.Error()}}
	}
	var el Errors
	yamlcheck.Check(&n, reflect.TypeOf(VSchema{}), "", func(_ int, key, reason string) {
		el = append(el, &Error{Key: key, Reason: reason})
	})
	if len(el) > 0 {
		return nil, el
	}
	vs := new(VSchema)
	if err := n.Decode(vs); err != nil {
		return nil, Errors{{Reason: err.Error()}}
	}
	return vs, nil
}

// jsonNumbers replaces json.Number with int64 or float64, so that the YAML
// node of an integer has the !!int tag.
func jsonNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = jsonNumbers(x)
		}
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

// builtVSchema is a vschema turned into the Keyspace fields it fills.
type builtVSchema struct {
	tables        map[string]*Table
	vindexes      map[string]vindex.Vindex
	defaultVindex string
}

// buildVSchema checks a vschema (nil = none) and builds tables and vindexes.
// sharded nil means unknown (checks that depend on it are skipped). errf gets
// key paths relative to the vschema ("tables.customer.type").
func buildVSchema(vs *VSchema, sharded *bool, autoVSchema bool, errf func(key, reason string)) builtVSchema {
	if vs == nil {
		vs = &VSchema{}
	}
	isSharded := sharded != nil && *sharded
	isUnsharded := sharded != nil && !*sharded
	b := builtVSchema{tables: map[string]*Table{}, vindexes: map[string]vindex.Vindex{}}

	types := map[string]string{}
	for _, name := range sortedKeys(vs.Vindexes) {
		key := yamlcheck.Key("vindexes", name)
		d := vs.Vindexes[name]
		if d == nil || d.Type == "" {
			errf(yamlcheck.Key(key, "type"), "the vindex type is required (hash, xxhash, unicode_loose_xxhash, numeric, binary)")
			continue
		}
		v, err := vindex.New(d.Type, d.Params)
		if err != nil {
			errf(key, err.Error())
			continue
		}
		b.vindexes[name] = v
		types[name] = d.Type
	}

	for _, name := range sortedKeys(vs.Tables) {
		key := yamlcheck.Key("tables", name)
		t := vs.Tables[name]
		if t == nil {
			t = &VSchemaTable{}
		}
		lower := strings.ToLower(name)
		if other, dup := b.tables[lower]; dup {
			errf(key, fmt.Sprintf("table %q is already defined as %q (table names are case-insensitive here)", name, other.Name))
			continue
		}
		tab := &Table{Name: name}
		ok := true
		fail := func(k, reason string) {
			errf(k, reason)
			ok = false
		}
		if t.Pinned != "" {
			fail(yamlcheck.Key(key, "pinned"), "pinned tables are not supported by shardgate")
		}
		if t.Source != "" {
			fail(yamlcheck.Key(key, "source"), "reference tables with a source are not supported by shardgate")
		}
		switch t.Type {
		case "":
			tab.Type = TableSharded
		case "reference":
			tab.Type = TableReference
		case "sequence":
			tab.Type = TableSequence
			if isSharded {
				fail(yamlcheck.Key(key, "type"), "a sequence table belongs in an unsharded keyspace")
			}
		default:
			fail(yamlcheck.Key(key, "type"), fmt.Sprintf(`unknown table type %q (allowed: "" for a sharded table, "reference", "sequence")`, t.Type))
		}

		for i, cv := range t.ColumnVindexes {
			ck := yamlcheck.Index(yamlcheck.Key(key, "column_vindexes"), i)
			col := cv.Column
			switch {
			case col != "" && len(cv.Columns) > 0:
				fail(ck, "give column or columns, not both")
			case len(cv.Columns) > 1:
				fail(yamlcheck.Key(ck, "columns"), "multi-column vindexes are not supported by shardgate")
			case len(cv.Columns) == 1:
				col = cv.Columns[0]
			}
			if col == "" && len(cv.Columns) == 0 {
				fail(yamlcheck.Key(ck, "column"), "the column is required")
			}
			if cv.Name == "" {
				fail(yamlcheck.Key(ck, "name"), "the vindex name is required")
				continue
			}
			v, found := b.vindexes[cv.Name]
			if !found {
				if _, defined := vs.Vindexes[cv.Name]; !defined {
					fail(yamlcheck.Key(ck, "name"), fmt.Sprintf("unknown vindex %q", cv.Name))
				}
				continue
			}
			if i == 0 { // the primary vindex places the row
				tab.Column = strings.ToLower(col)
				tab.VindexName = cv.Name
				tab.Vindex = v
			}
		}
		if len(t.ColumnVindexes) > 0 {
			switch {
			case tab.Type == TableReference || tab.Type == TableSequence:
				fail(yamlcheck.Key(key, "column_vindexes"), fmt.Sprintf("a %s table has no column_vindexes", t.Type))
			case isUnsharded:
				fail(yamlcheck.Key(key, "column_vindexes"), "column_vindexes need a sharded keyspace")
			}
		} else if isSharded && t.Type == "" {
			fail(key, "a table of a sharded keyspace needs column_vindexes (its sharding column and vindex), or type: reference")
		}

		if ai := t.AutoIncrement; ai != nil {
			ak := yamlcheck.Key(key, "auto_increment")
			switch {
			case tab.Type == TableSequence:
				fail(ak, "a sequence table has no auto_increment")
			case ai.Column == "":
				fail(yamlcheck.Key(ak, "column"), "the column is required")
			case ai.Sequence == "":
				fail(yamlcheck.Key(ak, "sequence"), `the sequence is required ("keyspace.table", or "table" in the global keyspace)`)
			default:
				tab.AutoIncrement = &AutoIncrement{Column: strings.ToLower(ai.Column), Sequence: ai.Sequence}
			}
		}
		if ok {
			b.tables[lower] = tab
		}
	}

	if isSharded {
		var hashes []string
		for _, name := range sortedKeys(types) {
			if types[name] == "hash" {
				hashes = append(hashes, name)
			}
		}
		switch {
		case types["hash"] == "hash":
			b.defaultVindex = "hash"
		case len(hashes) > 0:
			b.defaultVindex = hashes[0]
		case autoVSchema:
			if _, taken := vs.Vindexes["hash"]; taken {
				errf(yamlcheck.Key("vindexes", "hash"), `auto_vschema needs a vindex of type hash and adds one named "hash", but that name is taken by another type: add a hash vindex`)
				break
			}
			v, err := vindex.New("hash", nil)
			if err != nil {
				errf("vindexes", err.Error())
				break
			}
			b.vindexes["hash"] = v
			b.defaultVindex = "hash"
		}
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
