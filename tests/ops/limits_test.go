package ops

import (
	"bytes"
	"context"
	"database/sql"
	encbin "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// TestQueryTimeoutKillsShardQuery: SET max_execution_time bounds a
// statement; the shard's query is killed (it is gone from the shard's
// process list at once) and the client gets 1317, on a connection that
// stays usable.
func TestQueryTimeoutKillsShardQuery(t *testing.T) {
	p := startInproc(t, options{})
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "REPLACE INTO ops_t (id, v) VALUES (1, 'one'), (2, 'two')")
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET max_execution_time = 300"); err != nil {
		t.Fatal(err)
	}
	before := getMetrics(t, p.HTTP.URL)
	start := time.Now()
	_, err = conn.ExecContext(ctx, "SELECT SLEEP(5) FROM ops_t WHERE id = 1")
	took := time.Since(start)
	if code := mysqlCode(err); code != 1317 {
		t.Fatalf("SLEEP(5) under max_execution_time=300: %v (code %d), want 1317", err, code)
	}
	if took > 2*time.Second {
		t.Errorf("the interrupted statement took %s", took)
	}
	// The shard no longer runs it. The server clears a thread's statement
	// just after sending its error, so allow it a moment (without the KILL
	// the SLEEP would show for 4 more seconds).
	for _, s := range servers[1:3] {
		sdb, err := s.DB("")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		eventually(t, time.Second, fmt.Sprintf("shard %d no longer runs the statement", s.Port), func() bool {
			if err := sdb.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(5)%'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 0
		})
		sdb.Close()
	}
	// Same session, next statement fine; DEFAULT restores the config (none).
	var one int
	if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after the timeout: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION max_execution_time = DEFAULT"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT SLEEP(0.5) FROM ops_t WHERE id = 1").Scan(&one); err != nil && err != sql.ErrNoRows {
		t.Fatalf("without a timeout: %v", err)
	}
	after := getMetrics(t, p.HTTP.URL)
	if d := after.value("shardgate_limit_hits_total", "limit=query_timeout") - before.value("shardgate_limit_hits_total", "limit=query_timeout"); d != 1 {
		t.Errorf("query_timeout hits %v, want 1", d)
	}
}

// TestQueryTimeoutConfigLockWait: limits.query_timeout ends a statement
// waiting for a row lock held by another session, long before InnoDB's
// lock wait timeout, and the lock holder can still commit.
func TestQueryTimeoutConfigLockWait(t *testing.T) {
	p := startInproc(t, options{extra: "limits: {query_timeout: 400ms}\n"})
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	mustExec(t, db, "REPLACE INTO lock_t (id, v) VALUES (7, 'a')")
	holder, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec("UPDATE lock_t SET v = 'held' WHERE id = 7"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = db.Exec("UPDATE lock_t SET v = 'waiter' WHERE id = 7")
	if code := mysqlCode(err); code != 1317 || time.Since(start) > 3*time.Second {
		t.Fatalf("lock waiter: %v after %s, want 1317 after ~400ms", err, time.Since(start))
	}
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRow("SELECT v FROM lock_t WHERE id = 7").Scan(&v); err != nil || v != "held" {
		t.Fatalf("v = %q, %v", v, err)
	}
}

// TestMaxConnections: the connection over limits.max_connections gets 1040.
func TestMaxConnections(t *testing.T) {
	p := startInproc(t, options{extra: "limits: {max_connections: 3}\n"})
	var held []*client.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := client.Connect(p.Addr, "app", "secret", "customer")
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		held = append(held, c)
	}
	_, err := client.Connect(p.Addr, "app", "secret", "customer")
	if err == nil || !strings.Contains(err.Error(), "1040") || !strings.Contains(err.Error(), "max_connections = 3") {
		t.Fatalf("4th connection: %v, want 1040 naming max_connections", err)
	}
	held[0].Close()
	held = held[1:]
	eventually(t, 2*time.Second, "a free connection slot", func() bool {
		c, err := client.Connect(p.Addr, "app", "secret", "customer")
		if err != nil {
			return false
		}
		held = append(held, c)
		return true
	})
}

