package planner

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// Trees the planner makes without the parser. The builders rewrite the
// tree they plan into SQL templates (keyspace qualifiers, field aliases,
// IN-list and bind placeholders). A plan that needs two templates of one
// statement (a Route and the SelectMerge over the same shards, a pinned
// Route and the plan of its unpinned executions) gives the second builder
// a copy of the tree taken before the first one rewrote it (fork). SQL the
// planner composes is built as nodes (constRows).

// fork copies n for a second builder and returns the planner of the copy:
// the same statement and binds, its own field aliases.
func fork[T ast.Node](p *planner, n T) (T, *planner) {
	c := &treeCopier{seen: map[seenKey]reflect.Value{}}
	n2 := c.value(reflect.ValueOf(n)).Interface().(T)
	if p.held == nil {
		p.held = &holdSet{}
	}
	p2 := &planner{env: p.env, ctx: p.ctx, nbinds: p.nbinds, held: p.held,
		binds: make(map[*driver.ParamMarkerExpr]int, len(p.binds))}
	for m, i := range p.binds {
		if m2, ok := c.seen[keyOf(reflect.ValueOf(m))]; ok {
			p2.binds[m2.Interface().(*driver.ParamMarkerExpr)] = i
		}
	}
	return n2, p2
}

// treeCopier deep-copies an AST by reflection. A node reached twice (a
// weight over a select field's expression) is copied once, so the copy
// shares what the tree shares. Unexported fields (a node's text and
// offset, an expression's type) are copied by value: the planner rewrites
// only exported ones.
type treeCopier struct {
	seen map[seenKey]reflect.Value
}

type seenKey struct {
	ptr uintptr
	typ reflect.Type
}

func keyOf(v reflect.Value) seenKey { return seenKey{v.Pointer(), v.Type()} }

// value returns a deep copy of v.
func (c *treeCopier) value(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		if n, ok := c.seen[keyOf(v)]; ok {
			return n
		}
		if node, ok := v.Interface().(ast.Node); ok {
			// A node computes its text once, into fields the copy shares
			// the guard of: compute it before the copy.
			node.Text()
		}
		n := reflect.New(v.Type().Elem())
		c.seen[keyOf(v)] = n
		n.Elem().Set(v.Elem())
		c.fields(n.Elem())
		return n
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(c.value(v.Elem()))
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(c.value(v.Index(i)))
		}
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		c.fields(out)
		return out
	}
	return v
}

// fields replaces the settable fields of struct s (addressable, a shallow
// copy) by deep copies; the exported fields of an embedded unexported
// struct are settable too.
func (c *treeCopier) fields(s reflect.Value) {
	if s.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < s.NumField(); i++ {
		f := s.Field(i)
		switch {
		case f.CanSet():
			f.Set(c.value(f))
		case s.Type().Field(i).Anonymous && f.Kind() == reflect.Struct:
			c.fields(f)
		}
	}
}

// constRows is the derived table `(SELECT v AS c, ... UNION ALL SELECT ...)
// AS alias` of constant rows, built as the parser builds it: cols name the
// columns, each row gives their values.
func constRows(alias string, cols []string, rows [][]ast.ExprNode) *ast.TableSource {
	all := ast.UnionAll
	list := &ast.SetOprSelectList{}
	for i, row := range rows {
		sel := &ast.SelectStmt{Kind: ast.SelectStmtKindSelect, SelectStmtOpts: &ast.SelectStmtOpts{SQLCache: true},
			Fields: &ast.FieldList{}}
		for j, v := range row {
			sel.Fields.Fields = append(sel.Fields.Fields, &ast.SelectField{Expr: v, AsName: ast.NewCIStr(cols[j])})
		}
		if i > 0 {
			sel.AfterSetOperator = &all
		}
		list.Selects = append(list.Selects, sel)
	}
	var src ast.ResultSetNode = &ast.SetOprStmt{SelectList: list}
	if len(rows) == 1 {
		src = list.Selects[0].(*ast.SelectStmt)
	}
	return &ast.TableSource{Source: src, AsName: ast.NewCIStr(alias)}
}

// walker applies fn to every node on the way out; fn may replace the node.
type walker struct{ fn func(ast.Node) ast.Node }

func (w walker) Enter(n ast.Node) (ast.Node, bool) { return n, false }

func (w walker) Leave(n ast.Node) (ast.Node, bool) { return w.fn(n), true }

func Walk(n ast.Node, fn func(ast.Node) ast.Node) { n.Accept(walker{fn}) }

// Restore writes a node back as SQL that MariaDB accepts.
func Restore(n ast.Node) (string, error) {
	var b strings.Builder
	flags := format.DefaultRestoreFlags | format.RestoreStringWithoutDefaultCharset | format.RestoreStringEscapeBackslash
	if err := n.Restore(format.NewRestoreCtx(flags, &b)); err != nil {
		return "", fmt.Errorf("restore SQL: %w", err)
	}
	return b.String(), nil
}

// conjuncts splits an expression at top-level ANDs.
func conjuncts(e ast.ExprNode, out []ast.ExprNode) []ast.ExprNode {
	if e == nil {
		return out
	}
	switch x := e.(type) {
	case *ast.BinaryOperationExpr:
		if x.Op == opcode.LogicAnd {
			return conjuncts(x.R, conjuncts(x.L, out))
		}
	case *ast.ParenthesesExpr:
		return conjuncts(x.Expr, out)
	}
	return append(out, e)
}

func (f *aggFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.AggregateFuncExpr, *ast.WindowFuncExpr:
		f.found = true
		return n, true
	case *ast.SubqueryExpr:
		return n, true
	}
	return n, false
}

func (f *aggFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// ValueText returns a literal or identifier value as text (ON, 'utf8mb4', 1).
func ValueText(e ast.ExprNode) string {
	switch x := e.(type) {
	case *driver.ValueExpr:
		switch x.Datum.Kind() {
		case driver.KindInt64:
			return fmt.Sprint(x.Datum.GetInt64())
		case driver.KindUint64:
			return fmt.Sprint(x.Datum.GetUint64())
		case driver.KindString, driver.KindBytes:
			return x.Datum.GetString()
		}
	case *ast.ColumnNameExpr:
		return x.Name.Name.O
	case *ast.DefaultExpr:
		return "default"
	case nil:
		return ""
	}
	s, _ := Restore(e)
	return strings.Trim(s, "'`")
}

// eachJoinSource calls fn for each table or derived table of a FROM clause,
// left to right, looking through joins and parenthesized joins.
func eachJoinSource(n ast.ResultSetNode, fn func(*ast.TableSource)) {
	switch x := n.(type) {
	case *ast.Join:
		eachJoinSource(x.Left, fn)
		if x.Right != nil {
			eachJoinSource(x.Right, fn)
		}
	case *ast.TableSource:
		if j, ok := x.Source.(*ast.Join); ok && x.AsName.L == "" {
			eachJoinSource(j, fn)
			return
		}
		fn(x)
	}
}

func hasAggregate(n ast.Node) bool {
	v := &aggFinder{}
	n.Accept(v)
	return v.found
}

// aggFinder looks for aggregate and window functions of this query level,
// not of its subqueries.
type aggFinder struct{ found bool }
