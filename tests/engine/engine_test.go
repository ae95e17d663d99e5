package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// protocols the corpus runs with: the text protocol (COM_QUERY, parameters
// interpolated by the driver) and the binary protocol (every query prepared
// with COM_STMT_PREPARE and run with COM_STMT_EXECUTE), the reference being
// queried the same way.
var protocols = []struct {
	name   string
	params []string
	binary bool
}{
	{"text", []string{"interpolateParams=true"}, false},
	{"binary", nil, true},
}

// queryTimeout bounds one query; after maxTimeouts timeouts in a row the
// rest of a run fails at once rather than waiting for each.
const (
	queryTimeout = 20 * time.Second
	maxTimeouts  = 3
)

func runQuery(db *sql.DB, e *entry, binary bool) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	var rows *sql.Rows
	var err error
	if binary {
		var st *sql.Stmt
		st, err = db.PrepareContext(ctx, e.sql)
		if err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
		defer st.Close()
		rows, err = st.QueryContext(ctx, e.args...)
	} else {
		rows, err = db.QueryContext(ctx, e.sql, e.args...)
	}
	if err != nil {
		return nil, err
	}
	return readResult(rows)
}

// outcome of one entry in one run.
type outcome int

const (
	passed outcome = iota
	failed
	refused // error 1235 where the corpus allows it
)

// tally counts outcomes and failure kinds of the corpus runs.
type tally struct {
	mu      sync.Mutex
	counts  map[string]*[3]int // "shards=2/text", "category:<c>" -> passed, failed, refused
	kinds   map[string]int
	example map[string]string
	order   []string
	gaps    map[string]string // known-gap reason -> example line, refused as expected
}

func newTally() *tally {
	return &tally{counts: map[string]*[3]int{}, kinds: map[string]int{}, example: map[string]string{}, gaps: map[string]string{}}
}

func (t *tally) add(key string, o outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.counts[key]
	if c == nil {
		c = new([3]int)
		t.counts[key] = c
		t.order = append(t.order, key)
	}
	c[o]++
}

func (t *tally) fail(kind, example string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.kinds[kind] == 0 {
		t.example[kind] = example
	}
	t.kinds[kind]++
}

// errorKind is a failure kind for a proxy error: the error number and its
// message without details in parentheses, values or shard counts.
func errorKind(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		msg := err.Error()
		if i := strings.Index(msg, ": "); i > 0 && strings.HasPrefix(msg, "prepare") {
			return "prepare: " + errorKind(errors.Unwrap(err))
		}
		if len(msg) > 80 {
			msg = msg[:80]
		}
		return "driver error: " + msg
	}
	msg := joinAliases.ReplaceAllString(me.Message, "join of X and Y")
	if i := strings.Index(msg, " ("); i > 0 {
		msg = msg[:i]
	}
	if len(msg) > 100 {
		msg = msg[:100] + "…"
	}
	return fmt.Sprintf("error %d: %s", me.Number, msg)
}

var joinAliases = regexp.MustCompile(`join of \S+ and \S+`)

func is1235(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1235
}

