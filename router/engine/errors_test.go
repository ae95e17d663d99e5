package engine

import (
	"errors"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

// TestMidStreamErrors: a shard that fails after k rows (an ERR packet in
// place of a row, or the connection lost) fails the statement through
// every operator: no result is silently cut short. Every connection taken
// is given back (fixture.run checks), and the shards serve the next
// statement.
func TestMidStreamErrors(t *testing.T) {
	kf := []*wire.Field{intCol("k"), weightCol()}
	interrupted := wire.Errorf(mysql.ER_QUERY_INTERRUPTED, "Query execution was interrupted")
	merge := func(f *fixture) Primitive { return f.mergeOf("SELECT sorted", 1, asc(0, -1)) }
	for _, c := range []struct {
		name   string
		prim   func(f *fixture) Primitive
		shards []*canned
		code   uint16
		msg    string
	}{
		{
			name: "relay, second shard fails",
			prim: func(f *fixture) Primitive { return f.scatter("SELECT k") },
			shards: []*canned{
				result(kf, R("1", NULL), R("2", NULL)),
				result(kf, R("3", NULL), R("4", NULL)).failing(1, interrupted),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
		{
			name: "relay, first shard fails, second is read and discarded",
			prim: func(f *fixture) Primitive { return f.scatter("SELECT k") },
			shards: []*canned{
				result(kf, R("1", NULL), R("2", NULL)).failing(1, interrupted),
				result(kf, R("3", NULL), R("4", NULL)),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
		{
			name: "relay, connection lost",
			prim: func(f *fixture) Primitive { return f.scatter("SELECT k") },
			shards: []*canned{
				result(kf, R("1", NULL)),
				result(kf, R("3", NULL), R("4", NULL)).dropping(1),
			},
			code: mysql.ER_UNKNOWN_ERROR, msg: "unavailable",
		},
		{
			name: "merge sort",
			prim: merge,
			shards: []*canned{
				result(kf, R("1", NULL), R("3", NULL), R("5", NULL)),
				result(kf, R("2", NULL), R("4", NULL), R("6", NULL)).failing(2, interrupted),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
		{
			name: "merge sort, first row",
			prim: merge,
			shards: []*canned{
				result(kf, R("1", NULL)),
				result(kf, R("2", NULL)).failing(0, interrupted),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
		{
			name: "merge sort, connection lost",
			prim: merge,
			shards: []*canned{
				result(kf, R("1", NULL), R("3", NULL), R("5", NULL)).dropping(2),
				result(kf, R("2", NULL), R("4", NULL), R("6", NULL)),
			},
			code: mysql.ER_UNKNOWN_ERROR, msg: "unavailable",
		},
		{
			name: "merge sort, an error instead of a result",
			prim: merge,
			shards: []*canned{
				result(kf, R("1", NULL), R("3", NULL)),
				{err: wire.Errorf(mysql.ER_NO_SUCH_TABLE, "Table 'db.t' doesn't exist")},
			},
			code: mysql.ER_NO_SUCH_TABLE, msg: "doesn't exist",
		},
		{
			name: "LIMIT, before the cut",
			prim: func(f *fixture) Primitive {
				sm := f.mergeOf("SELECT sorted", 1, asc(0, -1))
				sm.Count = intLit(3)
				return sm
			},
			shards: []*canned{
				result(kf, R("1", NULL), R("3", NULL)).failing(1, interrupted),
				result(kf, R("2", NULL), R("4", NULL)),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
		{
			name: "aggregate",
			prim: func(f *fixture) Primitive {
				return f.aggOf(1, []SortKey{asc(0, -1)}, aggAny(0), aggOne(AggCount, 1))
			},
			shards: []*canned{
				result([]*wire.Field{intCol("k"), countCol("n"), weightCol()}, R("1", "2", NULL), R("2", "1", NULL)),
				result([]*wire.Field{intCol("k"), countCol("n"), weightCol()}, R("1", "5", NULL), R("2", "1", NULL)).failing(1, interrupted),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
		{
			name: "scalar aggregate",
			prim: func(f *fixture) Primitive { return f.aggOf(0, nil, aggOne(AggCount, 0)) },
			shards: []*canned{
				result([]*wire.Field{countCol("n")}, R("2")),
				result([]*wire.Field{countCol("n")}, R("5")).failing(0, interrupted),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
		{
			name: "UNION ALL",
			prim: func(f *fixture) Primitive {
				return &Union{DistinctUpTo: -1, Inputs: []UnionInput{f.scatter("SELECT k")}}
			},
			shards: []*canned{
				result(kf, R("1", NULL)),
				result(kf, R("2", NULL), R("3", NULL)).failing(1, interrupted),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
		{
			name: "UNION",
			prim: func(f *fixture) Primitive {
				return &Union{DistinctUpTo: 1, Hidden: 1, Inputs: []UnionInput{f.scatter("SELECT k")}}
			},
			shards: []*canned{
				result(kf, R("2", NULL), R("3", NULL)).failing(1, interrupted),
				result(kf, R("1", NULL)),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
		{
			name: "join, outer side",
			prim: func(f *fixture) Primitive { return f.joinOf(false) },
			shards: []*canned{
				nil, // set below: the outer query fails after a row
				result([]*wire.Field{strCol("name"), intCol("id"), weightCol()}),
			},
			code: mysql.ER_QUERY_INTERRUPTED, msg: "interrupted",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, len(c.shards))
			for i, r := range c.shards {
				f.shards[i].always(r)
			}
			if c.shards[0] == nil { // the join: outer query fails, inner answers nothing
				cf := []*wire.Field{strCol("name"), intCol("id"), weightCol()}
				pf := []*wire.Field{decCol("amount", 2), intCol("customer_id"), weightCol()}
				for _, s := range f.shards {
					s.setResponse(func(sql string) *canned {
						if sql == outerSQL {
							return result(cf, R("a", "1", NULL), R("b", "2", NULL)).failing(1, interrupted)
						}
						return result(pf)
					})
				}
			}
			p := c.prim(f)
			o := f.run(p)
			o.wantErr(t, c.code, c.msg)
			if o.ok != nil || o.eofs == 2 {
				t.Errorf("the client got a complete result (ok %v, %d EOFs) besides the error", o.ok, o.eofs)
			}
			// The shards serve the next statement, on the connections given back.
			for _, s := range f.shards {
				s.always(result(kf, R("9", NULL)))
			}
			f.run(f.scatter("SELECT k")).wantRows(t, repeatRow(R("9", NULL), len(f.shards))...)
		})
	}
}

func repeatRow(r []string, n int) [][]string {
	out := make([][]string, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// TestNoConnection: when a shard's connection cannot be had, the statement
// fails and the connections taken for the other shards go back.
func TestNoConnection(t *testing.T) {
	kf := []*wire.Field{intCol("k"), weightCol()}
	for _, c := range []struct {
		name string
		prim func(f *fixture) Primitive
	}{
		{"relay", func(f *fixture) Primitive { return f.scatter("SELECT k") }},
		{"merge", func(f *fixture) Primitive { return f.mergeOf("SELECT sorted", 1, asc(0, -1)) }},
		{"union", func(f *fixture) Primitive {
			return &Union{DistinctUpTo: -1, Inputs: []UnionInput{f.scatter("SELECT a"), f.scatter("SELECT b")}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 3)
			f.each(result(kf, R("1", NULL)), result(kf, R("2", NULL)), result(kf, R("3", NULL)))
			f.vc.connErr[f.ks.Shards[1]] = wire.Errorf(mysql.ER_CON_COUNT_ERROR, "no free backend connection")
			f.run(c.prim(f)).wantErr(t, mysql.ER_CON_COUNT_ERROR, "no free backend connection")
		})
	}
}

// TestMemoryLimit: a proxy-side sort past limits.max_memory_rows fails
// with the limit's error, and the shards' connections go back.
func TestMemoryLimit(t *testing.T) {
	kf := []*wire.Field{intCol("k"), weightCol()}
	f := newFixture(t, 2)
	f.each(result(kf, R("1", NULL), R("2", NULL), R("3", NULL)), result(kf, R("4", NULL), R("5", NULL)))
	u := &Union{DistinctUpTo: 1, Hidden: 1, MaxRows: 4, Inputs: []UnionInput{f.scatter("SELECT k")}}
	o := f.run(u)
	o.wantErr(t, mysql.ER_OUT_OF_RESOURCES, "max_memory_rows")
	if LimitOf(o.err) != "max_memory_rows" {
		t.Errorf("limit %q, want max_memory_rows", LimitOf(o.err))
	}
	u.MaxRows = 5
	f.run(u).wantRows(t, R("1"), R("2"), R("3"), R("4"), R("5"))
}

// TestClientGone: when the client cannot be written to, relaying stops
// with the client's error, and the shard connections whose results were
// left unread are given back broken (never pooled half-read).
func TestClientGone(t *testing.T) {
	kf := []*wire.Field{intCol("k"), weightCol()}
	f := newFixture(t, 2)
	f.each(result(kf, R("1", NULL), R("2", NULL)), result(kf, R("3", NULL)))
	f.vc.writeFails = 3 // the column count and one definition go out
	o := f.run(f.scatter("SELECT k"))
	var ce ClientError
	if !errors.As(o.err, &ce) {
		t.Fatalf("error %v, want the client's", o.err)
	}
	f.vc.writeFails = 0
	f.run(f.scatter("SELECT k")).wantRows(t, R("1", NULL), R("2", NULL), R("3", NULL))
	f.shards[0].mu.Lock()
	n := len(f.shards[0].conns)
	f.shards[0].mu.Unlock()
	if n != 2 {
		t.Errorf("shard 0 was dialed %d times, want 2 (the half-read connection dropped)", n)
	}
}
