package sqlval

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestGeneralWeight(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"ab ", "\x00A\x00B"},
		{"Az_z\t", "\x00A\x00Z\x00_\x00Z\x00\t"},
		{"é ß😀", "\x00E\x00 \x00S\xff\xfd"},
	} {
		if got := string(AppendGeneralWeight(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendGeneralWeight(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// compareWeights without weights at hand must order as the weights they stand
// for would under PAD SPACE (the shorter weight continued with spaces'
// weights), and equal exactly where appendGeneralWeight's keys are equal.
func TestCompareWeights(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "A", "b", "z", " ", "_", "\t", "~", "0", "\x00", "é", "É", "ß", "s", "😀", "😁", "\u00a0", "è", "Ā", "ā"}
	text := func() []byte {
		var b []byte
		for n := rnd.Intn(5); n > 0; n-- {
			b = append(b, alphabet[rnd.Intn(len(alphabet))]...)
		}
		return b
	}
	padSpace := func(a, b []byte) int {
		for len(a) < len(b) {
			a = append(a[:len(a):len(a)], 0, ' ')
		}
		for len(b) < len(a) {
			b = append(b[:len(b):len(b)], 0, ' ')
		}
		return bytes.Compare(a, b)
	}
	sign := func(n int) int {
		switch {
		case n < 0:
			return -1
		case n > 0:
			return 1
		}
		return 0
	}
	for i := 0; i < 40000; i++ {
		x, y := text(), text()
		if i%2 == 1 { // a common prefix, which may end inside a character
			y = append(x[:rnd.Intn(len(x)+1):len(x)], y...)
		}
		wx, wy := AppendGeneralWeight(nil, x), AppendGeneralWeight(nil, y)
		want := padSpace(wx, wy)
		if got := sign(CompareWeights(x, nil, y, nil)); got != want {
			t.Fatalf("compareWeights(%q, %q) = %d, want %d", x, y, got, want)
		}
		// Against a shard's weight (never nil, even when empty): as bytes.
		if got, want := sign(CompareWeights(x, nil, y, append([]byte{}, wy...))), bytes.Compare(wx, wy); got != want {
			t.Fatalf("compareWeights(%q, weight %x) = %d, want %d", x, wy, got, want)
		}
		if (want == 0) != bytes.Equal(wx, wy) {
			t.Fatalf("%q and %q: PAD SPACE equal %v, weights %x and %x", x, y, want == 0, wx, wy)
		}
	}
}
