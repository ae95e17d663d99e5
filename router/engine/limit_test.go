package engine

import (
	"fmt"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// TestMergeLimit: a scatter ORDER BY ... LIMIT is cut after the merge, and
// each shard is asked for offset+count rows (planLimit pushes it).
func TestMergeLimit(t *testing.T) {
	fields := []*wire.Field{intCol("k"), weightCol()}
	shards := [][][]string{
		{R("1", NULL), R("4", NULL), R("7", NULL)},
		{R("2", NULL), R("5", NULL)},
		{R("3", NULL), R("6", NULL)},
	}
	for _, c := range []struct {
		name          string
		count, offset *ValueRef
		binds         []sqlval.Value
		noKeys        bool
		want          [][]string
		pushed        string // the LIMIT the shards received
	}{
		{name: "limit across shards", count: intLit(3), want: [][]string{R("1"), R("2"), R("3")}, pushed: "3"},
		{name: "offset and count", count: intLit(3), offset: intLit(2), want: [][]string{R("3"), R("4"), R("5")}, pushed: "5"},
		{name: "count past the end", count: intLit(10), offset: intLit(5), want: [][]string{R("6"), R("7")}, pushed: "15"},
		{name: "offset past the end", count: intLit(10), offset: intLit(7), want: nil, pushed: "17"},
		{name: "offset at the end", count: intLit(1), offset: intLit(7), want: nil, pushed: "8"},
		{name: "count 0", count: intLit(0), want: nil, pushed: "0"},
		{name: "count 0 with offset", count: intLit(0), offset: intLit(2), want: nil, pushed: "2"},
		{
			name:  "bound values",
			count: &ValueRef{Bind: 1}, offset: &ValueRef{Bind: 0},
			binds: []sqlval.Value{{Kind: sqlval.Int, Raw: "1"}, {Kind: sqlval.Int, Raw: "2"}},
			want:  [][]string{R("2"), R("3")}, pushed: "3",
		},
		{
			// No ORDER BY: shards' rows one shard after the other.
			name: "without ORDER BY", count: intLit(4), noKeys: true,
			want: [][]string{R("1"), R("4"), R("7"), R("2")}, pushed: "4",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 3)
			for i, rows := range shards {
				f.shards[i].always(result(fields, rows...))
			}
			sm := f.mergeOf("SELECT k FROM t ORDER BY k LIMIT '__sg_limit__'", 1, asc(0, -1))
			if c.noKeys {
				sm.MergeKeys = nil
			}
			sm.Count, sm.Offset = c.count, c.offset
			f.vc.binds = c.binds
			o := f.run(sm)
			o.wantRows(t, c.want...)
			for _, s := range f.shards {
				want := fmt.Sprintf("SELECT k FROM t ORDER BY k LIMIT %s", c.pushed)
				if q := s.queries(); len(q) != 1 || q[0] != want {
					t.Errorf("shard %s ran %q, want %q", s.name, q, want)
				}
			}
		})
	}
}

// TestMergeLimitBadValue: a LIMIT whose bound value is not a number fails
// before any shard is asked.
func TestMergeLimitBadValue(t *testing.T) {
	f := newFixture(t, 2)
	f.each(result([]*wire.Field{intCol("k"), weightCol()}), result([]*wire.Field{intCol("k"), weightCol()}))
	sm := f.mergeOf("SELECT k FROM t ORDER BY k LIMIT '__sg_limit__'", 1, asc(0, -1))
	sm.Count = &ValueRef{Bind: 0}
	f.vc.binds = []sqlval.Value{{Kind: sqlval.String, Raw: "ten"}}
	o := f.run(sm)
	o.wantErr(t, mysql.ER_WRONG_ARGUMENTS, "Incorrect arguments to LIMIT")
	for _, s := range f.shards {
		if q := s.queries(); len(q) != 0 {
			t.Errorf("shard %s ran %q", s.name, q)
		}
	}
}

// TestMergeLimitCutsBeforeFailure: rows past the LIMIT are not read, so a
// shard that would fail after them does not fail the statement, and its
// connection (drained to the error) goes back.
func TestMergeLimitCutsBeforeFailure(t *testing.T) {
	f := newFixture(t, 2)
	fields := []*wire.Field{intCol("k"), weightCol()}
	f.each(
		result(fields, R("1", NULL), R("3", NULL), R("5", NULL)).failing(3, wire.Errorf(1317, "Query execution was interrupted")),
		result(fields, R("2", NULL), R("4", NULL)),
	)
	sm := f.mergeOf("SELECT k FROM t ORDER BY k LIMIT '__sg_limit__'", 1, asc(0, -1))
	sm.Count = intLit(2)
	f.run(sm).wantRows(t, R("1"), R("2"))
	// The next statement reuses the drained connections.
	f.each(result(fields, R("9", NULL)), result(fields, R("8", NULL)))
	f.run(sm).wantRows(t, R("8"), R("9"))
}
