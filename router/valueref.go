package router

import (
	"fmt"
	"strings"

	"github.com/shardgate/shardgate/router/sqlval"
)

// valueRef is where a routing value comes from: a bind or a literal,
// possibly negated (`-5` is normalized to `-?`).
type valueRef struct {
	bind int // -1: lit
	lit  sqlval.Value
	neg  bool
}

func (v valueRef) resolve(binds []sqlval.Value) sqlval.Value {
	val := v.lit
	if v.bind >= 0 {
		val = binds[v.bind]
	}
	if v.neg {
		return negate(val)
	}
	return val
}

// negate returns -v for numbers; other values cannot be routed negated.
func negate(v sqlval.Value) sqlval.Value {
	switch v.Kind {
	case sqlval.Int, sqlval.Number:
	case sqlval.Uint:
		v.Kind = sqlval.Int
	default:
		return sqlval.Value{Kind: sqlval.Number, Raw: "-" + v.Raw}
	}
	if strings.HasPrefix(v.Raw, "-") {
		v.Raw = v.Raw[1:]
	} else {
		v.Raw = "-" + v.Raw
	}
	return v
}

func (v valueRef) String() string {
	sign := ""
	if v.neg {
		sign = "-"
	}
	if v.bind >= 0 {
		return fmt.Sprintf("%s:v%d", sign, v.bind+1)
	}
	return sign + string(v.lit.AppendSQL(nil))
}
