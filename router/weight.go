package router

import (
	"bytes"
	"unicode/utf8"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// The proxy orders and compares collated strings from different shards by
// their sort weight. A shard computes it next to the value (weightOf), except
// where the proxy can do without: numbers, temporal values and binary
// strings compare by value (kindOf), and under the general_ci collations the
// proxy computes the weight itself from the text (generalWeight, a table
// read from MariaDB). For those the shard sends NULL instead of a weight:
// cheaper for the shard than computing one per row, and on sysbench's
// 120-character strings 240 bytes less per row to sort and send.

// generalCollations are the collations whose weights the proxy computes.
// utf8mb3 holds the Basic Multilingual Plane only, where it weighs as
// utf8mb4 does.
var generalCollations = []string{"utf8mb4_general_ci", "utf8mb3_general_ci", "utf8_general_ci"}

// proxyWeighed are the collations whose strings the proxy orders without a
// weight from the shard: binary (COLLATION(e) is 'binary' for numbers and
// dates too) and generalCollations.
var proxyWeighed = append([]string{"binary"}, generalCollations...)

// weightOf is the sort weight of e under its collation, or NULL where the
// proxy needs none from the shard (proxyWeighed). A NULL weight next to a
// non-NULL collated string means the latter.
func weightOf(e ast.ExprNode) ast.ExprNode {
	var names []ast.ExprNode
	for _, n := range proxyWeighed {
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
	if !ok || in.Not || in.Sel != nil || len(in.List) != len(proxyWeighed) {
		return nil, false
	}
	if c, ok := in.Expr.(*ast.FuncCallExpr); !ok || c.FnName.L != "collation" {
		return nil, false
	}
	for i, e := range in.List {
		if v, ok := e.(ast.ValueExpr); !ok || v.GetValue() != proxyWeighed[i] {
			return nil, false // an IF of the client's own, not weightOf's
		}
	}
	return in.Expr, true
}

// proxyWeighs says whether the proxy weighs strings of the collation named
// name itself, so a shard sends a NULL weight for them (weightOf).
func proxyWeighs(name []byte) bool {
	for _, n := range proxyWeighed {
		if string(name) == n {
			return true
		}
	}
	return false
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
// weights wx and wy from the shards; a nil weight is the text's
// generalWeight. Those follow PAD SPACE exactly: where one string is a
// prefix of the other, the rest of the longer one compares with spaces
// ('a\t' < 'a' = 'a '). Weights from shards compare as bytes: the proxy does
// not know their collation's weight of a space.
func compareWeights(x, wx, y, wy []byte) int {
	switch {
	case wx == nil && wy == nil:
		return compareGeneral(x, y)
	case wx == nil: // one column has one collation: only where two meet
		wx = appendGeneralWeight(nil, x)
	case wy == nil:
		wy = appendGeneralWeight(nil, y)
	}
	return bytes.Compare(wx, wy)
}

// compareGeneral orders two strings by their generalWeight, PAD SPACE.
func compareGeneral(x, y []byte) int {
	// Equal bytes weigh the same: skip the common prefix, back to the start
	// of the character where the strings part.
	i := 0
	for i < len(x) && i < len(y) && x[i] == y[i] {
		i++
	}
	for i > 0 && (i < len(x) && x[i]&0xC0 == 0x80 || i < len(y) && y[i]&0xC0 == 0x80) {
		i--
	}
	x, y = x[i:], y[i:]
	for len(x) > 0 && len(y) > 0 {
		var a, b uint16
		var n, m int
		if x[0] < utf8.RuneSelf && y[0] < utf8.RuneSelf {
			a, b, n, m = asciiGeneral[x[0]], asciiGeneral[y[0]], 1, 1
		} else {
			a, n = nextGeneralWeight(x)
			b, m = nextGeneralWeight(y)
		}
		if a != b {
			return int(a) - int(b)
		}
		x, y = x[n:], y[m:]
	}
	if len(x) > 0 {
		return restAgainstSpaces(x)
	}
	return -restAgainstSpaces(y)
}

// asciiGeneral is generalWeight of the ASCII characters, for the common
// case without a page lookup.
var asciiGeneral = func() (t [utf8.RuneSelf]uint16) {
	for c := range t {
		t[c] = generalWeight(rune(c))
	}
	return t
}()

// restAgainstSpaces orders the rest of a longer string against the spaces
// PAD SPACE pads the shorter one with.
func restAgainstSpaces(x []byte) int {
	for len(x) > 0 {
		a, n := nextGeneralWeight(x)
		if a != ' ' {
			return int(a) - ' '
		}
		x = x[n:]
	}
	return 0
}

// nextGeneralWeight returns the weight of the first character of x and its
// length in bytes.
func nextGeneralWeight(x []byte) (uint16, int) {
	if c := x[0]; c < utf8.RuneSelf {
		return asciiGeneral[c], 1
	}
	r, n := utf8.DecodeRune(x)
	return generalWeight(r), n
}

// generalWeight is a character's weight under utf8mb4_general_ci: its code
// point, or the table's entry; U+FFFD for every character beyond the Basic
// Multilingual Plane.
func generalWeight(r rune) uint16 {
	if r > 0xFFFF {
		return 0xFFFD
	}
	if page := generalCIPages[r>>8]; page != nil {
		return page[r&0xFF]
	}
	return uint16(r)
}

// generalCIPages is generalCIExceptions as pages of 256 characters; nil
// where every character weighs its code point. Built once, read only.
var generalCIPages = func() (pages [256]*[256]uint16) {
	for _, e := range generalCIExceptions {
		p := pages[e[0]>>8]
		if p == nil {
			p = new([256]uint16)
			for i := range p {
				p[i] = e[0]&0xFF00 | uint16(i)
			}
			pages[e[0]>>8] = p
		}
		p[e[0]&0xFF] = e[1]
	}
	return pages
}()

// appendGeneralWeight appends WEIGHT_STRING(RTRIM(v)) under
// utf8mb4_general_ci, without the trailing weights of spaces: equal for
// strings PAD SPACE finds equal.
func appendGeneralWeight(dst, v []byte) []byte {
	start := len(dst)
	for len(v) > 0 {
		w, n := nextGeneralWeight(v)
		dst = append(dst, byte(w>>8), byte(w))
		v = v[n:]
	}
	for len(dst) > start && dst[len(dst)-2] == 0 && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-2]
	}
	return dst
}
