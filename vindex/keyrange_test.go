package vindex

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestParseKeyRange(t *testing.T) {
	for _, c := range []struct {
		name, start, end, str string
	}{
		{"-80", "", "80", "-80"},
		{"80-", "80", "", "80-"},
		{"40-80", "40", "80", "40-80"},
		{"-", "", "", "-"},
		{"0", "", "", "-"},
		{"C0-", "c0", "", "c0-"},
		{"8000-a000", "8000", "a000", "8000-a000"},
	} {
		r, err := ParseKeyRange(c.name)
		if err != nil {
			t.Errorf("ParseKeyRange(%q): %v", c.name, err)
			continue
		}
		if !bytes.Equal(r.Start, unhex(t, c.start)) || !bytes.Equal(r.End, unhex(t, c.end)) || r.String() != c.str {
			t.Errorf("ParseKeyRange(%q) = %x..%x %q, want %s..%s %q", c.name, r.Start, r.End, r, c.start, c.end, c.str)
		}
	}
	for _, c := range []struct{ name, err string }{
		{"", "invalid shard name"},
		{"80", "invalid shard name \"80\""},
		{"1", "invalid shard name \"1\""},
		{"-8", `"8" is not hex bytes`},
		{"zz-", `"zz" is not hex bytes`},
		{"40-80-c0", "invalid shard name"},
		{"80-40", "start 80 is not below end 40"},
		{"80-80", "not below"},
		{"80-8000", "not below"},
		{"-00", "not below"},
	} {
		if _, err := ParseKeyRange(c.name); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseKeyRange(%q) err = %v, want %q", c.name, err, c.err)
		}
	}
}

func TestContains(t *testing.T) {
	lo, _ := ParseKeyRange("-80")
	mid, _ := ParseKeyRange("40-80")
	hi, _ := ParseKeyRange("80-")
	full, _ := ParseKeyRange("0")
	for _, c := range []struct {
		r    KeyRange
		ksid string
		want bool
	}{
		{lo, "0000000000000000", true},
		{lo, "", true},
		{lo, "7fffffffffffffff", true},
		{lo, "8000000000000000", false},
		{lo, "80", false},
		{hi, "8000000000000000", true},
		{hi, "80", true},
		{hi, "7fffffffffffffff", false},
		{hi, "ffffffffffffffff", true},
		{mid, "4000000000000000", true},
		{mid, "3fffffffffffffff", false},
		{mid, "7fffffffffffffff", true},
		{mid, "8000000000000000", false},
		{KeyRange{Start: unhex(t, "40"), End: unhex(t, "4000000001")}, "40", true},
		{KeyRange{Start: unhex(t, "40"), End: unhex(t, "4000000001")}, "4000000001", false},
		{full, "ffffffffffffffff", true},
		{full, "", true},
	} {
		if got := c.r.Contains(unhex(t, c.ksid)); got != c.want {
			t.Errorf("%s.Contains(%s) = %v, want %v", c.r, c.ksid, got, c.want)
		}
	}
}

func TestCheckCover(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  string // sorted canonical names joined by ","
	}{
		{[]string{"0"}, "-"},
		{[]string{"-"}, "-"},
		{[]string{"80-", "-80"}, "-80,80-"},
		{[]string{"c0-", "40-80", "-40", "80-c0"}, "-40,40-80,80-c0,c0-"},
		{[]string{"8000-", "-80"}, "-80,8000-"},
	} {
		ranges, err := CheckCover(c.names)
		if err != nil {
			t.Errorf("CheckCover(%q): %v", c.names, err)
			continue
		}
		var got []string
		for _, r := range ranges {
			got = append(got, r.String())
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("CheckCover(%q) = %q, want %s", c.names, got, c.want)
		}
	}
	for _, c := range []struct {
		names []string
		err   string
	}{
		{nil, "no shards"},
		{[]string{"-40", "80-"}, `shards "-40" and "80-" leave a gap 40-80`},
		{[]string{"80-c0", "-80"}, `shards leave a gap c0- after the last shard "80-c0"`},
		{[]string{"40-"}, `shards leave a gap -40 before the first shard "40-"`},
		{[]string{"-80", "40-"}, `shards "-80" and "40-" overlap at 40-80`},
		{[]string{"-80", "40-60", "80-"}, `shards "-80" and "40-60" overlap at 40-60`},
		{[]string{"-80", "80-", "c0-"}, `shards "80-" and "c0-" overlap at c0-`},
		{[]string{"-80", "-80", "80-"}, `shards "-80" and "-80" overlap at -80`},
		{[]string{"0", "80-"}, `shards "0" and "80-" overlap at 80-`},
		{[]string{"-80", "8x-"}, `invalid shard name "8x-"`},
	} {
		if _, err := CheckCover(c.names); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("CheckCover(%q) err = %v, want %q", c.names, err, c.err)
		}
	}
}

