package planner

import (
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/router/sqlval"
)

// The proxy orders and compares collated strings from different shards by
// their sort weight. A shard computes it next to the value (weightOf), except
// where the proxy can do without: numbers, temporal values and binary
// strings compare by value (sqlval.OrderingOf), and under the general_ci collations the
// proxy computes the weight itself from the text (sqlval). For those the shard sends NULL instead of a weight:
// cheaper for the shard than computing one per row, and on sysbench's
// 120-character strings 240 bytes less per row to sort and send.

// weightOf is the sort weight of e under its collation, or NULL where the
// proxy needs none from the shard (sqlval.ProxyWeighed). A NULL weight next to a
// non-NULL collated string means the latter.
func weightOf(e ast.ExprNode) ast.ExprNode {
	var names []ast.ExprNode
	for _, n := range sqlval.ProxyWeighed {
		names = append(names, ast.NewValueExpr(n, "", ""))
	}
	none := &ast.PatternInExpr{Expr: &ast.FuncCallExpr{FnName: ast.NewCIStr("COLLATION"), Args: []ast.ExprNode{e}}, List: names}
	return &ast.FuncCallExpr{FnName: ast.NewCIStr("IF"), Args: []ast.ExprNode{none, ast.NewValueExpr(nil, "", ""), stringWeightOf(e)}}
}

// weightCollation recognizes weightOf's IF and returns its COLLATION(e):
// the probe sends that instead when the proxy can weigh e itself (probe.go).
func weightCollation(f *ast.FuncCallExpr) (ast.ExprNode, bool) {
	if _, ok := weightArg(f); !ok {
		return nil, false
	}
	in, ok := f.Args[0].(*ast.PatternInExpr)
	if !ok || in.Not || in.Sel != nil || len(in.List) != len(sqlval.ProxyWeighed) {
		return nil, false
	}
	if c, ok := in.Expr.(*ast.FuncCallExpr); !ok || c.FnName.L != "collation" {
		return nil, false
	}
	for i, e := range in.List {
		if v, ok := e.(ast.ValueExpr); !ok || v.GetValue() != sqlval.ProxyWeighed[i] {
			return nil, false // an IF of the client's own, not weightOf's
		}
	}
	return in.Expr, true
}

// weightArg recognizes weightOf's IF and returns its string-weight branch:
// IF(…, NULL, WEIGHT_STRING(…)) is NULL wherever that branch is.
func weightArg(f *ast.FuncCallExpr) (ast.ExprNode, bool) {
	if f.FnName.L != "if" || len(f.Args) != 3 {
		return nil, false
	}
	if v, ok := f.Args[1].(ast.ValueExpr); !ok || v.GetValue() != nil {
		return nil, false
	}
	if w, ok := f.Args[2].(*ast.FuncCallExpr); !ok || w.FnName.L != "weight_string" {
		return nil, false
	}
	return f.Args[2], true
}

// stringWeightOf is the sort weight of e as a string under its collation.
// RTRIM because the default collations are PAD SPACE ('bob ' = 'bob') but
// WEIGHT_STRING keeps the trailing spaces' weights.
func stringWeightOf(e ast.ExprNode) ast.ExprNode {
	trimmed := &ast.FuncCallExpr{FnName: ast.NewCIStr("RTRIM"), Args: []ast.ExprNode{e}}
	return &ast.FuncCallExpr{FnName: ast.NewCIStr("WEIGHT_STRING"), Args: []ast.ExprNode{trimmed}}
}
