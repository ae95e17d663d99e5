package workflow

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestPosition(t *testing.T) {
	p, err := parsePosition("1-2-30, 0-1-100")
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != "0-1-100,1-2-30" {
		t.Errorf("String() = %q", p.String())
	}
	q, _ := parsePosition("0-7-100")
	if !p.covers(q) {
		t.Error("0-1-100,1-2-30 should cover 0-7-100 (sequence numbers only)")
	}
	q, _ = parsePosition("0-1-101")
	if p.covers(q) {
		t.Error("0-1-100 covers 0-1-101")
	}
	q, _ = parsePosition("2-1-1")
	if p.covers(q) {
		t.Error("a position without domain 2 covers 2-1-1")
	}
	if empty, err := parsePosition(""); err != nil || len(empty) != 0 || !p.covers(empty) {
		t.Errorf("the empty position: %v %v", empty, err)
	}
	for _, bad := range []string{"0-1", "a-1-2", "0-1-2-3"} {
		if _, err := parsePosition(bad); err == nil {
			t.Errorf("parsePosition(%q) accepted", bad)
		}
	}
}

func TestLiterals(t *testing.T) {
	str := &column{Name: "s", Kind: kindString, Charset: "utf8mb4"}
	num := &column{Name: "n", Kind: kindNumber}
	bin := &column{Name: "b", Kind: kindBinary}
	u8 := &column{Name: "u", Kind: kindNumber, Unsigned: true, Bits: 8}
	u64 := &column{Name: "u", Kind: kindNumber, Unsigned: true, Bits: 64}
	for _, c := range []struct {
		col  *column
		v    any
		want string
	}{
		{str, "it's", "_utf8mb4 X'69742773'"},
		{num, []byte("-1.5e-7"), "'-1.5e-7'"},
		{num, []byte(`1'\`), `'1\'\\'`},
		{bin, []byte{0, 0xff}, "X'00ff'"},
		{bin, []byte{}, "X''"},
		{str, nil, "NULL"},
		{u8, int8(-1), "255"},
		{u64, int64(-1), "18446744073709551615"},
		{num, int32(-5), "-5"},
		{num, float32(0.1), "0.1"},
		{num, decimal.RequireFromString("12345678901234.5678"), "'12345678901234.5678'"},
	} {
		v := c.v
		if b, ok := v.([]byte); ok && c.col.Kind != kindString {
			if got := string(appendText(nil, c.col, b)); got != c.want {
				t.Errorf("appendText(%v) = %s, want %s", c.v, got, c.want)
			}
			continue
		}
		got, err := appendBinlog(nil, c.col, binlogValue(c.col, v))
		if err != nil || string(got) != c.want {
			t.Errorf("appendBinlog(%v) = %s %v, want %s", c.v, got, err, c.want)
		}
	}
}

func TestXidOf(t *testing.T) {
	for _, q := range []string{"XA END X'6731',X'6231',1", "XA COMMIT X'6731',X'6231',1", "XA ROLLBACK X'6731',X'6231',1"} {
		if got := xidOf(q); got != "X'6731',X'6231',1" {
			t.Errorf("xidOf(%q) = %q", q, got)
		}
	}
}

func TestDDLProblem(t *testing.T) {
	s := &stream{src: &endpoint{}, tables: map[string]*streamTable{"events": {}, "my table": {}}, allTables: false}
	db := "c_x"
	check := func(schema, q string, want string) {
		t.Helper()
		got := s.ddlProblemIn(db, schema, q)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("ddlProblem(%q) = %q, want %q", q, got, want)
		}
	}
	check(db, "ALTER TABLE events ADD COLUMN x INT", "DDL on moving table events")
	check(db, "alter table `my table` add c int", "DDL on moving table my table")
	check(db, "ALTER TABLE other ADD COLUMN x INT", "")
	check("other_db", "ALTER TABLE events ADD COLUMN x INT", "")
	check("other_db", "ALTER TABLE c_x.events ADD COLUMN x INT", "DDL on moving table")
	check(db, "RENAME "+fenceMarker+" TABLE events TO _sg_events", "")
	check(db, "INSERT INTO events VALUES (1)", "logged as a statement")
	s.allTables = true
	check(db, "CREATE TABLE new_one (id INT PRIMARY KEY)", "created in the keyspace")
	check(db, "CREATE TABLE IF NOT EXISTS new_one (id INT)", "created in the keyspace")
}

func TestPKAfter(t *testing.T) {
	info := &tableInfo{Columns: []column{{Name: "a", Kind: kindNumber}, {Name: "b", Kind: kindString, Charset: "latin1"}}, PK: []int{0, 1}}
	got := pkAfter(info, []string{"5", "x"})
	want := "(`a` > '5') OR (`a` = '5' AND `b` > _latin1 X'78')"
	if got != want {
		t.Errorf("pkAfter = %s, want %s", got, want)
	}
}

func TestCompareNumbers(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"9", "10", -1}, {"-3", "2", -1}, {"18446744073709551615", "9223372036854775807", 1}, {"1.50", "1.5", 0}, {"2.5", "10", -1}} {
		if got := compareNumbers([]byte(c.a), []byte(c.b)); got != c.want {
			t.Errorf("compareNumbers(%s, %s) = %d", c.a, c.b, got)
		}
	}
}
