package sqllex

import (
	"strings"
	"testing"
)

// TestResolveComments pins how MariaDB 10.11 reads comments; the
// differential fuzzer in tests/security checks the same against a server.
func TestResolveComments(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT '/* not a comment */', \"-- x\", `#y`", "SELECT '/* not a comment */', \"-- x\", `#y`"},
		{"SELECT 1 /* plain */ + 2", "SELECT 1   + 2"},
		{"SELECT 1/**/2", "SELECT 1 2"},
		{"/*M!SHUTDOWN*/ /*T![clustered_index] SELECT name FROM customer */", " SHUTDOWN   "},
		{"SELECT 1 /*!, 2 */", "SELECT 1  , 2  "},
		{"SELECT 1 /*!50000 , 2 */", "SELECT 1   , 2  "},
		{"SELECT 1 /*!99999 , 2 */", "SELECT 1  "},
		{"SELECT 1 /*!50700 , 2 */", "SELECT 1  "},          // MySQL 5.7+ syntax: MariaDB skips it
		{"SELECT 1 /*M!50700 , 2 */", "SELECT 1   , 2  "},   // unless marked MariaDB's
		{"SELECT 1 /*M!100100 , 2 */", "SELECT 1   , 2  "},  // six digits
		{"SELECT 1 /*M!999999 , 2 */", "SELECT 1  "},        // a future version
		{"SELECT 1 /*!1234 , 2 */", "SELECT 1  1234 , 2  "}, // four digits: not a version
		{"SELECT 1 /*+ hint */", "SELECT 1  "},
		{"SELECT 1 /*m! lower case m is plain */", "SELECT 1  "},
		{"SELECT 1 # to the end\n, 2", "SELECT 1  \n, 2"},
		{"SELECT 1 -- x\n, 2", "SELECT 1  \n, 2"},
		{"SELECT 1 --\x01x\n, 2", "SELECT 1  \n, 2"}, // a control byte after -- makes a comment in MariaDB
		{"SELECT 1 --", "SELECT 1  "},
		{"SELECT 1--1", "SELECT 1--1"},
		{"SELECT 1--- 1", "SELECT 1- "},
		{"SELECT 1--#c\n", "SELECT 1- - \n"}, // 1 - - (the dashes are minus signs)
		{"SELECT 1---/**/1", "SELECT 1- - - 1"},
		{"SELECT 1 /*! , '*/' */", "SELECT 1   , '*/'  "}, // a string inside an executable comment
		{"SELECT 'it''s /*', 'a\\' /*' */", "SELECT 'it''s /*', 'a\\' /*' */"},
		{"SELECT 1 */", "SELECT 1 */"},
	} {
		got, err := ResolveComments(tc.in, 0)
		if err != nil || got != tc.want {
			t.Errorf("ResolveComments(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestResolveCommentsRefuses(t *testing.T) {
	for _, in := range []string{
		"SELECT 1 /* open",
		"SELECT 1 /*! open",
		"SELECT 1 /*!99999 open",
		"SELECT 1 -- x\x00 DROP TABLE t",
		"SELECT 1 # x\x00\n",
		"SELECT 1\x00",
		"SELECT 1 /*! 2 /* nested */ */",
		"SELECT 1 /*!99999 a /* nested */ b */",
		"SELECT 1 /*! 2 # x */\n*/",
		"SELECT 1 /*! 2 -- x */\n*/",
		"SELECT 1 --\xa0 x",
	} {
		if got, err := ResolveComments(in, 0); err == nil {
			t.Errorf("ResolveComments(%q) = %q, want an error", in, got)
		}
	}
	// A NUL byte inside a string is data.
	if got, err := ResolveComments("SELECT 'a\x00b' -- c", 0); err != nil || got != "SELECT 'a\x00b'  " {
		t.Errorf("NUL in a string: %q, %v", got, err)
	}
}

// TestResolveCommentsANSIQuotes: with ANSI_QUOTES a backslash does not
// escape inside "…", so the comment after "a\" is one.
func TestResolveCommentsANSIQuotes(t *testing.T) {
	in := `SELECT "a\" /*M!, 2*/ "b"`
	if got, err := ResolveComments(in, 0); err != nil || got != in {
		t.Errorf("default mode: %q, %v; want it unchanged (one string)", got, err)
	}
	if got, err := ResolveComments(in, ANSIQuotes); err != nil || got != `SELECT "a\"  , 2  "b"` {
		t.Errorf("ANSI_QUOTES: %q, %v", got, err)
	}
}

// TestResolveCommentsNoAlloc: a statement without comments costs no
// allocation (the hot path).
func TestResolveCommentsNoAlloc(t *testing.T) {
	sql := "SELECT c FROM sbtest1 WHERE id=5 AND k BETWEEN 1 AND 2 ORDER BY c"
	if n := testing.AllocsPerRun(100, func() { _, _ = ResolveComments(sql, 0) }); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

// FuzzResolveComments: the result holds no comment, and resolving it again
// changes nothing.
func FuzzResolveComments(f *testing.F) {
	for _, s := range []string{"SELECT 1 /*! 2 */", "/*M!50000 x*/ -- y\n#z", "SELECT '/*', `*/` /**/", "a--b -- c\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ResolveComments(s, 0)
		if err != nil {
			return
		}
		again, err := ResolveComments(out, 0)
		if err != nil || again != out {
			t.Fatalf("ResolveComments(%q) = %q; again: %q, %v", s, out, again, err)
		}
		if strings.Count(out, "\x00") > strings.Count(s, "\x00") {
			t.Fatalf("NUL bytes appeared")
		}
	})
}

func BenchmarkResolveComments(b *testing.B) {
	sql := "SELECT c FROM sbtest1 WHERE id=5 AND k BETWEEN 1 AND 2 ORDER BY c"
	for i := 0; i < b.N; i++ {
		_, _ = ResolveComments(sql, 0)
	}
}
