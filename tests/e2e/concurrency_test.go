package e2e

import (
	"fmt"
	"sort"
	"sync"
	"testing"
)

// TestConcurrentClients: many sessions at once, sharing cached plans (same
// normalized SQL, different values) and shard pools: each sees exactly its
// own values, transactions commit or roll back per session, and every row
// ends up on its shard.
func TestConcurrentClients(t *testing.T) {
	p := startShared(t, "")
	setup := p.DB(t, "customer")
	mustExec(t, setup, "DROP TABLE IF EXISTS drv_t")
	mustExec(t, setup, "CREATE TABLE drv_t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL, grp INT NOT NULL, KEY (grp)) ENGINE=InnoDB")

	const workers, perWorker = 12, 60
	var mu sync.Mutex
	committed := map[int64]string{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			params := []string{"interpolateParams=true"}
			if w%2 == 1 {
				params = nil
			}
			db := p.DB(t, "customer", params...)
			c := conn(t, db)
			errorf := func(format string, args ...any) {
				t.Errorf("worker %d: "+format, append([]any{w}, args...)...)
			}
			mine := map[int64]string{}
			var order []int64 // ids of mine, in insertion order
			for i := 0; i < perWorker; i++ {
				id := int64(w*100000 + i*7919 + 1)
				v := fmt.Sprintf("w%d-i%d", w, i)
				switch i % 4 {
				case 0, 1: // autocommit insert, text or prepared
					if _, err := c.ExecContext(ctx(t), "INSERT INTO drv_t (id, v, grp) VALUES (?, ?, ?)", id, v, w); err != nil {
						errorf("INSERT %d: %v", id, err)
						return
					}
					mine[id] = v
					order = append(order, id)
				case 2: // a transaction over two rows (likely two shards), committed
					id2 := id + 50000
					v2 := v + "b"
					for _, q := range []struct {
						sql  string
						args []any
					}{
						{"BEGIN", nil},
						{"INSERT INTO drv_t (id, v, grp) VALUES (?, ?, ?)", []any{id, v, w}},
						{"INSERT INTO drv_t (id, v, grp) VALUES (?, ?, ?)", []any{id2, v2, w}},
						{"COMMIT", nil},
					} {
						if _, err := c.ExecContext(ctx(t), q.sql, q.args...); err != nil {
							errorf("%s: %v", q.sql, err)
							return
						}
					}
					mine[id], mine[id2] = v, v2
					order = append(order, id, id2)
				case 3: // a transaction rolled back (row locks on my own rows only:
					// sessions locking each other's rows on two shards would
					// deadlock across shards, which InnoDB cannot see)
					for _, q := range []struct {
						sql  string
						args []any
					}{
						{"BEGIN", nil},
						{"INSERT INTO drv_t (id, v, grp) VALUES (?, ?, ?)", []any{id, "rolled back", w}},
						{"UPDATE drv_t SET v = 'rolled back' WHERE id IN (?, ?, ?)", []any{order[0], order[len(order)-1], order[len(order)/2]}},
						{"ROLLBACK", nil},
					} {
						if _, err := c.ExecContext(ctx(t), q.sql, q.args...); err != nil {
							errorf("%s: %v", q.sql, err)
							return
						}
					}
				}
				// Routed read of a row of mine (literal and parameter forms share a plan).
				var got string
				if err := c.QueryRowContext(ctx(t), fmt.Sprintf("SELECT v FROM drv_t WHERE id = %d", id)).Scan(&got); i%4 != 3 && (err != nil || got != mine[id]) {
					errorf("routed read of %d: %q, %v; want %q", id, got, err, mine[id])
				}
				// Scatter read of my group.
				if i%10 == 9 {
					_, rows, err := query(c, "SELECT id, v FROM drv_t WHERE grp = ?", w)
					if err != nil {
						errorf("scatter read: %v", err)
						continue
					}
					var want []string
					for id, v := range mine {
						want = append(want, fmt.Sprintf("%q|%q", fmt.Sprint(id), v))
					}
					if d := diffRows(rows, want, false); d != "" {
						errorf("scatter read of group %d:\n%s", w, d)
					}
				}
			}
			mu.Lock()
			for id, v := range mine {
				committed[id] = v
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every committed row is on its shard, nothing else is anywhere.
	var want [2][]string
	for id, v := range committed {
		s := shardOf(t, id, shardNames2)
		want[s] = append(want[s], fmt.Sprintf("%q|%q", fmt.Sprint(id), v))
	}
	got := shardRows(t, "SELECT id, v FROM drv_t")
	for i := range got {
		sort.Strings(got[i])
		wantRows(t, "rows on shard "+shardNames2[i]+" after the concurrent sessions", got[i], want[i], false)
	}
}
