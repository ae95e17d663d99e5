// Package writeload drives autocommit INSERTs of unique ids through one or
// more proxies and records exactly what the clients saw: which ids were
// acknowledged, which failed and how, and when. The HA tests and the
// failover benchmark check the acknowledged ids against the servers.
package writeload

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Write is one INSERT as the client saw it.
type Write struct {
	ID         int64
	Start, End time.Time
	Err        error // nil: acknowledged
}

// Load runs Workers goroutines per handle, each inserting
// "INSERT INTO <Table> (id, v) VALUES (id, ...)" with ids unique across the
// load (Base + a counter), until Stop.
type Load struct {
	Table   string
	Base    int64
	Workers int
	// Pause between a worker's writes (0: none).
	Pause time.Duration

	next   atomic.Int64
	mu     sync.Mutex
	writes []Write
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

// Start starts the workers on every handle.
func (l *Load) Start(dbs ...*sql.DB) {
	ctx, cancel := context.WithCancel(context.Background())
	l.stop = cancel
	for _, db := range dbs {
		for w := 0; w < l.Workers; w++ {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				var local []Write
				defer func() {
					l.mu.Lock()
					l.writes = append(l.writes, local...)
					l.mu.Unlock()
				}()
				for ctx.Err() == nil {
					id := l.Base + l.next.Add(1)
					start := time.Now()
					_, err := db.ExecContext(context.WithoutCancel(ctx), "INSERT INTO "+l.Table+" (id, v) VALUES (?, 'load')", id)
					local = append(local, Write{ID: id, Start: start, End: time.Now(), Err: err})
					if err != nil {
						time.Sleep(5 * time.Millisecond)
					} else if l.Pause > 0 {
						time.Sleep(l.Pause)
					}
				}
			}()
		}
	}
}

// Stop stops the workers and returns every write, by start time.
func (l *Load) Stop() []Write {
	l.stop()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	sort.Slice(l.writes, func(i, j int) bool { return l.writes[i].Start.Before(l.writes[j].Start) })
	return l.writes
}

// Kind names an error for tallies: "1213", "1105", … or "io" for a client
// side failure (connection lost before an answer).
func Kind(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Sprint(me.Number)
	}
	return "io"
}

// Summary tallies writes.
type Summary struct {
	Acked   map[int64]bool
	Failed  map[int64]bool
	Errors  map[string]int    // by Kind
	Samples map[string]string // one message per kind
}

// Summarize tallies the writes for which keep(id) holds (nil: all).
func Summarize(ws []Write, keep func(int64) bool) Summary {
	s := Summary{Acked: map[int64]bool{}, Failed: map[int64]bool{}, Errors: map[string]int{}, Samples: map[string]string{}}
	for _, w := range ws {
		if keep != nil && !keep(w.ID) {
			continue
		}
		if w.Err == nil {
			s.Acked[w.ID] = true
			continue
		}
		s.Failed[w.ID] = true
		k := Kind(w.Err)
		s.Errors[k]++
		if _, ok := s.Samples[k]; !ok {
			s.Samples[k] = w.Err.Error()
		}
	}
	return s
}

// String is "3 × 1213 (…message…)" lines.
func (s Summary) String() string {
	var parts []string
	for k, n := range s.Errors {
		parts = append(parts, fmt.Sprintf("%d × %s (%s)", n, k, s.Samples[k]))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// Unavailability is the longest time, from at on, during which no write
// (for which keep holds) was acknowledged: from at to the first
// acknowledgement after it, or between two acknowledgements, whichever is
// longer, up to the last acknowledgement. ok is false when no write was
// acknowledged after at.
func Unavailability(ws []Write, at time.Time, keep func(int64) bool) (time.Duration, bool) {
	var ends []time.Time
	for _, w := range ws {
		if w.Err == nil && w.End.After(at) && (keep == nil || keep(w.ID)) {
			ends = append(ends, w.End)
		}
	}
	if len(ends) == 0 {
		return 0, false
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i].Before(ends[j]) })
	worst := ends[0].Sub(at)
	for i := 1; i < len(ends); i++ {
		if d := ends[i].Sub(ends[i-1]); d > worst {
			worst = d
		}
	}
	return worst, true
}

// Missing returns the acknowledged ids not in have.
func Missing(acked map[int64]bool, have map[int64]bool) []int64 {
	var out []int64
	for id := range acked {
		if !have[id] {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// IDs reads the ids of table on a server.
func IDs(ctx context.Context, db *sql.DB, table string) (map[int64]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT id FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
