package planner

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/shardgate/shardgate/router/engine"
)

func (b *mergeBuilder) compileHaving(e ast.ExprNode) (*engine.HavingExpr, error) {
	switch x := e.(type) {
	case *ast.ParenthesesExpr:
		return b.compileHaving(x.Expr)
	case *ast.BinaryOperationExpr:
		switch x.Op {
		case opcode.LogicAnd, opcode.LogicOr, opcode.EQ, opcode.NE, opcode.LT, opcode.LE, opcode.GT, opcode.GE:
		default:
			return nil, engine.Unsupported("HAVING operator %s across shards", x.Op)
		}
		l, err := b.compileHaving(x.L)
		if err != nil {
			return nil, err
		}
		r, err := b.compileHaving(x.R)
		if err != nil {
			return nil, err
		}
		return &engine.HavingExpr{Op: x.Op, Args: []*engine.HavingExpr{l, r}, Col: engine.NoCol}, nil
	case *ast.UnaryOperationExpr:
		if x.Op != opcode.Not && x.Op != opcode.Not2 {
			return nil, engine.Unsupported("HAVING operator %s across shards", x.Op)
		}
		a, err := b.compileHaving(x.V)
		if err != nil {
			return nil, err
		}
		return &engine.HavingExpr{Op: opcode.Not, Args: []*engine.HavingExpr{a}, Col: engine.NoCol}, nil
	case *ast.IsNullExpr:
		a, err := b.compileHaving(x.Expr)
		if err != nil {
			return nil, err
		}
		return &engine.HavingExpr{Args: []*engine.HavingExpr{a}, Col: engine.NoCol, IsNull: !x.Not, NotNull: x.Not}, nil
	}
	if v, ok := b.p.valueOf(e); ok {
		return &engine.HavingExpr{Val: &v, Col: engine.NoCol}, nil
	}
	k, err := b.outputKey(e, false)
	if err != nil {
		return nil, err
	}
	return &engine.HavingExpr{Col: k.Col}, nil
}

// resolveHaving resolves the HAVING expression's column references once the
// hidden columns are known.
func (b *mergeBuilder) resolveHaving(h *engine.HavingExpr) {
	h.Col = b.resolve(h.Col)
	for _, a := range h.Args {
		b.resolveHaving(a)
	}
}
