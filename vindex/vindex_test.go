package vindex

import (
	"bytes"
	"crypto/des"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

func mustNew(t testing.TB, typ string) Vindex {
	t.Helper()
	v, err := New(typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Type() != typ {
		t.Fatalf("Type() = %q, want %q", v.Type(), typ)
	}
	return v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type mapCase struct {
	in   any
	want string // hex
}

func checkMap(t *testing.T, typ string, cases []mapCase) {
	t.Helper()
	v := mustNew(t, typ)
	for _, c := range cases {
		got, err := v.Map(c.in)
		if err != nil {
			t.Errorf("%s.Map(%#v): %v", typ, c.in, err)
			continue
		}
		if !bytes.Equal(got, unhex(t, c.want)) {
			t.Errorf("%s.Map(%#v) = %x, want %s", typ, c.in, got, c.want)
		}
	}
}

func checkMapErr(t *testing.T, typ string, in any, wantSubstr string) {
	t.Helper()
	got, err := mustNew(t, typ).Map(in)
	if err == nil || !strings.Contains(err.Error(), wantSubstr) {
		t.Errorf("%s.Map(%#v) = %x, %v; want error containing %q", typ, in, got, err, wantSubstr)
	}
}

func TestNewUnknown(t *testing.T) {
	if _, err := New("lookup_nope", nil); err == nil || !strings.Contains(err.Error(), `"lookup_nope"`) {
		t.Errorf("New(lookup_nope) err = %v", err)
	}
}

// Vectors from the brief and Vitess' hash_test.go.
func TestHash(t *testing.T) {
	checkMap(t, "hash", []mapCase{
		{int64(1), "166b40b44aba4bd6"},
		{int64(2), "06e7ea22ce92708f"},
		{int64(3), "4eb190c9a2fa169c"},
		{int64(4), "d2fd8867d50d2dfe"},
		{int64(5), "70bb023c810ca87a"},
		{int64(6), "f098480ac4c4be71"},
		{int64(100), "83aab1569cbe1b08"},
		{uint64(1), "166b40b44aba4bd6"},
		{1, "166b40b44aba4bd6"},
		{"1", "166b40b44aba4bd6"},
		{[]byte("100"), "83aab1569cbe1b08"},
	})
	// Negative ints map as their uint64 bit pattern, text or not.
	h := mustNew(t, "hash")
	a, _ := h.Map(int64(-1))
	b, _ := h.Map(uint64(1<<64 - 1))
	c, _ := h.Map("-1")
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Errorf("hash(-1) = %x, hash(MaxUint64) = %x, hash('-1') = %x; want equal", a, b, c)
	}
	checkMapErr(t, "hash", "aa", `cannot map "aa": not an integer`)
	checkMapErr(t, "hash", "1.5", "not an integer")
	checkMapErr(t, "hash", "99999999999999999999", "not an integer in the 64-bit range")
	checkMapErr(t, "hash", nil, "NULL")
	checkMapErr(t, "hash", 1.5, "unsupported value type float64")
}

// Single DES under a zero key is 3DES (EDE) under a zero key.
func TestHashTripleDESEquivalence(t *testing.T) {
	tdes, err := des.NewTripleDESCipher(make([]byte, 24))
	if err != nil {
		t.Fatal(err)
	}
	h := newHash()
	for _, n := range []uint64{0, 1, 2, 100, 1 << 63, 1<<64 - 1, 0x0123456789abcdef} {
		var src, want [8]byte
		binary.BigEndian.PutUint64(src[:], n)
		tdes.Encrypt(want[:], src[:])
		if got := h.hash(n); !bytes.Equal(got, want[:]) {
			t.Errorf("hash(%d) = %x, 3DES gives %x", n, got, want)
		}
	}
}

// Vectors from Vitess' xxhash_test.go (little-endian sums of the text bytes).
func TestXXHash(t *testing.T) {
	checkMap(t, "xxhash", []mapCase{
		{"test1", "d01ab7e4d6978f0b"},
		{[]byte("test2"), "87eb11714c0a0e89"},
		{"testaverylongvaluetomakesurethisworks", "81d8c38e0d850e6a"},
		{int64(1), "d46405367612b4b7"},
		{uint64(1), "d46405367612b4b7"},
		{1, "d46405367612b4b7"},
		{"1", "d46405367612b4b7"},
		{int64(-1), "d8e2a6a7c8c7623d"},
		{uint64(18446744073709551615), "477cfa8d6d8f1f8d"},
		{int64(9223372036854775807), "b37eb01f7bffafd8"},
		{uint64(9223372036854775807), "b37eb01f7bffafd8"},
		{int64(-9223372036854775808), "102c27ddb26a609e"},
		{"", "99e9d85137db46ef"}, // Vitess' NULL vector: the empty string
	})
	checkMapErr(t, "xxhash", nil, "NULL")
}

// Vectors from Vitess' unicodeloosexxhash_test.go.
func TestUnicodeLooseXXHash(t *testing.T) {
	test := hex.EncodeToString([]byte("B\xd2\x13a\bzL\a"))
	checkMap(t, "unicode_loose_xxhash", []mapCase{
		{"Test", test},
		{[]byte("TEst"), test},
		{"Te\u0301st", test},
		{"Tést", test},
		{"Test ", test},
		{"Bést", hex.EncodeToString([]byte("\x92iu\xb9\xce.\xc3\x16"))},
		{" Test", hex.EncodeToString([]byte("Oˋ\xe3N\xc0Wu"))},
		{"Test\t", hex.EncodeToString([]byte(" \xaf\x87\xfc6\xe3\xfdQ"))},
		{"TéstLooong", hex.EncodeToString([]byte("\xd3\xea\x879B\xb4\x84\xa7"))},
		{"T", hex.EncodeToString([]byte("\xf8\x1c;\xe2\xd5\x01\xfe\x18"))},
	})
	checkMapErr(t, "unicode_loose_xxhash", []byte{0xff, 'a'}, "invalid UTF-8")
	checkMapErr(t, "unicode_loose_xxhash", nil, "NULL")
	// Integers hash as their text, the same as the quoted number.
	u := mustNew(t, "unicode_loose_xxhash")
	a, _ := u.Map(int64(42))
	b, _ := u.Map("42")
	if !bytes.Equal(a, b) {
		t.Errorf("unicode_loose_xxhash(42) = %x, ('42') = %x", a, b)
	}
}

func TestNumeric(t *testing.T) {
	checkMap(t, "numeric", []mapCase{
		{int64(1), "0000000000000001"},
		{int64(8), "0000000000000008"},
		{uint64(1<<64 - 1), "ffffffffffffffff"},
		{"256", "0000000000000100"},
		{[]byte("9223372036854775808"), "8000000000000000"},
	})
	checkMapErr(t, "numeric", int64(-1), "negative number")
	checkMapErr(t, "numeric", "-5", "negative number")
	checkMapErr(t, "numeric", "1.1", "not an integer")
}

func TestBinary(t *testing.T) {
	checkMap(t, "binary", []mapCase{
		{[]byte{0x80, 0x00, 0xff}, "8000ff"},
		{"abc", "616263"},
		{int64(1), "31"}, // Vitess maps integers by their text
		{int64(-12), "2d3132"},
	})
	in := []byte{1, 2, 3}
	got, _ := mustNew(t, "binary").Map(in)
	in[0] = 9
	if got[0] != 1 {
		t.Error("binary.Map retained its input")
	}
	if got, err := mustNew(t, "binary").Map(""); err != nil || got == nil || len(got) != 0 {
		t.Errorf("binary.Map(\"\") = %#v, %v; want empty non-nil", got, err)
	}
}

// The hot path allocates only the returned keyspace id.
func TestMapAllocs(t *testing.T) {
	for _, c := range []struct {
		typ string
		in  any
	}{
		{"hash", int64(12345)},
		{"hash", "12345"},
		{"xxhash", int64(12345)},
		{"xxhash", "12345"},
		{"numeric", uint64(12345)},
		// unicode_loose_xxhash is left out: its collator comes from a
		// sync.Pool, which drops items at random under -race.
	} {
		v := mustNew(t, c.typ)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := v.Map(c.in); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 1 {
			t.Errorf("%s.Map(%#v): %v allocs, want 1", c.typ, c.in, allocs)
		}
	}
}

var sink []byte

func benchMap(b *testing.B, typ string, in any) {
	v := mustNew(b, typ)
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = v.Map(in)
	}
}

func BenchmarkHash(b *testing.B)         { benchMap(b, "hash", int64(123456789)) }
func BenchmarkHashText(b *testing.B)     { benchMap(b, "hash", "123456789") }
func BenchmarkXXHash(b *testing.B)       { benchMap(b, "xxhash", int64(123456789)) }
func BenchmarkXXHashString(b *testing.B) { benchMap(b, "xxhash", "user@example.com") }
func BenchmarkUnicodeLooseXXHash(b *testing.B) {
	benchMap(b, "unicode_loose_xxhash", "Über-User@Example.com")
}
func BenchmarkNumeric(b *testing.B) { benchMap(b, "numeric", int64(123456789)) }
func BenchmarkBinary(b *testing.B)  { benchMap(b, "binary", []byte("0123456789abcdef")) }

// Vindexes are shared by all sessions; run with -race.
func TestConcurrentMap(t *testing.T) {
	for _, typ := range []string{"hash", "xxhash", "unicode_loose_xxhash", "numeric", "binary"} {
		v := mustNew(t, typ)
		want, _ := v.Map("12345")
		done := make(chan bool)
		for range 4 {
			go func() {
				ok := true
				for range 200 {
					got, err := v.Map("12345")
					ok = ok && err == nil && bytes.Equal(got, want)
				}
				done <- ok
			}()
		}
		for range 4 {
			if !<-done {
				t.Errorf("%s: concurrent Map disagreed", typ)
			}
		}
	}
}
