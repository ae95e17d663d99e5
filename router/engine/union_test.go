package engine

import (
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

// bySQL answers each statement with the response for its text.
func bySQL(m map[string]*canned) func(string) *canned {
	return func(sql string) *canned { return m[sql] }
}

// gw is WEIGHT_STRING(RTRIM(s)) under utf8mb4_general_ci for the tests'
// strings: two bytes a character, case and the accents used here folded.
func gw(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimRight(s, " ") {
		switch r {
		case 'é', 'É', 'è':
			r = 'E'
		case 'ä', 'Ä':
			r = 'A'
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		b.WriteByte(byte(r >> 8))
		b.WriteByte(byte(r))
	}
	return b.String()
}

// unionPart is one SELECT of a union: a scatter Route and what each shard
// answers to it.
type unionPart struct {
	sql    string
	fields []*wire.Field
	shards [][][]string
}

// union sets the shards' answers to the parts and returns the Union of
// their Routes.
func (f *fixture) union(distinctUpTo, hidden int, parts ...unionPart) *Union {
	u := &Union{DistinctUpTo: distinctUpTo, Hidden: hidden}
	for i := range f.shards {
		m := map[string]*canned{}
		for _, p := range parts {
			m[p.sql] = result(p.fields, p.shards[i]...)
		}
		f.shards[i].setResponse(bySQL(m))
	}
	for _, p := range parts {
		u.Inputs = append(u.Inputs, f.scatter(p.sql))
	}
	return u
}

// TestUnion: UNION ALL keeps every row in input order; UNION deduplicates
// across parts and shards by the collation's weights (the hidden
// WEIGHT_STRING columns); a UNION DISTINCT to the right of a UNION ALL
// deduplicates both, a UNION ALL to the right of a UNION does not.
func TestUnion(t *testing.T) {
	name := []*wire.Field{strCol("name"), weightCol()}
	bin := []*wire.Field{binStrCol("name"), weightCol()}
	plain := []*wire.Field{strCol("name")}
	nr := func(s string) []string { return R(s, gw(s)) }
	for _, c := range []struct {
		name         string
		distinctUpTo int
		hidden       int
		parts        []unionPart
		want         [][]string
	}{
		{
			name: "UNION ALL", distinctUpTo: -1,
			parts: []unionPart{
				{"SELECT a", plain, [][][]string{{R("x"), R("y")}, {R("x")}}},
				{"SELECT b", plain, [][][]string{{R("x")}, {R(NULL), R("z")}}},
			},
			want: [][]string{R("x"), R("y"), R("x"), R("x"), R(NULL), R("z")},
		},
		{
			name: "UNION general_ci", distinctUpTo: 2, hidden: 1,
			parts: []unionPart{
				{"SELECT a", name, [][][]string{{nr("Bob"), nr("é")}, {nr("x"), nr("Bob")}}},
				{"SELECT b", name, [][][]string{{nr("bob ")}, {nr("E"), nr("y"), nr("X")}}},
			},
			want: [][]string{R("Bob"), R("é"), R("x"), R("y")},
		},
		{
			name: "UNION utf8mb4_bin", distinctUpTo: 2, hidden: 1,
			parts: []unionPart{
				{"SELECT a", bin, [][][]string{{R("a", w("a")), R("A", w("A"))}, {R("b", w("b"))}}},
				{"SELECT b", bin, [][][]string{{R("A", w("A"))}, {R("B", w("B")), R("a", w("a"))}}},
			},
			want: [][]string{R("A"), R("B"), R("a"), R("b")},
		},
		{
			name: "UNION of NULLs", distinctUpTo: 2, hidden: 1,
			parts: []unionPart{
				{"SELECT a", name, [][][]string{{R(NULL, NULL)}, {nr("a")}}},
				{"SELECT b", name, [][][]string{{R(NULL, NULL)}, {R(NULL, NULL)}}},
			},
			want: [][]string{R(NULL), R("a")},
		},
		{
			// a UNION ALL b UNION c: the DISTINCT covers all three.
			name: "UNION ALL then UNION", distinctUpTo: 3, hidden: 1,
			parts: []unionPart{
				{"SELECT a", name, [][][]string{{nr("p")}, {nr("p")}}},
				{"SELECT b", name, [][][]string{{nr("P")}, {}}},
				{"SELECT c", name, [][][]string{{}, {nr("q"), nr("p ")}}},
			},
			want: [][]string{R("p"), R("q")},
		},
		{
			// a UNION b UNION ALL c: c's rows follow, duplicates and all.
			name: "UNION then UNION ALL", distinctUpTo: 2, hidden: 1,
			parts: []unionPart{
				{"SELECT a", name, [][][]string{{nr("p")}, {nr("p")}}},
				{"SELECT b", name, [][][]string{{nr("P")}, {nr("o")}}},
				{"SELECT c", name, [][][]string{{nr("p")}, {nr("p"), nr("o")}}},
			},
			want: [][]string{R("o"), R("p"), R("p"), R("p"), R("o")},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 2)
			o := f.run(f.union(c.distinctUpTo, c.hidden, c.parts...))
			o.wantRows(t, c.want...)
			o.wantColumns(t, "name")
		})
	}
}

