package engine

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

// aggOf is the SelectMerge the planner makes for an aggregating scatter
// SELECT (planAggregation): shards group and sort by the group keys, the
// proxy merges by them and combines adjacent groups.
func (f *fixture) aggOf(hidden int, group []SortKey, aggs ...AggCol) *SelectMerge {
	return &SelectMerge{
		Route: f.scatter("SELECT client text"), Shard: tmpl("SELECT grouped"), Hidden: hidden,
		GroupKeys: group, MergeKeys: append([]SortKey(nil), group...),
		Aggs: aggs, Scalar: len(group) == 0, Tag: NoCol,
	}
}

func aggAny(col int) AggCol { return AggCol{Kind: AggAny, Col: col, Weight: NoCol, Count: NoCol} }
func aggOne(kind aggKind, col int) AggCol {
	return AggCol{Kind: kind, Col: col, Weight: NoCol, Count: NoCol}
}
func aggMinMax(kind aggKind, col, weight int) AggCol {
	return AggCol{Kind: kind, Col: col, Weight: weight, Count: NoCol}
}
func aggAvg(col, count int) AggCol {
	return AggCol{Kind: AggAvg, Col: col, Weight: NoCol, Count: count}
}
func aggDistinct(kind aggKind, col, set int, cols, weights []int) AggCol {
	return AggCol{Kind: kind, Col: col, Weight: NoCol, Count: NoCol, Set: set, DistinctCols: cols, DistinctWeights: weights}
}

// SUM and AVG as a shard sends them: DECIMAL (of an integer column too).
func sumCol(name string, decimals byte) *wire.Field {
	f := decCol(name, decimals)
	f.Length = 33
	return f
}

func countCol(name string) *wire.Field {
	f := bigintCol(name)
	f.Flags |= mysql.NOT_NULL_FLAG
	return f
}

// TestAggregateGroupBy: SELECT k, COUNT(*), SUM(x), AVG(x), MIN(x), MAX(s)
// FROM t GROUP BY k, with x DECIMAL(10,2) and s a general_ci string. A group
// on several shards is combined; NULLs are ignored by SUM, AVG, MIN and MAX
// (but counted by COUNT(*)); a group whose values are all NULL has SUM,
// AVG, MIN NULL.
func TestAggregateGroupBy(t *testing.T) {
	// Shard columns: k, COUNT(*), SUM(x), SUM(x) for AVG, MIN(x), MAX(s),
	// then hidden: COUNT(x) for AVG, MIN's weight, MAX's weight, k's weight.
	fields := []*wire.Field{intCol("k"), countCol("COUNT(*)"), sumCol("SUM(x)", 2), sumCol("AVG(x)", 2), decCol("MIN(x)", 2), strCol("MAX(s)"),
		countCol("c"), weightCol(), weightCol(), weightCol()}
	row := func(k, cnt, sum, min, max, cntx string) []string {
		return R(k, cnt, sum, sum, min, max, cntx, NULL, NULL, NULL)
	}
	f := newFixture(t, 3)
	f.each(
		result(fields, row("1", "2", "10.50", "3.25", "b", "2"), row("3", "1", NULL, NULL, "z", "0")),
		result(fields, row("1", "3", "-4.00", "-5.00", "B ", "2"), row("2", "1", "7.00", "7.00", "m", "1"), row("4", "2", NULL, NULL, NULL, "0")),
		result(fields, row("3", "2", "1.10", "1.10", "Z", "1"), row("4", "1", NULL, NULL, NULL, "0")),
	)
	sm := f.aggOf(4, []SortKey{asc(0, -1)},
		aggAny(0), aggOne(AggCount, 1), aggOne(AggSum, 2), aggAvg(3, -4), aggMinMax(AggMin, 4, -3), aggMinMax(AggMax, 5, -2))
	o := f.run(sm)
	o.wantRows(t,
		R("1", "5", "6.50", "1.625000", "-5.00", "b"),
		R("2", "1", "7.00", "7.000000", "7.00", "m"),
		R("3", "3", "1.10", "1.100000", "1.10", "z"),
		R("4", "3", NULL, NULL, NULL, NULL),
	)
	o.wantColumns(t, "k", "COUNT(*)", "SUM(x)", "AVG(x)", "MIN(x)", "MAX(s)")
	if ft := o.fields[1]; ft.Type != mysql.MYSQL_TYPE_LONGLONG {
		t.Errorf("COUNT is type %d, want BIGINT", ft.Type)
	}
	if ft := o.fields[3]; ft.Type != mysql.MYSQL_TYPE_NEWDECIMAL || ft.Decimals != 6 {
		t.Errorf("AVG is type %d with %d decimals, want DECIMAL with 6", ft.Type, ft.Decimals)
	}
}

