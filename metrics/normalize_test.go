package metrics

import "testing"

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT * FROM customer WHERE customer_id = 5":                       "SELECT * FROM customer WHERE customer_id = ?",
		"select  a,b from t1 where x in (1, 2, 3) and y='it''s'":             "select a, b from t1 where x in (?, ...) and y=?",
		"INSERT INTO t (a, b) VALUES (1, 'x'), (2, \"y\");":                  "INSERT INTO t (a, b) VALUES (?, ...), (?, ...)",
		"/* app */ UPDATE `t` SET v = v + 1.5e3 WHERE id = 0x1F -- trailing": "UPDATE `t` SET v = v + ? WHERE id = ?",
		"SELECT c2 FROM t3 WHERE n = -1 LIMIT 10":                            "SELECT c2 FROM t3 WHERE n = -? LIMIT ?",
		"SELECT x'41', b'01', _utf8mb4'z'":                                   "SELECT ?, ..., _utf8mb4?",
		"SELECT a.b FROM k.t WHERE s = 'a\\'b'":                              "SELECT a.b FROM k.t WHERE s = ?",
		"SELECT * FROM t WHERE id = ?":                                       "SELECT * FROM t WHERE id = ?",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("SELECT * FROM t WHERE a IN (1,2,3) AND b = 'x'")
	f.Add("'unterminated")
	f.Add("/* open comment")
	f.Fuzz(func(t *testing.T, s string) {
		out := Normalize(s)
		if len(out) > maxNormalized+16 {
			t.Fatalf("too long: %d", len(out))
		}
	})
}
