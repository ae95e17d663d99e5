package engine

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

const (
	outerSQL = "SELECT c.name, c.id, w FROM customer c"
	innerSQL = "SELECT p.amount, p.customer_id, w FROM payment p WHERE p.customer_id IN ('__sg_list__')"
)

// joinOf is the plan of `SELECT c.name, p.amount FROM customer c [LEFT]
// JOIN payment p ON p.customer_id = c.id` as plan_join.go makes it: each
// leaf selects its item, the key and the key's weight; the inner leaf is
// queried with each batch's keys in an IN list on every shard.
func (f *fixture) joinOf(left bool) *JoinSelect {
	jn := &Join{
		Outer: f.scatter(outerSQL), Inner: f.scatter(innerSQL), Left: left,
		OuterKey: JoinRef{Leaf: 0, Col: 1}, OuterWeight: JoinRef{Leaf: 0, Col: 2},
		InnerKey: 1, InnerWeight: 2,
		EvalShard: f.ks.Shards[0],
	}
	return &JoinSelect{
		Source:    jn,
		Leaves:    []JoinLeafShape{{Fixed: 3}, {Fixed: 3}},
		Output:    []JoinOut{{Leaf: 0, Item: 0}, {Leaf: 1, Item: 0}},
		EvalShard: f.ks.Shards[0],
	}
}

// joinData makes shard i answer the outer query with outer[i] and the
// inner queries with the rows of inner[i] whose key is in the IN list.
func (f *fixture) joinData(outerFields, innerFields []*wire.Field, outer, inner [][][]string) {
	for i := range f.shards {
		oc := result(outerFields, outer[i]...)
		it := table(innerFields, 1, inner[i]...)
		f.shards[i].setResponse(func(sql string) *canned {
			if sql == outerSQL {
				return oc
			}
			if strings.HasPrefix(sql, "SELECT p.amount") {
				return it(sql)
			}
			return nil
		})
	}
}

// innerQueries returns the inner statements shard i received.
func (f *fixture) innerQueries(i int) []string {
	var qs []string
	for _, q := range f.shards[i].queries() {
		if strings.HasPrefix(q, "SELECT p.amount") {
			qs = append(qs, q)
		}
	}
	return qs
}

// TestJoin: a cross-shard join at the proxy, inner and LEFT: outer rows in
// order, each followed by its matches (inner shards in order); a LEFT JOIN
// NULL-extends outer rows without a match and rows whose key is NULL.
func TestJoin(t *testing.T) {
	cf := []*wire.Field{strCol("name"), intCol("id"), weightCol()}
	pf := []*wire.Field{decCol("amount", 2), intCol("customer_id"), weightCol()}
	customers := [][][]string{
		{R("alice", "1", NULL), R("bob", "2", NULL), R("nobody", NULL, NULL)},
		{R("carol", "3", NULL), R("dave", "4", NULL)},
	}
	payments := [][][]string{
		{R("10.00", "1", NULL), R("5.00", "3", NULL), R("3.00", NULL, NULL)},
		{R("7.50", "1", NULL), R("1.00", "9", NULL)},
	}
	for _, c := range []struct {
		name            string
		left            bool
		outer, inner    [][][]string
		want            [][]string
		wantInnerQuery  []string // on each shard, after the column probe IN (NULL)
		noInnerQueryRun bool
	}{
		{
			name: "inner", outer: customers, inner: payments,
			want: [][]string{R("alice", "10.00"), R("alice", "7.50"), R("carol", "5.00")},
			// The batch's keys, each once, NULL left out.
			wantInnerQuery: []string{strings.Replace(innerSQL, "'__sg_list__'", "'1', '2', '3', '4'", 1)},
		},
		{
			name: "left", left: true, outer: customers, inner: payments,
			want: [][]string{R("alice", "10.00"), R("alice", "7.50"), R("bob", NULL), R("nobody", NULL), R("carol", "5.00"), R("dave", NULL)},
		},
		{
			name: "inner, empty outer", outer: [][][]string{{}, {}}, inner: payments,
			want: nil, noInnerQueryRun: true,
		},
		{
			name: "left, empty outer", left: true, outer: [][][]string{{}, {}}, inner: payments,
			want: nil, noInnerQueryRun: true,
		},
		{
			name: "inner, empty inner", outer: customers, inner: [][][]string{{}, {}},
			want: nil,
		},
		{
			name: "left, empty inner", left: true, outer: customers, inner: [][][]string{{}, {}},
			want: [][]string{R("alice", NULL), R("bob", NULL), R("nobody", NULL), R("carol", NULL), R("dave", NULL)},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 2)
			f.joinData(cf, pf, c.outer, c.inner)
			o := f.run(f.joinOf(c.left))
			o.wantRows(t, c.want...)
			o.wantColumns(t, "name", "amount")
			probe := strings.Replace(innerSQL, "'__sg_list__'", "NULL", 1)
			for i := range f.shards {
				qs := f.innerQueries(i)
				if len(qs) == 0 || qs[0] != probe {
					t.Errorf("shard %d: inner queries %q, want the column probe first", i, qs)
					continue
				}
				if c.noInnerQueryRun && len(qs) != 1 {
					t.Errorf("shard %d: inner queries %q for no outer row", i, qs)
				}
				if c.wantInnerQuery != nil && strings.Join(qs[1:], "\n") != strings.Join(c.wantInnerQuery, "\n") {
					t.Errorf("shard %d: inner queries %q, want %q", i, qs[1:], c.wantInnerQuery)
				}
			}
		})
	}
}

