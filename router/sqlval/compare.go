package sqlval

import (
	"bytes"
	"math/big"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

// Ordering is how values of a result column compare.
type Ordering uint8

const (
	ByBytes   Ordering = iota // binary strings, dates and times (fixed format)
	ByInt                     // integers
	ByDecimal                 // exact decimals
	ByFloat                   // FLOAT, DOUBLE
	ByWeight                  // collated strings: compare their WEIGHT_STRING
)

// OrderingOf is how values of column f compare.
func OrderingOf(f *wire.Field) Ordering {
	switch f.Type {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
		mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_YEAR, mysql.MYSQL_TYPE_BIT:
		if f.Type == mysql.MYSQL_TYPE_BIT {
			return ByBytes
		}
		return ByInt
	case mysql.MYSQL_TYPE_DECIMAL, mysql.MYSQL_TYPE_NEWDECIMAL:
		return ByDecimal
	case mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE:
		return ByFloat
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING,
		mysql.MYSQL_TYPE_TINY_BLOB, mysql.MYSQL_TYPE_MEDIUM_BLOB, mysql.MYSQL_TYPE_LONG_BLOB,
		mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET, mysql.MYSQL_TYPE_JSON:
		if f.Charset == 63 {
			return ByBytes
		}
		return ByWeight
	}
	return ByBytes
}

// Compare orders two non-NULL values of one kind.
func Compare(k Ordering, a, b []byte) int {
	switch k {
	case ByInt:
		return compareIntText(a, b)
	case ByDecimal:
		return compareDecimalText(a, b)
	case ByFloat:
		x, _ := strconv.ParseFloat(string(a), 64)
		y, _ := strconv.ParseFloat(string(b), 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return bytes.Compare(a, b)
}

// compareIntText compares integer strings like "-12" and "3".
func compareIntText(a, b []byte) int {
	na, nb := len(a) > 0 && a[0] == '-', len(b) > 0 && b[0] == '-'
	if na != nb {
		if na {
			return -1
		}
		return 1
	}
	c := len(a) - len(b)
	if c == 0 {
		c = bytes.Compare(a, b)
	}
	if c < 0 {
		c = -1
	} else if c > 0 {
		c = 1
	}
	if na {
		return -c
	}
	return c
}

// compareDecimalText compares decimal strings like "-12.50" and "3".
func compareDecimalText(a, b []byte) int {
	x, ok1 := new(big.Rat).SetString(string(a))
	y, ok2 := new(big.Rat).SetString(string(b))
	if !ok1 || !ok2 {
		return bytes.Compare(a, b)
	}
	return x.Cmp(y)
}

// Decimal is an exact decimal with a fixed scale, for SUM and AVG.
type Decimal struct {
	v     big.Int
	scale int
}

// AddText adds a decimal literal, widening the scale if needed.
func (d *Decimal) AddText(s []byte) bool {
	str := string(s)
	neg := strings.HasPrefix(str, "-")
	str = strings.TrimPrefix(str, "-")
	intPart, frac, _ := strings.Cut(str, ".")
	if len(frac) > d.scale {
		d.v.Mul(&d.v, pow10(len(frac)-d.scale))
		d.scale = len(frac)
	}
	frac += strings.Repeat("0", d.scale-len(frac))
	var x big.Int
	if _, ok := x.SetString(intPart+frac, 10); !ok {
		return false
	}
	if neg {
		x.Neg(&x)
	}
	d.v.Add(&d.v, &x)
	return true
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// String formats with the decimal's scale.
func (d *Decimal) String() string { return FormatScaled(&d.v, d.scale) }

// FormatScaled writes v / 10^scale with scale digits after the point.
func FormatScaled(v *big.Int, scale int) string {
	s := new(big.Int).Abs(v).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if v.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// Divide returns num/den rounded half away from zero to scale digits.
func Divide(num *Decimal, den int64, scale int) string {
	// num.v / 10^num.scale / den, scaled by 10^scale:
	// q = num.v * 10^scale / (den * 10^num.scale)
	n := new(big.Int).Mul(&num.v, pow10(scale))
	d := new(big.Int).Mul(big.NewInt(den), pow10(num.scale))
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	r.Abs(r).Mul(r, big.NewInt(2))
	if r.Cmp(new(big.Int).Abs(d)) >= 0 {
		if n.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return FormatScaled(q, scale)
}

// FormatFloat writes a DOUBLE the way MariaDB's text protocol does
// (shortest representation, exponent for very large or small values).
func FormatFloat(f float64) string {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	if abs != 0 && (abs >= 1e15 || abs < 1e-4) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes e+06, MariaDB e6.
		mant, exp, _ := strings.Cut(s, "e")
		exp = strings.TrimPrefix(exp, "+")
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
		if neg {
			exp = "-" + exp
		}
		return mant + "e" + exp
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Scale is the number of digits after the decimal point.
func (d *Decimal) Scale() int { return d.scale }
