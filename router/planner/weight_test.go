package planner

import (
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/router/sqlval"
)

// The shards compute a weight only for collated strings not under a
// general_ci collation, and the join planner knows that weight is
// NULL for a NULL-extended row.
func TestWeightOf(t *testing.T) {
	col := &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: ast.NewCIStr("c")}}
	w := weightOf(col)
	sql, err := Restore(w)
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
	if got, _ := Restore(arg); got != "WEIGHT_STRING(RTRIM(`c`))" {
		t.Errorf("weightArg = %s", got)
	}
	coll, ok := weightCollation(w.(*ast.FuncCallExpr))
	if !ok {
		t.Fatal("weightCollation does not recognize weightOf")
	}
	if got, _ := Restore(coll); got != "COLLATION(`c`)" {
		t.Errorf("weightCollation = %s", got)
	}
	for name, want := range map[string]bool{"binary": true, "utf8mb4_general_ci": true, "utf8mb3_general_ci": true, "utf8_general_ci": true,
		"utf8mb4_unicode_ci": false, "utf8mb4_bin": false, "latin1_swedish_ci": false, "": false} {
		if sqlval.ProxyWeighs([]byte(name)) != want {
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
