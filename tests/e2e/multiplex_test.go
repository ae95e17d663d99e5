package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestMultiplexing: many client sessions share a few backend connections
// per shard outside transactions. 200 clients, each with its own
// connection and session variable, run routed and scattered queries at
// once through pools of 8 connections per shard; every answer is right and
// no shard ever sees more than the pool's connections from the proxy.
func TestMultiplexing(t *testing.T) {
	p := startShared(t, "pool:\n  size: 8\n  wait_timeout: 30s\n")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS mux_t")
	mustExec(t, db, "CREATE TABLE mux_t (customer_id BIGINT NOT NULL PRIMARY KEY, v BIGINT NOT NULL)")
	mustExec(t, db, "INSERT INTO mux_t VALUES (1, 10), (2, 20), (3, 30), (4, 40), (5, 50), (6, 60)")

	// Backend connections the shard server sees, before and during the load
	// (asked on one direct connection per server, counted in the base).
	direct := [2]*sql.DB{directDB(t, 1, ""), directDB(t, 2, "")}
	for _, d := range direct {
		d.SetMaxOpenConns(1)
	}
	threads := func(i int) int {
		var name string
		var n int
		if err := direct[i-1].QueryRow("SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &n); err != nil {
			t.Error(err)
		}
		return n
	}
	base := [2]int{threads(1), threads(2)}

	const clients = 200
	conns := make([]*sql.Conn, clients)
	h := p.DB(t, "customer")
	h.SetMaxOpenConns(clients)
	h.SetMaxIdleConns(clients)
	for i := range conns {
		c, err := h.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A session variable per client: replayed on whichever backend
		// connection serves it.
		if _, err := c.ExecContext(context.Background(), fmt.Sprintf("SET @me = %d", i)); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	stop, sampled := make(chan struct{}), make(chan struct{})
	peak := [2]int{}
	go func() { // sample the shards' connection counts during the load
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				for s := 0; s < 2; s++ {
					if n := threads(s + 1); n-base[s] > peak[s] {
						peak[s] = n - base[s]
					}
				}
			}
		}
	}()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				id := int64(k%6 + 1)
				var v, me int64
				if err := c.QueryRowContext(context.Background(), "SELECT v, @me FROM mux_t WHERE customer_id = ?", id).Scan(&v, &me); err != nil {
					errs <- err
					return
				}
				if v != id*10 || me != int64(i) {
					errs <- fmt.Errorf("client %d: got v=%d @me=%d, want %d and %d", i, v, me, id*10, i)
					return
				}
				var sum int64
				if err := c.QueryRowContext(context.Background(), "SELECT SUM(v) FROM mux_t").Scan(&sum); err != nil {
					errs <- err
					return
				}
				if sum != 210 {
					errs <- fmt.Errorf("client %d: SUM = %d, want 210", i, sum)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for s := 0; s < 2; s++ {
		// The proxy's pool (8) plus a connection for KILL or schema reads.
		if peak[s] > 8+2 {
			t.Errorf("shard %d saw %d more connections during the load, want at most the pool's 8 (+2)", s, peak[s])
		}
	}
	t.Logf("200 clients, peak backend connections per shard: %v (pool size 8)", peak)
}
