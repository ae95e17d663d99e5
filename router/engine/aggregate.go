package engine

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// aggKind is how the proxy combines one column of the shards' partial
// results.
type aggKind uint8

const (
	AggAny           aggKind = iota // group key or other non-aggregate: first value
	AggCount                        // COUNT: sum of counts
	AggSum                          // SUM: exact sum, NULL when all NULL
	AggMin                          // MIN
	AggMax                          // MAX
	AggAvg                          // AVG: sum of the column / sum of the count column
	AggCountDistinct                // COUNT(DISTINCT x): x arrives as a sorted group key
	AggSumDistinct                  // SUM(DISTINCT x), likewise
	AggAvgDistinct                  // AVG(DISTINCT x), likewise
)

var aggNames = [...]string{"any", "count", "sum", "min", "max", "avg", "count_distinct", "sum_distinct", "avg_distinct"}

// Distinct reports the aggregates over the distinct values of their column.
func (k aggKind) Distinct() bool {
	return k == AggCountDistinct || k == AggSumDistinct || k == AggAvgDistinct
}

// AggCol describes one output column of an aggregation.
type AggCol struct {
	Kind   aggKind
	Col    int // shard result column
	Weight int // WEIGHT_STRING column for MIN/MAX of strings and COUNT(DISTINCT), -1 if none
	Count  int // AVG: the hidden COUNT column
	// DISTINCT aggregates: set is the tag of the argument set that feeds
	// it (1-based); dcols and dweights are the set's argument columns and
	// their WEIGHT_STRING columns (-1 if none).
	Set             int
	DistinctCols    []int
	DistinctWeights []int
}

// abs resolves the column references against a result of n columns.
func (c AggCol) abs(n int) AggCol {
	out := AggCol{Kind: c.Kind, Col: absCol(c.Col, n), Weight: absCol(c.Weight, n), Count: absCol(c.Count, n), Set: c.Set}
	for _, d := range c.DistinctCols {
		out.DistinctCols = append(out.DistinctCols, absCol(d, n))
	}
	for _, w := range c.DistinctWeights {
		out.DistinctWeights = append(out.DistinctWeights, absCol(w, n))
	}
	return out
}

// aggregate combines rows of a stream sorted by the group keys: adjacent
// rows with equal keys form one group. It holds one group at a time.
type aggregate struct {
	in      stream
	keys    []SortKey // group keys (empty: one group over everything)
	cols    []AggCol
	kinds   []sqlval.Ordering
	fields  []*wire.Field
	scalar  bool // no GROUP BY: exactly one row even for empty input
	tag     int  // column naming the DISTINCT argument set of a row, -1 if none
	pending row  // first row of the next group (a copy)
	spare   row  // storage of a group row no longer referenced, reused for the next copy
	eof     bool
	emitted bool
	out     row
	// per-group state
	cur      row // copy of the group's first row (keys, first values)
	counts   []int64
	sums     []sqlval.Decimal
	floats   []float64
	isFloat  []bool
	hasValue []bool
	dkeys    [][]SortKey // argument keys per DISTINCT aggregate
	seen     []bool      // a DISTINCT aggregate has seen an argument tuple
	last     []row       // its last argument tuple (only its argument cells are set)
}

