package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// A select field computed from aggregates (COUNT(*) + 1, SUM(a) / COUNT(*),
// ROUND(AVG(x), 2)) cannot be merged from the shards' values. Its
// aggregates become hidden columns; once the proxy has combined them, a
// shard evaluates the expression over them as literals, so the result has
// exactly MySQL's types, scales and rounding.
type ComputedCol struct {
	Col   int      // output column
	Expr  Template // the expression with segCol placeholders for the aggregates
	Name  string
	Alias *FieldAlias // the name when it holds literals
}

// evalStream fills computed columns by batches: one query to a shard per
// batch of rows, `SELECT e1, e2 UNION ALL SELECT e1, e2 ...` with the
// aggregates as literals.
type evalStream struct {
	in      stream
	vc      VCursor
	ctx     context.Context
	shard   *topo.Shard
	cols    []ComputedCol
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
			q = c.Expr.appendWith(q, e.vc.Binds(), func(b []byte, ref int) []byte {
				c := absCol(ref, e.n)
				return appendTypedLiteral(b, r[c], e.in.Fields()[c])
			})
		}
	}
	streams, err := openShards(e.ctx, e.vc, []ShardCall{{shard: e.shard, SQL: q}})
	if err != nil {
		return fmt.Errorf("evaluating expressions over aggregates: %w", err)
	}
	s := streams[0]
	defer s.Close()
	if first {
		for j, c := range e.cols {
			f := *s.Fields()[j]
			f.Name, f.OrgName = c.Name, ""
			if c.Alias != nil {
				q := c.Alias.Append(nil, e.vc.Binds())
				f.Name = strings.ReplaceAll(string(q[1:len(q)-1]), "``", "`")
			}
			e.fields[absCol(c.Col, e.n)] = &f
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
					e.rows[i][absCol(c.Col, e.n)] = nil
				} else {
					e.rows[i][absCol(c.Col, e.n)] = append([]byte{}, r[j]...)
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
