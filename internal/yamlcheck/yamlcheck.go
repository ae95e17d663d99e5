// Package yamlcheck checks a YAML node tree against the Go type it will be
// decoded into, and names what does not fit by key path and line: the
// configuration file (package config) and the keyspace documents of etcd
// (package topo) are checked with it before yaml.v3 decodes them.
package yamlcheck

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Check walks a YAML node tree against the Go type it will be decoded
// into and reports, with key path and line, what yaml.v3 would reject or
// report without a path: unknown keys, duplicate keys, a list where a mapping
// belongs, a string where an integer or a boolean belongs.
//
// Types it knows: structs (keys from `yaml` tags), map[string]T, []T,
// pointers, string, int, bool, and interface{} (anything goes).
func Check(n *yaml.Node, t reflect.Type, path string, report func(line int, key, reason string)) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // absent
	}
	switch t.Kind() {
	case reflect.Interface:
		return
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			report(n.Line, path, "expected a mapping (key: value), got "+describe(n))
			return
		}
		fields := yamlFields(t)
		seen := map[string]int{}
		eachPair(n, func(k, v *yaml.Node, merged bool) {
			name := k.Value
			kp := Key(path, name)
			f, ok := fields[name]
			if !ok {
				report(k.Line, kp, fmt.Sprintf("unknown key %q (known keys here: %s)", name, knownKeys(fields)))
				return
			}
			if !merged {
				if l, dup := seen[name]; dup {
					report(k.Line, kp, fmt.Sprintf("key %q appears twice (first on line %d)", name, l))
					return
				}
				seen[name] = k.Line
			}
			Check(v, f.Type, kp, report)
		}, report, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			report(n.Line, path, "expected a mapping (name: value), got "+describe(n))
			return
		}
		seen := map[string]int{}
		eachPair(n, func(k, v *yaml.Node, merged bool) {
			kp := Key(path, k.Value)
			if k.Kind != yaml.ScalarNode {
				report(k.Line, path, "a key must be a plain name, got "+describe(k))
				return
			}
			if !merged {
				if l, dup := seen[k.Value]; dup {
					report(k.Line, kp, fmt.Sprintf("%q appears twice (first on line %d)", k.Value, l))
					return
				}
				seen[k.Value] = k.Line
			}
			Check(v, t.Elem(), kp, report)
		}, report, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			report(n.Line, path, "expected a list, got "+describe(n))
			return
		}
		for i, c := range n.Content {
			Check(c, t.Elem(), Index(path, i), report)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			report(n.Line, path, "expected a single value, got "+describe(n))
		}
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			report(n.Line, path, "expected an integer, got "+describe(n))
		}
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
			report(n.Line, path, "expected a number, got "+describe(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			report(n.Line, path, "expected true or false, got "+describe(n))
		}
	default:
		panic("yamlcheck: Check: unsupported type " + t.String())
	}
}

// eachPair calls fn for each key/value of a mapping, expanding YAML merge
// keys (<<: *anchor) in place; merged pairs may be overridden, so they don't
// count as duplicates.
func eachPair(n *yaml.Node, fn func(k, v *yaml.Node, merged bool), report func(int, string, string), path string) {
	var walk func(m *yaml.Node, merged bool)
	walk = func(m *yaml.Node, merged bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				for v.Kind == yaml.AliasNode {
					v = v.Alias
				}
				switch v.Kind {
				case yaml.MappingNode:
					walk(v, true)
				case yaml.SequenceNode:
					for _, c := range v.Content {
						for c.Kind == yaml.AliasNode {
							c = c.Alias
						}
						if c.Kind == yaml.MappingNode {
							walk(c, true)
						}
					}
				default:
					report(k.Line, path, "<< (merge) needs a mapping or a list of mappings")
				}
				continue
			}
			fn(k, v, merged)
		}
	}
	walk(n, false)
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("%q", v)
	}
	return "a YAML node of kind " + fmt.Sprint(n.Kind)
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

func knownKeys(fields map[string]reflect.StructField) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Key appends key to a key path: "a.b", or a["x.y"] when key needs quoting.
func Key(path, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\"' \t\r\n") {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index appends a list index to a key path: "a[3]".
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
