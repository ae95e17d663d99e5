package engine

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

func okOf(affected, lastID uint64, warnings uint16, info string) *canned {
	return &canned{ok: &wire.OK{AffectedRows: affected, LastInsertID: lastID, Warnings: warnings, Info: info}}
}

// TestRelayOK: a write sent to several shards answers one OK: affected rows
// and warnings summed, info strings summed ("Rows matched", "Records"),
// the first non-zero insert id; for reference-table writes (every shard
// did the same) the first shard's OK alone.
func TestRelayOK(t *testing.T) {
	for _, c := range []struct {
		name   string
		how    combine
		shards []*canned
		want   wire.OK
	}{
		{
			name: "UPDATE",
			shards: []*canned{
				okOf(2, 0, 0, "Rows matched: 3  Changed: 2  Warnings: 0"),
				okOf(0, 0, 0, "Rows matched: 0  Changed: 0  Warnings: 0"),
				okOf(5, 0, 1, "Rows matched: 5  Changed: 5  Warnings: 1"),
			},
			want: wire.OK{AffectedRows: 7, Warnings: 1, Info: "Rows matched: 8  Changed: 7  Warnings: 1"},
		},
		{
			name: "INSERT",
			shards: []*canned{
				okOf(2, 0, 0, "Records: 2  Duplicates: 0  Warnings: 0"),
				okOf(3, 17, 0, "Records: 2  Duplicates: 1  Warnings: 0"),
				okOf(1, 20, 0, ""),
			},
			want: wire.OK{AffectedRows: 6, LastInsertID: 17, Info: "Records: 4  Duplicates: 1  Warnings: 0"},
		},
		{
			name: "DELETE",
			shards: []*canned{
				okOf(4, 0, 0, ""), okOf(0, 0, 0, ""), okOf(6, 0, 2, ""),
			},
			want: wire.OK{AffectedRows: 10, Warnings: 2},
		},
		{
			name: "reference table",
			how:  CombineFirstOnly,
			shards: []*canned{
				okOf(1, 0, 0, "Rows matched: 1  Changed: 1  Warnings: 0"),
				okOf(1, 0, 0, "Rows matched: 1  Changed: 1  Warnings: 0"),
				okOf(1, 0, 0, "Rows matched: 1  Changed: 1  Warnings: 0"),
			},
			want: wire.OK{AffectedRows: 1, Info: "Rows matched: 1  Changed: 1  Warnings: 0"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, len(c.shards))
			f.each(c.shards...)
			f.vc.sql = "UPDATE t SET a = 1"
			r := f.scatter("UPDATE t SET a = :v1")
			r.How = c.how
			o := f.run(r)
			if o.err != nil || o.ok == nil {
				t.Fatalf("err %v, ok %v", o.err, o.ok)
			}
			got := *o.ok
			got.Status = 0
			if got != c.want {
				t.Errorf("OK %+v, want %+v", got, c.want)
			}
			// The client's own statement went to every shard.
			for _, s := range f.shards {
				if q := s.queries(); len(q) != 1 || q[0] != "UPDATE t SET a = 1" {
					t.Errorf("shard %s ran %q", s.name, q)
				}
			}
			if len(f.vc.sent) != len(c.shards) {
				t.Errorf("traced %d statements, want %d", len(f.vc.sent), len(c.shards))
			}
			if c.want.Warnings > 0 && f.vc.collected == 0 {
				t.Errorf("the shards' warnings were not collected")
			}
		})
	}
}

// TestRelayShardError: a shard error among successes fails the statement
// (no OK, whatever the others did), the shards after it are still read
// (their connections stay usable), and every connection goes back.
func TestRelayShardError(t *testing.T) {
	dup := wire.Errorf(mysql.ER_DUP_ENTRY, "Duplicate entry '5' for key 'PRIMARY'")
	for _, c := range []struct {
		name   string
		shards []*canned
	}{
		{"first", []*canned{{err: dup}, okOf(1, 0, 0, ""), okOf(2, 0, 0, "")}},
		{"middle", []*canned{okOf(1, 0, 0, ""), {err: dup}, okOf(2, 0, 0, "")}},
		{"last", []*canned{okOf(1, 0, 0, ""), okOf(2, 0, 0, ""), {err: dup}}},
		{"among result sets", []*canned{
			result([]*wire.Field{intCol("a")}, R("1")),
			{err: dup},
			result([]*wire.Field{intCol("a")}, R("2"), R("3")),
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 3)
			f.each(c.shards...)
			o := f.run(f.scatter("DELETE FROM t"))
			o.wantErr(t, mysql.ER_DUP_ENTRY, "Duplicate entry")
			if o.ok != nil {
				t.Errorf("an OK besides the error: %+v", *o.ok)
			}
			// Every shard serves the next statement on its pooled connection.
			f.each(okOf(1, 0, 0, ""), okOf(1, 0, 0, ""), okOf(1, 0, 0, ""))
			o = f.run(f.scatter("DELETE FROM t"))
			if o.err != nil || o.ok == nil || o.ok.AffectedRows != 3 {
				t.Fatalf("next statement: err %v, ok %+v", o.err, o.ok)
			}
			f.wantOneConnEach(t)
		})
	}
}

// TestRelayResultSets: SELECTs relayed from several shards: the first
// shard's column definitions, every shard's rows in shard order, one final
// EOF; a shard answering another number of columns fails the statement.
func TestRelayResultSets(t *testing.T) {
	f := newFixture(t, 3)
	ab := []*wire.Field{intCol("a"), strCol("b")}
	f.each(result(ab, R("1", "x")), result(ab), result(ab, R("2", NULL), R("3", "")))
	o := f.run(f.scatter("SELECT a, b FROM t"))
	o.wantRows(t, R("1", "x"), R("2", NULL), R("3", ""))
	o.wantColumns(t, "a", "b")
	if f.vc.rows != 3 {
		t.Errorf("%d rows counted, want 3", f.vc.rows)
	}

	f.each(result(ab, R("1", "x")), result([]*wire.Field{intCol("a")}, R("2")), result(ab))
	f.run(f.scatter("SELECT a, b FROM t")).wantErr(t, mysql.ER_UNKNOWN_ERROR, "returned 1 columns, another shard 2")

	// A shard's OK among result sets (a statement that is no SELECT there).
	f.each(result(ab), result(ab, R("5", "y")), result(ab))
	r := f.scatter("SELECT a, b FROM t")
	r.Rename = &ColumnRename{Index: 1, Name: "Tables_in_ks"}
	o = f.run(r)
	o.wantRows(t, R("5", "y"))
	o.wantColumns(t, "a", "Tables_in_ks")
}
