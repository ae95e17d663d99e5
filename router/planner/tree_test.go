package planner

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// TestForkCopiesTree copies every statement of the plan cases: the copy
// restores to the same SQL and shares no node (nor a slice of nodes) with
// the tree, so rewriting one leaves the other as parsed.
func TestForkCopiesTree(t *testing.T) {
	files, err := filepath.Glob("../testdata/plans/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no plan cases: %v", err)
	}
	p := parser.New()
	n := 0
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			sql, ok := strings.CutPrefix(sc.Text(), "sql: ")
			if !ok {
				continue
			}
			stmts, _, err := p.Parse(sql, "", "")
			if err != nil || len(stmts) == 0 {
				continue // the case expects a parse error
			}
			for _, stmt := range stmts {
				n++
				checkCopy(t, stmt)
			}
		}
		f.Close()
	}
	if n < 500 {
		t.Fatalf("copied only %d statements", n)
	}
}

func checkCopy(t *testing.T, stmt ast.StmtNode) {
	t.Helper()
	want, err := Restore(stmt)
	if err != nil {
		return
	}
	cp, _ := fork(&planner{}, stmt)
	if got, err := Restore(cp); err != nil || got != want {
		t.Errorf("copy of %s restores as %s (%v)", want, got, err)
	}
	if got, want := texts(cp), texts(stmt); !reflect.DeepEqual(got, want) {
		t.Errorf("copy of %s: node texts %q, want %q", want, got, want)
	}
	orig := map[uintptr]reflect.Type{}
	reachable(reflect.ValueOf(stmt), orig)
	copied := map[uintptr]reflect.Type{}
	reachable(reflect.ValueOf(cp), copied)
	for ptr, typ := range copied {
		if orig[ptr] == typ {
			t.Errorf("copy of %s shares a %s", want, typ)
		}
	}
}

// reachable collects the nodes and slices of nodes reachable from v,
// through unexported fields too.
func reachable(v reflect.Value, seen map[uintptr]reflect.Type) {
	reach(v, seen, map[seenKey]bool{})
}

func reach(v reflect.Value, seen map[uintptr]reflect.Type, visited map[seenKey]bool) {
	isNode := func(t reflect.Type) bool {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		pkg := t.PkgPath()
		return strings.HasSuffix(pkg, "/parser/ast") || strings.HasSuffix(pkg, "/parser/test_driver")
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if visited[seenKey{v.Pointer(), v.Type()}] {
			return
		}
		visited[seenKey{v.Pointer(), v.Type()}] = true
		// Zero-size values share an address; a datum's decimal is
		// never rewritten.
		if isNode(v.Type()) && v.Type().Elem().Size() > 0 && v.Type().Elem().Name() != "MyDecimal" {
			seen[v.Pointer()] = v.Type()
		}
		reach(v.Elem(), seen, visited)
	case reflect.Interface:
		if !v.IsNil() {
			reach(v.Elem(), seen, visited)
		}
	case reflect.Slice:
		if v.Len() > 0 && isNode(v.Type()) {
			seen[v.Pointer()] = v.Type()
		}
		for i := 0; i < v.Len(); i++ {
			reach(v.Index(i), seen, visited)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			reach(v.Field(i), seen, visited)
		}
	}
}

// texts lists the texts of the nodes of n (select fields keep their
// names through them).
func texts(n ast.Node) []string {
	var out []string
	Walk(n, func(x ast.Node) ast.Node {
		out = append(out, x.Text())
		return x
	})
	return out
}

// TestForkBinds: the copy's markers are the same binds as the tree's.
func TestForkBinds(t *testing.T) {
	stmts, _, err := parser.New().Parse("SELECT a, ? FROM t WHERE b = ? AND c IN (?, ?) ORDER BY a LIMIT ?", "", "")
	if err != nil {
		t.Fatal(err)
	}
	p := &planner{}
	p.indexBinds(stmts[0])
	cp, p2 := fork(p, stmts[0])
	want := &planner{}
	want.indexBinds(cp)
	if len(p2.binds) != 5 || !reflect.DeepEqual(p2.binds, want.binds) {
		t.Errorf("binds of the copy %v, want %v", p2.binds, want.binds)
	}
	for m := range p2.binds {
		if _, shared := p.binds[m]; shared {
			t.Errorf("the copy shares marker %p", m)
		}
	}
}

// TestConstRows: the derived table of constant rows restores as the
// parser's.
func TestConstRows(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		rows [][]ast.ExprNode
	}{
		{"SELECT * FROM (SELECT 1 AS `a` UNION ALL SELECT 2 AS `a` UNION ALL SELECT 3 AS `a`) AS `t`",
			[][]ast.ExprNode{{ast.NewValueExpr(int64(1), "", "")}, {ast.NewValueExpr(int64(2), "", "")}, {ast.NewValueExpr(int64(3), "", "")}}},
		{"SELECT * FROM (SELECT 'def' AS `a`,NULL AS `b`,'' AS `c`) AS `t`",
			[][]ast.ExprNode{{ast.NewValueExpr("def", "", ""), ast.NewValueExpr(nil, "", ""), ast.NewValueExpr("", "", "")}}},
	} {
		stmts, _, err := parser.New().Parse(tc.sql, "", "")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Restore(stmts[0])
		sel := stmts[0].(*ast.SelectStmt)
		sel.From.TableRefs.Left = constRows("t", []string{"a", "b", "c"}, tc.rows)
		got, err := Restore(sel)
		if err != nil || got != want {
			t.Errorf("constRows restores as %s (%v), want %s", got, err, want)
		}
	}
}
