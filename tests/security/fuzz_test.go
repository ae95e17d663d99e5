package security

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
)

// fuzzSeed is SHARDGATE_FUZZ_SEED, or a fixed seed (a failure names it).
func fuzzSeed() int64 {
	if s, err := strconv.ParseInt(os.Getenv("SHARDGATE_FUZZ_SEED"), 10, 64); err == nil {
		return s
	}
	return 20261207
}

// fuzzStatements is how many statements each fuzz test tries
// (SHARDGATE_FUZZ_N, default 2000).
func fuzzStatements() int {
	if n, err := strconv.Atoi(os.Getenv("SHARDGATE_FUZZ_N")); err == nil && n > 0 {
		return n
	}
	return 2000
}

// commentForms wrap a payload in every kind of comment, executable or not,
// that MariaDB or the tidb parser knows.
var commentForms = []string{
	"/*!%s*/", "/*!50000%s*/", "/*!50700%s*/", "/*!99999%s*/", "/*!100000 %s*/", "/*!1234%s*/",
	"/*M!%s*/", "/*M!50700%s*/", "/*M!100000%s*/", "/*M!999999%s*/", "/*m!%s*/",
	"/*T![clustered_index]%s*/", "/*T!%s*/", "/*+%s*/", "/*%s*/", "/**/%s",
	"-- %s\n", "--%s\n", "#%s\n", "--\x01%s\n", "--\t%s\n", "-- %s", "#%s",
}

// fragments go inside quotes and comments: markers and escapes.
var fragments = []string{"/*", "*/", "/*!", "/*M!", "--", "-- ", "#", "\\'", "''", "\\\"", "\"\"", "\\\\", "\\", "\n", "x", "`", "'", "\"", " ", "1"}

// fuzzGen builds statements whose result shows which parts ran.
type fuzzGen struct {
	r *rand.Rand
	n int // columns so far, for distinct values
}

func (g *fuzzGen) literal() string {
	g.n++
	if g.r.Intn(2) == 0 {
		return strconv.Itoa(g.n * 11)
	}
	return fmt.Sprintf("'v%d'", g.n)
}

func (g *fuzzGen) inner() string {
	var b strings.Builder
	for i := g.r.Intn(5); i >= 0; i-- {
		b.WriteString(fragments[g.r.Intn(len(fragments))])
	}
	return b.String()
}

// part is one more piece after "SELECT 1".
func (g *fuzzGen) part() string {
	switch g.r.Intn(6) {
	case 0:
		return ", " + g.literal()
	case 1: // a string or an identifier holding comment markers
		q := []string{"'", "\"", "`"}[g.r.Intn(3)]
		if q == "`" {
			return ", 7 AS `" + strings.ReplaceAll(g.inner(), "`", "``") + "`"
		}
		return ", " + q + g.inner() + q
	default:
		form := commentForms[g.r.Intn(len(commentForms))]
		payload := " , " + g.literal()
		if g.r.Intn(3) == 0 {
			payload += g.part()
		}
		if g.r.Intn(4) == 0 {
			payload = g.inner() + payload
		}
		return " " + fmt.Sprintf(form, payload)
	}
}

func (g *fuzzGen) statement() string {
	g.n = 0
	var b strings.Builder
	b.WriteString("SELECT 1")
	for i := 1 + g.r.Intn(3); i > 0; i-- {
		b.WriteString(g.part())
	}
	return b.String()
}

// answer is a statement's outcome: its rows, or that it failed; prepared
// runs it through COM_STMT_PREPARE and EXECUTE.
func answer(ctx context.Context, c *sql.Conn, q string, prepared bool) ([]string, error) {
	var rs *sql.Rows
	var err error
	if prepared {
		var st *sql.Stmt
		if st, err = c.PrepareContext(ctx, q); err != nil {
			return nil, err
		}
		defer st.Close()
		rs, err = st.QueryContext(ctx)
	} else {
		rs, err = c.QueryContext(ctx, q)
	}
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	return scanAll(rs)
}

