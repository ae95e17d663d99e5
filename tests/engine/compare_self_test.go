package engine

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/shardgate/shardgate/internal/testenv"
)

// TestComparer checks the comparison rules themselves on hand-made results,
// so that a lenient rule cannot hide an engine bug (and a strict one does
// not invent failures).
func TestComparer(t *testing.T) {
	testenv.RequireMariaDB(t)
	db, err := sql.Open("mysql", "root@tcp("+refServer().Addr()+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := newWeigher(db)

	res := func(types string, rows ...string) *result {
		r := &result{types: strings.Split(types, ",")}
		for i := range r.types {
			r.cols = append(r.cols, string(rune('a'+i)))
		}
		for _, line := range rows {
			var row []cell
			for _, v := range strings.Split(line, "|") {
				if v == "NULL" {
					row = append(row, cell{null: true})
				} else {
					row = append(row, cell{s: strings.Trim(v, "'")})
				}
			}
			r.rows = append(r.rows, row)
		}
		return r
	}
	entryOf := func(sqlText, directives string) *entry {
		e := &entry{line: 1, category: "x", sql: sqlText}
		for _, d := range strings.Split(directives, ";") {
			if d = strings.TrimSpace(d); d != "" {
				parseDirective(e, 1, d, func(_ int, f string, a ...any) { t.Fatalf(f, a...) })
			}
		}
		checkEntry(e, func(_ int, f string, a ...any) { t.Fatalf(f, a...) })
		return e
	}
	for _, tc := range []struct {
		name      string
		sql, dir  string
		got, want *result
		wantKind  string // "" = must agree
	}{
		{"multiset any order", "SELECT a, b FROM t", "",
			res("BIGINT,VARCHAR", "1|'x'", "2|'y'"), res("BIGINT,VARCHAR", "2|'y'", "1|'x'"), ""},
		{"NULL is not 'NULL'", "SELECT a FROM t", "",
			res("VARCHAR", "NULL"), res("VARCHAR", "'NULL'"), "NULL where the reference has a value, or the reverse"},
		{"decimal scale", "SELECT AVG(a) FROM t", "",
			res("DECIMAL", "'12.5'"), res("DECIMAL", "'12.5000'"), "number formatting differs (same value, other scale or form)"},
		{"duplicates count", "SELECT a FROM t", "",
			res("BIGINT", "1", "1", "2"), res("BIGINT", "1", "2", "2"), "values differ"},
		{"spelling of a plain row is exact", "SELECT a FROM t", "",
			res("VARCHAR", "'Emile'"), res("VARCHAR", "'émile'"), "values differ"},
		{"GROUP BY keeps any spelling", "SELECT a, COUNT(*) FROM t GROUP BY a", "",
			res("VARCHAR,BIGINT", "'Emile'|3", "'bob'|2"), res("VARCHAR,BIGINT", "'émile'|3", "'Bob '|2"), ""},
		{"GROUP BY counts still exact", "SELECT a, COUNT(*) FROM t GROUP BY a", "",
			res("VARCHAR,BIGINT", "'Emile'|2"), res("VARCHAR,BIGINT", "'émile'|3"), "values differ"},
		{"bin column exact", "SELECT DISTINCT m FROM t", "exact",
			res("VARCHAR", "'card'"), res("VARCHAR", "'Card'"), "string differs in letter case"},
		{"ties may permute", "SELECT a, b FROM t ORDER BY b", "keys: 2",
			res("BIGINT,VARCHAR", "2|'emile'", "1|'Émile'", "3|'zoe'"), res("BIGINT,VARCHAR", "1|'Émile'", "2|'emile'", "3|'zoe'"), ""},
		{"PAD SPACE tie", "SELECT a, b FROM t ORDER BY b", "keys: 2",
			res("BIGINT,VARCHAR", "2|'bob'", "1|'Bob '"), res("BIGINT,VARCHAR", "1|'Bob '", "2|'bob'"), ""},
		{"wrong order", "SELECT a, b FROM t ORDER BY b", "keys: 2",
			res("BIGINT,VARCHAR", "3|'zoe'", "1|'Émile'"), res("BIGINT,VARCHAR", "1|'Émile'", "3|'zoe'"), "ORDER BY order differs"},
		{"total order is exact", "SELECT a, b FROM t ORDER BY b, a", "keys: 2,1",
			res("BIGINT,VARCHAR", "2|'emile'", "1|'Émile'"), res("BIGINT,VARCHAR", "1|'Émile'", "2|'emile'"), "ORDER BY order differs"},
		{"NULLs first", "SELECT a FROM t ORDER BY a", "keys: 1",
			res("INT", "1", "NULL"), res("INT", "NULL", "1"), "ORDER BY order differs"},
		{"rows within a tie are still checked", "SELECT a, b FROM t ORDER BY b", "keys: 2",
			res("BIGINT,VARCHAR", "9|'emile'", "1|'Émile'"), res("BIGINT,VARCHAR", "1|'Émile'", "2|'emile'"), "values differ"},
		{"LIMIT may cut a tie differently", "SELECT a, b FROM t ORDER BY b LIMIT 2", "keys: 2",
			res("BIGINT,VARCHAR", "1|'a'", "7|'z'"), res("BIGINT,VARCHAR", "1|'a'", "8|'z'"), ""},
		{"but not before the last tie", "SELECT a, b FROM t ORDER BY b LIMIT 2", "keys: 2",
			res("BIGINT,VARCHAR", "5|'a'", "7|'z'"), res("BIGINT,VARCHAR", "1|'a'", "8|'z'"), "values differ"},
		{"binary key: case matters", "SELECT a, m FROM t ORDER BY m", "keys: 2b",
			res("BIGINT,VARCHAR", "1|'card'", "2|'Card'"), res("BIGINT,VARCHAR", "2|'Card'", "1|'card'"), "ORDER BY order differs"},
		{"LIMIT without ORDER BY counts rows", "SELECT a FROM t LIMIT 2", "",
			res("BIGINT", "5", "6"), res("BIGINT", "1", "2"), ""},
		{"LIMIT without ORDER BY: count", "SELECT a FROM t LIMIT 2", "",
			res("BIGINT", "5"), res("BIGINT", "1", "2"), "row count differs"},
		{"column types", "SELECT a FROM t", "",
			res("DECIMAL", "1"), res("BIGINT", "1"), "column types differ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entryOf(tc.sql, tc.dir)
			m, err := newComparer(w, e, tc.want).compare(tc.got, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantKind == "" && m != nil:
				t.Errorf("want agreement, got %v", m)
			case tc.wantKind != "" && m == nil:
				t.Errorf("want %q, got agreement", tc.wantKind)
			case tc.wantKind != "" && m.kind != tc.wantKind:
				t.Errorf("want %q, got %v", tc.wantKind, m)
			}
		})
	}
}
