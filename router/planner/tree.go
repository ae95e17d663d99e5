package planner

import (
	"reflect"

	"github.com/pingcap/tidb/pkg/parser/ast"
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
