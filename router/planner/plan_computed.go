package planner

import (
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/shardgate/shardgate/router/engine"
)

// planComputed plans field i, an expression over aggregates.
func (b *mergeBuilder) planComputed(f *ast.SelectField, i int) error {
	if f.AsName.L == "" {
		f.AsName = ast.NewCIStr(f.Text())
	}
	name := f.AsName.O
	var alias *engine.FieldAlias
	if strings.HasPrefix(name, engine.PhAlias) {
		k, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, engine.PhAlias), "__"))
		alias = &b.p.aliases[k]
	}
	var err error
	expr := f.Expr
	// Each aggregate inside becomes a hidden aggregate column.
	var walkErr error
	replaced := replaceAggregates(expr, func(agg *ast.AggregateFuncExpr) ast.ExprNode {
		col := b.addHidden(agg)
		c, err := b.aggregateColumn(agg, col)
		if err != nil {
			walkErr = err
			return agg
		}
		if c.Kind.Distinct() {
			walkErr = engine.Unsupported("an aggregate over DISTINCT values inside an expression across shards")
		}
		b.sm.Aggs = append(b.sm.Aggs, c)
		return ast.NewValueExpr(colPlaceholder(col), "", "")
	})
	if walkErr != nil {
		return walkErr
	}
	tmpl, err := b.p.templateOf(replaced)
	if err != nil {
		return err
	}
	b.sm.Computed = append(b.sm.Computed, engine.ComputedCol{Col: i, Expr: tmpl, Name: name, Alias: alias})
	// The shard returns a placeholder in this column's place.
	f.Expr = ast.NewValueExpr(nil, "", "")
	b.sm.Aggs = append(b.sm.Aggs, engine.AggCol{Kind: engine.AggAny, Col: i, Weight: engine.NoCol, Count: engine.NoCol})
	return nil
}

// replaceAggregates rewrites the aggregate calls of e (outermost first).
func replaceAggregates(e ast.ExprNode, fn func(*ast.AggregateFuncExpr) ast.ExprNode) ast.ExprNode {
	if agg, ok := e.(*ast.AggregateFuncExpr); ok {
		return fn(agg)
	}
	n, _ := e.Accept(aggReplacer{fn})
	return n.(ast.ExprNode)
}

type aggReplacer struct {
	fn func(*ast.AggregateFuncExpr) ast.ExprNode
}

func (r aggReplacer) Enter(n ast.Node) (ast.Node, bool) {
	if agg, ok := n.(*ast.AggregateFuncExpr); ok {
		return r.fn(agg), true // do not descend into it
	}
	return n, false
}

func (r aggReplacer) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// colPlaceholder names a hidden column in an expression template; the
// hidden ref is resolved against the row at evaluation.
func colPlaceholder(ref int) string { return engine.PhColPrefix + strconv.Itoa(ref) + "__" }
