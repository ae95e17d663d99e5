package router

import (
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

func TestGroupOrdered(t *testing.T) {
	group := []sortKey{{col: 0, weight: 3}, {col: 1, weight: noCol}}
	for _, tc := range []struct {
		name string
		keys []sortKey
		want bool
	}{
		{"no ORDER BY", nil, false},
		{"first group key", []sortKey{{col: 0, weight: 3}}, true},
		{"both group keys", []sortKey{{col: 0, weight: 3}, {col: 1, weight: noCol}}, true},
		{"descending", []sortKey{{col: 0, weight: 3, desc: true}}, false},
		{"second key only", []sortKey{{col: 1, weight: noCol}}, false},
		{"keys swapped", []sortKey{{col: 1}, {col: 0}}, false},
		{"longer than the group", []sortKey{{col: 0}, {col: 1}, {col: 2}}, false},
		{"an aggregate column", []sortKey{{col: 2}}, false},
	} {
		if got := groupOrdered(tc.keys, group); got != tc.want {
			t.Errorf("%s: groupOrdered = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The shards compute a weight only for collated strings, and the join
// planner knows that weight is NULL for a NULL-extended row.
func TestWeightOf(t *testing.T) {
	col := &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: ast.NewCIStr("c")}}
	w := weightOf(col)
	sql, err := restore(w)
	if err != nil {
		t.Fatal(err)
	}
	if want := "IF(COLLATION(`c`)='binary', NULL, WEIGHT_STRING(RTRIM(`c`)))"; sql != want {
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
