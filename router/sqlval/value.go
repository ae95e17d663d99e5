// Package sqlval holds the SQL values the proxy handles itself: literals and
// parameters as they are bound into plans (Value), how two values of a result
// column order (Ordering, Compare), exact decimals for SUM and AVG, and the
// sort weights of the utf8mb4_general_ci collations, which the proxy computes
// without asking a shard. It is a leaf: it knows the wire protocol's column
// types and nothing of plans, sessions or shards.
package sqlval

import (
	"strconv"
	"strings"
)

// Kind tells how a bound value is written back into SQL and how a
// vindex reads it.
type Kind uint8

const (
	Null   Kind = iota
	Int         // signed integer literal
	Uint        // unsigned integer (binary protocol)
	Number      // decimal or float, kept as its text
	String      // string, unescaped
	Hex         // X'..' or 0x.. literal, kept as its SQL text
	Bytes       // binary parameter bytes

	// Param is a value not bound yet: a client's '?' in a normalized
	// statement, or a slot the proxy fills (generated ids).
	Param Kind = 0xff
)

// Value is one literal of a normalized statement or one prepared-statement
// parameter.
type Value struct {
	Kind Kind
	Raw  string // text of numbers and hex literals; content of strings and bytes
}

// AppendSQL writes v as a SQL literal.
func (v Value) AppendSQL(b []byte) []byte {
	switch v.Kind {
	case Null:
		return append(b, "NULL"...)
	case String, Bytes:
		return AppendQuoted(b, v.Raw)
	default:
		return append(b, v.Raw...)
	}
}

// VindexValue is the value a vindex maps (nil for NULL).
func (v Value) VindexValue() any {
	switch v.Kind {
	case Null:
		return nil
	case Int:
		if n, err := strconv.ParseInt(v.Raw, 10, 64); err == nil {
			return n
		}
		return v.Raw
	case Uint:
		if n, err := strconv.ParseUint(v.Raw, 10, 64); err == nil {
			return n
		}
		return v.Raw
	default:
		return v.Raw
	}
}

// AppendQuoted writes s as a single-quoted SQL string literal.
func AppendQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b = append(b, '\\', '\'')
		case '\\':
			b = append(b, '\\', '\\')
		case 0:
			b = append(b, '\\', '0')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case 0x1a:
			b = append(b, '\\', 'Z')
		default:
			b = append(b, c)
		}
	}
	return append(b, '\'')
}

// AppendIdent writes s as a backquoted identifier.
func AppendIdent(b []byte, s string) []byte {
	b = append(b, '`')
	b = append(b, strings.ReplaceAll(s, "`", "``")...)
	return append(b, '`')
}
