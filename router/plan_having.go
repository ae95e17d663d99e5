package router

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
)

func (b *mergeBuilder) compileHaving(e ast.ExprNode) (*havingExpr, error) {
	switch x := e.(type) {
	case *ast.ParenthesesExpr:
		return b.compileHaving(x.Expr)
	case *ast.BinaryOperationExpr:
		switch x.Op {
		case opcode.LogicAnd, opcode.LogicOr, opcode.EQ, opcode.NE, opcode.LT, opcode.LE, opcode.GT, opcode.GE:
		default:
			return nil, unsupported("HAVING operator %s across shards", x.Op)
		}
		l, err := b.compileHaving(x.L)
		if err != nil {
			return nil, err
		}
		r, err := b.compileHaving(x.R)
		if err != nil {
			return nil, err
		}
		return &havingExpr{op: x.Op, args: []*havingExpr{l, r}, col: noCol}, nil
	case *ast.UnaryOperationExpr:
		if x.Op != opcode.Not && x.Op != opcode.Not2 {
			return nil, unsupported("HAVING operator %s across shards", x.Op)
		}
		a, err := b.compileHaving(x.V)
		if err != nil {
			return nil, err
		}
		return &havingExpr{op: opcode.Not, args: []*havingExpr{a}, col: noCol}, nil
	case *ast.IsNullExpr:
		a, err := b.compileHaving(x.Expr)
		if err != nil {
			return nil, err
		}
		return &havingExpr{args: []*havingExpr{a}, col: noCol, isNull: !x.Not, notNull: x.Not}, nil
	}
	if v, ok := b.p.valueOf(e); ok {
		return &havingExpr{val: &v, col: noCol}, nil
	}
	k, err := b.outputKey(e, false)
	if err != nil {
		return nil, err
	}
	return &havingExpr{col: k.col}, nil
}

func (h *havingExpr) resolve(b *mergeBuilder) {
	h.col = b.resolve(h.col)
	for _, a := range h.args {
		a.resolve(b)
	}
}
