package router

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// The shards compute a weight only for collated strings not under a
// general_ci collation, and the join planner knows that weight is
// NULL for a NULL-extended row.
func TestWeightOf(t *testing.T) {
	col := &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: ast.NewCIStr("c")}}
	w := weightOf(col)
	sql, err := restore(w)
	if err != nil {
		t.Fatal(err)
	}
	want := "IF(COLLATION(`c`) IN ('binary','utf8mb4_general_ci','utf8mb3_general_ci','utf8_general_ci'), NULL, WEIGHT_STRING(RTRIM(`c`)))"
	if sql != want {
		t.Errorf("weightOf(c) = %s, want %s", sql, want)
	}
	arg, ok := weightArg(w.(*ast.FuncCallExpr))
	if !ok {
		t.Fatal("weightArg does not recognize weightOf")
	}
	if got, _ := restore(arg); got != "WEIGHT_STRING(RTRIM(`c`))" {
		t.Errorf("weightArg = %s", got)
	}
	coll, ok := weightCollation(w.(*ast.FuncCallExpr))
	if !ok {
		t.Fatal("weightCollation does not recognize weightOf")
	}
	if got, _ := restore(coll); got != "COLLATION(`c`)" {
		t.Errorf("weightCollation = %s", got)
	}
	for name, want := range map[string]bool{"binary": true, "utf8mb4_general_ci": true, "utf8mb3_general_ci": true, "utf8_general_ci": true,
		"utf8mb4_unicode_ci": false, "utf8mb4_bin": false, "latin1_swedish_ci": false, "": false} {
		if proxyWeighs([]byte(name)) != want {
			t.Errorf("proxyWeighs(%q) = %v, want %v", name, !want, want)
		}
	}
	jp := &joinPlanner{}
	if !jp.nullPropagating(w) {
		t.Error("weightOf(c) is not NULL-propagating to the join planner")
	}
	other := &ast.FuncCallExpr{FnName: ast.NewCIStr("IF"), Args: []ast.ExprNode{col, ast.NewValueExpr(nil, "", ""), col}}
	if _, ok := weightArg(other); ok {
		t.Error("weightArg recognizes another IF")
	}
	if _, ok := weightCollation(other); ok {
		t.Error("weightCollation recognizes another IF")
	}
	// A client's IF(COLLATION(c) IN (another list), NULL, WEIGHT_STRING(…)).
	own := weightOf(col).(*ast.FuncCallExpr)
	own.Args[0].(*ast.PatternInExpr).List[1] = ast.NewValueExpr("latin1_swedish_ci", "", "")
	if _, ok := weightCollation(own); ok {
		t.Error("weightCollation recognizes an IF with another list of collations")
	}
	if jp.nullPropagating(other) {
		t.Error("IF(c, NULL, c) taken as NULL-propagating")
	}
}

func TestGeneralWeight(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"ab ", "\x00A\x00B"},
		{"Az_z\t", "\x00A\x00Z\x00_\x00Z\x00\t"},
		{"é ß😀", "\x00E\x00 \x00S\xff\xfd"},
	} {
		if got := string(appendGeneralWeight(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendGeneralWeight(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// compareWeights without weights at hand must order as the weights they stand
// for would under PAD SPACE (the shorter weight continued with spaces'
// weights), and equal exactly where appendGeneralWeight's keys are equal.
func TestCompareWeights(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "A", "b", "z", " ", "_", "\t", "~", "0", "\x00", "é", "É", "ß", "s", "😀", "😁", "\u00a0", "è", "Ā", "ā"}
	text := func() []byte {
		var b []byte
		for n := rnd.Intn(5); n > 0; n-- {
			b = append(b, alphabet[rnd.Intn(len(alphabet))]...)
		}
		return b
	}
	padSpace := func(a, b []byte) int {
		for len(a) < len(b) {
			a = append(a[:len(a):len(a)], 0, ' ')
		}
		for len(b) < len(a) {
			b = append(b[:len(b):len(b)], 0, ' ')
		}
		return bytes.Compare(a, b)
	}
	sign := func(n int) int {
		switch {
		case n < 0:
			return -1
		case n > 0:
			return 1
		}
		return 0
	}
	for i := 0; i < 40000; i++ {
		x, y := text(), text()
		if i%2 == 1 { // a common prefix, which may end inside a character
			y = append(x[:rnd.Intn(len(x)+1):len(x)], y...)
		}
		wx, wy := appendGeneralWeight(nil, x), appendGeneralWeight(nil, y)
		want := padSpace(wx, wy)
		if got := sign(compareWeights(x, nil, y, nil)); got != want {
			t.Fatalf("compareWeights(%q, %q) = %d, want %d", x, y, got, want)
		}
		// Against a shard's weight (never nil, even when empty): as bytes.
		if got, want := sign(compareWeights(x, nil, y, append([]byte{}, wy...))), bytes.Compare(wx, wy); got != want {
			t.Fatalf("compareWeights(%q, weight %x) = %d, want %d", x, wy, got, want)
		}
		if (want == 0) != bytes.Equal(wx, wy) {
			t.Fatalf("%q and %q: PAD SPACE equal %v, weights %x and %x", x, y, want == 0, wx, wy)
		}
	}
}