// TestMaxPacketSize: a statement larger than limits.max_packet_size gets
// 1153 and the connection stays usable.
func TestMaxPacketSize(t *testing.T) {
	p := startInproc(t, options{extra: "limits: {max_packet_size: 4KiB}\n"})
	c, err := client.Connect(p.Addr, "app", "secret", "customer")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Execute("SELECT '" + strings.Repeat("x", 10000) + "'")
	if err == nil || !strings.Contains(err.Error(), "1153") || !strings.Contains(err.Error(), "max_packet_size = 4096") {
		t.Fatalf("big statement: %v, want 1153", err)
	}
	r, err := c.Execute("SELECT 1")
	if err != nil {
		t.Fatalf("after the big packet: %v", err)
	}
	if v, _ := r.GetInt(0, 0); v != 1 {
		t.Fatalf("SELECT 1 = %d", v)
	}
}

// TestIdleTimeout: a session silent for limits.idle_timeout gets 4031 and is
// closed; an active one is not.
func TestIdleTimeout(t *testing.T) {
	p := startInproc(t, options{extra: "limits: {idle_timeout: 300ms}\n"})
	c, err := client.Connect(p.Addr, "app", "secret", "customer")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 5; i++ { // busy for 5 x 150ms > the timeout
		time.Sleep(150 * time.Millisecond)
		if _, err := c.Execute("SELECT 1"); err != nil {
			t.Fatalf("active session: %v", err)
		}
	}
	time.Sleep(600 * time.Millisecond)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	pkt, err := c.ReadPacket()
	if err == nil {
		t.Logf("packet %q", pkt)
	}
	if err == nil && (len(pkt) < 3 || pkt[0] != 0xff || uint16(pkt[1])|uint16(pkt[2])<<8 != 4031 || !strings.Contains(string(pkt), "inactivity")) {
		t.Fatalf("idle session got %q, want ERR 4031", pkt)
	}
	if err != nil {
		t.Fatalf("idle session: %v, want ERR 4031 first", err)
	}
	if _, err := c.ReadPacket(); err == nil {
		t.Fatal("connection still open after the idle timeout")
	}
	st := getMetrics(t, p.HTTP.URL)
	if v := st.value("shardgate_limit_hits_total", "limit=idle_timeout"); v != 1 {
		t.Errorf("idle_timeout hits %v", v)
	}
}

