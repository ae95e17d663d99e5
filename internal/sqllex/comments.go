package sqllex

import (
	"fmt"
	"strings"
)

// MariaDBVersion is the server version executable comments are read for:
// MariaDB runs /*!NNNNN … */ and /*M!NNNNNN … */ when NNNNN is at most its
// own version (10.11.0 here, what the proxy's greeting announces).
const MariaDBVersion = 101100

// Mode is what the session's sql_mode changes in how MariaDB reads quotes.
type Mode uint8

// ANSIQuotes: "…" is an identifier, like `…`, with no backslash escapes.
const ANSIQuotes Mode = 1

// CommentError is a statement whose comments MariaDB and the proxy's parser
// could read differently; the proxy refuses it.
type CommentError struct {
	Offset int
	Reason string
}

func (e *CommentError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.Reason, e.Offset)
}

// ResolveComments returns s as MariaDB reads it, with no comment left: the
// body of an executable comment that MariaDB runs (/*! … */, /*!NNNNN … */,
// /*M! … */, /*M!NNNNNN … */) becomes code between two spaces, and every
// other comment (plain, /*+ hints */, TiDB's /*T! … */, # and "-- ") becomes
// one space. The text that reaches a shard is then the text the parser read:
// the tidb parser and MariaDB disagree on which comments are code (DESIGN.md),
// and a statement hidden in one would run with the shard account's rights.
//
// s itself is returned, without allocating, when it holds no comment. The
// lexical rules follow MariaDB's sql_lex.cc; what they could still read
// differently is refused with a *CommentError: a NUL byte outside a quoted
// string (it ends a MariaDB line comment), a comment never closed, a comment
// inside an executable one, "--" before a byte of 0x80 or more (a space to
// the parser, not to MariaDB).
func ResolveComments(s string, mode Mode) (string, error) {
	if !strings.Contains(s, "/*") && !strings.Contains(s, "--") &&
		strings.IndexByte(s, '#') < 0 && strings.IndexByte(s, 0) < 0 {
		return s, nil
	}
	r := resolver{s: s, mode: mode}
	if err := r.run(); err != nil {
		return "", err
	}
	if r.out == nil {
		return s, nil
	}
	r.out = append(r.out, s[r.last:]...)
	return string(r.out), nil
}

// resolver scans one statement; out is nil until the first comment.
type resolver struct {
	s      string
	mode   Mode
	out    []byte
	last   int  // s[last:] is not yet copied to out
	inExec bool // inside the body of an executable comment MariaDB runs
	execAt int
}

// replace drops s[from:to] (a comment or a comment marker) for one space.
func (r *resolver) replace(from, to int) {
	if r.out == nil {
		r.out = make([]byte, 0, len(r.s)+8)
	}
	r.out = append(r.out, r.s[r.last:from]...)
	if n := len(r.out); n >= 2 && r.out[n-1] == '-' && r.out[n-2] == '-' {
		r.out = spaceDashes(r.out)
	}
	r.out = append(r.out, ' ')
	r.last = to
}

// spaceDashes separates the dashes that end b: they were minus signs before
// a comment ("1--#c" is 1 - -), and the space that replaces the comment
// must not turn the last two into a "-- " comment.
func spaceDashes(b []byte) []byte {
	k := len(b)
	for k > 0 && b[k-1] == '-' {
		k--
	}
	n := len(b) - k
	b = b[:k]
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, '-')
	}
	return b
}

func (r *resolver) fail(at int, reason string) error {
	return &CommentError{Offset: at, Reason: reason}
}

