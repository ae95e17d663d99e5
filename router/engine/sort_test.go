package engine

import (
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

// TestRowBufferSort: the in-memory sort orders rows by their keys (numbers
// as numbers, NULL first), keeps rows with equal keys in arrival order, and
// serves copies that survive the source row's reuse and the buffer's growth.
func TestRowBufferSort(t *testing.T) {
	fields := []*wire.Field{{Type: mysql.MYSQL_TYPE_LONG}, {Type: mysql.MYSQL_TYPE_LONG}}
	keys := []SortKey{{Col: 0, Weight: -1}}
	rnd := rand.New(rand.NewSource(1))
	buf := rowBuffers.Get().(*rowBuffer)
	type in struct {
		k   int // -1: NULL
		seq int
	}
	var want []in
	src := make(row, 2) // reused for every row, as a shard stream does
	for seq := 0; seq < 3000; seq++ {
		k := rnd.Intn(40) - 1
		src[0] = nil
		if k >= 0 {
			src[0] = []byte(strconv.Itoa(k * 7)) // 7 < 14 < 140 as numbers, not as text
		}
		src[1] = []byte(strconv.Itoa(seq))
		buf.add(src)
		want = append(want, in{k, seq})
	}
	slices.SortStableFunc(want, func(a, b in) int { return a.k - b.k })
	s := buf.sort(fields, keys)
	defer s.Close()
	for i, w := range want {
		r, err := s.Next()
		if err != nil || r == nil {
			t.Fatalf("row %d: %v, %v", i, r, err)
		}
		got := fmt.Sprintf("%s/%s", r[0], r[1])
		exp := fmt.Sprintf("%d/%d", w.k*7, w.seq)
		if w.k < 0 {
			exp = fmt.Sprintf("/%d", w.seq)
		}
		if got != exp || (w.k < 0) != (r[0] == nil) {
			t.Fatalf("row %d is %s, want %s", i, got, exp)
		}
	}
	if r, _ := s.Next(); r != nil {
		t.Fatalf("a row after the last: %s", r)
	}
}
