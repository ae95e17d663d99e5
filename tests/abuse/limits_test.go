package abuse

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/internal/rawclient"
)

// limitHits reads shardgate_limit_hits_total{limit} from the proxy's
// metrics.
func limitHits(t testing.TB, p *inproc, limit string) float64 {
	t.Helper()
	fams, err := p.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "shardgate_limit_hits_total" {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "limit" && l.GetValue() == limit {
					return m.Counter.GetValue()
				}
			}
		}
	}
	return 0
}

// wantMySQLError checks a server error's code, SQLSTATE and message.
func wantMySQLError(t testing.TB, what string, err error, code uint16, state, msgPart string) {
	t.Helper()
	var gotCode uint16
	var gotState, gotMsg string
	switch e := err.(type) {
	case *rawclient.Error:
		gotCode, gotState, gotMsg = e.Code, e.State, e.Msg
	default:
		me := mysqlError(err)
		if me == nil {
			t.Fatalf("%s: got %v, want MySQL error %d", what, err, code)
		}
		gotCode, gotState, gotMsg = me.Number, string(me.SQLState[:]), me.Message
	}
	if gotCode != code || gotState != state || !strings.Contains(gotMsg, msgPart) {
		t.Fatalf("%s: got error %d (%s) %q, want %d (%s) containing %q", what, gotCode, gotState, gotMsg, code, state, msgPart)
	}
}

// shardStatus reads a global status counter on each shard server.
func shardStatus(t testing.TB, name string) []string {
	t.Helper()
	var out []string
	for _, s := range servers[1:3] {
		db := openDB(t, "root@tcp("+s.Addr()+")/")
		r := mustRows(t, db, "SHOW GLOBAL STATUS LIKE '"+name+"'")
		out = append(out, r[0][1])
		db.Close()
	}
	return out
}

// TestPreparedStatementLimits: one session preparing without end used to
// take all of a shard's max_prepared_stmt_count (server-wide, 16382 by
// default) through the proxy's per-connection statement caches (256 per
// connection × 64 connections), failing every other user's prepares. A
// session may now hold limits.max_prepared_stmts_per_session statements (the
// next prepare answers 1461), a backend connection keeps few, and a shard
// that answers 1461 has the connection's least recently used statements
// closed and the prepare tried again.
func TestPreparedStatementLimits(t *testing.T) {
	const shardMax, perSession = 300, 400
	// The shards' server-wide bound, lowered so that the proxy's caches
	// (4 connections × 256 per connection here) can exceed it.
	for _, s := range servers[1:3] {
		if err := s.Exec(context.Background(), fmt.Sprintf("SET GLOBAL max_prepared_stmt_count = %d", shardMax)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, s := range servers[1:3] {
			_ = s.Exec(context.Background(), "SET GLOBAL max_prepared_stmt_count = DEFAULT")
		}
	})
	p := startProxy(t, fmt.Sprintf("pool: {size: 4}\nlimits: {max_prepared_stmts_per_session: %d}\n", perSession))
	bigData(t, 10)
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The attacker's session: statements up to its limit, then 1461.
	attacker, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	stmts := make([]*sql.Stmt, 0, perSession)
	for i := 0; i < perSession; i++ {
		st, err := attacker.PrepareContext(ctx, fmt.Sprintf("SELECT v, %d FROM kv WHERE id = ?", i))
		if err != nil {
			t.Fatalf("prepare %d: %v", i, err)
		}
		stmts = append(stmts, st)
	}
	_, err = attacker.PrepareContext(ctx, "SELECT v, -1 FROM kv WHERE id = ?")
	wantMySQLError(t, "prepare past the session's limit", err, mysql.ER_MAX_PREPARED_STMT_COUNT_REACHED, "42000", "limits.max_prepared_stmts_per_session")
	if got := limitHits(t, p, "max_prepared_stmts_per_session"); got != 1 {
		t.Errorf("limit_hits{limit=max_prepared_stmts_per_session} = %v, want 1", got)
	}
	// Closing one makes room again.
	stmts[0].Close()
	if st, err := attacker.PrepareContext(ctx, "SELECT v, -2 FROM kv WHERE id = ?"); err != nil {
		t.Fatalf("prepare after closing one: %v", err)
	} else {
		stmts[0] = st
	}

	for _, st := range stmts {
		st.Close()
	}

	// Every statement runs, from three sessions at once, so that the
	// proxy's connections prepare more statements than a shard allows:
	// 1461 from the shard is answered by evicting and preparing again.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runStatements(ctx, db, w, 3, perSession); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counts := shardStatus(t, "Prepared_stmt_count")
	t.Logf("shards' Prepared_stmt_count after %d statements × 2 rounds from 3 sessions: %v (max_prepared_stmt_count = %d)", perSession, counts, shardMax)
}