// TestPoolWaitTimeout: with every backend connection of a shard checked out,
// a statement waits pool.wait_timeout and gets a clear error.
func TestPoolWaitTimeout(t *testing.T) {
	p := startInproc(t, options{extra: "pool: {size: 1, wait_timeout: 200ms}\n"})
	// The 2PC resolver's scan at start takes a connection of each shard:
	// let it end first, or its wait could be counted with the statement's.
	co := p.Router.Coordinator()
	deadline := time.Now().Add(10 * time.Second)
	for co != nil && co.Stats().Scans+co.Stats().ScanErrors == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	mustExec(t, db, "REPLACE INTO ops_t (id, v) VALUES (1, 'one')")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("UPDATE ops_t SET v = 'x' WHERE id = 1"); err != nil { // pins the shard's only connection
		t.Fatal(err)
	}
	start := time.Now()
	var v string
	err = db.QueryRow("SELECT v FROM ops_t WHERE id = 1").Scan(&v)
	if code := mysqlCode(err); code != 1040 || !strings.Contains(err.Error(), "no free backend connection within 200ms") {
		t.Fatalf("second session: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("waited %s", d)
	}
	m := getMetrics(t, p.HTTP.URL)
	if w := m.value("shardgate_pool_waits_total", "keyspace=customer"); w != 1 {
		t.Errorf("pool waits %v, want 1", w)
	}
	if s := m.value("shardgate_pool_wait_seconds_total", "keyspace=customer"); s < 0.15 || s > 2 {
		t.Errorf("pool wait seconds %v, want about 0.2", s)
	}
	// The readiness probe finds the pool full and reports the shard up
	// without queuing for a connection (it would wait pool.wait_timeout and
	// count a pool wait).
	time.Sleep(1100 * time.Millisecond) // past the 1 s reuse of the scrape's pings
	if w := getMetrics(t, p.HTTP.URL).value("shardgate_pool_waits_total", "keyspace=customer"); w != 1 {
		t.Errorf("pool waits after the probes %v, want still 1", w)
	}
	resp, err := http.Get(p.HTTP.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz with a full pool: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(p.HTTP.URL + "/debug/status?format=json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Shards []struct {
			Shard, Error string
			OK           bool
			InUse        int `json:"in_use"`
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	busy := 0
	for _, h := range st.Shards {
		if strings.HasPrefix(h.Error, "pool busy: all 1 connections in use") {
			busy++
			if !h.OK || h.InUse != 1 {
				t.Errorf("shard %s: ok %v, in use %d; want ok with 1 in use", h.Shard, h.OK, h.InUse)
			}
		}
	}
	if busy == 0 { // the 2PC scan may briefly hold another shard's only connection too
		t.Errorf("health %+v: want the transaction's shard reported busy without a ping", st.Shards)
	}
}

// TestLoginRateLimit: after max_failures bad logins from an address, even
// the right password is refused (1129) until the window has passed.
func TestLoginRateLimit(t *testing.T) {
	p := startInproc(t, options{extra: "login_rate_limit: {max_failures: 3, window: 1500ms}\n"})
	for i := 0; i < 3; i++ {
		_, err := client.Connect(p.Addr, "app", "wrong", "customer")
		if err == nil || !strings.Contains(err.Error(), "1045") {
			t.Fatalf("bad login %d: %v", i+1, err)
		}
	}
	_, err := client.Connect(p.Addr, "app", "secret", "customer")
	if err == nil || !strings.Contains(err.Error(), "1129") || !strings.Contains(err.Error(), "login_rate_limit") {
		t.Fatalf("login while blocked: %v, want 1129", err)
	}
	st := getMetrics(t, p.HTTP.URL)
	if v := st.value("shardgate_client_connections_refused_total", "reason=login_rate_limit"); v != 1 {
		t.Errorf("refused by login_rate_limit %v", v)
	}
	if v := st.value("shardgate_logins_total", "result=denied"); v != 3 {
		t.Errorf("denied logins %v", v)
	}
	time.Sleep(1600 * time.Millisecond)
	c, err := client.Connect(p.Addr, "app", "secret", "customer")
	if err != nil {
		t.Fatalf("after the window: %v", err)
	}
	c.Close()
}

// TestQueryTimeoutPrepared: the timeout applies to prepared statements
// as well.
func TestQueryTimeoutPrepared(t *testing.T) {
	p := startInproc(t, options{extra: "limits: {query_timeout: 300ms}\n"})
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	mustExec(t, db, "REPLACE INTO ops_t (id, v) VALUES (1, 'one'), (2, 'two')")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var x int
			errs[i] = db.QueryRow("SELECT SLEEP(?) FROM ops_t WHERE id = ?", 3, i+1).Scan(&x)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if mysqlCode(err) != 1317 {
			t.Errorf("prepared SLEEP %d: %v, want 1317", i, err)
		}
	}
}

// TestMaxMemoryRows: a proxy-side operation over limits.max_memory_rows
// fails with 1041 naming the limit.
func TestMaxMemoryRows(t *testing.T) {
	p := startInproc(t, options{extra: "limits: {max_memory_rows: 5}\n"})
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	mustExec(t, db, "DELETE FROM busy_t")
	for i := 1; i <= 20; i++ {
		mustExec(t, db, fmt.Sprintf("INSERT INTO busy_t (id, v) VALUES (%d, 'v%02d')", i, i))
	}
	hit := 0
	for _, q := range []string{
		"SELECT id, v FROM busy_t ORDER BY v",
		"SELECT v, COUNT(*) FROM busy_t GROUP BY v",
		"SELECT DISTINCT v FROM busy_t",
		"SELECT v FROM busy_t UNION SELECT v FROM busy_t",
		"SELECT a.v FROM busy_t a JOIN busy_t b ON a.v = b.v",
	} {
		rows, err := db.Query(q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		t.Logf("%s: %v", q, err)
		if err != nil {
			if mysqlCode(err) != 1041 || !strings.Contains(err.Error(), "max_memory_rows") {
				t.Errorf("%s: %v, want 1041 naming limits.max_memory_rows", q, err)
			}
			hit++
		}
	}
	if hit == 0 {
		t.Error("no proxy-side operation hit limits.max_memory_rows")
	}
	// within the limit it works
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM busy_t WHERE id IN (1, 2, 3)").Scan(&n); err != nil || n != 3 {
		t.Errorf("small query: %d %v", n, err)
	}
}

// rawClient is a minimal protocol client for what drivers do not expose
// (COM_CHANGE_USER).
type rawClient struct {
	nc   net.Conn
	salt []byte
	seq  byte
}

func (r *rawClient) write(p []byte) error {
	_, err := r.nc.Write(append([]byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), r.seq}, p...))
	r.seq++
	return err
}