// TestEngineCorpus runs every SELECT of testdata/corpus.sql through a
// 2-shard and a 4-shard proxy, with the text and the binary protocol, and
// compares each result with the reference MariaDB's (one subtest per entry:
// TestEngineCorpus/shards=N/PROTOCOL/CATEGORY/Lline_sql).
func TestEngineCorpus(t *testing.T) {
	corpus, err := loadCorpus(corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	loadOnce(t)
	var categories []string
	byCat := map[string][]*entry{}
	for _, e := range corpus {
		if byCat[e.category] == nil {
			categories = append(categories, e.category)
		}
		byCat[e.category] = append(byCat[e.category], e)
	}

	wdb, err := sql.Open("mysql", "root@tcp("+refServer().Addr()+")/customer")
	if err != nil {
		t.Fatal(err)
	}
	defer wdb.Close()
	w := newWeigher(wdb)

	// Reference results, per protocol, computed on first use.
	refCache := map[string]*result{}
	var refMu sync.Mutex
	refDBs := map[string]*sql.DB{}
	for _, proto := range protocols {
		dsn := "root@tcp(" + refServer().Addr() + ")/customer"
		if len(proto.params) > 0 {
			dsn += "?" + strings.Join(proto.params, "&")
		}
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		refDBs[proto.name] = db
	}
	reference := func(proto string, binary bool, e *entry) (*result, error) {
		refMu.Lock()
		defer refMu.Unlock()
		k := fmt.Sprintf("%s/%d", proto, e.line)
		if r, ok := refCache[k]; ok {
			return r, nil
		}
		r, err := runQuery(refDBs[proto], e, binary)
		if err != nil {
			return nil, err
		}
		refCache[k] = r
		return r, nil
	}

	tl := newTally()
	for _, n := range topologies {
		t.Run(fmt.Sprintf("shards=%d", n), func(t *testing.T) {
			p := startProxy(t, n, "")
			for _, proto := range protocols {
				t.Run(proto.name, func(t *testing.T) {
					db := p.DB(t, "customer", proto.params...)
					db.SetMaxIdleConns(4)
					run := fmt.Sprintf("shards=%d/%s", n, proto.name)
					timeouts := 0
					for _, cat := range categories {
						t.Run(cat, func(t *testing.T) {
							for _, e := range byCat[cat] {
								t.Run(e.testName(), func(t *testing.T) {
									o := runEntry(t, e, db, proto.binary, timeouts >= maxTimeouts, &timeouts, w, tl,
										func() (*result, error) { return reference(proto.name, proto.binary, e) })
									tl.add(run, o)
									tl.add("category:"+cat, o)
								})
							}
						})
					}
				})
			}
		})
	}
	summaryMu.Lock()
	lastTally, lastSize = tl, len(corpus)
	summaryMu.Unlock()
	tl.report(t, len(corpus))
}

// runEntry runs one entry through the proxy and compares it with the
// reference; it fails the (sub)test on any difference.
func runEntry(t *testing.T, e *entry, db *sql.DB, binary, giveUp bool, timeouts *int, w *weigher, tl *tally, ref func() (*result, error)) outcome {
	t.Helper()
	desc := fmt.Sprintf("%s [%s]\n%s", e.where(), e.mode(), e.sql)
	if len(e.args) > 0 {
		desc += fmt.Sprintf("\nargs: %v", e.args)
	}
	want, err := ref()
	if err != nil {
		t.Fatalf("%s\nthe reference MariaDB fails (corpus bug): %v", desc, err)
	}
	if giveUp {
		tl.fail("not run: earlier queries timed out", e.where())
		t.Errorf("%s\nnot run: %d queries in a row timed out before", desc, maxTimeouts)
		return failed
	}
	got, err := runQuery(db, e, binary)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			*timeouts++
		} else {
			*timeouts = 0
		}
		if e.refuseOK && is1235(err) {
			t.Logf("%s\nrefused, which the corpus allows here: %v", desc, err)
			if e.gap != "" {
				tl.mu.Lock()
				tl.gaps[e.gap] = fmt.Sprintf("line %d", e.line)
				tl.mu.Unlock()
			}
			return refused
		}
		kind := errorKind(err)
		tl.fail(kind, e.example(""))
		t.Errorf("%s\nproxy error: %v\n(the reference returns %d rows)", desc, err, len(want.rows))
		return failed
	}
	*timeouts = 0
	c := newComparer(w, e, want)
	m, err := c.compare(got, want)
	if err != nil {
		t.Fatalf("%s\n%v", desc, err)
	}
	if m != nil {
		tl.fail(m.kind, e.example(strings.SplitN(m.detail, "\n", 2)[0]))
		t.Errorf("%s\n%s: %s", desc, m.kind, m.detail)
		return failed
	}
	return passed
}

// example describes an entry (and a detail) in the failure-kind summary.
func (e *entry) example(detail string) string {
	s := fmt.Sprintf("line %d: %s", e.line, strings.Join(strings.Fields(e.sql), " "))
	if detail != "" {
		s += " -> " + detail
	}
	return s
}

// report logs the summary: per run, per category, failure kinds, and the
// totals last (so that the tail of the output shows them).
func (tl *tally) report(t *testing.T, corpusSize int) {
	t.Log(tl.summary(corpusSize))
}

func (tl *tally) summary(corpusSize int) string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var total [3]int
	lines := []string{"engine corpus, per run:"}
	for _, k := range tl.order {
		c := tl.counts[k]
		if strings.HasPrefix(k, "category:") {
			continue
		}
		for i := range total {
			total[i] += c[i]
		}
		lines = append(lines, fmt.Sprintf("  %-16s %4d passed, %4d failed, %3d refused (allowed)", k, c[passed], c[failed], c[refused]))
	}
	lines = append(lines, "per category (all runs):")
	for _, k := range tl.order {
		c := tl.counts[k]
		if !strings.HasPrefix(k, "category:") {
			continue
		}
		lines = append(lines, fmt.Sprintf("  %-16s %4d passed, %4d failed, %3d refused (allowed)", strings.TrimPrefix(k, "category:"), c[passed], c[failed], c[refused]))
	}
	if len(tl.kinds) > 0 {
		lines = append(lines, "failure kinds (runs, kind, first example):")
		kinds := make([]string, 0, len(tl.kinds))
		for k := range tl.kinds {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool {
			if tl.kinds[kinds[i]] != tl.kinds[kinds[j]] {
				return tl.kinds[kinds[i]] > tl.kinds[kinds[j]]
			}
			return kinds[i] < kinds[j]
		})
		for _, k := range kinds {
			ex := tl.example[k]
			if r := []rune(ex); len(r) > 150 {
				ex = string(r[:150]) + "…"
			}
			lines = append(lines, fmt.Sprintf("  %4d  %s  [%s]", tl.kinds[k], k, ex))
		}
	}
	if len(tl.gaps) > 0 {
		gaps := make([]string, 0, len(tl.gaps))
		for g, where := range tl.gaps {
			gaps = append(gaps, fmt.Sprintf("  known gap (refused with 1235, not supported yet): %s [%s]", g, where))
		}
		sort.Strings(gaps)
		lines = append(lines, gaps...)
	}
	lines = append(lines, fmt.Sprintf("engine corpus: %d passed, %d failed (%d more refused with 1235 where the corpus allows it); %d SELECTs x %d topologies x %d protocols",
		total[passed], total[failed], total[refused], corpusSize, len(topologies), len(protocols)))
	return strings.Join(lines, "\n")
}