func newAggregate(in stream, keys []SortKey, cols []AggCol, scalar bool) *aggregate {
	a := &aggregate{in: in, keys: keys, cols: cols, scalar: scalar, tag: -1}
	fields := in.Fields()
	a.kinds = make([]sqlval.Ordering, len(fields))
	for i, f := range fields {
		a.kinds[i] = sqlval.OrderingOf(f)
	}
	a.fields = make([]*wire.Field, len(fields))
	copy(a.fields, fields)
	n := len(cols)
	a.counts = make([]int64, n)
	a.sums = make([]sqlval.Decimal, n)
	a.floats = make([]float64, n)
	a.isFloat = make([]bool, n)
	a.hasValue = make([]bool, n)
	a.seen = make([]bool, n)
	a.last = make([]row, n)
	for i, c := range cols {
		if c.Kind.Distinct() {
			a.last[i] = make(row, len(fields))
		}
		a.dkeys = append(a.dkeys, tupleKeys(c))
	}
	for i, c := range cols {
		switch c.Kind {
		case AggCount:
			// Per-row counts (aggregates over a join) arrive as INT: COUNT
			// is a BIGINT.
			f := *fields[c.Col]
			f.Type, f.Charset, f.Length, f.Decimals = mysql.MYSQL_TYPE_LONGLONG, 63, 21, 0
			f.Flags = mysql.BINARY_FLAG | mysql.NOT_NULL_FLAG
			a.fields[c.Col] = &f
		case AggSum, AggAvg:
			f := *fields[c.Col]
			a.isFloat[i] = f.Type == mysql.MYSQL_TYPE_DOUBLE || f.Type == mysql.MYSQL_TYPE_FLOAT
			if !a.isFloat[i] && f.Type != mysql.MYSQL_TYPE_NEWDECIMAL {
				// Per-row values over a join: SUM and AVG of integers are DECIMAL.
				f.Type, f.Charset, f.Length = mysql.MYSQL_TYPE_NEWDECIMAL, 63, 33
				f.Flags &^= mysql.NOT_NULL_FLAG | mysql.PRI_KEY_FLAG | mysql.UNIQUE_KEY_FLAG
			}
			if c.Kind == AggAvg && !a.isFloat[i] {
				f.Decimals += 4 // div_precision_increment
				f.Length += 4
			}
			a.fields[c.Col] = &f
		case AggCountDistinct:
			f := wire.Field{Name: fields[c.Col].Name, Type: mysql.MYSQL_TYPE_LONGLONG, Length: 21, Charset: 63, Flags: mysql.BINARY_FLAG | mysql.NOT_NULL_FLAG}
			a.fields[c.Col] = &f
		case AggSumDistinct, AggAvgDistinct:
			f := *fields[c.Col]
			f.Flags &^= mysql.NOT_NULL_FLAG | mysql.PRI_KEY_FLAG | mysql.UNIQUE_KEY_FLAG
			a.isFloat[i] = sqlval.OrderingOf(&f) == sqlval.ByFloat
			if !a.isFloat[i] {
				f.Type, f.Charset, f.Length = mysql.MYSQL_TYPE_NEWDECIMAL, 63, 65
				if c.Kind == AggAvgDistinct {
					f.Decimals += 4
				}
			} else {
				f.Type = mysql.MYSQL_TYPE_DOUBLE
			}
			a.fields[c.Col] = &f
		}
	}
	return a
}

func (a *aggregate) Fields() []*wire.Field { return a.fields }

func copyRow(dst row, r row) row {
	dst = dst[:0]
	for _, v := range r {
		if v == nil {
			dst = append(dst, nil)
		} else {
			dst = append(dst, append([]byte{}, v...))
		}
	}
	return dst
}

// reuseRow copies r into dst, reusing the storage of dst's cells: for a
// copy that replaces one nobody references any more.
func reuseRow(dst row, r row) row {
	if cap(dst) < len(r) {
		dst = make(row, len(r))
	}
	dst = dst[:len(r)]
	for i, v := range r {
		dst[i] = keep(dst[i], v)
	}
	return dst
}

func (a *aggregate) Next() (row, error) {
	if a.eof {
		return nil, nil
	}
	var first row
	if a.pending != nil {
		first, a.pending = a.pending, nil
	} else {
		r, err := a.in.Next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			a.eof = true
			if a.scalar && !a.emitted {
				a.emitted = true
				return a.emptyRow(), nil
			}
			return nil, nil
		}
		first = reuseRow(a.spare, r)
	}
	// The row returned last time, built on a.cur, has been consumed: a
	// stream's row is valid only until the next call.
	a.spare = a.cur
	a.start(first)
	for {
		r, err := a.in.Next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			a.eof = true
			break
		}
		if len(a.keys) > 0 && compareRows(a.keys, a.kinds, r, a.cur) != 0 {
			a.pending = reuseRow(a.spare, r)
			a.spare = nil
			break
		}
		a.add(r)
	}
	a.emitted = true
	return a.finish(), nil
}

// emptyRow is an aggregate over no rows: COUNT 0, others NULL.
func (a *aggregate) emptyRow() row {
	out := make(row, len(a.fields))
	for _, c := range a.cols {
		if c.Kind == AggCount || c.Kind == AggCountDistinct {
			out[c.Col] = []byte("0")
		}
	}
	return out
}

func (a *aggregate) start(first row) {
	a.cur = first
	for i := range a.cols {
		a.counts[i] = 0
		a.sums[i] = sqlval.Decimal{}
		a.floats[i] = 0
		a.hasValue[i] = false
		a.seen[i] = false
	}
	a.add(first)
}

