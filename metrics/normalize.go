package metrics

import "strings"

// maxNormalized bounds the length of a normalized statement.
const maxNormalized = 2000

// Normalize returns sql with literals replaced by ?, comments removed,
// whitespace collapsed and lists of placeholders shortened to "?, ...", so
// statements of one shape share one line in the top-queries table and the
// slow-query log, and no values (which may be personal data) are kept.
func Normalize(sql string) string {
	var b strings.Builder
	b.Grow(min(len(sql), maxNormalized))
	space := false
	emit := func(s string) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(s)
	}
	i := 0
	for i < len(sql) && b.Len() < maxNormalized {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
			i++
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				i = len(sql)
			} else {
				i += end + 4
			}
			space = true
		case c == '#' || (c == '-' && i+2 < len(sql) && sql[i+1] == '-' && (sql[i+2] == ' ' || sql[i+2] == '\t')):
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				i = len(sql)
			} else {
				i += end
			}
			space = true
		case c == '\'' || c == '"':
			i = skipString(sql, i)
			placeholder(&b, &space)
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B' || c == 'n' || c == 'N') && i+1 < len(sql) && sql[i+1] == '\'' && !identBefore(sql, i):
			i = skipString(sql, i+1)
			placeholder(&b, &space)
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
				j := i
				for j < len(sql) && isIdent(sql[j]) {
					j++
				}
				emit(sql[i:j])
				i = j
				continue
			}
			j := i
			if c == '0' && i+1 < len(sql) && (sql[i+1] == 'x' || sql[i+1] == 'b') {
				j += 2
			}
			for j < len(sql) && (isIdent(sql[j]) || sql[j] == '.' ||
				((sql[j] == '+' || sql[j] == '-') && (sql[j-1] == 'e' || sql[j-1] == 'E'))) {
				j++
			}
			i = j
			placeholder(&b, &space)
		case c == '?':
			placeholder(&b, &space)
			i++
		case isIdent(c):
			j := i
			for j < len(sql) && isIdent(sql[j]) {
				j++
			}
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

// placeholder writes ?, turning a run "?, ?, ?" into "?, ...".
func placeholder(b *strings.Builder, space *bool) {
	s := b.String()
	switch {
	case strings.HasSuffix(s, "?, ...,"): // the run goes on
		trim(b, 1)
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

func trim(b *strings.Builder, n int) {
	s := b.String()
	s = s[:len(s)-n]
	b.Reset()
	b.WriteString(s)
}

func skipString(sql string, i int) int {
	q := sql[i]
	j := i + 1
	for j < len(sql) {
		switch sql[j] {
		case '\\':
			j += 2
			continue
		case q:
			if j+1 < len(sql) && sql[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		}
		j++
	}
	return len(sql)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdent(c byte) bool {
	return c == '_' || c == '$' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') || c >= 0x80
}

// identBefore reports whether position i continues an identifier (t1, x2).
func identBefore(sql string, i int) bool { return i > 0 && isIdent(sql[i-1]) }