// TestJoinKeys: keys match as MySQL compares them: numbers by value (7 =
// 7.00 = 7.0), general_ci strings by weight ('Bob' = 'bob ', 'é' = 'E');
// keys whose types the proxy cannot compare alike are refused.
func TestJoinKeys(t *testing.T) {
	for _, c := range []struct {
		name         string
		okey, ikey   *wire.Field
		outer, inner [][][]string
		want         [][]string
		errCode      uint16
	}{
		{
			name: "int and decimal", okey: intCol("id"), ikey: decCol("customer_id", 2),
			outer: [][][]string{{R("a", "7", NULL), R("b", "-0", NULL)}, {R("c", "70", NULL)}},
			inner: [][][]string{{R("1.00", "7.00", NULL)}, {R("2.00", "0.00", NULL), R("3.00", "7.0", NULL)}},
			want:  [][]string{R("a", "1.00"), R("a", "3.00"), R("b", "2.00")},
		},
		{
			name: "general_ci strings", okey: strCol("id"), ikey: strCol("customer_id"),
			outer: [][][]string{{R("a", "Bob", NULL), R("b", "é", NULL)}, {R("c", "bo", NULL)}},
			inner: [][][]string{{R("1.00", "bob ", NULL)}, {R("2.00", "E", NULL), R("3.00", "BOB", NULL)}},
			want:  [][]string{R("a", "1.00"), R("a", "3.00"), R("b", "2.00")},
		},
		{
			name: "int and string refused", okey: intCol("id"), ikey: strCol("customer_id"),
			outer:   [][][]string{{R("a", "1", NULL)}, {}},
			inner:   [][][]string{{}, {}},
			errCode: mysql.ER_NOT_SUPPORTED_YET,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 2)
			f.joinData([]*wire.Field{strCol("name"), c.okey, weightCol()}, []*wire.Field{decCol("amount", 2), c.ikey, weightCol()}, c.outer, c.inner)
			o := f.run(f.joinOf(false))
			if c.errCode != 0 {
				o.wantErr(t, c.errCode, "cross-shard join on keys of different types")
				return
			}
			o.wantRows(t, c.want...)
		})
	}
}

// TestJoinBatches: outer rows are read in batches of 256, each batch one
// inner query per shard; every row of every batch is joined.
func TestJoinBatches(t *testing.T) {
	const n = 600
	cf := []*wire.Field{strCol("name"), intCol("id"), weightCol()}
	pf := []*wire.Field{decCol("amount", 2), intCol("customer_id"), weightCol()}
	outer := [][][]string{{}, {}}
	inner := [][][]string{{}, {}}
	var want [][]string
	for i := 0; i < n; i++ {
		id := strconv.Itoa(i)
		outer[i%2] = append(outer[i%2], R("c"+id, id, NULL))
	}
	// Outer rows come shard 0's first, then shard 1's.
	for s := 0; s < 2; s++ {
		for _, r := range outer[s] {
			id, _ := strconv.Atoi(r[1])
			if id%7 == 0 {
				amount := fmt.Sprintf("%d.00", id)
				inner[id%3%2] = append(inner[id%3%2], R(amount, r[1], NULL))
				want = append(want, R(r[0], amount))
			}
		}
	}
	f := newFixture(t, 2)
	f.joinData(cf, pf, outer, inner)
	f.run(f.joinOf(false)).wantRows(t, want...)
	for i := range f.shards {
		if qs := f.innerQueries(i); len(qs) != 1+3 {
			t.Errorf("shard %d: %d inner queries, want the probe and 3 batches", i, len(qs))
		}
	}
}

// TestJoinInnerFailure: an inner query that fails mid-result fails the
// join (no rows silently missing), and every connection goes back.
func TestJoinInnerFailure(t *testing.T) {
	cf := []*wire.Field{strCol("name"), intCol("id"), weightCol()}
	pf := []*wire.Field{decCol("amount", 2), intCol("customer_id"), weightCol()}
	f := newFixture(t, 2)
	f.joinData(cf, pf, [][][]string{{R("a", "1", NULL), R("b", "2", NULL)}, {}}, [][][]string{{}, {}})
	oc := result(cf, R("a", "1", NULL), R("b", "2", NULL))
	f.shards[0].setResponse(func(sql string) *canned {
		if sql == outerSQL {
			return oc
		}
		if strings.Contains(sql, "IN (NULL)") {
			return result(pf)
		}
		return result(pf, R("1.00", "1", NULL), R("2.00", "2", NULL)).failing(1, wire.Errorf(mysql.ER_LOCK_DEADLOCK, "Deadlock found"))
	})
	f.run(f.joinOf(true)).wantErr(t, mysql.ER_LOCK_DEADLOCK, "Deadlock found")
}
