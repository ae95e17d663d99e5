package router

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// A select field computed from aggregates (COUNT(*) + 1, SUM(a) / COUNT(*),
// ROUND(AVG(x), 2)) cannot be merged from the shards' values. Its
// aggregates become hidden columns; once the proxy has combined them, a
// shard evaluates the expression over them as literals, so the result has
// exactly MySQL's types, scales and rounding.
type computedCol struct {
	col   int      // output column
	expr  template // the expression with segCol placeholders for the aggregates
	name  string
	alias *fieldAlias // the name when it holds literals
}

// planComputed plans field i, an expression over aggregates.
func (b *mergeBuilder) planComputed(f *ast.SelectField, i int) error {
	if f.AsName.L == "" {
		f.AsName = ast.NewCIStr(f.Text())
	}
	name := f.AsName.O
	var alias *fieldAlias
	if strings.HasPrefix(name, phAlias) {
		k, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, phAlias), "__"))
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
		if c.kind.distinct() {
			walkErr = unsupported("an aggregate over DISTINCT values inside an expression across shards")
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
	b.sm.Computed = append(b.sm.Computed, computedCol{col: i, expr: tmpl, name: name, alias: alias})
	// The shard returns a placeholder in this column's place.
	f.Expr = ast.NewValueExpr(nil, "", "")
	b.sm.Aggs = append(b.sm.Aggs, aggCol{kind: aggAny, col: i, weight: noCol, count: noCol})
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
func colPlaceholder(ref int) string { return phColPrefix + strconv.Itoa(ref) + "__" }

// evalStream fills computed columns by batches: one query to a shard per
// batch of rows, `SELECT e1, e2 UNION ALL SELECT e1, e2 ...` with the
// aggregates as literals.
type evalStream struct {
	in      stream
	vc      *vcursor
	ctx     context.Context
	shard   *topo.Shard
	cols    []computedCol
	n       int // columns of the shard result, to resolve hidden refs
	fields  []*wire.Field
	rows    []row
	pos     int
	done    bool
	started bool
	err     error
}

const evalBatch = 200

func (e *evalStream) Fields() []*wire.Field {
	if !e.started {
		e.err = e.fill()
	}
	return e.fields
}

func (e *evalStream) Next() (row, error) {
	if !e.started || (e.pos >= len(e.rows) && !e.done) {
		if err := e.fill(); err != nil {
			return nil, err
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	if e.pos >= len(e.rows) {
		return nil, nil
	}
	e.pos++
	return e.rows[e.pos-1], nil
}

// fill reads the next batch and evaluates its computed columns.
func (e *evalStream) fill() error {
	first := !e.started
	e.started = true
	e.rows, e.pos = e.rows[:0], 0
	for len(e.rows) < evalBatch {
		r, err := e.in.Next()
		if err != nil {
			return err
		}
		if r == nil {
			e.done = true
			break
		}
		e.rows = append(e.rows, copyRow(nil, r))
	}
	if first {
		f := e.in.Fields()
		e.fields = make([]*wire.Field, len(f))
		copy(e.fields, f)
	}
	if len(e.rows) == 0 && !first {
		return nil
	}
	// One SELECT per row; with no row, one over NULLs to learn the types.
	var q []byte
	rows := e.rows
	if len(rows) == 0 {
		rows = []row{make(row, e.n)}
	}
	for i, r := range rows {
		if i > 0 {
			q = append(q, " UNION ALL "...)
		}
		q = append(q, "SELECT "...)
		for j, c := range e.cols {
			if j > 0 {
				q = append(q, ", "...)
			}
			q = c.expr.appendWith(q, e.vc.binds, func(b []byte, ref int) []byte {
				c := absCol(ref, e.n)
				return appendTypedLiteral(b, r[c], e.in.Fields()[c])
			})
		}
	}
	streams, err := e.vc.openShards(e.ctx, []shardCall{{shard: e.shard, sql: q}})
	if err != nil {
		return fmt.Errorf("evaluating expressions over aggregates: %w", err)
	}
	s := streams[0]
	defer s.Close()
	if first {
		for j, c := range e.cols {
			f := *s.Fields()[j]
			f.Name, f.OrgName = c.name, ""
			if c.alias != nil {
				q := c.alias.append(nil, e.vc.binds)
				f.Name = strings.ReplaceAll(string(q[1:len(q)-1]), "``", "`")
			}
			e.fields[absCol(c.col, e.n)] = &f
		}
	}
	for i := 0; ; i++ {
		r, err := s.Next()
		if err != nil {
			return err
		}
		if r == nil {
			return nil
		}
		if i < len(e.rows) {
			for j, c := range e.cols {
				if r[j] == nil {
					e.rows[i][absCol(c.col, e.n)] = nil
				} else {
					e.rows[i][absCol(c.col, e.n)] = append([]byte{}, r[j]...)
				}
			}
		}
	}
}

func (e *evalStream) Close() { e.in.Close() }

// appendTypedLiteral writes an aggregate's value as a literal of the
// aggregate's own type, so expressions over it type as MySQL types them
// (COUNT(*) + 1 is a BIGINT, SUM(int) * 2 a DECIMAL).
func appendTypedLiteral(b []byte, v []byte, f *wire.Field) []byte {
	if v == nil {
		return append(b, "NULL"...)
	}
	switch sqlval.OrderingOf(f) {
	case sqlval.ByFloat:
		if !strings.ContainsAny(string(v), "eE") {
			return append(append(b, v...), "e0"...) // a DOUBLE literal
		}
		return append(b, v...)
	case sqlval.ByInt:
		// MariaDB types CAST(5 AS SIGNED) as INT; IFNULL with a BIGINT
		// constant keeps the value and types it BIGINT, as COUNT is.
		b = append(b, "IFNULL("...)
		b = append(b, v...)
		if f.Flags&mysql.UNSIGNED_FLAG != 0 {
			return append(b, ", 18446744073709551615)"...)
		}
		return append(b, ", 9223372036854775807)"...)
	case sqlval.ByDecimal:
		b = append(b, "CAST("...)
		b = append(b, v...)
		return append(b, fmt.Sprintf(" AS DECIMAL(65,%d))", f.Decimals)...)
	}
	return sqlval.AppendQuoted(b, string(v))
}