// TestAggregateScalar: aggregates without GROUP BY give exactly one row.
func TestAggregateScalar(t *testing.T) {
	// SELECT COUNT(*), SUM(x), AVG(x), MIN(x), MAX(x) FROM t: hidden COUNT(x)
	// for AVG and the weights of MIN and MAX.
	fields := []*wire.Field{countCol("COUNT(*)"), sumCol("SUM(x)", 0), sumCol("AVG(x)", 0), intCol("MIN(x)"), intCol("MAX(x)"),
		countCol("c"), weightCol(), weightCol()}
	aggs := []AggCol{aggOne(AggCount, 0), aggOne(AggSum, 1), aggAvg(2, -3), aggMinMax(AggMin, 3, -2), aggMinMax(AggMax, 4, -1)}
	for _, c := range []struct {
		name   string
		shards [][][]string
		want   []string
	}{
		{
			// Each shard aggregates its rows: a shard without rows still
			// answers one row (COUNT 0, the rest NULL).
			name: "no rows on any shard",
			shards: [][][]string{
				{R("0", NULL, NULL, NULL, NULL, "0", NULL, NULL)},
				{R("0", NULL, NULL, NULL, NULL, "0", NULL, NULL)},
			},
			want: R("0", NULL, NULL, NULL, NULL),
		},
		{
			// The operator's own empty input (no shard row at all).
			name:   "empty input",
			shards: [][][]string{{}, {}},
			want:   R("0", NULL, NULL, NULL, NULL),
		},
		{
			name: "only NULLs",
			shards: [][][]string{
				{R("2", NULL, NULL, NULL, NULL, "0", NULL, NULL)},
				{R("1", NULL, NULL, NULL, NULL, "0", NULL, NULL)},
			},
			want: R("3", NULL, NULL, NULL, NULL),
		},
		{
			name: "one shard empty",
			shards: [][][]string{
				{R("0", NULL, NULL, NULL, NULL, "0", NULL, NULL)},
				{R("3", "-6", "-6", "-9", "4", "3", NULL, NULL)},
			},
			want: R("3", "-6", "-2.0000", "-9", "4"),
		},
		{
			// MIN and MAX of integers by value, not text ("10" < "9").
			name: "values on every shard",
			shards: [][][]string{
				{R("2", "19", "19", "9", "10", "2", NULL, NULL)},
				{R("4", "-30", "-30", "-12", "3", "3", NULL, NULL)},
			},
			want: R("6", "-11", "-2.2000", "-12", "10"),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, len(c.shards))
			for i, rows := range c.shards {
				f.shards[i].always(result(fields, rows...))
			}
			f.run(f.aggOf(3, nil, aggs...)).wantRows(t, c.want)
		})
	}
}

// TestAggregateGroupByEmpty: GROUP BY over no rows gives no row (unlike a
// scalar aggregate).
func TestAggregateGroupByEmpty(t *testing.T) {
	fields := []*wire.Field{intCol("k"), countCol("COUNT(*)"), weightCol()}
	f := newFixture(t, 3)
	f.each(result(fields), result(fields), result(fields))
	o := f.run(f.aggOf(1, []SortKey{asc(0, -1)}, aggAny(0), aggOne(AggCount, 1)))
	o.wantRows(t)
	o.wantColumns(t, "k", "COUNT(*)")
}

