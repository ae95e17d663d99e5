package engine

import (
	"bytes"

	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// HavingExpr is a HAVING condition evaluated at the proxy on whole groups:
// comparisons of output columns (selected or hidden aggregates) with
// literals, joined by AND, OR and NOT.
type HavingExpr struct {
	Op      opcode.Op // LogicAnd, LogicOr, Not, a comparison, or 0 for IS [NOT] NULL
	Args    []*HavingExpr
	Col     int       // operand: output column (or noCol)
	Val     *ValueRef // operand: literal or bind
	IsNull  bool      // IS NULL test on args[0]
	NotNull bool      // IS NOT NULL
}

// bind returns the condition as a row predicate for one execution.
func (h *HavingExpr) bind(binds []sqlval.Value, fields []*wire.Field, n int) func(row) (bool, error) {
	return func(r row) (bool, error) {
		v := h.eval(binds, fields, n, r)
		return v == triTrue, nil
	}
}

type tri uint8

const (
	triNull tri = iota
	triFalse
	triTrue
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// operand returns the value of a leaf and how to compare it.
func (h *HavingExpr) operand(binds []sqlval.Value, fields []*wire.Field, n int, r row) ([]byte, sqlval.Ordering, bool) {
	if len(h.Args) > 0 { // a condition used as a value: 1, 0 or NULL, as MariaDB reads it
		switch h.eval(binds, fields, n, r) {
		case triTrue:
			return []byte("1"), sqlval.ByInt, true
		case triFalse:
			return []byte("0"), sqlval.ByInt, true
		}
		return nil, sqlval.ByBytes, false
	}
	if h.Val != nil {
		v := h.Val.Resolve(binds)
		if v.Kind == sqlval.Null {
			return nil, sqlval.ByBytes, false
		}
		k := sqlval.ByBytes
		switch v.Kind {
		case sqlval.Int, sqlval.Uint, sqlval.Number:
			k = sqlval.ByDecimal
		}
		return []byte(v.Raw), k, true
	}
	c := absCol(h.Col, n)
	if c < 0 || c >= len(r) || r[c] == nil {
		return nil, sqlval.ByBytes, false
	}
	return r[c], sqlval.OrderingOf(fields[c]), true
}

func (h *HavingExpr) eval(binds []sqlval.Value, fields []*wire.Field, n int, r row) tri {
	switch {
	case h.IsNull || h.NotNull:
		_, _, ok := h.Args[0].operand(binds, fields, n, r)
		return triOf(ok == h.NotNull)
	case h.Op == opcode.Not:
		switch h.Args[0].eval(binds, fields, n, r) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triNull
	case h.Op == opcode.LogicAnd:
		a, b := h.Args[0].eval(binds, fields, n, r), h.Args[1].eval(binds, fields, n, r)
		if a == triFalse || b == triFalse {
			return triFalse
		}
		if a == triNull || b == triNull {
			return triNull
		}
		return triTrue
	case h.Op == opcode.LogicOr:
		a, b := h.Args[0].eval(binds, fields, n, r), h.Args[1].eval(binds, fields, n, r)
		if a == triTrue || b == triTrue {
			return triTrue
		}
		if a == triNull || b == triNull {
			return triNull
		}
		return triFalse
	case len(h.Args) == 2:
		x, kx, okx := h.Args[0].operand(binds, fields, n, r)
		y, ky, oky := h.Args[1].operand(binds, fields, n, r)
		if !okx || !oky {
			return triNull
		}
		c := compareOperands(x, kx, y, ky)
		switch h.Op {
		case opcode.EQ:
			return triOf(c == 0)
		case opcode.NE:
			return triOf(c != 0)
		case opcode.LT:
			return triOf(c < 0)
		case opcode.LE:
			return triOf(c <= 0)
		case opcode.GT:
			return triOf(c > 0)
		case opcode.GE:
			return triOf(c >= 0)
		}
	default:
		// A bare operand used as a condition: true when non-zero.
		v, k, ok := h.operand(binds, fields, n, r)
		if !ok {
			return triNull
		}
		return triOf(compareOperands(v, k, []byte("0"), sqlval.ByDecimal) != 0)
	}
	return triNull
}

// compareOperands compares two values, numerically when either is a
// number, else as case-insensitive strings (the default collations).
func compareOperands(x []byte, kx sqlval.Ordering, y []byte, ky sqlval.Ordering) int {
	numeric := func(k sqlval.Ordering) bool { return k == sqlval.ByInt || k == sqlval.ByDecimal || k == sqlval.ByFloat }
	if numeric(kx) || numeric(ky) {
		if kx == sqlval.ByFloat || ky == sqlval.ByFloat {
			return sqlval.Compare(sqlval.ByFloat, x, y)
		}
		return sqlval.Compare(sqlval.ByDecimal, x, y)
	}
	if kx == sqlval.ByWeight || ky == sqlval.ByWeight {
		// No weight at hand: as the default collation, utf8mb4_general_ci.
		return sqlval.CompareGeneral(x, y)
	}
	return bytes.Compare(x, y)
}
