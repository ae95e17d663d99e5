package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

const corpusFile = "testdata/corpus.sql"

// minCorpus is the size the issue asks for.
const minCorpus = 300

// entry is one SELECT of the corpus (format: see the top of
// testdata/corpus.sql).
type entry struct {
	line     int
	category string
	name     string // -- name:, or derived from the SQL
	sql      string
	args     []any

	keys      []keySpec // -- keys: ORDER BY keys as result columns
	ordered   bool      // -- ordered: the ORDER BY is total (keys not all selected)
	unordered bool      // -- unordered: ORDER BY on unselected, non-total keys
	ci        []int     // -- ci: result columns compared up to the collation (0-based)
	ciGiven   bool
	exact     bool // -- exact: no column compared up to the collation
	refuseOK  bool // -- refuse-ok: error 1235 is an acceptable answer
	// -- known-gap: reason. A construct issue 4 asks for that the engine
	// does not do yet: a 1235 refusal passes and is listed in the summary
	// as a known gap; a wrong answer still fails.
	gap string

	// From the SQL text (outside parentheses and quotes).
	hasOrder, hasLimit, hasOffset bool
}

// keySpec is one ORDER BY key: a result column (0-based) compared with the
// utf8mb4_general_ci collation (strings) or as bytes (bin).
type keySpec struct {
	col int
	bin bool
}

// compareMode is how an entry's rows are compared with the reference's.
type compareMode int

const (
	modeMultiset compareMode = iota // no ORDER BY: same rows in any order
	modeExact                       // total ORDER BY: same rows in the same order
	modeKeys                        // ORDER BY keys in the result: same key sequence, rows permuted only within ties
	modeCount                       // LIMIT without a total order on selected columns: same number of rows
)

func (m compareMode) String() string {
	return [...]string{"multiset", "exact", "keys", "count"}[m]
}

func (e *entry) mode() compareMode {
	switch {
	case e.ordered:
		return modeExact
	case len(e.keys) > 0:
		return modeKeys
	case e.hasLimit:
		return modeCount
	default:
		return modeMultiset
	}
}

var autoCIre = regexp.MustCompile(`(?i)\b(GROUP\s+BY|DISTINCT|UNION|MIN\s*\(|MAX\s*\()`)

// autoCI says whether string columns are compared up to the collation by
// default: grouping, DISTINCT, UNION and MIN/MAX keep one arbitrary member of
// each set of collation-equal strings ('émile', 'Emile', 'EMILE' are one
// group), so which spelling comes back is not fixed by SQL.
func (e *entry) autoCI() bool { return autoCIre.MatchString(e.sql) }

// testName is the subtest name: corpus line and the start of the SQL.
func (e *entry) testName() string {
	s := e.name
	if s == "" {
		s = e.sql
	}
	var b strings.Builder
	under := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '*' || r == '=' || r == '<' || r == '>' || r == ',' || r == '.' {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
		if b.Len() >= 72 {
			break
		}
	}
	return fmt.Sprintf("L%04d_%s", e.line, strings.Trim(b.String(), "_"))
}

// where locates an entry for messages.
func (e *entry) where() string { return fmt.Sprintf("%s:%d", corpusFile, e.line) }

