package engine

import (
	"strings"
	"testing"

	"github.com/shardgate/shardgate/wire"
)

// mergeOf is the SelectMerge the planner makes for a scatter SELECT with
// ORDER BY (planOrderLimit): the shards run shardSQL, which appends hidden
// columns (a weight per key, counted from the end), and the proxy merges
// their sorted streams.
func (f *fixture) mergeOf(shardSQL string, hidden int, keys ...SortKey) *SelectMerge {
	return &SelectMerge{Route: f.scatter("SELECT client text"), Shard: tmpl(shardSQL), Hidden: hidden, MergeKeys: keys, Tag: NoCol}
}

func asc(col, weight int) SortKey  { return SortKey{Col: col, Weight: weight} }
func desc(col, weight int) SortKey { return SortKey{Col: col, Weight: weight, Desc: true} }

// w is a utf8mb4_bin weight as WEIGHT_STRING gives it: three bytes a
// character.
func w(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteByte(byte(r >> 16))
		b.WriteByte(byte(r >> 8))
		b.WriteByte(byte(r))
	}
	return b.String()
}

// TestMergeSort: the merge of the shards' sorted streams orders values
// with MySQL's rules for their type (numbers by value, NULL first in
// ascending and last in descending order, collated strings by their
// collation), keeps ties in shard order and drops the hidden columns.
func TestMergeSort(t *testing.T) {
	kw := []*wire.Field{intCol("k"), weightCol()} // SELECT k ... ORDER BY k: one hidden weight (NULL for numbers)
	dw := []*wire.Field{decCol("d", 2), weightCol()}
	fw := []*wire.Field{floatCol("f"), weightCol()}
	// SELECT name, id ... ORDER BY name, id: the weights of both keys.
	sw := []*wire.Field{strCol("name"), intCol("id"), weightCol(), weightCol()}
	for _, c := range []struct {
		name   string
		fields []*wire.Field
		hidden int
		keys   []SortKey
		shards [][][]string
		want   [][]string
	}{
		{
			name: "ints with negatives", fields: kw, hidden: 1, keys: []SortKey{asc(0, -1)},
			shards: [][][]string{
				{R("-5", NULL), R("3", NULL), R("10", NULL)},
				{R("-12", NULL), R("7", NULL)},
				{R("0", NULL), R("100", NULL)},
			},
			want: [][]string{R("-12"), R("-5"), R("0"), R("3"), R("7"), R("10"), R("100")},
		},
		{
			name: "ints descending", fields: kw, hidden: 1, keys: []SortKey{desc(0, -1)},
			shards: [][][]string{
				{R("10", NULL), R("3", NULL), R("-5", NULL)},
				{R("7", NULL), R("-12", NULL)},
				{R("100", NULL), R("9", NULL), R("-100", NULL)},
			},
			want: [][]string{R("100"), R("10"), R("9"), R("7"), R("3"), R("-5"), R("-12"), R("-100")},
		},
		{
			name: "decimals", fields: dw, hidden: 1, keys: []SortKey{asc(0, -1)},
			shards: [][][]string{
				{R("-12.50", NULL), R("-3", NULL), R("3", NULL), R("10.05", NULL)},
				{R("-12.6", NULL), R("-3.25", NULL), R("2.99", NULL), R("9.99", NULL)},
			},
			want: [][]string{R("-12.6"), R("-12.50"), R("-3.25"), R("-3"), R("2.99"), R("3"), R("9.99"), R("10.05")},
		},
		{
			name: "floats", fields: fw, hidden: 1, keys: []SortKey{asc(0, -1)},
			shards: [][][]string{
				{R("-1.5", NULL), R("2.5e-5", NULL), R("99.9", NULL), R("1e20", NULL)},
				{R("-1e3", NULL), R("0", NULL), R("100", NULL)},
			},
			want: [][]string{R("-1e3"), R("-1.5"), R("0"), R("2.5e-5"), R("99.9"), R("100"), R("1e20")},
		},
		{
			name: "NULLs first ascending", fields: sw, hidden: 2, keys: []SortKey{asc(1, -1)},
			shards: [][][]string{
				{R("a", NULL, NULL, NULL), R("b", "1", NULL, NULL), R("c", "5", NULL, NULL)},
				{R("d", NULL, NULL, NULL), R("e", "-2", NULL, NULL)},
			},
			want: [][]string{R("a", NULL), R("d", NULL), R("e", "-2"), R("b", "1"), R("c", "5")},
		},
		{
			name: "NULLs last descending", fields: sw, hidden: 2, keys: []SortKey{desc(1, -1)},
			shards: [][][]string{
				{R("c", "5", NULL, NULL), R("b", "1", NULL, NULL), R("a", NULL, NULL, NULL)},
				{R("e", "-2", NULL, NULL), R("d", NULL, NULL, NULL)},
			},
			want: [][]string{R("c", "5"), R("b", "1"), R("e", "-2"), R("a", NULL), R("d", NULL)},
		},
		{
			// utf8mb4_general_ci: the shards send no weight (NULL), the
			// proxy weighs: case and accents do not count, trailing spaces
			// do not count (PAD SPACE), so ties fall to the second key.
			name: "general_ci strings", fields: sw, hidden: 2, keys: []SortKey{asc(0, -2), asc(1, -1)},
			shards: [][][]string{
				{R("apple", "1", NULL, NULL), R("Bob ", "4", NULL, NULL), R("élan", "5", NULL, NULL)},
				{R("bob", "2", NULL, NULL), R("Elan", "3", NULL, NULL), R("zed", "6", NULL, NULL)},
			},
			want: [][]string{R("apple", "1"), R("bob", "2"), R("Bob ", "4"), R("Elan", "3"), R("élan", "5"), R("zed", "6")},
		},
		{
			name: "general_ci strings descending", fields: sw, hidden: 2, keys: []SortKey{desc(0, -2), asc(1, -1)},
			shards: [][][]string{
				{R("Zed", "1", NULL, NULL), R("É", "4", NULL, NULL), R("a", "2", NULL, NULL)},
				{R("e ", "3", NULL, NULL), R("B", "5", NULL, NULL), R("A", "6", NULL, NULL)},
			},
			want: [][]string{R("Zed", "1"), R("e ", "3"), R("É", "4"), R("B", "5"), R("a", "2"), R("A", "6")},
		},
		{
			// utf8mb4_bin: the shards send WEIGHT_STRING, the proxy
			// compares it: upper case first, case counts.
			name: "utf8mb4_bin strings", fields: []*wire.Field{binStrCol("s"), weightCol()}, hidden: 1, keys: []SortKey{asc(0, -1)},
			shards: [][][]string{
				{R("A", w("A")), R("a", w("a"))},
				{R("B", w("B")), R("b", w("b"))},
			},
			want: [][]string{R("A"), R("B"), R("a"), R("b")},
		},
		{
			name: "varbinary", fields: []*wire.Field{varbinCol("s"), weightCol()}, hidden: 1, keys: []SortKey{asc(0, -1)},
			shards: [][][]string{
				{R("A", NULL), R("b", NULL), R("b\x00", NULL)},
				{R("B", NULL), R("a", NULL), R("b ", NULL)},
			},
			want: [][]string{R("A"), R("B"), R("a"), R("b"), R("b\x00"), R("b ")},
		},
		{
			name: "one shard empty", fields: kw, hidden: 1, keys: []SortKey{asc(0, -1)},
			shards: [][][]string{
				{R("2", NULL), R("4", NULL)},
				{},
				{R("1", NULL), R("3", NULL)},
			},
			want: [][]string{R("1"), R("2"), R("3"), R("4")},
		},
		{
			name: "all shards empty", fields: kw, hidden: 1, keys: []SortKey{asc(0, -1)},
			shards: [][][]string{{}, {}, {}, {}},
			want:   nil,
		},
		{
			// ORDER BY a DESC, b over four shards; equal rows keep shard order.
			name: "two keys over four shards", fields: []*wire.Field{intCol("a"), strCol("b"), intCol("shard"), weightCol(), weightCol()}, hidden: 2,
			keys: []SortKey{desc(0, -2), asc(1, -1)},
			shards: [][][]string{
				{R("2", "x", "0", NULL, NULL), R("1", "y", "0", NULL, NULL)},
				{R("2", "X", "1", NULL, NULL), R("1", "a", "1", NULL, NULL)},
				{R("3", "m", "2", NULL, NULL), R("1", "Y", "2", NULL, NULL)},
				{R("2", "w", "3", NULL, NULL)},
			},
			want: [][]string{
				R("3", "m", "2"), R("2", "w", "3"), R("2", "x", "0"), R("2", "X", "1"),
				R("1", "a", "1"), R("1", "y", "0"), R("1", "Y", "2"),
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, len(c.shards))
			for i, rows := range c.shards {
				f.shards[i].always(result(c.fields, rows...))
			}
			o := f.run(f.mergeOf("SELECT sorted", c.hidden, c.keys...))
			o.wantRows(t, c.want...)
			if len(o.fields) != len(c.fields)-c.hidden {
				t.Errorf("%d columns, want %d (hidden ones trimmed)", len(o.fields), len(c.fields)-c.hidden)
			}
			for _, s := range f.shards {
				if q := s.queries(); len(q) != 1 || q[0] != "SELECT sorted" {
					t.Errorf("shard %s ran %q, want the merge query", s.name, q)
				}
			}
		})
	}
}
