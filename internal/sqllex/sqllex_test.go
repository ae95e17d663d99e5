package sqllex

import "testing"

func TestSkipString(t *testing.T) {
	for _, tc := range []struct {
		s           string
		end         int
		escaped, ok bool
	}{
		{`'abc' x`, 5, false, true},
		{`"a""b" x`, 6, true, true},
		{`'a''b'`, 6, true, true},
		{`'it\'s' x`, 7, true, true},
		{`'a\\' x`, 5, true, true},
		{`''`, 2, false, true},
		{`'open`, 5, false, false},
		{`'ends with backslash\`, 21, true, false},
	} {
		end, escaped, ok := SkipString(tc.s, 0)
		if end != tc.end || escaped != tc.escaped || ok != tc.ok {
			t.Errorf("SkipString(%q) = %d, %v, %v; want %d, %v, %v", tc.s, end, escaped, ok, tc.end, tc.escaped, tc.ok)
		}
	}
}

func TestSkipComment(t *testing.T) {
	for _, tc := range []struct {
		s   string
		end int
		ok  bool
	}{
		{"/* c */ x", 7, true},
		{"/* open", 7, false},
		{"/**/", 4, true},
		{"# line\nx", 6, true},
		{"-- line\nx", 7, true},
		{"--\tline", 7, true},
		{"--x", 0, true},   // not a comment: minus minus x
		{"- 1", 0, true},   // an operator
		{"/ 2", 0, true},   // division
		{"# end", 5, true}, // to the end of the text
	} {
		end, ok := SkipComment(tc.s, 0)
		if end != tc.end || ok != tc.ok {
			t.Errorf("SkipComment(%q) = %d, %v; want %d, %v", tc.s, end, ok, tc.end, tc.ok)
		}
	}
}

func TestScanNumber(t *testing.T) {
	for _, tc := range []struct {
		s    string
		end  int
		kind NumKind
	}{
		{"42,", 2, Int},
		{"4.5)", 3, Decimal},
		{".5 ", 2, Decimal},
		{"1e10 ", 4, Decimal},
		{"1e-3", 4, Decimal},
		{"1e", 1, Int}, // no exponent digits: the e is not part of it
		{"0x1F ", 4, Hex},
		{"0b101", 5, Hex},
		{"12abc", 2, Int}, // the caller sees an identifier character next
	} {
		end, kind := ScanNumber(tc.s, 0)
		if end != tc.end || kind != tc.kind {
			t.Errorf("ScanNumber(%q) = %d, %d; want %d, %d", tc.s, end, kind, tc.end, tc.kind)
		}
	}
}

func TestIdent(t *testing.T) {
	s := "select t1.`x`, café_2 from"
	if got := s[7:SkipIdent(s, 7)]; got != "t1" {
		t.Errorf("SkipIdent: %q", got)
	}
	if got := s[15:SkipIdent(s, 15)]; got != "café_2" {
		t.Errorf("SkipIdent over UTF-8: %q", got)
	}
	if IdentStart(s, 9) != 7 || IdentStart(s, 7) != -1 {
		t.Errorf("IdentStart: %d, %d", IdentStart(s, 9), IdentStart(s, 7))
	}
}
