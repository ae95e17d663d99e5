package router

import (
	"reflect"
	"testing"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/sqlval"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		sql, norm string
		vals      []sqlval.Value
		ok        bool
	}{
		{"SELECT * FROM t WHERE id = 5", "SELECT * FROM t WHERE id = ?", []sqlval.Value{{Kind: sqlval.Int, Raw: "5"}}, true},
		{"select a from t where s = 'it''s' and x = 1.5e3", "select a from t where s = ? and x = ?", []sqlval.Value{{Kind: sqlval.String, Raw: "it's"}, {Kind: sqlval.Number, Raw: "1.5e3"}}, true},
		{`SELECT "a\nb", 0x1F, X'0A'`, "SELECT ?, ?, ?", []sqlval.Value{{Kind: sqlval.String, Raw: "a\nb"}, {Kind: sqlval.Hex, Raw: "0x1F"}, {Kind: sqlval.Hex, Raw: "X'0A'"}}, true},
		{"SELECT t1.c2 FROM t1 WHERE c3 IN (1,2)", "SELECT t1.c2 FROM t1 WHERE c3 IN (?,?)", []sqlval.Value{{Kind: sqlval.Int, Raw: "1"}, {Kind: sqlval.Int, Raw: "2"}}, true},
		{"SELECT a FROM t ORDER BY 1, 2 DESC LIMIT 10", "SELECT a FROM t ORDER BY 1, 2 DESC LIMIT ?", []sqlval.Value{{Kind: sqlval.Int, Raw: "10"}}, true},
		{"SELECT a, count(*) FROM t GROUP BY 1 HAVING count(*) > 2", "SELECT a, count(*) FROM t GROUP BY 1 HAVING count(*) > ?", []sqlval.Value{{Kind: sqlval.Int, Raw: "2"}}, true},
		{"SELECT a FROM t WHERE b = ? AND c = 'x'", "SELECT a FROM t WHERE b = ? AND c = ?", []sqlval.Value{{Kind: sqlval.Param, Raw: ""}, {Kind: sqlval.String, Raw: "x"}}, true},
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
	tm := engine.ParseTemplate("SELECT * FROM `__sg_schema__`.`t` WHERE a = '__sg_bind_1__' AND b IN ('__sg_list__') AND d = '__sg_database__'")
	env := engine.RenderEnv{Binds: []sqlval.Value{{Kind: sqlval.Int, Raw: "1"}, {Kind: sqlval.String, Raw: "o'k"}}, Keyspace: "customer", ShardDB: "customer_x",
		List: func(b []byte) []byte { return append(b, "1, 2"...) }}
	got := string(tm.Append(nil, &env))
	want := "SELECT * FROM `customer_x`.`t` WHERE a = 'o\\'k' AND b IN (1, 2) AND d = 'customer'"
	if got != want {
		t.Errorf("render = %s\nwant %s", got, want)
	}
}

func TestNegateValue(t *testing.T) {
	for in, want := range map[string]string{"5": "-5", "-5": "5"} {
		if got := engine.Negate(sqlval.Value{Kind: sqlval.Int, Raw: in}); got.Raw != want {
			t.Errorf("negate(%s) = %s, want %s", in, got.Raw, want)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	var vals []sqlval.Value
	for i := 0; i < b.N; i++ {
		_, vals, _ = normalize("SELECT c FROM sbtest1 WHERE id=4711", vals[:0], 0)
	}
}