func (r *rawClient) read() ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r.nc, h[:]); err != nil {
		return nil, err
	}
	p := make([]byte, int(h[0])|int(h[1])<<8|int(h[2])<<16)
	_, err := io.ReadFull(r.nc, p)
	r.seq = h[3] + 1
	return p, err
}

func rawLogin(t *testing.T, addr, user, pw string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	r := &rawClient{nc: nc}
	g, err := r.read()
	if err != nil {
		t.Fatal(err)
	}
	pos := 1 + bytes.IndexByte(g[1:], 0) + 1 + 4
	r.salt = append(append([]byte{}, g[pos:pos+8]...), g[pos+8+1+2+1+2+2+1+10:pos+8+1+2+1+2+2+1+10+12]...)
	caps := uint32(mysql.CLIENT_PROTOCOL_41 | mysql.CLIENT_SECURE_CONNECTION | mysql.CLIENT_PLUGIN_AUTH | mysql.CLIENT_LONG_PASSWORD)
	resp := encbin.LittleEndian.AppendUint32(nil, caps)
	resp = encbin.LittleEndian.AppendUint32(resp, 1<<24)
	resp = append(resp, 45)
	resp = append(resp, make([]byte, 23)...)
	resp = append(append(resp, user...), 0)
	auth := mysql.CalcNativePassword(r.salt, []byte(pw))
	resp = append(append(resp, byte(len(auth))), auth...)
	resp = append(append(resp, "mysql_native_password"...), 0)
	if err := r.write(resp); err != nil {
		t.Fatal(err)
	}
	if p, err := r.read(); err != nil || p[0] != 0 {
		t.Fatalf("raw login: %q %v", p, err)
	}
	return r
}

// changeUser sends COM_CHANGE_USER and returns the error code (0 = OK).
func (r *rawClient) changeUser(t *testing.T, user, pw string) uint16 {
	t.Helper()
	r.seq = 0
	auth := mysql.CalcNativePassword(r.salt, []byte(pw))
	p := append([]byte{mysql.COM_CHANGE_USER}, user...)
	p = append(append(append(p, 0, byte(len(auth))), auth...), "customer"...)
	p = append(append(p, 0, 45, 0), "mysql_native_password"...)
	if err := r.write(append(p, 0)); err != nil {
		t.Fatal(err)
	}
	resp, err := r.read()
	if err != nil {
		t.Fatal(err)
	}
	if resp[0] == 0xff {
		return uint16(resp[1]) | uint16(resp[2])<<8
	}
	return 0
}

// TestChangeUserRateLimited: COM_CHANGE_USER is authenticated like a login
// and counts against login_rate_limit, so it cannot be used to guess
// passwords; a failed one ends its session, as in MySQL.
func TestChangeUserRateLimited(t *testing.T) {
	p := startInproc(t, options{extra: "login_rate_limit: {max_failures: 3, window: 1m}\n"})
	r := rawLogin(t, p.Addr, "app", "secret")
	defer r.nc.Close()
	if code := r.changeUser(t, "reader", "reader"); code != 0 {
		t.Fatalf("COM_CHANGE_USER to reader: %d", code)
	}
	for i := 0; i < 3; i++ {
		g := rawLogin(t, p.Addr, "app", "secret")
		if code := g.changeUser(t, "app", "guess"); code != 1045 {
			t.Fatalf("wrong password %d: %d, want 1045", i+1, code)
		}
		if _, err := g.read(); err == nil {
			t.Fatalf("wrong password %d: the session goes on after a failed COM_CHANGE_USER", i+1)
		}
		g.nc.Close()
	}
	// A session opened before the block cannot change user either.
	if code := r.changeUser(t, "app", "secret"); code != 1129 {
		t.Fatalf("after 3 failures: %d, want 1129", code)
	}
	if _, err := client.Connect(p.Addr, "app", "secret", "customer"); err == nil || !strings.Contains(err.Error(), "1129") {
		t.Fatalf("new connection from the blocked address: %v", err)
	}
	if v := getMetrics(t, p.HTTP.URL).value("shardgate_logins_total", "result=denied"); v != 3 {
		t.Errorf("denied logins %v, want 3", v)
	}
}
