// Package vindex maps sharding-column values to keyspace ids and keyspace ids
// to shards, byte-compatible with Vitess (go/vt/vtgate/vindexes and go/vt/key),
// so that a row lands on the same shard as it would under Vitess and a Vitess
// vschema can be reused as is.
package vindex

import (
	"errors"
	"fmt"
	"strconv"
)

// Vindex maps a column value to a keyspace id.
//
// Value is one of: int64, uint64, []byte, string (as produced by the router
// from SQL literals or bound parameters); int is accepted too for convenience.
// nil (SQL NULL) is rejected by every vindex: a NULL sharding key has no shard.
// Map must not retain value.
type Vindex interface {
	// Type is the vschema type name ("hash", "xxhash", ...).
	Type() string
	// Map returns the keyspace id for value. It never returns nil without an error.
	// Implementations are safe for concurrent use.
	Map(value any) ([]byte, error)
}

// New returns the vindex of the given vschema type. params are the Vitess
// vschema "params" of the vindex (may be nil). None of the functional vindexes
// here take parameters, so params are ignored (Vitess only warns about them).
func New(typ string, params map[string]string) (Vindex, error) {
	switch typ {
	case "hash":
		return newHash(), nil
	case "xxhash":
		return xxHash{}, nil
	case "unicode_loose_xxhash":
		return newUnicodeLooseXXHash(), nil
	case "numeric":
		return numeric{}, nil
	case "binary":
		return binaryVindex{}, nil
	}
	return nil, fmt.Errorf("unknown vindex type %q (known: hash, xxhash, unicode_loose_xxhash, numeric, binary)", typ)
}

// errNull is returned for a nil (SQL NULL) value.
var errNull = errors.New("NULL has no keyspace id")

// valueError wraps err with the vindex type and the offending value.
func valueError(typ string, value any, err error) error {
	switch v := value.(type) {
	case nil:
		return fmt.Errorf("vindex %s: %w", typ, err)
	case []byte:
		return fmt.Errorf("vindex %s: cannot map %q: %w", typ, v, err)
	case string:
		return fmt.Errorf("vindex %s: cannot map %q: %w", typ, v, err)
	default:
		return fmt.Errorf("vindex %s: cannot map %v (%T): %w", typ, v, v, err)
	}
}

// unsupported is the error for a value of a type the router never produces.
func unsupported(value any) error {
	return fmt.Errorf("unsupported value type %T", value)
}

// toUint64 converts an integer value (or the decimal text of one) to its
// uint64 bit pattern. negative reports whether it was a negative signed
// number: hash maps those by bit pattern (as Vitess does for signed values),
// numeric refuses them (as Vitess' sqltypes.ToUint64 does).
func toUint64(value any) (n uint64, negative bool, err error) {
	switch v := value.(type) {
	case int64:
		return uint64(v), v < 0, nil
	case uint64:
		return v, false, nil
	case int:
		return uint64(v), v < 0, nil
	case string:
		return parseInteger(v)
	case []byte:
		// string(v) in a non-escaping call does not allocate for short values.
		return parseInteger(string(v))
	case nil:
		return 0, false, errNull
	}
	return 0, false, unsupported(value)
}

// parseInteger parses decimal text as uint64, or as int64 if it is negative.
func parseInteger(s string) (uint64, bool, error) {
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return u, false, nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return uint64(i), i < 0, nil
	}
	return 0, false, errors.New("not an integer in the 64-bit range")
}

// appendText appends the bytes Vitess hashes for value: sqltypes.Value.ToBytes,
// which for integers is their decimal text (so xxhash(1) hashes "1").
// Callers pass a small stack buffer so integers do not allocate.
func appendText(dst []byte, value any) ([]byte, error) {
	switch v := value.(type) {
	case []byte:
		return append(dst, v...), nil
	case string:
		return append(dst, v...), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case nil:
		return nil, errNull
	}
	return nil, unsupported(value)
}
