package engine

import (
	"testing"

	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// HAVING expressions as compileHaving builds them.

func hCol(col int) *HavingExpr { return &HavingExpr{Col: col} }
func hInt(n int) *HavingExpr   { return &HavingExpr{Val: intLit(n), Col: NoCol} }
func hStr(s string) *HavingExpr {
	return &HavingExpr{Val: lit(sqlval.String, s), Col: NoCol}
}
func hNull() *HavingExpr { return &HavingExpr{Val: lit(sqlval.Null, ""), Col: NoCol} }
func hOp(op opcode.Op, a, b *HavingExpr) *HavingExpr {
	return &HavingExpr{Op: op, Args: []*HavingExpr{a, b}, Col: NoCol}
}
func hNot(a *HavingExpr) *HavingExpr {
	return &HavingExpr{Op: opcode.Not, Args: []*HavingExpr{a}, Col: NoCol}
}
func hIsNull(a *HavingExpr, not bool) *HavingExpr {
	return &HavingExpr{Args: []*HavingExpr{a}, Col: NoCol, IsNull: !not, NotNull: not}
}

// TestHaving: SELECT k, SUM(x), MAX(s) FROM t GROUP BY k HAVING ..., with a
// hidden COUNT(*) (a HAVING aggregate not selected). The groups, combined
// over two shards:
//
//	k=1: SUM 10.00, MAX 'Bob', COUNT 3
//	k=2: SUM NULL,  MAX NULL,  COUNT 1
//	k=3: SUM 3.50,  MAX 'al',  COUNT 2
//	k=4: SUM 0.00,  MAX 'zed', COUNT 2
//
// A condition that is NULL drops the group, as FALSE does (three-valued
// logic: NOT NULL is NULL, NULL OR TRUE is TRUE, NULL AND FALSE is FALSE).
func TestHaving(t *testing.T) {
	// Shard columns: k, SUM(x), MAX(s), then hidden: MAX's weight, k's
	// weight, COUNT(*).
	fields := []*wire.Field{intCol("k"), sumCol("SUM(x)", 2), strCol("MAX(s)"), weightCol(), weightCol(), countCol("c")}
	sum, max, count := hCol(1), hCol(2), hCol(-1)
	for _, c := range []struct {
		name   string
		having *HavingExpr
		want   []string // the k of the groups kept
	}{
		{"SUM(x) > 5", hOp(opcode.GT, sum, hInt(5)), []string{"1"}},
		{"SUM(x) <= 5", hOp(opcode.LE, sum, hInt(5)), []string{"3", "4"}},
		{"SUM(x) <> 10", hOp(opcode.NE, sum, hInt(10)), []string{"3", "4"}},
		{"SUM(x) = 10 (10.00 = 10)", hOp(opcode.EQ, sum, hInt(10)), []string{"1"}},
		{"NOT SUM(x) > 5", hNot(hOp(opcode.GT, sum, hInt(5))), []string{"3", "4"}},
		{"SUM(x) > 5 OR k = 2", hOp(opcode.LogicOr, hOp(opcode.GT, sum, hInt(5)), hOp(opcode.EQ, hCol(0), hInt(2))), []string{"1", "2"}},
		{"SUM(x) > 5 AND k = 2", hOp(opcode.LogicAnd, hOp(opcode.GT, sum, hInt(5)), hOp(opcode.EQ, hCol(0), hInt(2))), nil},
		{"NOT (SUM(x) > 5 AND k = 1)", hNot(hOp(opcode.LogicAnd, hOp(opcode.GT, sum, hInt(5)), hOp(opcode.EQ, hCol(0), hInt(1)))), []string{"2", "3", "4"}},
		{"NOT (SUM(x) > 5 OR k = 3)", hNot(hOp(opcode.LogicOr, hOp(opcode.GT, sum, hInt(5)), hOp(opcode.EQ, hCol(0), hInt(3)))), []string{"4"}},
		{"SUM(x) IS NULL", hIsNull(sum, false), []string{"2"}},
		{"SUM(x) IS NOT NULL", hIsNull(sum, true), []string{"1", "3", "4"}},
		{"SUM(x) = NULL", hOp(opcode.EQ, sum, hNull()), nil},
		{"SUM(x) (non-zero)", sum, []string{"1", "3"}},
		{"COUNT(*) >= 2 (hidden)", hOp(opcode.GE, count, hInt(2)), []string{"1", "3", "4"}},
		{"MAX(s) = 'bob ' (general_ci)", hOp(opcode.EQ, max, hStr("bob ")), []string{"1"}},
		{"MAX(s) < 'B'", hOp(opcode.LT, max, hStr("B")), []string{"3"}},
		{"COUNT(*) > SUM(x)", hOp(opcode.GT, count, sum), []string{"4"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 2)
			f.each(
				result(fields, R("1", "4.00", "Bob", NULL, NULL, "2"), R("2", NULL, NULL, NULL, NULL, "1"), R("4", "0.00", "zed", NULL, NULL, "2")),
				result(fields, R("1", "6.00", "al", NULL, NULL, "1"), R("3", "3.50", "al", NULL, NULL, "2")),
			)
			sm := f.aggOf(3, []SortKey{asc(0, -2)}, aggAny(0), aggOne(AggSum, 1), aggMinMax(AggMax, 2, -3), aggOne(AggCount, -1))
			sm.Having = c.having
			o := f.run(sm)
			var want [][]string
			rows := map[string][]string{
				"1": R("1", "10.00", "Bob"), "2": R("2", NULL, NULL),
				"3": R("3", "3.50", "al"), "4": R("4", "0.00", "zed"),
			}
			for _, k := range c.want {
				want = append(want, rows[k])
			}
			o.wantRows(t, want...)
		})
	}
}

// TestHavingOverConditions: IS [NOT] NULL and comparisons whose operand is
// itself a condition, which compileHaving accepts: `HAVING (SUM(x) > 5) IS
// NOT NULL`, `HAVING (SUM(x) > 5) = 0`.
func TestHavingOverConditions(t *testing.T) {
	fields := []*wire.Field{intCol("k"), sumCol("SUM(x)", 2), weightCol()}
	sum := hCol(1)
	for _, c := range []struct {
		name   string
		having *HavingExpr
		want   [][]string
	}{
		{"(SUM(x) > 5) IS NOT NULL", hIsNull(hOp(opcode.GT, sum, hInt(5)), true), [][]string{R("1", "10.00"), R("3", "3.50")}},
		{"(SUM(x) > 5) IS NULL", hIsNull(hOp(opcode.GT, sum, hInt(5)), false), [][]string{R("2", NULL)}},
		{"(SUM(x) > 5) = 0", hOp(opcode.EQ, hOp(opcode.GT, sum, hInt(5)), hInt(0)), [][]string{R("3", "3.50")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 2)
			f.each(result(fields, R("1", "10.00", NULL), R("2", NULL, NULL), R("3", "3.50", NULL)), result(fields))
			sm := f.aggOf(1, []SortKey{asc(0, -1)}, aggAny(0), aggOne(AggSum, 1))
			sm.Having = c.having
			f.run(sm).wantRows(t, c.want...)
		})
	}
}