// TestAggregateSumExact: SUM of DECIMAL and of integers is exact (no
// float rounding, no int64 overflow), AVG rounds half away from zero to
// the scale plus 4 (div_precision_increment), FLOAT sums are floats.
func TestAggregateSumExact(t *testing.T) {
	for _, c := range []struct {
		name      string
		col       *wire.Field // SUM's column as the shard sends it
		sums      []string    // per shard: SUM(x), COUNT(x)
		counts    []string
		sum, avg  string
		avgDigits byte
	}{
		{name: "decimal tenths", col: sumCol("s", 2), sums: []string{"0.10", "0.20"}, counts: []string{"1", "1"}, sum: "0.30", avg: "0.150000", avgDigits: 6},
		{name: "decimal signs", col: sumCol("s", 2), sums: []string{"-12.50", "3.00", "0.01"}, counts: []string{"2", "1", "1"}, sum: "-9.49", avg: "-2.372500", avgDigits: 6},
		{name: "past int64", col: sumCol("s", 0), sums: []string{"9223372036854775807", "9223372036854775807"}, counts: []string{"1", "1"}, sum: "18446744073709551614", avg: "9223372036854775807.0000", avgDigits: 4},
		{name: "avg rounds half up", col: sumCol("s", 0), sums: []string{"1", "0"}, counts: []string{"16", "16"}, sum: "1", avg: "0.0313", avgDigits: 4},
		{name: "avg rounds half away from zero", col: sumCol("s", 0), sums: []string{"-1", "0"}, counts: []string{"16", "16"}, sum: "-1", avg: "-0.0313", avgDigits: 4},
		{name: "avg rounds down", col: sumCol("s", 0), sums: []string{"2", "0"}, counts: []string{"3", "0"}, sum: "2", avg: "0.6667", avgDigits: 4},
		{name: "avg of thirds", col: sumCol("s", 2), sums: []string{"10.00", "10.00"}, counts: []string{"2", "1"}, sum: "20.00", avg: "6.666667", avgDigits: 6},
		{name: "floats", col: floatCol("s"), sums: []string{"0.5", "0.25"}, counts: []string{"1", "2"}, sum: "0.75", avg: "0.25", avgDigits: 31},
	} {
		t.Run(c.name, func(t *testing.T) {
			fields := []*wire.Field{c.col, c.col, countCol("c")}
			f := newFixture(t, len(c.sums))
			for i := range c.sums {
				f.shards[i].always(result(fields, R(c.sums[i], c.sums[i], c.counts[i])))
			}
			// SELECT SUM(x), AVG(x) FROM t
			o := f.run(f.aggOf(1, nil, aggOne(AggSum, 0), aggAvg(1, -1)))
			o.wantRows(t, R(c.sum, c.avg))
			if len(o.fields) == 2 && o.fields[1].Decimals != c.avgDigits {
				t.Errorf("AVG has %d decimals, want %d", o.fields[1].Decimals, c.avgDigits)
			}
		})
	}
}

// TestAggregateDistinct: COUNT(DISTINCT x) and SUM(DISTINCT x) GROUP BY k:
// shards group by k and x, so a value on several shards arrives once per
// shard, adjacent after the merge, and counts once; NULL does not count.
func TestAggregateDistinct(t *testing.T) {
	// Shard columns: k, x (for COUNT), x (for SUM), x's weight, k's weight.
	fields := []*wire.Field{intCol("k"), intCol("COUNT(DISTINCT x)"), intCol("SUM(DISTINCT x)"), weightCol(), weightCol()}
	row := func(k, x string) []string { return R(k, x, x, NULL, NULL) }
	f := newFixture(t, 3)
	f.each(
		result(fields, row("1", NULL), row("1", "1"), row("1", "2"), row("2", "5")),
		result(fields, row("1", "2"), row("1", "3"), row("2", "5"), row("2", "6")),
		result(fields, row("1", "-1"), row("1", "1"), row("3", NULL)),
	)
	group := []SortKey{asc(0, -1)}
	sm := f.aggOf(2, group, aggAny(0),
		aggDistinct(AggCountDistinct, 1, 1, []int{1}, []int{-2}),
		aggDistinct(AggSumDistinct, 2, 1, []int{1}, []int{-2}))
	sm.MergeKeys = append(sm.MergeKeys, asc(1, -2)) // then by the DISTINCT argument
	o := f.run(sm)
	o.wantRows(t,
		R("1", "4", "5"),
		R("2", "2", "11"),
		R("3", "0", NULL),
	)
	if o.fields[1].Type != mysql.MYSQL_TYPE_LONGLONG || o.fields[2].Type != mysql.MYSQL_TYPE_NEWDECIMAL {
		t.Errorf("types %d, %d: want BIGINT and DECIMAL", o.fields[1].Type, o.fields[2].Type)
	}
}

