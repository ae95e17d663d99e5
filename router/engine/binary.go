package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

// TextRowToBinary re-encodes a text-protocol row in the binary protocol, for
// prepared statements whose plan had to send rewritten SQL as text.
func TextRowToBinary(b []byte, row []byte, fields []*wire.Field) ([]byte, error) {
	n := len(fields)
	b = append(b, 0x00)
	bitmapAt := len(b)
	for i := 0; i < (n+7+2)/8; i++ {
		b = append(b, 0)
	}
	pos := 0
	for i, f := range fields {
		if pos < len(row) && row[pos] == 0xfb {
			b[bitmapAt+(i+2)/8] |= 1 << ((i + 2) % 8)
			pos++
			continue
		}
		v, _, w, err := mysql.LengthEncodedString(row[pos:])
		if err != nil {
			return nil, fmt.Errorf("malformed row from shard: %w", err)
		}
		pos += w
		if b, err = appendBinaryValue(b, f, v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func appendBinaryValue(b []byte, f *wire.Field, v []byte) ([]byte, error) {
	switch f.Type {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_YEAR, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG:
		u, err := parseTextInt(v, f.Flags&mysql.UNSIGNED_FLAG != 0)
		if err != nil {
			return nil, err
		}
		switch f.Type {
		case mysql.MYSQL_TYPE_TINY:
			return append(b, byte(u)), nil
		case mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_YEAR:
			return binary.LittleEndian.AppendUint16(b, uint16(u)), nil
		case mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG:
			return binary.LittleEndian.AppendUint32(b, uint32(u)), nil
		default:
			return binary.LittleEndian.AppendUint64(b, u), nil
		}
	case mysql.MYSQL_TYPE_FLOAT:
		x, err := strconv.ParseFloat(string(v), 32)
		if err != nil {
			return nil, err
		}
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(x))), nil
	case mysql.MYSQL_TYPE_DOUBLE:
		x, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return nil, err
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(x)), nil
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_NEWDATE:
		return appendBinaryDateTime(b, string(v))
	case mysql.MYSQL_TYPE_TIME:
		return appendBinaryTime(b, string(v))
	default:
		b = mysql.AppendLengthEncodedInteger(b, uint64(len(v)))
		return append(b, v...), nil
	}
}

// parseTextInt parses a text-protocol integer (its two's complement bits
// when signed) without converting v to a string: it runs for every integer
// cell of every row a prepared statement gets from a merge.
func parseTextInt(v []byte, unsigned bool) (uint64, error) {
	digits := v
	neg := false
	if !unsigned && len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		neg = digits[0] == '-'
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 20 {
		return 0, fmt.Errorf("bad integer %q", v)
	}
	var u uint64
	for _, c := range digits {
		d := uint64(c - '0')
		if d > 9 || u > (math.MaxUint64-d)/10 {
			return 0, fmt.Errorf("bad integer %q", v)
		}
		u = u*10 + d
	}
	if unsigned {
		return u, nil
	}
	if neg {
		if u > 1<<63 {
			return 0, fmt.Errorf("integer %q out of range", v)
		}
		return -u, nil
	}
	if u > math.MaxInt64 {
		return 0, fmt.Errorf("integer %q out of range", v)
	}
	return u, nil
}

// appendBinaryDateTime encodes "YYYY-MM-DD[ hh:mm:ss[.ffffff]]".
func appendBinaryDateTime(b []byte, s string) ([]byte, error) {
	var y, mo, d, h, mi, sec, us int
	if len(s) < 10 {
		return nil, fmt.Errorf("bad date %q", s)
	}
	y, _ = strconv.Atoi(s[0:4])
	mo, _ = strconv.Atoi(s[5:7])
	d, _ = strconv.Atoi(s[8:10])
	if len(s) >= 19 {
		h, _ = strconv.Atoi(s[11:13])
		mi, _ = strconv.Atoi(s[14:16])
		sec, _ = strconv.Atoi(s[17:19])
		if len(s) > 20 {
			frac := s[20:]
			for len(frac) < 6 {
				frac += "0"
			}
			us, _ = strconv.Atoi(frac[:6])
		}
	}
	switch {
	case us != 0:
		b = append(b, 11, byte(y), byte(y>>8), byte(mo), byte(d), byte(h), byte(mi), byte(sec))
		return binary.LittleEndian.AppendUint32(b, uint32(us)), nil
	case h != 0 || mi != 0 || sec != 0:
		return append(b, 7, byte(y), byte(y>>8), byte(mo), byte(d), byte(h), byte(mi), byte(sec)), nil
	case y != 0 || mo != 0 || d != 0:
		return append(b, 4, byte(y), byte(y>>8), byte(mo), byte(d)), nil
	}
	return append(b, 0), nil
}

// appendBinaryTime encodes "[-]hhh:mm:ss[.ffffff]".
func appendBinaryTime(b []byte, s string) ([]byte, error) {
	neg := byte(0)
	if len(s) > 0 && s[0] == '-' {
		neg = 1
		s = s[1:]
	}
	var h, mi, sec, us int
	if _, err := fmt.Sscanf(s, "%d:%d:%d", &h, &mi, &sec); err != nil {
		return nil, fmt.Errorf("bad time %q", s)
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		frac := s[i+1:]
		for len(frac) < 6 {
			frac += "0"
		}
		us, _ = strconv.Atoi(frac[:6])
	}
	days := h / 24
	h %= 24
	if us != 0 {
		b = append(b, 12, neg)
		b = binary.LittleEndian.AppendUint32(b, uint32(days))
		b = append(b, byte(h), byte(mi), byte(sec))
		return binary.LittleEndian.AppendUint32(b, uint32(us)), nil
	}
	if days == 0 && h == 0 && mi == 0 && sec == 0 {
		return append(b, 0), nil
	}
	b = append(b, 8, neg)
	b = binary.LittleEndian.AppendUint32(b, uint32(days))
	return append(b, byte(h), byte(mi), byte(sec)), nil
}