// TestUnionOrderLimit: ORDER BY and LIMIT on a union sort at the proxy,
// numbers by value.
func TestUnionOrderLimit(t *testing.T) {
	f := newFixture(t, 2)
	k := []*wire.Field{intCol("k"), weightCol()}
	r := func(v string) []string { return R(v, gw(v)) }
	u := f.union(2, 1,
		unionPart{"SELECT a", k, [][][]string{{r("10"), r("-3")}, {r("2")}}},
		unionPart{"SELECT b", k, [][][]string{{r("9"), r("2")}, {r("-20"), r("100")}}},
	)
	u.Order = []SortKey{desc(0, NoCol)}
	u.Count, u.Offset = intLit(3), intLit(1)
	f.run(u).wantRows(t, R("10"), R("9"), R("2"))
}

// TestUnionTypes: the union's column types are the parts' aggregated as
// MySQL does: the wider integer, a signed type wide enough for an
// unsigned one, DECIMAL with the larger scale (values padded to it), a
// string for a string and a number. Equal values of different types
// deduplicate.
func TestUnionTypes(t *testing.T) {
	for _, c := range []struct {
		name     string
		a, b     *wire.Field
		av, bv   string
		distinct bool
		typ      byte
		unsigned bool
		decimals byte
		want     [][]string
	}{
		{name: "TINYINT and INT", a: typedIntCol("k", mysql.MYSQL_TYPE_TINY, false), b: intCol("k"), av: "-5", bv: "70000", typ: mysql.MYSQL_TYPE_LONG, want: [][]string{R("-5"), R("70000")}},
		{name: "INT and BIGINT", a: intCol("k"), b: bigintCol("k"), av: "1", bv: "9223372036854775807", typ: mysql.MYSQL_TYPE_LONGLONG, want: [][]string{R("1"), R("9223372036854775807")}},
		{name: "TINYINT UNSIGNED and SMALLINT", a: typedIntCol("k", mysql.MYSQL_TYPE_TINY, true), b: typedIntCol("k", mysql.MYSQL_TYPE_SHORT, false), av: "255", bv: "-1", typ: mysql.MYSQL_TYPE_SHORT, want: [][]string{R("255"), R("-1")}},
		{name: "SMALLINT UNSIGNED and TINYINT", a: typedIntCol("k", mysql.MYSQL_TYPE_SHORT, true), b: typedIntCol("k", mysql.MYSQL_TYPE_TINY, false), av: "65535", bv: "-1", typ: mysql.MYSQL_TYPE_INT24, want: [][]string{R("65535"), R("-1")}},
		{name: "BIGINT UNSIGNED and BIGINT", a: typedIntCol("k", mysql.MYSQL_TYPE_LONGLONG, true), b: bigintCol("k"), av: "18446744073709551615", bv: "-1", typ: mysql.MYSQL_TYPE_NEWDECIMAL, want: [][]string{R("18446744073709551615"), R("-1")}},
		{name: "INT UNSIGNED and INT", a: typedIntCol("k", mysql.MYSQL_TYPE_LONG, true), b: intCol("k"), av: "4294967295", bv: "-1", typ: mysql.MYSQL_TYPE_LONGLONG, want: [][]string{R("4294967295"), R("-1")}},
		{name: "INT and DECIMAL", a: intCol("k"), b: decCol("k", 2), av: "1", bv: "2.50", typ: mysql.MYSQL_TYPE_NEWDECIMAL, decimals: 2, want: [][]string{R("1.00"), R("2.50")}},
		{name: "DECIMAL scales", a: decCol("k", 1), b: decCol("k", 3), av: "-1.5", bv: "0.125", typ: mysql.MYSQL_TYPE_NEWDECIMAL, decimals: 3, want: [][]string{R("-1.500"), R("0.125")}},
		{name: "INT and DECIMAL equal, deduplicated", a: intCol("k"), b: decCol("k", 2), av: "7", bv: "7.00", distinct: true, typ: mysql.MYSQL_TYPE_NEWDECIMAL, decimals: 2, want: [][]string{R("7.00")}},
		{name: "INT and DOUBLE", a: intCol("k"), b: floatCol("k"), av: "3", bv: "0.5", typ: mysql.MYSQL_TYPE_DOUBLE, want: [][]string{R("3"), R("0.5")}},
		{name: "INT and VARCHAR", a: intCol("k"), b: strCol("k"), av: "3", bv: "x", typ: mysql.MYSQL_TYPE_VAR_STRING, want: [][]string{R("3"), R("x")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 2)
			dist, hidden := -1, 0
			af, bf := []*wire.Field{c.a}, []*wire.Field{c.b}
			ar, br := R(c.av), R(c.bv)
			if c.distinct {
				dist, hidden = 2, 1
				af, bf = append(af, weightCol()), append(bf, weightCol())
				ar, br = append(ar, gw(c.av)), append(br, gw(c.bv))
			}
			// Each part has its row on its own shard.
			u := f.union(dist, hidden,
				unionPart{"SELECT a", af, [][][]string{{ar}, {}}},
				unionPart{"SELECT b", bf, [][][]string{{}, {br}}},
			)
			o := f.run(u)
			o.wantRows(t, c.want...)
			if len(o.fields) != 1 {
				t.Fatalf("%d columns", len(o.fields))
			}
			ft := o.fields[0]
			if ft.Type != c.typ || (ft.Flags&mysql.UNSIGNED_FLAG != 0) != c.unsigned || ft.Decimals != c.decimals && c.decimals != 0 {
				t.Errorf("type %d unsigned=%v decimals %d, want %d unsigned=%v decimals %d", ft.Type, ft.Flags&mysql.UNSIGNED_FLAG != 0, ft.Decimals, c.typ, c.unsigned, c.decimals)
			}
		})
	}
}

