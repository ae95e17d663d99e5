package router

import "testing"

func TestGroupOrdered(t *testing.T) {
	group := []sortKey{{col: 0, weight: 3}, {col: 1, weight: noCol}}
	for _, tc := range []struct {
		name string
		keys []sortKey
		want bool
	}{
		{"no ORDER BY", nil, false},
		{"first group key", []sortKey{{col: 0, weight: 3}}, true},
		{"both group keys", []sortKey{{col: 0, weight: 3}, {col: 1, weight: noCol}}, true},
		{"descending", []sortKey{{col: 0, weight: 3, desc: true}}, false},
		{"second key only", []sortKey{{col: 1, weight: noCol}}, false},
		{"keys swapped", []sortKey{{col: 1}, {col: 0}}, false},
		{"longer than the group", []sortKey{{col: 0}, {col: 1}, {col: 2}}, false},
		{"an aggregate column", []sortKey{{col: 2}}, false},
	} {
		if got := groupOrdered(tc.keys, group); got != tc.want {
			t.Errorf("%s: groupOrdered = %v, want %v", tc.name, got, tc.want)
		}
	}
}