// TestAggregateDistinctCollation: COUNT(DISTINCT name) counts values equal
// under utf8mb4_general_ci once ('Bob' = 'bob ', 'é' = 'E'); under a
// binary collation 'a' and 'A' are two.
func TestAggregateDistinctCollation(t *testing.T) {
	for _, c := range []struct {
		name   string
		col    *wire.Field
		shards [][][]string // rows: name, weight
		want   string
	}{
		{
			name: "general_ci", col: strCol("COUNT(DISTINCT name)"),
			shards: [][][]string{
				{R("Bob", NULL), R("é", NULL)},
				{R("bob ", NULL), R("E", NULL), R("x", NULL)},
			},
			want: "3",
		},
		{
			name: "utf8mb4_bin", col: binStrCol("COUNT(DISTINCT name)"),
			shards: [][][]string{
				{R("A", w("A")), R("B", w("B")), R("a", w("a"))},
				{R("A", w("A")), R("a", w("a")), R("b", w("b"))},
			},
			want: "4",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			fields := []*wire.Field{c.col, weightCol()}
			f := newFixture(t, len(c.shards))
			for i, rows := range c.shards {
				f.shards[i].always(result(fields, rows...))
			}
			// SELECT COUNT(DISTINCT name) FROM t: shards group by name.
			sm := f.aggOf(1, nil, aggDistinct(AggCountDistinct, 0, 1, []int{0}, []int{-1}))
			sm.MergeKeys = []SortKey{asc(0, -1)}
			f.run(sm).wantRows(t, R(c.want))
		})
	}
}

// TestAggregateMinMaxCollation: MIN and MAX of strings follow the
// collation: by the shard's weight for utf8mb4_bin, by the proxy's
// general_ci weights (case and accents ignored, first seen kept) otherwise.
func TestAggregateMinMaxCollation(t *testing.T) {
	for _, c := range []struct {
		name     string
		col      *wire.Field
		shards   [][]string // per shard: MIN, MAX, MIN's weight, MAX's weight
		min, max string
	}{
		{
			name: "general_ci", col: strCol("m"),
			shards: [][]string{R("b", "Y", NULL, NULL), R("A", "y ", NULL, NULL), R("a", "Ä", NULL, NULL)},
			min:    "A",
			max:    "Y",
		},
		{
			name: "utf8mb4_bin", col: binStrCol("m"),
			shards: [][]string{R("b", "Y", w("b"), w("Y")), R("B", "y", w("B"), w("y")), R("a", "A", w("a"), w("A"))},
			min:    "B",
			max:    "y",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			fields := []*wire.Field{c.col, c.col, weightCol(), weightCol()}
			f := newFixture(t, len(c.shards))
			for i, r := range c.shards {
				f.shards[i].always(result(fields, r))
			}
			// SELECT MIN(s), MAX(s) FROM t
			f.run(f.aggOf(2, nil, aggMinMax(AggMin, 0, -2), aggMinMax(AggMax, 1, -1))).wantRows(t, R(c.min, c.max))
		})
	}
}

// TestSelectDistinct: SELECT DISTINCT a, b over shards: every column is a
// group key; equal rows on several shards come out once.
func TestSelectDistinct(t *testing.T) {
	fields := []*wire.Field{strCol("a"), intCol("b"), weightCol(), weightCol()}
	f := newFixture(t, 2)
	f.each(
		result(fields, R("x", "1", NULL, NULL), R("X", "2", NULL, NULL), R("y", NULL, NULL, NULL)),
		result(fields, R("x ", "1", NULL, NULL), R("x", "3", NULL, NULL), R("Y", NULL, NULL, NULL), R("z", "0", NULL, NULL)),
	)
	sm := f.aggOf(2, []SortKey{asc(0, -2), asc(1, -1)}, aggAny(0), aggAny(1))
	f.run(sm).wantRows(t, R("x", "1"), R("X", "2"), R("x", "3"), R("y", NULL), R("z", "0"))
}

// TestAggregateTypes: aggregates over per-row values (the rows of a
// cross-shard join) take the types MySQL gives them: COUNT is BIGINT, SUM
// of integers DECIMAL, AVG of integers DECIMAL with 4 decimals.
func TestAggregateTypes(t *testing.T) {
	fields := []*wire.Field{intCol("COUNT(*)"), intCol("SUM(x)"), intCol("AVG(x)"), intCol("n")}
	f := newFixture(t, 2)
	f.each(result(fields, R("1", "5", "5", "1"), R("1", "-2", "-2", "1")), result(fields, R("1", "4", "4", "1")))
	o := f.run(f.aggOf(1, nil, aggOne(AggCount, 0), aggOne(AggSum, 1), aggAvg(2, -1)))
	o.wantRows(t, R("3", "7", "2.3333"))
	for i, want := range []struct {
		typ      byte
		decimals byte
	}{{mysql.MYSQL_TYPE_LONGLONG, 0}, {mysql.MYSQL_TYPE_NEWDECIMAL, 0}, {mysql.MYSQL_TYPE_NEWDECIMAL, 4}} {
		if ft := o.fields[i]; ft.Type != want.typ || ft.Decimals != want.decimals {
			t.Errorf("column %d: type %d with %d decimals, want %d with %d", i, ft.Type, ft.Decimals, want.typ, want.decimals)
		}
	}
}