func TestSortShards(t *testing.T) {
	names := []string{"C0-", "40-80", "-40", "80-c0"}
	orig := slices.Clone(names)
	sorted, ranges, err := SortShards(names)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"-40", "40-80", "80-c0", "C0-"}; !slices.Equal(sorted, want) {
		t.Errorf("SortShards sorted = %q, want %q", sorted, want)
	}
	if !slices.Equal(names, orig) {
		t.Errorf("SortShards modified its input: %q", names)
	}
	if len(ranges) != 4 || ranges[3].String() != "c0-" {
		t.Errorf("SortShards ranges = %v", ranges)
	}
}

func TestShardIndex(t *testing.T) {
	two, _ := CheckCover([]string{"-80", "80-"})
	four, _ := CheckCover([]string{"-40", "40-80", "80-c0", "c0-"})
	one, _ := CheckCover([]string{"0"})
	for _, c := range []struct {
		ksid      string
		two, four int
	}{
		{"0000000000000000", 0, 0},
		{"3fffffffffffffff", 0, 0},
		{"4000000000000000", 0, 1},
		{"7fffffffffffffff", 0, 1},
		{"8000000000000000", 1, 2},
		{"bfffffffffffffff", 1, 2},
		{"c000000000000000", 1, 3},
		{"ffffffffffffffff", 1, 3},
	} {
		ksid := unhex(t, c.ksid)
		if got := ShardIndex(two, ksid); got != c.two {
			t.Errorf("ShardIndex(2 shards, %s) = %d, want %d", c.ksid, got, c.two)
		}
		if got := ShardIndex(four, ksid); got != c.four {
			t.Errorf("ShardIndex(4 shards, %s) = %d, want %d", c.ksid, got, c.four)
		}
		if got := ShardIndex(one, ksid); got != 0 {
			t.Errorf("ShardIndex(shard 0, %s) = %d, want 0", c.ksid, got)
		}
	}
	// Ranges that do not cover everything: misses return -1.
	partial := []KeyRange{{End: unhex(t, "40")}, {Start: unhex(t, "80"), End: unhex(t, "c0")}}
	for ksid, want := range map[string]int{"10": 0, "50": -1, "90": 1, "d0": -1} {
		if got := ShardIndex(partial, unhex(t, ksid)); got != want {
			t.Errorf("ShardIndex(partial, %s) = %d, want %d", ksid, got, want)
		}
	}
	if got := ShardIndex(nil, unhex(t, "10")); got != -1 {
		t.Errorf("ShardIndex(nil) = %d, want -1", got)
	}
}

// Where Vitess' hash vindex puts the first ids, so routing can be checked
// against a Vitess cluster by eye.
func TestHashShardPlacement(t *testing.T) {
	h := mustNew(t, "hash")
	two := shardsOf(t, "-80", "80-")
	four := shardsOf(t, "-40", "40-80", "80-c0", "c0-")
	for _, c := range []struct {
		id        int64
		two, four string
	}{
		{1, "-80", "-40"},     // 166b40b44aba4bd6
		{2, "-80", "-40"},     // 06e7ea22ce92708f
		{3, "-80", "40-80"},   // 4eb190c9a2fa169c
		{4, "80-", "c0-"},     // d2fd8867d50d2dfe
		{5, "-80", "40-80"},   // 70bb023c810ca87a
		{6, "80-", "c0-"},     // f098480ac4c4be71
		{100, "80-", "80-c0"}, // 83aab1569cbe1b08
	} {
		ksid, err := h.Map(c.id)
		if err != nil {
			t.Fatal(err)
		}
		if got := two.shard(ksid); got != c.two {
			t.Errorf("hash(%d)=%x on 2 shards: %s, want %s", c.id, ksid, got, c.two)
		}
		if got := four.shard(ksid); got != c.four {
			t.Errorf("hash(%d)=%x on 4 shards: %s, want %s", c.id, ksid, got, c.four)
		}
	}
}

type shardSet struct {
	names  []string
	ranges []KeyRange
}

func (s shardSet) shard(ksid []byte) string {
	if i := ShardIndex(s.ranges, ksid); i >= 0 {
		return s.names[i]
	}
	return "<none>"
}

func shardsOf(t *testing.T, names ...string) shardSet {
	t.Helper()
	sorted, ranges, err := SortShards(names)
	if err != nil {
		t.Fatal(err)
	}
	return shardSet{sorted, ranges}
}

func BenchmarkShardIndex(b *testing.B) {
	var names []string
	for i := range 64 {
		start, end := "", ""
		if i > 0 {
			start = hexByte(i * 4)
		}
		if i < 63 {
			end = hexByte((i + 1) * 4)
		}
		names = append(names, start+"-"+end)
	}
	ranges, err := CheckCover(names)
	if err != nil {
		b.Fatal(err)
	}
	ksid, _ := mustNew(b, "hash").Map(int64(123456789))
	b.ReportAllocs()
	for b.Loop() {
		if ShardIndex(ranges, ksid) < 0 {
			b.Fatal("not found")
		}
	}
}

func hexByte(n int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[n>>4], digits[n&15]})
}
