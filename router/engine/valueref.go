package engine

import (
	"fmt"
	"strings"

	"github.com/shardgate/shardgate/router/sqlval"
)

// ValueRef is where a routing value comes from: a bind or a literal,
// possibly negated (`-5` is normalized to `-?`).
type ValueRef struct {
	Bind int // -1: lit
	Lit  sqlval.Value
	Neg  bool
}

func (v ValueRef) Resolve(binds []sqlval.Value) sqlval.Value {
	val := v.Lit
	if v.Bind >= 0 {
		val = binds[v.Bind]
	}
	if v.Neg {
		return Negate(val)
	}
	return val
}

// Negate returns -v for numbers; other values cannot be routed negated.
func Negate(v sqlval.Value) sqlval.Value {
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

func (v ValueRef) String() string {
	sign := ""
	if v.Neg {
		sign = "-"
	}
	if v.Bind >= 0 {
		return fmt.Sprintf("%s:v%d", sign, v.Bind+1)
	}
	return sign + string(v.Lit.AppendSQL(nil))
}