// loadCorpus parses the corpus file and checks each entry's directives
// against its SQL.
func loadCorpus(path string) ([]*entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*entry
	var errs []string
	fail := func(ln int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s", path, ln, fmt.Sprintf(format, args...)))
	}
	category := ""
	cur := &entry{}
	var buf []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if len(buf) == 0 {
			switch {
			case trimmed == "":
				continue
			case strings.HasPrefix(trimmed, "## "):
				f := strings.Fields(strings.TrimPrefix(trimmed, "## "))
				category = strings.TrimSuffix(f[0], ":")
				continue
			case strings.HasPrefix(trimmed, "#"):
				continue
			case strings.HasPrefix(trimmed, "-- "):
				parseDirective(cur, ln, strings.TrimPrefix(trimmed, "-- "), fail)
				continue
			case strings.HasPrefix(trimmed, "--"):
				fail(ln, "directive without a space after --: %q", trimmed)
				continue
			}
			cur.line = ln
		}
		buf = append(buf, line)
		if strings.HasSuffix(trimmed, ";") {
			cur.sql = strings.TrimSuffix(strings.TrimSpace(strings.Join(buf, "\n")), ";")
			cur.category = category
			checkEntry(cur, fail)
			out = append(out, cur)
			cur, buf = &entry{}, nil
		}
	}
	if len(buf) > 0 {
		fail(cur.line, "statement has no final ';'")
	}
	seen := map[string]int{}
	for _, e := range out {
		k := strings.Join(strings.Fields(e.sql), " ") + fmt.Sprint(e.args)
		if l, dup := seen[k]; dup {
			fail(e.line, "same statement as line %d", l)
		}
		seen[k] = e.line
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("corpus errors:\n%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

func parseDirective(e *entry, ln int, d string, fail func(int, string, ...any)) {
	name, arg, _ := strings.Cut(d, ":")
	name, arg = strings.TrimSpace(name), strings.TrimSpace(arg)
	switch name {
	case "name":
		e.name = arg
	case "keys":
		for _, f := range strings.Split(arg, ",") {
			f = strings.TrimSpace(f)
			k := keySpec{}
			if strings.HasSuffix(f, "b") {
				k.bin, f = true, strings.TrimSuffix(f, "b")
			}
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				fail(ln, "bad key column %q (1-based result column, optional suffix b)", f)
				continue
			}
			k.col = n - 1
			e.keys = append(e.keys, k)
		}
	case "ordered":
		e.ordered = true
	case "unordered":
		e.unordered = true
	case "exact":
		e.exact = true
	case "refuse-ok":
		e.refuseOK = true
	case "known-gap":
		e.refuseOK = true
		e.gap = arg
		if arg == "" {
			fail(ln, "known-gap needs a reason")
		}
	case "ci":
		e.ciGiven = true
		for _, f := range strings.Split(arg, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				fail(ln, "bad ci column %q", f)
				continue
			}
			e.ci = append(e.ci, n-1)
		}
	case "args":
		dec := json.NewDecoder(strings.NewReader(arg))
		dec.UseNumber()
		var raw []any
		if err := dec.Decode(&raw); err != nil {
			fail(ln, "bad args: %v", err)
			return
		}
		for _, a := range raw {
			if n, ok := a.(json.Number); ok {
				if i, err := n.Int64(); err == nil {
					a = i
				} else {
					a = n.String() // decimals bind as strings, as MariaDB compares them exactly
				}
			}
			e.args = append(e.args, a)
		}
	default:
		fail(ln, "unknown directive %q", d)
	}
}

// checkEntry derives the SQL's shape and checks the directives fit it.
func checkEntry(e *entry, fail func(int, string, ...any)) {
	if e.category == "" {
		fail(e.line, "statement before the first '## category' line")
	}
	up := strings.ToUpper(strings.TrimLeft(e.sql, "( \t\n"))
	if !strings.HasPrefix(up, "SELECT") && !strings.HasPrefix(up, "WITH") {
		fail(e.line, "not a SELECT")
	}
	for _, w := range topLevelWords(e.sql) {
		switch w {
		case "ORDER":
			e.hasOrder = true
		case "LIMIT":
			e.hasLimit = true
		case "OFFSET":
			e.hasOffset = true
		}
	}
	if e.hasLimit && regexp.MustCompile(`(?i)\bLIMIT\s+\d+\s*,`).MatchString(e.sql) {
		e.hasOffset = true
	}
	n := 0
	for _, b := range []bool{len(e.keys) > 0, e.ordered, e.unordered} {
		if b {
			n++
		}
	}
	switch {
	case e.hasOrder && n != 1:
		fail(e.line, "ORDER BY needs exactly one of -- keys:, -- ordered, -- unordered")
	case !e.hasOrder && n != 0:
		fail(e.line, "-- keys/ordered/unordered without a top-level ORDER BY")
	}
	if e.exact && e.ciGiven {
		fail(e.line, "-- exact and -- ci together")
	}
	if strings.Count(e.sql, "?") != len(e.args) && !strings.Contains(e.sql, "'") {
		fail(e.line, "%d placeholders, %d args", strings.Count(e.sql, "?"), len(e.args))
	}
}

// topLevelWords returns the upper-cased words of sql outside parentheses,
// quotes and comments.
func topLevelWords(sql string) []string {
	var words []string
	depth := 0
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			if depth == 0 {
				words = append(words, strings.ToUpper(word.String()))
			}
			word.Reset()
		}
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			flush()
			for i++; i < len(sql) && sql[i] != c; i++ {
				if sql[i] == '\\' && c != '`' {
					i++
				}
			}
		case c == '(':
			flush()
			depth++
		case c == ')':
			flush()
			depth--
		case c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			word.WriteByte(c)
		default:
			flush()
		}
	}
	flush()
	return words
}

// TestCorpusLint checks the corpus file alone: syntax, directives, size.
func TestCorpusLint(t *testing.T) {
	corpus, err := loadCorpus(corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus) < minCorpus {
		t.Errorf("corpus has %d SELECTs, want at least %d", len(corpus), minCorpus)
	}
	per := map[string]int{}
	var order []string
	for _, e := range corpus {
		if per[e.category] == 0 {
			order = append(order, e.category)
		}
		per[e.category]++
	}
	var parts []string
	for _, c := range order {
		parts = append(parts, fmt.Sprintf("%s %d", c, per[c]))
	}
	t.Logf("corpus: %d SELECTs: %s", len(corpus), strings.Join(parts, ", "))
}
