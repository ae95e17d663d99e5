package sqllex

import "strings"

// MaxNormalized bounds the length of a normalized statement.
const MaxNormalized = 2000

// Normalize returns sql with literals replaced by ?, comments removed,
// whitespace collapsed and lists of placeholders shortened to "?, ...", for
// display: statements of one shape share one line in the top-queries table,
// the slow-query log and the deadlock log, and no values (which may be
// personal data) are kept. (The router's normalizer, which keeps a
// statement parseable for the plan cache, is another.)
func Normalize(sql string) string {
	var b strings.Builder
	b.Grow(min(len(sql), MaxNormalized))
	space := false
	emit := func(s string) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(s)
	}
	i := 0
	for i < len(sql) && b.Len() < MaxNormalized {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
			i++
		case (c == '/' || c == '#' || c == '-') && startsComment(sql, i):
			i, _ = SkipComment(sql, i)
			space = true
		case c == '\'' || c == '"':
			i, _, _ = SkipString(sql, i)
			normPlaceholder(&b, &space)
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B' || c == 'n' || c == 'N') && i+1 < len(sql) && sql[i+1] == '\'' && !identBefore(sql, i):
			i, _, _ = SkipString(sql, i+1)
			normPlaceholder(&b, &space)
		case c == '`':
			j := i + 1
			for j < len(sql) {
				if sql[j] == '`' {
					if j+1 < len(sql) && sql[j+1] == '`' {
						j += 2
						continue
					}
					j++
					break
				}
				j++
			}
			emit(sql[i:min(j, len(sql))])
			i = j
		case isDigit(c) || (c == '.' && i+1 < len(sql) && isDigit(sql[i+1])):
			if identBefore(sql, i) {
				j := SkipIdent(sql, i)
				emit(sql[i:j])
				i = j
				continue
			}
			j, _ := ScanNumber(sql, i)
			if j < len(sql) && IsIdentChar(sql[j]) { // an identifier starting with digits
				j = SkipIdent(sql, j)
				emit(sql[i:j])
				i = j
				continue
			}
			i = j
			normPlaceholder(&b, &space)
		case c == '?':
			normPlaceholder(&b, &space)
			i++
		case IsIdentChar(c):
			j := SkipIdent(sql, i)
			emit(sql[i:j])
			i = j
		default:
			if c == ',' || c == ')' || c == ';' {
				space = false
			}
			if c == ';' && strings.TrimSpace(sql[i+1:]) == "" {
				i = len(sql)
				continue
			}
			emit(string(c))
			if c == '(' || c == '.' {
				space = false
				i++
				// no space after an opening parenthesis or a dot
				for i < len(sql) && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r') {
					i++
				}
				continue
			}
			if c == ',' {
				space = true
			}
			i++
		}
	}
	return b.String()
}

// normPlaceholder writes ?, turning a run "?, ?, ?" into "?, ...".
func normPlaceholder(b *strings.Builder, space *bool) {
	s := b.String()
	switch {
	case strings.HasSuffix(s, "?, ...,"): // the run goes on
		normTrim(b, 1)
		*space = false
		return
	case strings.HasSuffix(s, "?,"):
		b.WriteString(" ...")
		*space = false
		return
	}
	if *space && b.Len() > 0 && !strings.HasSuffix(s, "(") {
		b.WriteByte(' ')
	}
	*space = false
	b.WriteByte('?')
}

func normTrim(b *strings.Builder, n int) {
	s := b.String()
	s = s[:len(s)-n]
	b.Reset()
	b.WriteString(s)
}

// startsComment reports whether a comment starts at sql[i].
func startsComment(sql string, i int) bool {
	end, _ := SkipComment(sql, i)
	return end != i
}

// identBefore reports whether position i continues an identifier (t1, x2).
func identBefore(sql string, i int) bool { return i > 0 && IsIdentChar(sql[i-1]) }