// TestUnionColumnCount: parts of different widths are refused (1222), and
// every connection taken goes back.
func TestUnionColumnCount(t *testing.T) {
	f := newFixture(t, 2)
	u := f.union(-1, 0,
		unionPart{"SELECT a", []*wire.Field{intCol("a")}, [][][]string{{R("1")}, {R("2")}}},
		unionPart{"SELECT b, c", []*wire.Field{intCol("b"), intCol("c")}, [][][]string{{R("1", "2")}, {}}},
	)
	f.run(u).wantErr(t, 1222, "different number of columns")
}

// TestUnionWithoutWeights: parts that select * carry no hidden weights
// (Hidden 0): UNION deduplicates general_ci strings by the proxy's own
// weights, and a union ORDER BY sorts them so.
func TestUnionWithoutWeights(t *testing.T) {
	f := newFixture(t, 2)
	plain := []*wire.Field{strCol("name")}
	u := f.union(2, 0,
		unionPart{"SELECT * FROM a", plain, [][][]string{{R("Bob"), R("zed")}, {R("é")}}},
		unionPart{"SELECT * FROM b", plain, [][][]string{{R("bob ")}, {R("E"), R("apple")}}},
	)
	f.run(u).wantRows(t, R("apple"), R("Bob"), R("é"), R("zed"))

	u = f.union(-1, 0,
		unionPart{"SELECT * FROM a", plain, [][][]string{{R("b"), R("C")}, {R("a")}}},
		unionPart{"SELECT * FROM b", plain, [][][]string{{R("B")}, {R("c ")}}},
	)
	u.Order = []SortKey{desc(0, NoCol)}
	f.run(u).wantRows(t, R("C"), R("c "), R("b"), R("B"), R("a"))
}
