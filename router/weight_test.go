package router

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// The shards compute a weight only for collated strings that are not ASCII
// under a general_ci collation, and the join planner knows that weight is
// NULL for a NULL-extended row.
func TestWeightOf(t *testing.T) {
	col := &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: ast.NewCIStr("c")}}
	w := weightOf(col)
	sql, err := restore(w)
	if err != nil {
		t.Fatal(err)
	}
	want := "IF(COLLATION(`c`)='binary' OR (COLLATION(`c`) IN ('utf8mb4_general_ci','utf8mb3_general_ci','utf8_general_ci') AND LENGTH(`c`)=CHAR_LENGTH(`c`)), NULL, WEIGHT_STRING(RTRIM(`c`)))"
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
	jp := &joinPlanner{}
	if !jp.nullPropagating(w) {
		t.Error("weightOf(c) is not NULL-propagating to the join planner")
	}
	other := &ast.FuncCallExpr{FnName: ast.NewCIStr("IF"), Args: []ast.ExprNode{col, ast.NewValueExpr(nil, "", ""), col}}
	if _, ok := weightArg(other); ok {
		t.Error("weightArg recognizes another IF")
	}
	if jp.nullPropagating(other) {
		t.Error("IF(c, NULL, c) taken as NULL-propagating")
	}
}

func TestASCIIGeneralWeight(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"ab ", "\x00A\x00B"},
		{"Az_z\t", "\x00A\x00Z\x00_\x00Z\x00\t"},
	} {
		if got := string(asciiGeneralWeight(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("asciiGeneralWeight(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// compareWeights without a weight at hand must order as the weight it stands
// for would, under PAD SPACE (the shorter weight continued with spaces'
// weights), against another computed weight or one from a shard.
func TestCompareWeights(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	const alphabet = "aAbBzZ _\t~0\x00"
	text := func() []byte {
		b := make([]byte, rnd.Intn(5))
		for i := range b {
			b[i] = alphabet[rnd.Intn(len(alphabet))]
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
	for i := 0; i < 20000; i++ {
		x, y := text(), text()
		wx, wy := asciiGeneralWeight(nil, x), asciiGeneralWeight(nil, y)
		want := padSpace(wx, wy)
		for _, c := range []struct {
			name   string
			wx, wy []byte
		}{{"both computed", nil, nil}, {"x computed", nil, wy}, {"y computed", wx, nil}} {
			if got := sign(compareWeights(x, c.wx, y, c.wy)); got != want {
				t.Fatalf("%s: compareWeights(%q, %q) = %d, want %d", c.name, x, y, got, want)
			}
		}
		// A shard's weight of text ending in a character outside the BMP
		// (U+FFFD's weight).
		other := append(append([]byte{}, wy...), 0xFF, 0xFD)
		if got, want := sign(compareWeights(x, nil, y, other)), padSpace(wx, other); got != want {
			t.Fatalf("compareWeights(%q, weight %x) = %d, want %d", x, other, got, want)
		}
	}
}
