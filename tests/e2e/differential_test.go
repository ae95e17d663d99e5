package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// corpusStmt is one statement of a differential corpus.
type corpusStmt struct {
	line    int // line of its first SQL line in the file
	sql     string
	args    []any
	ordered bool
	setup   bool
}

// loadCorpus parses a corpus file (format described at the top of
// testdata/skeleton_corpus.sql).
func loadCorpus(t *testing.T, path string) []corpusStmt {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusStmt
	var cur corpusStmt
	var buf []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if len(buf) == 0 {
			switch {
			case trimmed == "" || strings.HasPrefix(trimmed, "#"):
				continue
			case trimmed == "-- ordered":
				cur.ordered = true
				continue
			case trimmed == "-- setup":
				cur.setup = true
				continue
			case strings.HasPrefix(trimmed, "-- args:"):
				dec := json.NewDecoder(strings.NewReader(strings.TrimPrefix(trimmed, "-- args:")))
				dec.UseNumber()
				var raw []any
				if err := dec.Decode(&raw); err != nil {
					t.Fatalf("%s:%d: bad args: %v", path, ln, err)
				}
				for _, a := range raw {
					if n, ok := a.(json.Number); ok {
						if i, err := n.Int64(); err == nil {
							a = i
						} else if f, err := n.Float64(); err == nil {
							a = f
						} else {
							t.Fatalf("%s:%d: bad number %s", path, ln, n)
						}
					}
					cur.args = append(cur.args, a)
				}
				continue
			case strings.HasPrefix(trimmed, "--"):
				t.Fatalf("%s:%d: unknown directive %q", path, ln, trimmed)
			}
			cur.line = ln
		}
		buf = append(buf, line)
		if strings.HasSuffix(trimmed, ";") {
			cur.sql = strings.TrimSuffix(strings.TrimSpace(strings.Join(buf, "\n")), ";")
			out = append(out, cur)
			cur, buf = corpusStmt{}, nil
		}
	}
	if len(buf) > 0 {
		t.Fatalf("%s: statement at line %d has no final ';'", path, cur.line)
	}
	return out
}

func isQuery(sqlText string) bool {
	f := strings.Fields(strings.ToUpper(sqlText))
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "SELECT", "SHOW", "WITH", "DESC", "DESCRIBE", "EXPLAIN", "(SELECT":
		return true
	}
	return false
}

// outcome is what one statement produced on one side.
type outcome struct {
	cols     []string
	rows     []string
	affected int64
	err      error
}

func runStmt(c *sql.Conn, st corpusStmt) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if isQuery(st.sql) {
		rows, err := c.QueryContext(ctx, st.sql, st.args...)
		if err != nil {
			return outcome{err: err}
		}
		cols, out, err := readRows(rows)
		return outcome{cols: cols, rows: out, err: err}
	}
	res, err := c.ExecContext(ctx, st.sql, st.args...)
	if err != nil {
		return outcome{err: err}
	}
	n, err := res.RowsAffected()
	return outcome{affected: n, err: err}
}

// TestDifferentialSkeleton runs the skeleton corpus through the proxy and
// against one plain MariaDB (servers[3], databases customer and commerce)
// holding the same data, with the text protocol (interpolateParams=true) and
// with server-side prepared statements (binary protocol) for statements with
// parameters.
func TestDifferentialSkeleton(t *testing.T) {
	corpus := loadCorpus(t, "testdata/skeleton_corpus.sql")
	n := 0
	for _, st := range corpus {
		if !st.setup {
			n++
		}
	}
	if n < 40 {
		t.Fatalf("corpus has %d statements besides setup, want 40+", n)
	}
	p := startShared(t, "")
	if err := servers[3].Exec(context.Background(), "CREATE DATABASE IF NOT EXISTS customer", "CREATE DATABASE IF NOT EXISTS commerce"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name   string
		params []string
	}{
		{"text", []string{"interpolateParams=true"}},
		{"binary", nil},
	} {
		t.Run(mode.name, func(t *testing.T) {
			proxyDB := p.DB(t, "customer", mode.params...)
			refDSN := "root@tcp(" + servers[3].Addr() + ")/customer"
			if len(mode.params) > 0 {
				refDSN += "?" + strings.Join(mode.params, "&")
			}
			refDB, err := sql.Open("mysql", refDSN)
			if err != nil {
				t.Fatal(err)
			}
			defer refDB.Close()
			pc, rc := conn(t, proxyDB), conn(t, refDB)
			failures := 0
			for _, st := range corpus {
				what := fmt.Sprintf("line %d: %s", st.line, oneLine(st.sql))
				if len(st.args) > 0 {
					what += fmt.Sprintf(" args %v", st.args)
				}
				ref := runStmt(rc, st)
				if ref.err != nil {
					t.Fatalf("%s: reference MariaDB fails (corpus bug): %v", what, ref.err)
				}
				got := runStmt(pc, st)
				if got.err != nil {
					failures++
					if st.setup {
						t.Fatalf("%s: proxy fails on a setup statement: %v", what, got.err)
					}
					t.Errorf("%s: proxy error %v; reference gave %d rows / %d affected", what, got.err, len(ref.rows), ref.affected)
					continue
				}
				if isQuery(st.sql) {
					if strings.Join(got.cols, ",") != strings.Join(ref.cols, ",") {
						failures++
						t.Errorf("%s: columns %q, reference %q", what, got.cols, ref.cols)
					}
					if d := diffRows(got.rows, ref.rows, st.ordered); d != "" {
						failures++
						t.Errorf("%s: rows differ from the reference:\n%s", what, d)
					}
				} else if got.affected != ref.affected {
					failures++
					t.Errorf("%s: %d rows affected, reference %d", what, got.affected, ref.affected)
				}
			}
			t.Logf("%d statements (%d besides setup), %d mismatches", len(corpus), n, failures)
		})
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
