// Package vindex maps sharding-column values to 8-byte keyspace ids and
// keyspace ids to shards, byte-compatible with Vitess.
package vindex

import "fmt"

// Vindex maps a column value to a keyspace id.
//
// Value is one of: int64, uint64, []byte, string (as produced by the router
// from SQL literals or bound parameters). Map must not retain value.
type Vindex interface {
	// Type is the vschema type name ("hash", "xxhash", ...).
	Type() string
	// Map returns the keyspace id for value. It never returns nil without an error.
	Map(value any) ([]byte, error)
}

// New returns the vindex of the given vschema type. params are the Vitess
// vschema "params" of the vindex (may be nil).
func New(typ string, params map[string]string) (Vindex, error) {
	ctor, ok := registry[typ]
	if !ok {
		return nil, fmt.Errorf("unknown vindex type %q (known: hash, xxhash, unicode_loose_xxhash, numeric, binary)", typ)
	}
	return ctor(params)
}

var registry = map[string]func(map[string]string) (Vindex, error){}
