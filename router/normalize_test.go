package router

import (
	"reflect"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		sql, norm string
		vals      []Value
		ok        bool
	}{
		{"SELECT * FROM t WHERE id = 5", "SELECT * FROM t WHERE id = ?", []Value{{KindInt, "5"}}, true},
		{"select a from t where s = 'it''s' and x = 1.5e3", "select a from t where s = ? and x = ?", []Value{{KindString, "it's"}, {KindNumber, "1.5e3"}}, true},
		{`SELECT "a\nb", 0x1F, X'0A'`, "SELECT ?, ?, ?", []Value{{KindString, "a\nb"}, {KindHex, "0x1F"}, {KindHex, "X'0A'"}}, true},
		{"SELECT t1.c2 FROM t1 WHERE c3 IN (1,2)", "SELECT t1.c2 FROM t1 WHERE c3 IN (?,?)", []Value{{KindInt, "1"}, {KindInt, "2"}}, true},
		{"SELECT a FROM t ORDER BY 1, 2 DESC LIMIT 10", "SELECT a FROM t ORDER BY 1, 2 DESC LIMIT ?", []Value{{KindInt, "10"}}, true},
		{"SELECT a, count(*) FROM t GROUP BY 1 HAVING count(*) > 2", "SELECT a, count(*) FROM t GROUP BY 1 HAVING count(*) > ?", []Value{{KindInt, "2"}}, true},
		{"SELECT a FROM t WHERE b = ? AND c = 'x'", "SELECT a FROM t WHERE b = ? AND c = ?", []Value{{kindParam, ""}, {KindString, "x"}}, true},
		{"SELECT `1` FROM t -- 5\n", "SELECT `1` FROM t -- 5\n", nil, false},
		{"SET autocommit = 1", "SET autocommit = 1", nil, false},
		{"SELECT _utf8mb4'x'", "SELECT _utf8mb4'x'", nil, false},
	}
	for _, c := range cases {
		norm, vals, ok := normalize(c.sql, nil, 0)
		if norm != c.norm || ok != c.ok || (len(vals) > 0 || len(c.vals) > 0) && !reflect.DeepEqual(vals, c.vals) {
			t.Errorf("normalize(%q) = %q, %v, %v; want %q, %v, %v", c.sql, norm, vals, ok, c.norm, c.vals, c.ok)
		}
	}
}

func TestTemplateRender(t *testing.T) {
	tm := parseTemplate("SELECT * FROM `__sg_schema__`.`t` WHERE a = '__sg_bind_1__' AND b IN ('__sg_list__') AND d = '__sg_database__'")
	env := renderEnv{binds: []Value{{KindInt, "1"}, {KindString, "o'k"}}, keyspace: "customer", shardDB: "customer_x",
		list: func(b []byte) []byte { return append(b, "1, 2"...) }}
	got := string(tm.append(nil, &env))
	want := "SELECT * FROM `customer_x`.`t` WHERE a = 'o\\'k' AND b IN (1, 2) AND d = 'customer'"
	if got != want {
		t.Errorf("render = %s\nwant %s", got, want)
	}
}

func TestNegateValue(t *testing.T) {
	for in, want := range map[string]string{"5": "-5", "-5": "5"} {
		if got := negate(Value{KindInt, in}); got.Raw != want {
			t.Errorf("negate(%s) = %s, want %s", in, got.Raw, want)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	var vals []Value
	for i := 0; i < b.N; i++ {
		_, vals, _ = normalize("SELECT c FROM sbtest1 WHERE id=4711", vals[:0], 0)
	}
}
