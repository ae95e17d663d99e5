package planner

import (
	"testing"

	"github.com/shardgate/shardgate/router/engine"
)

func TestGroupOrdered(t *testing.T) {
	group := []engine.SortKey{{Col: 0, Weight: 3}, {Col: 1, Weight: engine.NoCol}}
	for _, tc := range []struct {
		name string
		keys []engine.SortKey
		want bool
	}{
		{"no ORDER BY", nil, false},
		{"first group key", []engine.SortKey{{Col: 0, Weight: 3}}, true},
		{"both group keys", []engine.SortKey{{Col: 0, Weight: 3}, {Col: 1, Weight: engine.NoCol}}, true},
		{"descending", []engine.SortKey{{Col: 0, Weight: 3, Desc: true}}, false},
		{"second key only", []engine.SortKey{{Col: 1, Weight: engine.NoCol}}, false},
		{"keys swapped", []engine.SortKey{{Col: 1}, {Col: 0}}, false},
		{"longer than the group", []engine.SortKey{{Col: 0}, {Col: 1}, {Col: 2}}, false},
		{"an aggregate column", []engine.SortKey{{Col: 2}}, false},
	} {
		if got := groupOrdered(tc.keys, group); got != tc.want {
			t.Errorf("%s: groupOrdered = %v, want %v", tc.name, got, tc.want)
		}
	}
}
