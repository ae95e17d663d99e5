package engine

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// cell is one value as the go-sql-driver returns it (sql.RawBytes): NULL is
// not the string "NULL".
type cell struct {
	null bool
	s    string
}

func (c cell) String() string {
	if c.null {
		return "NULL"
	}
	return strconv.Quote(c.s)
}

// result is a whole result set.
type result struct {
	cols  []string
	types []string // DatabaseTypeName of each column
	rows  [][]cell
}

func readResult(rows *sql.Rows) (*result, error) {
	defer rows.Close()
	res := &result{}
	var err error
	if res.cols, err = rows.Columns(); err != nil {
		return nil, err
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	for _, ct := range cts {
		res.types = append(res.types, ct.DatabaseTypeName())
	}
	vals := make([]sql.RawBytes, len(res.cols))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]cell, len(vals))
		for i, v := range vals {
			if v == nil {
				row[i] = cell{null: true}
			} else {
				row[i] = cell{s: string(v)}
			}
		}
		res.rows = append(res.rows, row)
	}
	return res, rows.Err()
}

// isStringType says whether a column of that type compares with a collation.
func isStringType(t string) bool {
	switch t {
	case "CHAR", "VARCHAR", "TEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET":
		return true
	}
	return false
}

// weigher computes utf8mb4_general_ci weights with the reference server's
// WEIGHT_STRING (trailing spaces removed first: the collation is PAD SPACE,
// so 'a' = 'a '), cached: equal weights mean equal under the collation.
type weigher struct {
	db    *sql.DB
	mu    sync.Mutex
	cache map[string]string
}

func newWeigher(db *sql.DB) *weigher { return &weigher{db: db, cache: map[string]string{}} }

func (w *weigher) ci(s string) (string, error) {
	s = strings.TrimRight(s, " ")
	w.mu.Lock()
	defer w.mu.Unlock()
	if v, ok := w.cache[s]; ok {
		return v, nil
	}
	var b []byte
	ctx, cancel := context.WithTimeout(context.Background(), 10e9)
	defer cancel()
	if err := w.db.QueryRowContext(ctx, "SELECT WEIGHT_STRING(CONVERT(? USING utf8mb4) COLLATE utf8mb4_general_ci)", s).Scan(&b); err != nil {
		return "", fmt.Errorf("WEIGHT_STRING(%q) on the reference: %w", s, err)
	}
	v := "~" + hex.EncodeToString(b)
	w.cache[s] = v
	return v, nil
}

// comparer holds what comparisons of one entry need.
type comparer struct {
	w     *weigher
	e     *entry
	ciCol map[int]bool // columns compared up to the collation
}

func newComparer(w *weigher, e *entry, ref *result) *comparer {
	c := &comparer{w: w, e: e, ciCol: map[int]bool{}}
	switch {
	case e.exact:
	case e.ciGiven:
		for _, i := range e.ci {
			c.ciCol[i] = true
		}
	case e.autoCI():
		for i, t := range ref.types {
			if isStringType(t) {
				c.ciCol[i] = true
			}
		}
	}
	return c
}

// norm renders a row for comparison: strings of ci columns as their weight.
func (c *comparer) norm(row []cell) (string, error) {
	parts := make([]string, len(row))
	for i, v := range row {
		if c.ciCol[i] && !v.null {
			wt, err := c.w.ci(v.s)
			if err != nil {
				return "", err
			}
			parts[i] = wt
			continue
		}
		parts[i] = v.String()
	}
	return strings.Join(parts, "|"), nil
}

// sortKey renders the ORDER BY key of a row: collation weights for strings
// (bytes for bin keys), the text of anything else.
func (c *comparer) sortKey(row []cell, types []string) (string, error) {
	parts := make([]string, len(c.e.keys))
	for i, k := range c.e.keys {
		v := row[k.col]
		switch {
		case v.null:
			parts[i] = "NULL"
		case k.bin:
			parts[i] = strconv.Quote(strings.TrimRight(v.s, " "))
		case isStringType(types[k.col]):
			wt, err := c.w.ci(v.s)
			if err != nil {
				return "", err
			}
			parts[i] = wt
		default:
			parts[i] = strconv.Quote(v.s)
		}
	}
	return strings.Join(parts, "|"), nil
}

