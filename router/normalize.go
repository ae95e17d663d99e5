package router

import (
	"strings"

	"github.com/shardgate/shardgate/internal/sqllex"
	"github.com/shardgate/shardgate/router/sqlval"
)

// normalize replaces the literals of a DML statement by '?' so that
// statements differing only in literals share one cached plan. It returns the
// normalized text and the literals in order; a '?' already in the text (a
// prepared-statement parameter) is kept and reported as a Value with
// kind 0xff so the caller can map it to the client's parameter. ok is false
// when the statement is not a kind worth normalizing or has no literal.
// With ANSI_QUOTES in mode, "…" is an identifier and stays.
func normalize(sql string, dst []sqlval.Value, mode sqllex.Mode) (norm string, vals []sqlval.Value, ok bool) {
	if !isDML(sql) {
		return sql, dst, false
	}
	var b strings.Builder
	b.Grow(len(sql))
	vals = dst
	last := 0 // sql[last:i] not yet copied
	changed := false
	// A number at the start of an ORDER BY / GROUP BY item is a column
	// position, not a value: it stays in the text.
	var prevWord string
	inByList, itemStart := false, false
	for i := 0; i < len(sql); {
		c := sql[i]
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && !(c >= '0' && c <= '9') {
			itemStart = false
			if c == ',' && inByList {
				itemStart = true
			} else if c == '(' || c == ')' {
				inByList = false
			}
		}
		switch {
		case c == '"' && mode&sqllex.ANSIQuotes != 0:
			i = sqllex.SkipQuotedIdent(sql, i)
		case c == '\'' || c == '"':
			end, s, good := scanString(sql, i)
			if !good {
				return sql, dst, false
			}
			if i > 0 && sqllex.IsIdentChar(sql[i-1]) {
				// introducer (_utf8mb4'x') or X'..': keep as is
				if p := sqllex.IdentStart(sql, i); p >= 0 {
					word := strings.ToLower(sql[p:i])
					if word == "x" || word == "b" {
						b.WriteString(sql[last:p])
						b.WriteByte('?')
						vals = append(vals, sqlval.Value{Kind: sqlval.Hex, Raw: sql[p:end]})
						last, changed = end, true
					}
				}
				i = end
				continue
			}
			b.WriteString(sql[last:i])
			b.WriteByte('?')
			vals = append(vals, sqlval.Value{Kind: sqlval.String, Raw: s})
			last, changed = end, true
			i = end
		case c == '`':
			j := strings.IndexByte(sql[i+1:], '`')
			if j < 0 {
				return sql, dst, false
			}
			i += j + 2
		case c == '#' || c == '-' || c == '/':
			end, closed := sqllex.SkipComment(sql, i)
			if !closed {
				return sql, dst, false
			}
			if end == i { // an operator, not a comment
				end++
			}
			i = end
		case c == '?':
			vals = append(vals, sqlval.Value{Kind: sqlval.Param})
			i++
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9'):
			if i > 0 && (sqllex.IsIdentChar(sql[i-1]) || sql[i-1] == '.' && c != '.') {
				// part of an identifier (t1, db.1col) or a qualified name
				i = sqllex.SkipIdent(sql, i)
				continue
			}
			end, kind := scanNumber(sql, i)
			if end < len(sql) && sqllex.IsIdentChar(sql[end]) && kind != sqlval.Hex {
				i = sqllex.SkipIdent(sql, end) // identifier starting with digits
				continue
			}
			if itemStart && kind == sqlval.Int {
				itemStart = false
				i = end
				continue
			}
			itemStart = false
			b.WriteString(sql[last:i])
			b.WriteByte('?')
			vals = append(vals, sqlval.Value{Kind: kind, Raw: sql[i:end]})
			last, changed = end, true
			i = end
		case sqllex.IsIdentChar(c):
			j := sqllex.SkipIdent(sql, i)
			w := sql[i:j]
			switch {
			case strings.EqualFold(w, "by"):
				if strings.EqualFold(prevWord, "order") || strings.EqualFold(prevWord, "group") {
					inByList, itemStart = true, true
				}
			case inByList && endsByList(w):
				inByList = false
			}
			prevWord = w
			i = j
		default:
			i++
		}
	}
	if !changed {
		return sql, vals, false
	}
	b.WriteString(sql[last:])
	return b.String(), vals, true
}

// scanString scans a quoted string starting at s[i] and returns the index
// after it and its unescaped content.
func scanString(s string, i int) (end int, content string, ok bool) {
	end, escaped, ok := sqllex.SkipString(s, i)
	switch {
	case !ok:
		return 0, "", false
	case escaped:
		return end, unescape(s[i+1:end-1], s[i]), true
	}
	return end, s[i+1 : end-1], true
}

func unescape(s string, q byte) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == q && i+1 < len(s) && s[i+1] == q {
			b.WriteByte(q)
			i++
			continue
		}
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case '0':
			b.WriteByte(0)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'Z':
			b.WriteByte(0x1a)
		case '%', '_':
			// MySQL keeps the backslash for LIKE wildcards.
			b.WriteByte('\\')
			b.WriteByte(s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// scanNumber scans a numeric literal; an integer too long for int64 keeps
// its text as a decimal.
func scanNumber(s string, i int) (int, sqlval.Kind) {
	end, kind := sqllex.ScanNumber(s, i)
	switch {
	case kind == sqllex.Hex:
		return end, sqlval.Hex
	case kind == sqllex.Decimal || end-i > 18:
		return end, sqlval.Number
	}
	return end, sqlval.Int
}

func isDML(sql string) bool {
	w := firstWord(sql)
	return strings.EqualFold(w, "select") || strings.EqualFold(w, "insert") || strings.EqualFold(w, "update") ||
		strings.EqualFold(w, "delete") || strings.EqualFold(w, "replace")
}

// firstWord returns the statement's first keyword, skipping space, comments
// and an opening parenthesis.
func firstWord(sql string) string {
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ';':
			i++
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*' && !(i+2 < len(sql) && (sql[i+2] == '!' || sql[i+2] == 'M')):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return ""
			}
			i += j + 4
		case c == '#' || c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return ""
			}
			i += j
		default:
			return sql[i:sqllex.SkipIdent(sql, i)]
		}
	}
	return ""
}

// endsByList reports keywords that end an ORDER BY / GROUP BY list.
func endsByList(w string) bool {
	for _, k := range [...]string{"limit", "having", "window", "for", "union", "lock", "into", "procedure"} {
		if strings.EqualFold(w, k) {
			return true
		}
	}
	return false
}
