package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testenv"
)

// TestBadInput: bad statements get the right error and the connection (and
// the proxy) stay usable.
func TestBadInput(t *testing.T) {
	p := startShared(t, "limits:\n  max_packet_size: 1MiB\n")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS bad_t")
	mustExec(t, db, "CREATE TABLE bad_t (customer_id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	mustExec(t, db, "INSERT INTO bad_t VALUES (1, 'one'), (100, 'hundred')")
	for _, mode := range driverModes {
		t.Run(mode.name, func(t *testing.T) {
			c := conn(t, p.DB(t, "customer", mode.params...))
			var id0 uint64
			if err := c.QueryRowContext(ctx(t), "SELECT CONNECTION_ID()").Scan(&id0); err != nil {
				t.Fatal(err)
			}
			alive := func(what string) {
				t.Helper()
				var id uint64
				var v string
				if err := c.QueryRowContext(ctx(t), "SELECT CONNECTION_ID(), v FROM bad_t WHERE customer_id = 100").Scan(&id, &v); err != nil {
					t.Errorf("%s: the connection is unusable afterwards: %v", what, err)
					return
				}
				if id != id0 || v != "hundred" {
					t.Errorf("%s: afterwards CONNECTION_ID() %d (was %d), v %q", what, id, id0, v)
				}
			}
			for _, tc := range []struct {
				sql    string
				args   []any
				code   uint16
				substr []string
			}{
				{sql: "SELEC xyzzy FROMM bad_t", code: 1064, substr: []string{"xyzzy"}},
				{sql: "SELECT * FROM bad_t WHERE", code: 1064},
				{sql: "SELECT * FROM bad_t WHERE customer_id = ? AND", args: []any{1}, code: 1064},
				{sql: "'unterminated", code: 1064},
				{sql: "SELECT * FROM no_such_table_bad", code: 1146, substr: []string{"no_such_table_bad"}},
				{sql: "SELECT * FROM no_such_table_bad WHERE customer_id = ?", args: []any{1}, code: 1146, substr: []string{"no_such_table_bad"}},
				{sql: "SELECT * FROM commerce.no_such_table_bad", code: 1146, substr: []string{"no_such_table_bad"}},
				{sql: "SELECT * FROM nope_ks.bad_t", code: 1049, substr: []string{"nope_ks"}},
				{sql: "SELECT no_such_column FROM bad_t WHERE customer_id = 1", code: 1054, substr: []string{"no_such_column"}},
				{sql: "USE nope_ks", code: 1049, substr: []string{"nope_ks"}},
			} {
				_, _, err := query(c, tc.sql, tc.args...)
				if strings.HasPrefix(tc.sql, "USE") {
					_, err = c.ExecContext(ctx(t), tc.sql)
				}
				wantErr(t, tc.sql, err, tc.code, tc.substr...)
				alive(tc.sql)
			}
			var dbName string
			if err := c.QueryRowContext(ctx(t), "SELECT DATABASE()").Scan(&dbName); err != nil || dbName != "customer" {
				t.Errorf("DATABASE() after USE nope_ks: %q, %v; want customer", dbName, err)
			}
			// Duplicate key from the shard: passed through with its code.
			_, err := c.ExecContext(ctx(t), "INSERT INTO bad_t VALUES (1, 'again')")
			wantErr(t, "duplicate key", err, 1062, "Duplicate entry '1'")
			alive("duplicate key")
			// Several statements in one COM_QUERY without CLIENT_MULTI_STATEMENTS.
			_, _, err = query(c, "SELECT 1; SELECT 2")
			if mysqlErr(err) == nil {
				t.Errorf("two statements in one query: %v, want a MySQL error", err)
			}
			alive("two statements in one query")
			// Packets larger than limits.max_packet_size (1 MiB): one physical
			// packet (2 MiB) and several (17 MiB > 16 MiB - 1). Each case on a
			// fresh connection that must stay usable.
			for _, size := range []int{2 << 20, 17 << 20} {
				for _, param := range []bool{false, true} {
					bc := conn(t, p.DB(t, "customer", mode.params...))
					var what string
					var err error
					if param {
						what = fmt.Sprintf("INSERT with a %d MiB parameter", size>>20)
						_, err = bc.ExecContext(ctx(t), "INSERT INTO bad_t VALUES (?, ?)", 5, strings.Repeat("b", size))
					} else {
						what = fmt.Sprintf("query of %d MiB", size>>20)
						_, _, err = query(bc, "SELECT '"+strings.Repeat("a", size)+"' AS big")
					}
					wantErr(t, what, err, 1153, "max_allowed_packet")
					var v string
					if err := bc.QueryRowContext(ctx(t), "SELECT v FROM bad_t WHERE customer_id = 100").Scan(&v); err != nil || v != "hundred" {
						t.Errorf("%s: the connection is unusable afterwards: %q, %v", what, v, err)
					}
				}
			}
			// Just below the limit is fine.
			var n int
			if err := c.QueryRowContext(ctx(t), "SELECT LENGTH('"+strings.Repeat("c", 900<<10)+"')").Scan(&n); err != nil || n != 900<<10 {
				t.Errorf("query of 900 KiB: %d, %v", n, err)
			}
		})
	}
	// Wrong password, unknown user, missing password: 1045, and the same
	// message for a known and an unknown user (nothing tells them apart).
	host := p.Addr
	shapes := map[string]string{}
	for _, tc := range []struct {
		dsn, user, using string
	}{
		{"app:wrong@tcp(" + host + ")/customer", "app", "YES"},
		{"ghost:secret@tcp(" + host + ")/customer", "ghost", "YES"},
		{"app@tcp(" + host + ")/customer", "app", "NO"},
		{"ghost@tcp(" + host + ")/", "ghost", "NO"},
	} {
		h, err := sql.Open("mysql", tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		err = h.PingContext(ctx(t))
		h.Close()
		me := wantErr(t, "login "+tc.dsn, err, 1045, "Access denied for user '"+tc.user+"'", "(using password: "+tc.using+")")
		if me == nil {
			continue
		}
		if string(me.SQLState[:]) != "28000" {
			t.Errorf("login %s: SQLSTATE %s, want 28000", tc.dsn, me.SQLState[:])
		}
		shape := strings.ReplaceAll(me.Message, "'"+tc.user+"'", "'USER'")
		if prev, ok := shapes[tc.using]; ok && prev != shape {
			t.Errorf("login %s: message %q differs in shape from the other user's %q", tc.dsn, shape, prev)
		}
		shapes[tc.using] = shape
	}
	// Auth is checked before the database: a bad password with an unknown
	// database is still 1045.
	h, _ := sql.Open("mysql", "app:wrong@tcp("+host+")/nope_ks")
	wantErr(t, "wrong password and unknown database", h.PingContext(ctx(t)), 1045, "Access denied")
	h.Close()
	// Good credentials, unknown database: 1049.
	h, _ = sql.Open("mysql", p.DSN("nope_ks"))
	wantErr(t, "connect to unknown database", h.PingContext(ctx(t)), 1049, "nope_ks")
	h.Close()
	// The proxy still serves new connections.
	wantRows(t, "new connection after all that", mustQuery(t, p.DB(t, "customer"), "SELECT v FROM bad_t WHERE customer_id = ?", 1), []string{`"one"`}, true)
}

// TestKilledShard: kill -9 of one shard's mariadbd gives 1105 naming the
// shard for statements that need it, the other shard keeps working, and
// after the shard restarts the proxy's pooled connections are replaced.
func TestKilledShard(t *testing.T) {
	cl := testenv.Cluster(t, 3)
	p := testenv.StartProxy(t, testenv.Topology{Global: cl[0], Shards: cl[1:3], VSchema: testVSchema})
	db := p.DB(t, "customer")
	mustExec(t, db, "CREATE TABLE bad_t (customer_id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	lo := idsOnShard(t, 0, 4, 1, shardNames2) // -80; lo[3] is not inserted
	hi := idsOnShard(t, 1, 5, 1, shardNames2) // 80-; hi[3], hi[4] are not inserted
	for _, id := range append(lo[:3], hi[:3]...) {
		mustExec(t, db, "INSERT INTO bad_t VALUES (?, ?)", id, fmt.Sprintf("v%d", id))
	}
	// Fill each shard's pool with several connections: concurrent open
	// transactions touching both shards.
	const parallel = 6
	holdTx := func(what string, check bool, want int) {
		t.Helper()
		var conns []*sql.Conn
		for i := 0; i < parallel; i++ {
			c := conn(t, db)
			if _, err := c.ExecContext(ctx(t), "BEGIN"); err != nil {
				t.Fatalf("%s: BEGIN: %v", what, err)
			}
			conns = append(conns, c)
		}
		var wg sync.WaitGroup
		errs := make([]error, parallel)
		got := make([][]string, parallel)
		for i, c := range conns {
			wg.Add(1)
			go func(i int, c *sql.Conn) {
				defer wg.Done()
				_, got[i], errs[i] = query(c, "SELECT customer_id, v FROM bad_t")
			}(i, c)
		}
		wg.Wait()
		for i, c := range conns {
			if check && errs[i] != nil {
				t.Errorf("%s: scatter SELECT on connection %d: %v", what, i, errs[i])
			} else if check && len(got[i]) != want {
				t.Errorf("%s: scatter SELECT on connection %d: %d rows, want %d", what, i, len(got[i]), want)
			}
			c.ExecContext(ctx(t), "COMMIT")
			c.Close()
		}
	}
	holdTx("warm-up", true, 6)

	c := conn(t, db)
	routed := func(id int64) (string, error) {
		var v string
		err := c.QueryRowContext(ctx(t), "SELECT v FROM bad_t WHERE customer_id = ?", id).Scan(&v)
		return v, err
	}
	if v, err := routed(hi[0]); err != nil || v != fmt.Sprintf("v%d", hi[0]) {
		t.Fatalf("before the kill: %q, %v", v, err)
	}

	// A transaction that has written on both shards when 80- dies.
	tx := conn(t, db)
	mustExec(t, tx, "BEGIN")
	mustExec(t, tx, "INSERT INTO bad_t VALUES (?, 'tx-lo')", lo[3])
	mustExec(t, tx, "INSERT INTO bad_t VALUES (?, 'tx-hi')", hi[4])

	if err := cl[2].Kill(); err != nil { // shard 80-
		t.Fatal(err)
	}
	// Several times: every pooled connection to the dead shard must give 1105.
	for i := 0; i < parallel+2; i++ {
		_, err := routed(hi[i%3])
		wantErr(t, fmt.Sprintf("routed SELECT to the killed shard (#%d)", i), err, 1105, "80-")
		v, err := routed(lo[i%3])
		if err != nil || v != fmt.Sprintf("v%d", lo[i%3]) {
			t.Errorf("routed SELECT to the live shard -80 while 80- is down (#%d): %q, %v", i, v, err)
		}
	}
	_, _, err := query(c, "SELECT customer_id, v FROM bad_t")
	wantErr(t, "scatter SELECT while 80- is down", err, 1105, "80-")
	_, err = c.ExecContext(ctx(t), "INSERT INTO bad_t VALUES (?, 'x')", hi[3])
	wantErr(t, "INSERT to the killed shard", err, 1105, "80-")
	if err := db.PingContext(ctx(t)); err != nil {
		t.Errorf("COM_PING while a shard is down: %v", err)
	}
	if v, err := routed(lo[0]); err != nil || v != fmt.Sprintf("v%d", lo[0]) {
		t.Errorf("the client connection after the errors: %q, %v", v, err)
	}

	// COMMIT of the transaction: the failure names 80-, and the message says
	// whether -80 committed; the session is usable afterwards.
	_, commitErr := tx.ExecContext(ctx(t), "COMMIT")
	me := wantErr(t, "COMMIT with 80- down", commitErr, 1105, "80-")
	loRows := mustQuery(t, directDB2(t, cl[1].DSN("customer")), "SELECT v FROM bad_t WHERE customer_id = ?", lo[3])
	t.Logf("COMMIT with 80- down: %v; -80 has %q", commitErr, loRows)
	if me != nil && len(loRows) == 1 && !strings.Contains(me.Message, "-80") {
		t.Errorf("COMMIT with 80- down: -80 committed but the error %q does not say so", me.Message)
	}
	var v string
	if err := tx.QueryRowContext(ctx(t), "SELECT v FROM bad_t WHERE customer_id = ?", lo[0]).Scan(&v); err != nil || v != fmt.Sprintf("v%d", lo[0]) {
		t.Errorf("the session after the failed COMMIT: %q, %v", v, err)
	}

	rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl[2].Restart(rctx); err != nil {
		t.Fatal(err)
	}
	// Every statement now works: broken pooled connections are replaced,
	// not handed out.
	for i := 0; i < parallel+2; i++ {
		v, err := routed(hi[i%3])
		if err != nil || v != fmt.Sprintf("v%d", hi[i%3]) {
			t.Errorf("routed SELECT to 80- after its restart (#%d): %q, %v", i, v, err)
		}
	}
	holdTx("after restart", true, 6+len(loRows))
	// The transaction's write on 80- died with the server.
	wantRows(t, "80- after restart: the uncommitted row is gone", mustQuery(t, db, "SELECT v FROM bad_t WHERE customer_id = ?", hi[4]), nil, true)
	if _, err := tx.ExecContext(ctx(t), "UPDATE bad_t SET v = 'tx-session' WHERE customer_id = ?", hi[0]); err != nil {
		t.Errorf("the session of the failed COMMIT, on 80- after restart: %v", err)
	}
	if n := mustExec(t, db, "UPDATE bad_t SET v = 'after' WHERE customer_id <> ?", lo[3]); n != 6 {
		t.Errorf("scatter UPDATE after the restart: %d rows, want 6", n)
	}
	rows := mustQuery(t, directDB2(t, cl[2].DSN("customer")), "SELECT v FROM bad_t")
	wantRows(t, "80- directly after the UPDATE", rows, []string{`"after"`, `"after"`, `"after"`}, false)
}

func directDB2(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	h, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}