// mismatch is one way the proxy's answer differs from the reference's.
type mismatch struct {
	kind   string // short, for the summary (no values)
	detail string
}

func (m *mismatch) Error() string { return m.kind + ": " + m.detail }

// compare compares the proxy's result (got) with the reference's (want) as
// the entry's mode says. It returns nil when they agree.
func (c *comparer) compare(got, want *result) (*mismatch, error) {
	if strings.Join(got.cols, "\x00") != strings.Join(want.cols, "\x00") {
		return &mismatch{"column names differ", fmt.Sprintf("got %q, want %q", got.cols, want.cols)}, nil
	}
	for _, k := range c.e.keys {
		if k.col >= len(want.cols) {
			return nil, fmt.Errorf("%s: key column %d but the result has %d columns (corpus bug)", c.e.where(), k.col+1, len(want.cols))
		}
	}
	var typeMismatch *mismatch
	if strings.Join(got.types, ",") != strings.Join(want.types, ",") {
		typeMismatch = &mismatch{"column types differ", fmt.Sprintf("got %v, want %v", got.types, want.types)}
	}
	m, err := c.compareRows(got, want)
	if err != nil || m != nil {
		return m, err
	}
	return typeMismatch, nil
}

func (c *comparer) compareRows(got, want *result) (*mismatch, error) {
	mode := c.e.mode()
	if len(got.rows) != len(want.rows) && mode == modeCount {
		return &mismatch{"row count differs", fmt.Sprintf("got %d rows, want %d", len(got.rows), len(want.rows))}, nil
	}
	if mode == modeCount {
		return nil, nil
	}
	gn, err := c.normAll(got.rows)
	if err != nil {
		return nil, err
	}
	wn, err := c.normAll(want.rows)
	if err != nil {
		return nil, err
	}
	if len(got.rows) != len(want.rows) {
		detail := fmt.Sprintf("got %d rows, want %d", len(got.rows), len(want.rows))
		if m := c.multiset(gn, wn, got.rows, want.rows); m != nil {
			detail += "; " + m.detail
		}
		if mode != modeMultiset {
			detail += "\n" + c.sideBySide(got, want)
		}
		return &mismatch{"row count differs", detail}, nil
	}
	switch mode {
	case modeMultiset:
		if m := c.multiset(gn, wn, got.rows, want.rows); m != nil {
			return m, nil
		}
	case modeExact:
		for i := range gn {
			if gn[i] != wn[i] {
				return c.orderOrValues(gn, wn, got, want, i), nil
			}
		}
	case modeKeys:
		// The key sequence must be the reference's; rows may differ only in
		// their order within a run of equal keys (a tie), except in the
		// first and last runs of a LIMIT window, which may hold other tied
		// rows than the reference's.
		gk, wk := make([]string, len(gn)), make([]string, len(wn))
		for i := range gn {
			if gk[i], err = c.sortKey(got.rows[i], want.types); err != nil {
				return nil, err
			}
			if wk[i], err = c.sortKey(want.rows[i], want.types); err != nil {
				return nil, err
			}
		}
		for i := range gk {
			if gk[i] != wk[i] {
				if m := c.multiset(gn, wn, got.rows, want.rows); m != nil {
					return m, nil
				}
				return &mismatch{"ORDER BY order differs", fmt.Sprintf("row %d has ORDER BY key %s, want %s\n%s", i+1, keyText(got.rows[i], c.e.keys), keyText(want.rows[i], c.e.keys), c.sideBySide(got, want))}, nil
			}
		}
		for start := 0; start < len(wk); {
			end := start + 1
			for end < len(wk) && wk[end] == wk[start] {
				end++
			}
			cut := (start == 0 && c.e.hasOffset) || (end == len(wk) && c.e.hasLimit)
			if !cut {
				if m := c.multiset(gn[start:end], wn[start:end], got.rows[start:end], want.rows[start:end]); m != nil {
					m.detail = fmt.Sprintf("rows %d-%d (equal ORDER BY keys): %s", start+1, end, m.detail)
					return m, nil
				}
			}
			start = end
		}
	}
	return nil, nil
}

