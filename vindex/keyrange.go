package vindex

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// KeyRange is the half-open range [Start, End) of keyspace ids a shard owns,
// as in Vitess. An empty Start means from the lowest id, an empty End means
// unbounded above. Keys compare as if right-padded with zero bytes, so the
// start 0x80 of shard "80-" equals the 8-byte id 0x8000000000000000.
type KeyRange struct {
	Start, End []byte
}

// ParseKeyRange parses a Vitess shard name: "<start>-<end>" with each side
// hex (whole bytes) or empty, such as "-80", "80-", "40-80" or "-" (the whole
// range). "0" also means the whole range: Vitess' name for the single shard
// of an unsharded keyspace. Any other name without '-' is rejected.
func ParseKeyRange(name string) (KeyRange, error) {
	if name == "0" {
		return KeyRange{}, nil
	}
	startHex, endHex, ok := strings.Cut(name, "-")
	if !ok || strings.Contains(endHex, "-") {
		return KeyRange{}, fmt.Errorf(`invalid shard name %q: want "<start>-<end>" in hex such as "-80", "40-80", "80-", or "0" for an unsharded keyspace`, name)
	}
	start, err := decodeKeyHex(name, startHex)
	if err != nil {
		return KeyRange{}, err
	}
	end, err := decodeKeyHex(name, endHex)
	if err != nil {
		return KeyRange{}, err
	}
	r := KeyRange{Start: start, End: end}
	if len(end) > 0 && compareKeys(start, end) >= 0 {
		return KeyRange{}, fmt.Errorf("invalid shard name %q: start %s is not below end %s", name, startHex, endHex)
	}
	return r, nil
}

func decodeKeyHex(name, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid shard name %q: %q is not hex bytes (two hex digits per byte)", name, s)
	}
	return b, nil
}

// Contains reports whether ksid is in the range: Start <= ksid < End.
func (r KeyRange) Contains(ksid []byte) bool {
	return compareKeys(r.Start, ksid) <= 0 && (len(r.End) == 0 || compareKeys(ksid, r.End) < 0)
}

// String returns the canonical shard name, lowercase hex: "-80", "80-",
// "40-80", and "-" for the whole range (also for a shard named "0").
func (r KeyRange) String() string {
	return hex.EncodeToString(r.Start) + "-" + hex.EncodeToString(r.End)
}

// compareKeys compares keys as if both were right-padded with zero bytes
// (Vitess' shard "80-" starts at 0x80 00 00 ..., not just after 0x80).
func compareKeys(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	for _, x := range a[n:] {
		if x != 0 {
			return 1
		}
	}
	for _, x := range b[n:] {
		if x != 0 {
			return -1
		}
	}
	return 0
}

// compareEnds is compareKeys for range ends, where empty means +infinity.
func compareEnds(a, b []byte) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	return compareKeys(a, b)
}

// CheckCover parses shard names and checks that together they cover the
// whole keyspace-id range exactly once. It returns the ranges sorted by
// start, the order ShardIndex needs. Use SortShards to also get the names
// in that order.
func CheckCover(names []string) ([]KeyRange, error) {
	_, ranges, err := SortShards(names)
	return ranges, err
}

// SortShards parses shard names, sorts them by key range and checks that
// they cover the whole keyspace-id range with no gap and no overlap. The
// errors name the offending shards, e.g.
// `shards "-40" and "80-" leave a gap 40-80`. names is not modified;
// sorted[i] is the name of ranges[i].
func SortShards(names []string) (sorted []string, ranges []KeyRange, err error) {
	if len(names) == 0 {
		return nil, nil, errors.New("no shards: the keyspace-id range is not covered")
	}
	type shard struct {
		name string
		r    KeyRange
	}
	shards := make([]shard, len(names))
	for i, name := range names {
		r, err := ParseKeyRange(name)
		if err != nil {
			return nil, nil, err
		}
		shards[i] = shard{name, r}
	}
	sort.SliceStable(shards, func(i, j int) bool {
		if c := compareKeys(shards[i].r.Start, shards[j].r.Start); c != 0 {
			return c < 0
		}
		return compareEnds(shards[i].r.End, shards[j].r.End) < 0
	})

	first, last := shards[0], shards[len(shards)-1]
	if compareKeys(first.r.Start, nil) != 0 {
		return nil, nil, fmt.Errorf("shards leave a gap %s before the first shard %q", KeyRange{End: first.r.Start}, first.name)
	}
	for i := 1; i < len(shards); i++ {
		prev, next := shards[i-1], shards[i]
		// An unbounded prev.End runs past any start: an overlap.
		c := 1
		if len(prev.r.End) > 0 {
			c = compareKeys(prev.r.End, next.r.Start)
		}
		switch {
		case c < 0:
			gap := KeyRange{Start: prev.r.End, End: next.r.Start}
			return nil, nil, fmt.Errorf("shards %q and %q leave a gap %s", prev.name, next.name, gap)
		case c > 0:
			overlap := KeyRange{Start: next.r.Start, End: prev.r.End}
			if compareEnds(next.r.End, prev.r.End) < 0 {
				overlap.End = next.r.End
			}
			return nil, nil, fmt.Errorf("shards %q and %q overlap at %s", prev.name, next.name, overlap)
		}
	}
	if len(last.r.End) != 0 {
		return nil, nil, fmt.Errorf("shards leave a gap %s after the last shard %q", KeyRange{Start: last.r.End}, last.name)
	}

	sorted = make([]string, len(shards))
	ranges = make([]KeyRange, len(shards))
	for i, s := range shards {
		sorted[i], ranges[i] = s.name, s.r
	}
	return sorted, ranges, nil
}

// ShardIndex returns the index of the range in ranges (sorted by start and
// non-overlapping, as CheckCover returns them) that contains ksid, or -1.
func ShardIndex(ranges []KeyRange, ksid []byte) int {
	// The owner is the last range starting at or below ksid, if it reaches ksid.
	i := sort.Search(len(ranges), func(i int) bool {
		return compareKeys(ranges[i].Start, ksid) > 0
	}) - 1
	if i >= 0 && ranges[i].Contains(ksid) {
		return i
	}
	return -1
}
