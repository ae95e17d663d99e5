package workflow

import (
	"fmt"
	"strconv"

	"github.com/shopspring/decimal"
)

// Values reach the workflow two ways: as text from a result set (the copy
// and the diff read with NAMES binary: bytes as stored) and as Go values
// decoded from the binary log by go-mysql. Both are written back as SQL
// literals that MariaDB reads as the same value: numbers and temporal
// values as quoted text, character data as _charset X'…' (its bytes in its
// own charset), binary data as X'…'.

// appendText appends the literal of a value read as text (nil: NULL).
func appendText(dst []byte, c *column, v []byte) []byte {
	if v == nil {
		return append(dst, "NULL"...)
	}
	switch c.Kind {
	case kindNumber, kindTemporal:
		return appendQuoted(dst, v)
	case kindString, kindEnum:
		if c.Charset != "" {
			dst = append(dst, '_')
			dst = append(dst, c.Charset...)
			dst = append(dst, ' ')
		}
		return appendHex(dst, v)
	}
	return appendHex(dst, v)
}

// appendQuoted appends 'v' with the characters a string literal escapes.
func appendQuoted(dst, v []byte) []byte {
	dst = append(dst, '\'')
	for _, c := range v {
		switch c {
		case '\'', '\\':
			dst = append(dst, '\\', c)
		case 0:
			dst = append(dst, '\\', '0')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '\'')
}

// binlogValue normalizes a value decoded from a row image: unsigned
// integers (which the binary log gives as signed) become uint64, other
// integers int64.
func binlogValue(c *column, v any) any {
	var n int64
	switch x := v.(type) {
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case int:
		n = int64(x)
	default:
		return v
	}
	if c.Unsigned && n < 0 && c.Bits > 0 && c.Bits < 64 {
		return uint64(n) & (1<<uint(c.Bits) - 1)
	}
	if c.Unsigned && n < 0 {
		return uint64(n)
	}
	return n
}

// appendBinlog appends the literal of a (normalized) binlog value.
func appendBinlog(dst []byte, c *column, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "NULL"...), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float32:
		return strconv.AppendFloat(dst, float64(x), 'g', -1, 32), nil
	case float64:
		return strconv.AppendFloat(dst, x, 'g', -1, 64), nil
	case decimal.Decimal:
		return appendQuoted(dst, []byte(x.String())), nil
	case string:
		return appendText(dst, c, []byte(x)), nil
	case []byte:
		return appendText(dst, c, x), nil
	}
	return dst, fmt.Errorf("column %s: a binlog value of type %T the workflow cannot write", c.Name, v)
}

// vindexValue is the value a vindex maps for a binlog value.
func vindexValue(v any) any {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case decimal.Decimal:
		return x.String()
	}
	return v
}

// textOf renders a binlog value as the text a result set would show, for
// keys in messages.
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case string:
		return x
	case decimal.Decimal:
		return x.String()
	}
	return fmt.Sprint(v)
}