func keyText(row []cell, keys []keySpec) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, row[k.col].String())
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (c *comparer) normAll(rows [][]cell) ([]string, error) {
	out := make([]string, len(rows))
	for i, r := range rows {
		var err error
		if out[i], err = c.norm(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// multiset compares two lists of normalized rows as multisets (gr and wr
// are the same rows as text, for messages).
func (c *comparer) multiset(gn, wn []string, gr, wr [][]cell) *mismatch {
	count := map[string]int{}
	show := map[string]string{}
	for i, r := range gn {
		count[r]++
		if _, ok := show[r]; !ok {
			show[r] = rowText(gr[i])
		}
	}
	for i, r := range wn {
		count[r]--
		if _, ok := show[r]; !ok || count[r] < 0 {
			show[r] = rowText(wr[i])
		}
	}
	var extra, missing []string
	for r, n := range count {
		for ; n > 0; n-- {
			extra = append(extra, r)
		}
		for ; n < 0; n++ {
			missing = append(missing, r)
		}
	}
	if len(extra)+len(missing) == 0 {
		return nil
	}
	sort.Strings(extra)
	sort.Strings(missing)
	kind := "rows differ"
	if len(extra) == len(missing) {
		kind = valueKind(extra, missing)
	}
	texts := func(rows []string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = show[r]
			if strings.Contains(r, "~") {
				out[i] += "   (strings compared up to the collation)"
			}
		}
		return out
	}
	return &mismatch{kind, fmt.Sprintf("%d unexpected rows:\n  %s\n%d missing rows:\n  %s", len(extra), strings.Join(limit(texts(extra), 15), "\n  "), len(missing), strings.Join(limit(texts(missing), 15), "\n  "))}
}

// orderOrValues explains the first difference of two ordered results.
func (c *comparer) orderOrValues(gn, wn []string, got, want *result, i int) *mismatch {
	if m := c.multiset(gn, wn, got.rows, want.rows); m != nil {
		return m
	}
	return &mismatch{"order differs", fmt.Sprintf("first difference at row %d: got %s, want %s\n%s", i+1, gn[i], wn[i], c.sideBySide(got, want))}
}

// valueKind names what differs between paired unexpected and missing rows
// (sorted, so the pairs usually are the same row).
func valueKind(extra, missing []string) string {
	g, w := strings.Split(extra[0], "|"), strings.Split(missing[0], "|")
	if len(g) != len(w) {
		return "rows differ"
	}
	for i := range g {
		if g[i] == w[i] {
			continue
		}
		gs, gerr := strconv.Unquote(g[i])
		ws, werr := strconv.Unquote(w[i])
		switch {
		case g[i] == "NULL" || w[i] == "NULL":
			return "NULL where the reference has a value, or the reverse"
		case gerr == nil && werr == nil && sameNumber(gs, ws):
			return "number formatting differs (same value, other scale or form)"
		case gerr == nil && werr == nil && strings.EqualFold(gs, ws):
			return "string differs in letter case"
		}
		return "values differ"
	}
	return "rows differ"
}

func sameNumber(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	return ok1 && ok2 && x.Cmp(y) == 0 && a != b
}

func limit(rows []string, n int) []string {
	if len(rows) == 0 {
		return []string{"(none)"}
	}
	if len(rows) > n {
		return append(rows[:n:n], fmt.Sprintf("... (%d more)", len(rows)-n))
	}
	return rows
}

// sideBySide shows the first rows of both results.
func (c *comparer) sideBySide(got, want *result) string {
	var b strings.Builder
	n := max(len(got.rows), len(want.rows))
	shown := 0
	for i := 0; i < n && shown < 12; i++ {
		var g, w string
		if i < len(got.rows) {
			g = rowText(got.rows[i])
		}
		if i < len(want.rows) {
			w = rowText(want.rows[i])
		}
		mark := " "
		if g != w {
			mark = "≠"
		}
		fmt.Fprintf(&b, "  %s %3d got  %s\n         want %s\n", mark, i+1, g, w)
		shown++
	}
	if n > shown {
		fmt.Fprintf(&b, "  ... (%d rows in all)\n", n)
	}
	return b.String()
}

func rowText(row []cell) string {
	parts := make([]string, len(row))
	for i, v := range row {
		parts[i] = v.String()
	}
	return strings.Join(parts, "|")
}