func (r *resolver) run() error {
	s := r.s
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' && r.mode&ANSIQuotes != 0:
			i = SkipQuotedIdent(s, i)
		case c == '\'' || c == '"':
			end, _, _ := SkipString(s, i) // an open string runs to the end for both readers
			i = end
		case c == '`':
			i = SkipQuotedIdent(s, i)
		case c == 0:
			return r.fail(i, "a NUL byte outside a quoted string")
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end, err := r.blockComment(i)
			if err != nil {
				return err
			}
			i = end
		case c == '*' && r.inExec && i+1 < len(s) && s[i+1] == '/':
			r.replace(i, i+2)
			r.inExec = false
			i += 2
		case c == '#':
			if r.inExec {
				return r.fail(i, "a # comment inside an executable comment")
			}
			end := lineEnd(s, i)
			r.replace(i, end)
			i = end
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			if i+2 < len(s) && s[i+2] >= 0x80 {
				return r.fail(i, `"--" followed by a non-ASCII byte`)
			}
			if i+2 < len(s) && !isSpaceOrControl(s[i+2]) {
				i++ // minus, then look again: "1---- x" has a comment at its third '-'
				continue
			}
			if r.inExec {
				return r.fail(i, `a "-- " comment inside an executable comment`)
			}
			end := lineEnd(s, i)
			r.replace(i, end)
			i = end
		default:
			i++
		}
	}
	if r.inExec {
		return r.fail(r.execAt, "an executable comment that is never closed")
	}
	return nil
}

// blockComment handles the /* at s[i] and returns where scanning goes on.
func (r *resolver) blockComment(i int) (int, error) {
	s := r.s
	if r.inExec {
		return 0, r.fail(i, "a comment inside an executable comment")
	}
	j, maria := i+2, false
	if j+1 < len(s) && s[j] == 'M' && s[j+1] == '!' {
		j, maria = j+1, true
	}
	if j < len(s) && s[j] == '!' { // executable: /*! or /*M!
		j++
		version, digits := versionDigits(s, j)
		if digits == 0 || version <= MariaDBVersion && (version < 50700 || version > 99999 || maria) {
			r.replace(i, j+digits)
			r.inExec, r.execAt = true, i
			return j + digits, nil
		}
		// A version MariaDB skips: a comment, which MariaDB lets hold one
		// nested comment; the proxy refuses that rather than count.
		end := strings.Index(s[j:], "*/")
		if end < 0 {
			return 0, r.fail(i, "a comment that is never closed")
		}
		if strings.Contains(s[j:j+end], "/*") {
			return 0, r.fail(i, "a comment inside a versioned comment")
		}
		r.replace(i, j+end+2)
		return j + end + 2, nil
	}
	end := strings.Index(s[i+2:], "*/")
	if end < 0 {
		return 0, r.fail(i, "a comment that is never closed")
	}
	r.replace(i, i+2+end+2)
	return i + 2 + end + 2, nil
}

// versionDigits reads the version of an executable comment as MariaDB does:
// exactly five digits, or six when a sixth follows; none otherwise.
func versionDigits(s string, j int) (version, n int) {
	if j+5 > len(s) {
		return 0, 0
	}
	for k := j; k < j+5; k++ {
		if !isDigit(s[k]) {
			return 0, 0
		}
	}
	n = 5
	if j+5 < len(s) && isDigit(s[j+5]) {
		n = 6
	}
	for k := j; k < j+n; k++ {
		version = version*10 + int(s[k]-'0')
	}
	return version, n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isSpaceOrControl is MariaDB's test after "--": a space or control byte
// (or the end of the statement) makes a comment.
func isSpaceOrControl(c byte) bool { return c <= ' ' || c == 0x7f }

// lineEnd returns the index of the newline ending a line comment at s[i]
// (the newline stays), or len(s). A NUL byte ends it too, as in MariaDB,
// and is then refused by the caller.
func lineEnd(s string, i int) int {
	for j := i; j < len(s); j++ {
		if s[j] == '\n' || s[j] == 0 {
			return j
		}
	}
	return len(s)
}

// SkipQuotedIdent returns the index after the identifier quoted by s[i]
// (a backquote or, with ANSI_QUOTES, a double quote; the quote doubled
// escapes it, a backslash does not), or len(s) if it is not closed.
func SkipQuotedIdent(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}