func (a *aggregate) add(r row) {
	tag := -1
	if a.tag >= 0 {
		t, _ := strconv.Atoi(string(r[a.tag]))
		tag = t
	}
	for i, c := range a.cols {
		v := r[c.Col]
		if tag > 1 && !c.Kind.Distinct() {
			continue // rows of the other sets repeat the first set's rows
		}
		switch c.Kind {
		case AggCount:
			n, _ := strconv.ParseInt(string(v), 10, 64)
			a.counts[i] += n
		case AggSum, AggAvg:
			if c.Kind == AggAvg {
				n, _ := strconv.ParseInt(string(r[c.Count]), 10, 64)
				a.counts[i] += n
			}
			if v == nil {
				continue
			}
			a.addValue(i, v)
		case AggMin, AggMax:
			if v == nil {
				continue
			}
			if !a.hasValue[i] {
				a.hasValue[i] = true
				if &r[0] != &a.cur[0] {
					a.cur[c.Col] = append([]byte{}, v...)
					if c.Weight >= 0 {
						a.cur[c.Weight] = keep(nil, r[c.Weight]) // nil stays nil: see compareWeights
					}
				}
				continue
			}
			cmp := compareCell(SortKey{Col: c.Col, Weight: c.Weight}, a.kinds, r, a.cur)
			if (c.Kind == AggMin && cmp < 0) || (c.Kind == AggMax && cmp > 0) {
				a.cur[c.Col] = append(a.cur[c.Col][:0], v...)
				if c.Weight >= 0 {
					a.cur[c.Weight] = keep(a.cur[c.Weight], r[c.Weight])
				}
			}
		case AggCountDistinct, AggSumDistinct, AggAvgDistinct:
			if tag >= 0 && c.Set != tag {
				continue
			}
			if !a.newTuple(i, c, r) {
				continue
			}
			a.counts[i]++
			if c.Kind != AggCountDistinct {
				a.addValue(i, v)
			}
		}
	}
}

// newTuple reports whether r holds an argument tuple of DISTINCT aggregate
// i without NULLs that differs from the last one (rows arrive sorted by the
// arguments), and remembers it.
// addValue adds a non-NULL v to the sum of aggregate i.
func (a *aggregate) addValue(i int, v []byte) {
	a.hasValue[i] = true
	if a.isFloat[i] {
		f, _ := strconv.ParseFloat(string(v), 64)
		a.floats[i] += f
	} else {
		a.sums[i].AddText(v)
	}
}

func (a *aggregate) newTuple(i int, c AggCol, r row) bool {
	keys := a.dkeys[i]
	for _, k := range keys {
		if r[k.Col] == nil {
			return false
		}
	}
	last := a.last[i]
	if a.seen[i] && compareRows(keys, a.kinds, r, last) == 0 {
		return false
	}
	a.seen[i] = true
	for _, k := range keys {
		last[k.Col] = keep(last[k.Col], r[k.Col])
		if k.Weight >= 0 {
			last[k.Weight] = keep(last[k.Weight], r[k.Weight])
		}
	}
	return true
}

// keep copies v into dst's storage; an empty value stays non-NULL.
func keep(dst, v []byte) []byte {
	if v == nil {
		return nil
	}
	if dst == nil {
		return append([]byte{}, v...)
	}
	return append(dst[:0], v...)
}

func tupleKeys(c AggCol) []SortKey {
	keys := make([]SortKey, len(c.DistinctCols))
	for j, col := range c.DistinctCols {
		keys[j] = SortKey{Col: col, Weight: -1}
		if j < len(c.DistinctWeights) {
			keys[j].Weight = c.DistinctWeights[j]
		}
	}
	return keys
}

func (a *aggregate) finish() row {
	a.out = append(a.out[:0], a.cur...)
	for i, c := range a.cols {
		switch c.Kind {
		case AggCount, AggCountDistinct:
			a.out[c.Col] = strconv.AppendInt(nil, a.counts[i], 10)
		case AggSum:
			if !a.hasValue[i] {
				a.out[c.Col] = nil
			} else if a.isFloat[i] {
				a.out[c.Col] = []byte(sqlval.FormatFloat(a.floats[i]))
			} else {
				a.out[c.Col] = []byte(a.sums[i].String())
			}
		case AggSumDistinct:
			switch {
			case !a.hasValue[i]:
				a.out[c.Col] = nil
			case a.isFloat[i]:
				a.out[c.Col] = []byte(sqlval.FormatFloat(a.floats[i]))
			default:
				a.out[c.Col] = []byte(a.sums[i].String())
			}
		case AggAvg, AggAvgDistinct:
			switch {
			case !a.hasValue[i] || a.counts[i] == 0:
				a.out[c.Col] = nil
			case a.isFloat[i]:
				a.out[c.Col] = []byte(sqlval.FormatFloat(a.floats[i] / float64(a.counts[i])))
			default:
				a.out[c.Col] = []byte(sqlval.Divide(&a.sums[i], a.counts[i], a.sums[i].Scale()+4))
			}
		}
	}
	return a.out
}

func (a *aggregate) Close() { a.in.Close() }

func describeAggs(cols []AggCol) string {
	parts := make([]string, 0, len(cols))
	for _, c := range cols {
		if c.Kind == AggAny {
			continue
		}
		if c.Kind.Distinct() && len(c.DistinctCols) > 0 {
			args := make([]string, len(c.DistinctCols))
			for j, d := range c.DistinctCols {
				args[j] = fmt.Sprintf("col%d", d)
			}
			parts = append(parts, fmt.Sprintf("%s(%s)->col%d set=%d", aggNames[c.Kind], strings.Join(args, ","), c.Col, c.Set))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s(col%d)", aggNames[c.Kind], c.Col))
	}
	return strings.Join(parts, ", ")
}
