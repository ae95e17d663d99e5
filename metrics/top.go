package metrics

import (
	"math"
	"math/bits"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// TopQueries accumulates count and time per normalized statement. A
// statement with a cached plan costs a few atomic adds: its plan's topSlot
// remembers its statistics, and its text is normalized once per plan.
type TopQueries struct {
	// gen counts evictions: a topSlot filled before one may point at the
	// evicted statistics, so it is filled again.
	gen atomic.Uint64

	mu     sync.Mutex
	byText map[string]*queryStats
	max    int
}

// topSlot is a plan's pointer to its statistics.
type topSlot struct{ ref atomic.Pointer[topRef] }

type topRef struct {
	qs  *queryStats
	gen uint64
}

type queryStats struct {
	text     string
	count    atomic.Uint64
	errors   atomic.Uint64
	rows     atomic.Uint64 // returned and affected
	shards   atomic.Uint64 // shards touched, summed over runs
	nanos    atomic.Int64
	maxNanos atomic.Int64
	// buckets count runs by time: bucket i holds runs of [2^(i-1), 2^i)
	// microseconds (0: under 1 µs), the last everything longer.
	buckets [latencyBuckets]atomic.Uint32
}

const latencyBuckets = 28 // the last starts at 2^26 µs ≈ 67 s

func latencyBucket(d time.Duration) int {
	return min(bits.Len64(uint64(d/time.Microsecond)), latencyBuckets-1)
}

// percentile estimates the p-th percentile (0 < p ≤ 1) from the buckets: the
// upper bound of the bucket where it falls (at most twice the truth), and
// no more than the largest run.
func (qs *queryStats) percentile(p float64, n uint64) time.Duration {
	if n == 0 {
		return 0
	}
	want := uint64(math.Ceil(p * float64(n)))
	var seen uint64
	for i := range qs.buckets {
		seen += uint64(qs.buckets[i].Load())
		if seen >= want {
			return min(time.Duration(uint64(1)<<i)*time.Microsecond, time.Duration(qs.maxNanos.Load()))
		}
	}
	return time.Duration(qs.maxNanos.Load())
}

// QueryStat is one line of the top-queries table.
type QueryStat struct {
	SQL    string // normalized
	Count  uint64
	Errors uint64
	Rows   uint64 // rows returned and affected
	Shards uint64 // shards touched, summed over runs (Shards/Count: per run)
	Total  time.Duration
	Max    time.Duration
	// P50, P95, P99 are estimated from power-of-two buckets (at most twice
	// the true value).
	P50, P95, P99 time.Duration
}

// Avg is the mean time.
func (q QueryStat) Avg() time.Duration {
	if q.Count == 0 {
		return 0
	}
	return q.Total / time.Duration(q.Count)
}

// NewTopQueries keeps at most max distinct statements (the ones with the
// least total time go first).
func NewTopQueries(max int) *TopQueries {
	return &TopQueries{byText: map[string]*queryStats{}, max: max}
}

// Add records one run of a statement that returned or affected rows and
// touched shards; slot is its plan's (nil without a plan).
func (t *TopQueries) Add(slot *topSlot, sql string, d time.Duration, failed bool, rows, shards int) {
	var qs *queryStats
	gen := t.gen.Load()
	if slot != nil {
		if r := slot.ref.Load(); r != nil && r.gen == gen {
			qs = r.qs
		}
	}
	if qs == nil {
		qs = t.stats(topText(Normalize(sql)))
		if slot != nil {
			slot.ref.Store(&topRef{qs: qs, gen: gen})
		}
	}
	qs.count.Add(1)
	if failed {
		qs.errors.Add(1)
	}
	if rows > 0 {
		qs.rows.Add(uint64(rows))
	}
	if shards > 0 {
		qs.shards.Add(uint64(shards))
	}
	qs.buckets[latencyBucket(d)].Add(1)
	qs.nanos.Add(int64(d))
	for {
		m := qs.maxNanos.Load()
		if int64(d) <= m || qs.maxNanos.CompareAndSwap(m, int64(d)) {
			break
		}
	}
}

// maxTopText bounds the text a top-queries entry keeps: the table holds
// up to max statements, and a client's 1 MB statements must not make it
// gigabytes. Statements that share their first maxTopText bytes share an
// entry.
const maxTopText = 1024

// topText cuts text to maxTopText bytes (at a character boundary, in a copy
// that does not keep the statement's memory) and marks the cut with "…".
func topText(text string) string {
	if len(text) <= maxTopText {
		return text
	}
	n := maxTopText
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return strings.Clone(text[:n]) + "…"
}

func (t *TopQueries) stats(text string) *queryStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	if qs, ok := t.byText[text]; ok {
		return qs
	}
	if len(t.byText) >= t.max {
		var victim *queryStats
		for _, qs := range t.byText {
			if victim == nil || qs.nanos.Load() < victim.nanos.Load() {
				victim = qs
			}
		}
		delete(t.byText, victim.text)
		t.gen.Add(1) // plans may point at the victim
	}
	qs := &queryStats{text: text}
	t.byText[text] = qs
	return qs
}

// Reset forgets every statement (the console's "reset").
func (t *TopQueries) Reset() {
	t.mu.Lock()
	clear(t.byText)
	t.gen.Add(1) // plans point at the forgotten statistics
	t.mu.Unlock()
}

// Top returns the n statements with the largest total time.
func (t *TopQueries) Top(n int) []QueryStat {
	t.mu.Lock()
	out := make([]QueryStat, 0, len(t.byText))
	for _, qs := range t.byText {
		n := qs.count.Load()
		out = append(out, QueryStat{SQL: qs.text, Count: n, Errors: qs.errors.Load(), Rows: qs.rows.Load(), Shards: qs.shards.Load(),
			Total: time.Duration(qs.nanos.Load()), Max: time.Duration(qs.maxNanos.Load()),
			P50: qs.percentile(0.50, n), P95: qs.percentile(0.95, n), P99: qs.percentile(0.99, n)})
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].SQL < out[j].SQL
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
