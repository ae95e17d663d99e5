package engine

import (
	"strconv"
	"testing"
)

func TestParseTextInt(t *testing.T) {
	for _, s := range []string{"0", "7", "-7", "+7", "127", "-128", "9223372036854775807", "-9223372036854775808", "18446744073709551615", "", "-", "1a", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999999"} {
		for _, unsigned := range []bool{false, true} {
			got, err := parseTextInt([]byte(s), unsigned)
			var want uint64
			var werr error
			if unsigned {
				want, werr = strconv.ParseUint(s, 10, 64)
			} else {
				var x int64
				x, werr = strconv.ParseInt(s, 10, 64)
				want = uint64(x)
			}
			if (err != nil) != (werr != nil) || err == nil && got != want {
				t.Errorf("parseTextInt(%q, unsigned=%v) = %d, %v; strconv gives %d, %v", s, unsigned, got, err, want, werr)
			}
		}
	}
	v := []byte("-12345")
	if n := testing.AllocsPerRun(100, func() { _, _ = parseTextInt(v, false) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
