package router

import (
	"bytes"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
)

// The proxy orders and compares collated strings from different shards by
// their sort weight. A shard computes it next to the value (weightOf), except
// where the proxy can compute it itself from the value: numbers, temporal
// values and binary strings are compared by value (kindOf), and ASCII text
// under the general_ci collations has a weight the proxy derives byte for
// byte (asciiGeneralWeight). For those rows the shard sends NULL instead of
// a weight: on sysbench's 120-character strings, 240 bytes less per row for
// the shard to build, sort and send.

// asciiWeightCollations are the collations whose WEIGHT_STRING of ASCII text
// is asciiGeneralWeight: two bytes per character, 0x00 and the character
// upper-cased. TestASCIIWeight (tests/engine) checks it against MariaDB for
// every ASCII character.
var asciiWeightCollations = []string{"utf8mb4_general_ci", "utf8mb3_general_ci", "utf8_general_ci"}

// weightOf is the sort weight of e under its collation, or NULL where the
// proxy needs none from the shard: for binary collations (COLLATION(e) is
// 'binary' for numbers and dates too) and for ASCII text under
// asciiWeightCollations (LENGTH = CHAR_LENGTH in a UTF-8 character set).
// A NULL weight next to a non-NULL collated string means the latter.
func weightOf(e ast.ExprNode) ast.ExprNode {
	collation := &ast.FuncCallExpr{FnName: ast.NewCIStr("COLLATION"), Args: []ast.ExprNode{e}}
	binary := &ast.BinaryOperationExpr{Op: opcode.EQ, L: collation, R: ast.NewValueExpr("binary", "", "")}
	names := make([]ast.ExprNode, len(asciiWeightCollations))
	for i, n := range asciiWeightCollations {
		names[i] = ast.NewValueExpr(n, "", "")
	}
	general := &ast.PatternInExpr{Expr: collation, List: names}
	ascii := &ast.BinaryOperationExpr{Op: opcode.EQ,
		L: &ast.FuncCallExpr{FnName: ast.NewCIStr("LENGTH"), Args: []ast.ExprNode{e}},
		R: &ast.FuncCallExpr{FnName: ast.NewCIStr("CHAR_LENGTH"), Args: []ast.ExprNode{e}}}
	none := &ast.BinaryOperationExpr{Op: opcode.LogicOr, L: binary,
		R: &ast.ParenthesesExpr{Expr: &ast.BinaryOperationExpr{Op: opcode.LogicAnd, L: general, R: ascii}}}
	return &ast.FuncCallExpr{FnName: ast.NewCIStr("IF"), Args: []ast.ExprNode{none, ast.NewValueExpr(nil, "", ""), stringWeightOf(e)}}
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

// compareWeights orders two non-NULL collated strings x and y by their
// weights wx and wy from the shards. A nil weight is the text's
// asciiGeneralWeight, compared here without building it; the column's
// collation is then a general_ci one, so the comparison can follow PAD SPACE
// exactly: where one weight is a prefix of the other, the rest of the longer
// one compares with the weight of spaces ('a\t' < 'a' = 'a '). Two weights
// from shards compare as bytes: the proxy does not know their collation's
// space.
func compareWeights(x, wx, y, wy []byte) int {
	if wx != nil && wy != nil {
		return bytes.Compare(wx, wy)
	}
	a, b := weightOfText{x, wx}, weightOfText{y, wy}
	if wx == nil {
		a.text = trimSpaces(x)
	}
	if wy == nil {
		b.text = trimSpaces(y)
	}
	n, m := a.len(), b.len()
	for j := 0; j < n && j < m; j++ {
		if p, q := a.at(j), b.at(j); p != q {
			return int(p) - int(q)
		}
	}
	sign := 1
	if n < m {
		a, n, m, sign = b, m, n, -1
	}
	for j := m; j < n; j++ { // the rest of the longer weight against spaces
		if p, q := a.at(j), generalSpace[(j-m)%2]; p != q {
			return sign * (int(p) - int(q))
		}
	}
	return 0
}

// generalSpace is the weight of ' ' under the general_ci collations.
var generalSpace = [2]byte{0, ' '}

// weightOfText is a weight from a shard, or (w nil) the asciiGeneralWeight
// of text.
type weightOfText struct{ text, w []byte }

func (t weightOfText) len() int {
	if t.w != nil {
		return len(t.w)
	}
	return 2 * len(t.text)
}

func (t weightOfText) at(j int) byte {
	switch {
	case t.w != nil:
		return t.w[j]
	case j%2 == 0:
		return 0
	}
	return upperASCII(t.text[j/2])
}

// asciiGeneralWeight appends WEIGHT_STRING(RTRIM(v)) of ASCII text v under
// asciiWeightCollations.
func asciiGeneralWeight(dst, v []byte) []byte {
	for _, c := range trimSpaces(v) {
		dst = append(dst, 0, upperASCII(c))
	}
	return dst
}

func trimSpaces(v []byte) []byte {
	n := len(v)
	for n > 0 && v[n-1] == ' ' {
		n--
	}
	return v[:n]
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