// runStatements prepares and runs statements from, from+step, ... below n,
// twice, checking each one's row.
func runStatements(ctx context.Context, db *sql.DB, from, step, n int) error {
	for round := 0; round < 2; round++ {
		for i := from; i < n; i += step {
			st, err := db.PrepareContext(ctx, fmt.Sprintf("SELECT v, %d FROM kv WHERE id = ?", i))
			if err != nil {
				return fmt.Errorf("prepare %d: %w", i, err)
			}
			id := 1 + i%10
			var v string
			var got int
			err = st.QueryRowContext(ctx, id).Scan(&v, &got)
			st.Close()
			if err != nil {
				return fmt.Errorf("statement %d: %w", i, err)
			}
			if v != fmt.Sprintf("v%d", id) || got != i {
				return fmt.Errorf("statement %d: got %q %d, want v%d %d", i, v, got, id, i)
			}
		}
	}
	return nil
}

// TestLongDataLimit: COM_STMT_SEND_LONG_DATA appended without a bound (600
// MB of heap from one session). A session's long data is now bounded by
// limits.max_packet_size; past it the statement's data is dropped and its
// executes answer MySQL's error until COM_STMT_RESET.
func TestLongDataLimit(t *testing.T) {
	p := startProxy(t, "limits: {max_packet_size: 1MiB}\n")
	c := dialAbuse(t, p)
	defer c.Close()
	id, nparams, err := c.Prepare("INSERT INTO blobs (id, b) VALUES (?, ?)")
	if err != nil || nparams != 2 {
		t.Fatalf("prepare: %d parameters, %v", nparams, err)
	}
	chunk := bytes.Repeat([]byte("L"), 64<<10)
	const total = 128 << 20
	w := watchHeap(1<<30, nil)
	for sent := 0; sent < total; sent += len(chunk) {
		if err := c.SendLongData(id, 1, chunk); err != nil {
			t.Fatal(err)
		}
	}
	// A round trip, so that the proxy has read every chunk.
	if _, err := c.Query("SELECT 1"); err != nil {
		t.Fatal(err)
	}
	growth := w.end()
	t.Logf("%d MiB of long data sent; the heap grew by %.1f MiB at most (limits.max_packet_size = 1 MiB)", total>>20, growth)
	if growth > 16 {
		t.Errorf("the heap grew by %.1f MiB while the session sent %d MiB of long data, want at most 16 MiB", growth, total>>20)
	}
	for i := 0; i < 2; i++ { // sticky until COM_STMT_RESET, as in MySQL
		_, err = c.ExecuteParams(id, rawclient.LongLong(7), rawclient.Param{Type: mysql.MYSQL_TYPE_BLOB})
		wantMySQLError(t, "execute after too much long data", err, mysql.ER_UNKNOWN_ERROR, "HY000", "longer than 'max_allowed_packet' bytes (shardgate limits.max_packet_size = 1048576")
	}
	if got := limitHits(t, p, "max_packet_size"); got != 2 {
		t.Errorf("limit_hits{limit=max_packet_size} = %v, want 2", got)
	}
	if err := c.ResetStmt(id); err != nil {
		t.Fatal(err)
	}
	// Below the bound long data works: 3 chunks, 192 KiB.
	for i := 0; i < 3; i++ {
		if err := c.SendLongData(id, 1, chunk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ExecuteParams(id, rawclient.LongLong(7), rawclient.Param{Type: mysql.MYSQL_TYPE_BLOB}); err != nil {
		t.Fatalf("execute with %d bytes of long data: %v", 3*len(chunk), err)
	}
	if got := c.Value("SELECT LENGTH(b) FROM blobs WHERE id = 7"); got != fmt.Sprint(3*len(chunk)) {
		t.Errorf("stored blob length %s, want %d", got, 3*len(chunk))
	}
	if _, err := c.Query("DELETE FROM blobs WHERE id = 7"); err != nil {
		t.Fatal(err)
	}
}