// TestCommentFuzz: statements built from executable-comment, comment and
// quoting variants run on MariaDB directly and through the proxy, with and
// without ANSI_QUOTES, as text and as prepared statements. The proxy either refuses one or answers exactly the
// rows MariaDB answers: what it parsed is what ran.
func TestCommentFuzz(t *testing.T) {
	p := startProxy(t, options{})
	ctx := context.Background()
	seed, n := fuzzSeed(), fuzzStatements()
	for _, mode := range []string{"", "ANSI_QUOTES", "prepared"} {
		prepared := mode == "prepared"
		g := &fuzzGen{r: rand.New(rand.NewSource(seed))}
		via := conn(t, open(t, p.Addr, "app", "secret", "commerce"))
		dir := conn(t, direct(t, servers[0], "commerce"))
		if mode == "ANSI_QUOTES" {
			exec(t, via, "SET sql_mode = CONCAT(@@sql_mode, ',"+mode+"')")
			exec(t, dir, "SET sql_mode = CONCAT(@@sql_mode, ',"+mode+"')")
		}
		accepted, agreedErrors := 0, 0
		for i := 0; i < n; i++ {
			q := g.statement()
			want, werr := answer(ctx, dir, q, prepared)
			got, gerr := answer(ctx, via, q, prepared)
			switch {
			case gerr != nil && werr != nil:
				agreedErrors++
			case gerr != nil: // refused by the proxy: always allowed
			case werr != nil:
				t.Errorf("seed %d mode %q: %q: the proxy answered %v where MariaDB fails: %v", seed, mode, q, got, werr)
			case strings.Join(got, "\n") != strings.Join(want, "\n"):
				t.Errorf("seed %d mode %q: %q: the proxy answered %v, MariaDB %v", seed, mode, q, got, want)
			default:
				accepted++
			}
		}
		t.Logf("mode %q: %d statements, %d answered alike, %d failed on both, %d refused by the proxy only",
			mode, n, accepted, agreedErrors, n-accepted-agreedErrors)
		if accepted < n/4 {
			t.Errorf("mode %q: only %d of %d statements answered: the fuzzer tests little", mode, accepted, n)
		}
	}
}

// TestCommentFuzzReadOnly: a read-only user sends reads with writes hidden
// in every comment and quoting variant; no row changes on any shard.
func TestCommentFuzzReadOnly(t *testing.T) {
	p := startProxy(t, options{})
	ctx := context.Background()
	before := readState(t)
	g := &fuzzGen{r: rand.New(rand.NewSource(fuzzSeed() + 1))}
	writes := []string{
		"; UPDATE customer SET name = 'pwned'",
		"UPDATE customer SET name = 'pwned' WHERE customer_id IN ",
		" UNION SELECT name FROM customer FOR UPDATE",
		" ; DELETE FROM customer",
		"; INSERT INTO customer VALUES (999, 'pwned')",
		" , (SELECT COUNT(*) FROM customer FOR UPDATE)",
	}
	reader := conn(t, open(t, p.Addr, "reader", "reader", "customer", "multiStatements=true"))
	for i := 0; i < fuzzStatements()/2; i++ {
		w := writes[g.r.Intn(len(writes))]
		var hidden string
		switch g.r.Intn(3) {
		case 0:
			hidden = fmt.Sprintf(commentForms[g.r.Intn(len(commentForms))], w)
		case 1:
			hidden = "'" + g.inner() + "'" + fmt.Sprintf(commentForms[g.r.Intn(len(commentForms))], w)
		default:
			hidden = fmt.Sprintf(commentForms[g.r.Intn(len(commentForms))], w) + " " + g.inner()
		}
		q := "SELECT name FROM customer WHERE customer_id = 1 " + hidden
		if g.r.Intn(2) == 0 {
			q = hidden + " SELECT name FROM customer WHERE customer_id = 1"
		}
		if rs, err := reader.QueryContext(ctx, q); err == nil {
			for rs.NextResultSet() {
			}
			rs.Close()
		}
	}
	for _, d := range before.diff(readState(t)) {
		t.Errorf("the servers changed: %s", d)
	}
}
