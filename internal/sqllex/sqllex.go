// Package sqllex holds MySQL's lexical rules (identifiers, quoted strings,
// numbers, comments) for the proxy's two normalizers: the plan cache's,
// which keeps the statement parseable (router), and the display one for
// metrics and logs (metrics). Neither parses: they scan tokens and replace
// literals, and must agree on where a string, a number or a comment ends.
package sqllex

// IsIdentChar reports whether c may be part of an unquoted identifier.
func IsIdentChar(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// SkipIdent returns the index after the identifier characters from s[i].
func SkipIdent(s string, i int) int {
	for i < len(s) && IsIdentChar(s[i]) {
		i++
	}
	return i
}

// IdentStart returns where the identifier ending just before s[i] starts,
// or -1 if s[i-1] is not an identifier character.
func IdentStart(s string, i int) int {
	j := i
	for j > 0 && IsIdentChar(s[j-1]) {
		j--
	}
	if j == i {
		return -1
	}
	return j
}

// SkipString scans the string quoted by s[i] (' or ") and returns the index
// after its closing quote; escaped reports a backslash or doubled quote in
// it. ok is false when the string is not closed.
func SkipString(s string, i int) (end int, escaped, ok bool) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			escaped = true
			j++
		case q:
			if j+1 < len(s) && s[j+1] == q {
				escaped = true
				j++
				continue
			}
			return j + 1, escaped, true
		}
	}
	return len(s), escaped, false
}

// SkipComment returns the index after the comment starting at s[i] (/* */,
// # or "-- " to the end of the line; the newline is not part of it), or
// i if none starts there. ok is false for a /* never closed.
func SkipComment(s string, i int) (end int, ok bool) {
	c := s[i]
	switch {
	case c == '/' && i+1 < len(s) && s[i+1] == '*':
		for j := i + 2; j+1 < len(s); j++ {
			if s[j] == '*' && s[j+1] == '/' {
				return j + 2, true
			}
		}
		return len(s), false
	case c == '#' || c == '-' && i+2 < len(s) && s[i+1] == '-' && (s[i+2] == ' ' || s[i+2] == '\t'):
		for j := i; j < len(s); j++ {
			if s[j] == '\n' {
				return j, true
			}
		}
		return len(s), true
	}
	return i, true
}

// NumKind is the kind of a numeric literal.
type NumKind uint8

const (
	Int     NumKind = iota // digits only
	Decimal                // with a fraction or an exponent
	Hex                    // 0x.. or 0b..
)

// ScanNumber scans the number starting at s[i] (a digit, or a '.' before
// one) and returns the index after it and its kind.
func ScanNumber(s string, i int) (int, NumKind) {
	if s[i] == '0' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X' || s[i+1] == 'b' || s[i+1] == 'B') {
		return SkipIdent(s, i+2), Hex
	}
	j := i
	kind := Int
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j < len(s) && s[j] == '.' {
		kind = Decimal
		j++
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && s[k] >= '0' && s[k] <= '9' {
			kind = Decimal
			j = k
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
		}
	}
	return j, kind
}
