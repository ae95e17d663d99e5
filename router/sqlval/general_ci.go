package sqlval

import (
	"bytes"
	"unicode/utf8"
)

// The proxy orders and compares collated strings from different shards by
// their sort weight. A shard computes it next to the value (weightOf), except
// where the proxy can do without: numbers, temporal values and binary
// strings compare by value (OrderingOf), and under the general_ci collations the
// proxy computes the weight itself from the text (generalWeight, a table
// read from MariaDB). For those the shard sends NULL instead of a weight:
// cheaper for the shard than computing one per row, and on sysbench's
// 120-character strings 240 bytes less per row to sort and send.

// ProxyWeighed are the collations whose strings the proxy orders without a
// weight from the shard: binary (COLLATION(e) is 'binary' for numbers and
// dates too) and the general_ci ones, whose weights the proxy computes
// (utf8mb3 holds the Basic Multilingual Plane only, where it weighs as
// utf8mb4 does). Read only.
var ProxyWeighed = [...]string{"binary", "utf8mb4_general_ci", "utf8mb3_general_ci", "utf8_general_ci"}

// ProxyWeighs says whether the proxy weighs strings of the collation named
// name itself, so a shard sends a NULL weight for them (weightOf).
func ProxyWeighs(name []byte) bool {
	for _, n := range ProxyWeighed {
		if string(name) == n {
			return true
		}
	}
	return false
}

// CompareWeights orders two non-NULL collated strings x and y by their
// weights wx and wy from the shards; a nil weight is the text's
// generalWeight. Those follow PAD SPACE exactly: where one string is a
// prefix of the other, the rest of the longer one compares with spaces
// ('a\t' < 'a' = 'a '). Weights from shards compare as bytes: the proxy does
// not know their collation's weight of a space.
func CompareWeights(x, wx, y, wy []byte) int {
	switch {
	case wx == nil && wy == nil:
		return CompareGeneral(x, y)
	case wx == nil: // one column has one collation: only where two meet
		wx = AppendGeneralWeight(nil, x)
	case wy == nil:
		wy = AppendGeneralWeight(nil, y)
	}
	return bytes.Compare(wx, wy)
}

// CompareGeneral orders two strings by their generalWeight, PAD SPACE.
func CompareGeneral(x, y []byte) int {
	// Equal bytes weigh the same: skip the common prefix, back to the start
	// of the character where the strings part.
	i := 0
	for i < len(x) && i < len(y) && x[i] == y[i] {
		i++
	}
	for i > 0 && (i < len(x) && x[i]&0xC0 == 0x80 || i < len(y) && y[i]&0xC0 == 0x80) {
		i--
	}
	x, y = x[i:], y[i:]
	for len(x) > 0 && len(y) > 0 {
		var a, b uint16
		var n, m int
		if x[0] < utf8.RuneSelf && y[0] < utf8.RuneSelf {
			a, b, n, m = asciiGeneral[x[0]], asciiGeneral[y[0]], 1, 1
		} else {
			a, n = nextGeneralWeight(x)
			b, m = nextGeneralWeight(y)
		}
		if a != b {
			return int(a) - int(b)
		}
		x, y = x[n:], y[m:]
	}
	if len(x) > 0 {
		return restAgainstSpaces(x)
	}
	return -restAgainstSpaces(y)
}

// asciiGeneral is generalWeight of the ASCII characters, for the common
// case without a page lookup.
var asciiGeneral = func() (t [utf8.RuneSelf]uint16) {
	for c := range t {
		t[c] = generalWeight(rune(c))
	}
	return t
}()

// restAgainstSpaces orders the rest of a longer string against the spaces
// PAD SPACE pads the shorter one with.
func restAgainstSpaces(x []byte) int {
	for len(x) > 0 {
		a, n := nextGeneralWeight(x)
		if a != ' ' {
			return int(a) - ' '
		}
		x = x[n:]
	}
	return 0
}

// nextGeneralWeight returns the weight of the first character of x and its
// length in bytes.
func nextGeneralWeight(x []byte) (uint16, int) {
	if c := x[0]; c < utf8.RuneSelf {
		return asciiGeneral[c], 1
	}
	r, n := utf8.DecodeRune(x)
	return generalWeight(r), n
}

// generalWeight is a character's weight under utf8mb4_general_ci: its code
// point, or the table's entry; U+FFFD for every character beyond the Basic
// Multilingual Plane.
func generalWeight(r rune) uint16 {
	if r > 0xFFFF {
		return 0xFFFD
	}
	if page := generalCIPages[r>>8]; page != nil {
		return page[r&0xFF]
	}
	return uint16(r)
}

// generalCIPages is generalCIExceptions as pages of 256 characters; nil
// where every character weighs its code point. Built once, read only.
var generalCIPages = func() (pages [256]*[256]uint16) {
	for _, e := range generalCIExceptions {
		p := pages[e[0]>>8]
		if p == nil {
			p = new([256]uint16)
			for i := range p {
				p[i] = e[0]&0xFF00 | uint16(i)
			}
			pages[e[0]>>8] = p
		}
		p[e[0]&0xFF] = e[1]
	}
	return pages
}()

// AppendGeneralWeight appends WEIGHT_STRING(RTRIM(v)) under
// utf8mb4_general_ci, without the trailing weights of spaces: equal for
// strings PAD SPACE finds equal.
func AppendGeneralWeight(dst, v []byte) []byte {
	start := len(dst)
	for len(v) > 0 {
		w, n := nextGeneralWeight(v)
		dst = append(dst, byte(w>>8), byte(w))
		v = v[n:]
	}
	for len(dst) > start && dst[len(dst)-2] == 0 && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-2]
	}
	return dst
}
