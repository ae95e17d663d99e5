package ops

import (
	"github.com/shardgate/shardgate/internal/testenv"

	"context"
	"crypto/rand"
	"database/sql"
	encbin "encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
)

func shardCount(t *testing.T, table, where string) int {
	t.Helper()
	total := 0
	for _, s := range servers[1:3] {
		db, err := s.DB("customer")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = db.QueryRow("SELECT COUNT(*) FROM " + table + " WHERE " + where).Scan(&n)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// TestSIGTERMDrainLetsTransactionCommit: on SIGTERM the proxy stops
// accepting, closes idle sessions, reports not ready, lets a statement in
// flight finish and an open transaction run more statements and commit,
// then exits at once, long before the drain timeout.
func TestSIGTERMDrainLetsTransactionCommit(t *testing.T) {
	p := startProc(t, configYAML(t, options{}), "--drain-timeout", "20s")
	ctx := context.Background()
	db := openDB(t, dsn(p.MySQL, "app", "secret", "customer"))
	mustExec(t, db, "DELETE FROM drain_t")

	txConn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := txConn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 4; id++ {
		if _, err := tx.Exec("INSERT INTO drain_t (id, v) VALUES (?, 'before')", id); err != nil {
			t.Fatal(err)
		}
	}
	idle, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	busy, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slowDone := make(chan error, 1)
	go func() {
		var x int
		slowDone <- busy.QueryRowContext(ctx, "SELECT SLEEP(1)").Scan(&x)
	}()
	time.Sleep(200 * time.Millisecond) // the SLEEP is running

	sigAt := time.Now()
	p.signal(t, syscall.SIGTERM)
	eventually(t, 5*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", p.MySQL, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	if code, body := httpGet(t, p.HTTP+"/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("readyz while draining: %d %q", code, body)
	}
	if err := <-slowDone; err != nil {
		t.Errorf("statement in flight at SIGTERM: %v", err)
	}
	if err := idle.PingContext(ctx); err == nil {
		t.Errorf("an idle session outside a transaction is still open while draining")
	}
	// The transaction goes on and commits.
	time.Sleep(300 * time.Millisecond)
	for id := 5; id <= 8; id++ {
		if _, err := tx.Exec("INSERT INTO drain_t (id, v) VALUES (?, 'after')", id); err != nil {
			t.Fatalf("statement in the transaction after SIGTERM: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("COMMIT after SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy did not exit after the last transaction committed")
	}
	if d := time.Since(sigAt); d > 8*time.Second {
		t.Errorf("exit took %s (drain timeout 20s)", d)
	}
	if !p.exitState.Success() {
		t.Errorf("exit status %v", p.exitState)
	}
	if n := shardCount(t, "drain_t", "1=1"); n != 8 {
		t.Errorf("rows committed: %d, want 8", n)
	}
	if !p.logged("draining sessions") || !p.logged("shardgate stopped") {
		t.Errorf("drain not logged:\n%s", p.log())
	}
}

// TestSIGTERMDrainTimeout: a transaction that never ends is cut at the drain
// timeout and rolled back.
func TestSIGTERMDrainTimeout(t *testing.T) {
	p := startProc(t, configYAML(t, options{}), "--drain-timeout", "700ms")
	db := openDB(t, dsn(p.MySQL, "app", "secret", "customer"))
	mustExec(t, db, "DELETE FROM drain_t WHERE id >= 100")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO drain_t (id, v) VALUES (100, 'lost')"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.signal(t, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after the drain timeout")
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 5*time.Second {
		t.Errorf("exit after %s, want about the 700ms drain timeout", d)
	}
	if err := tx.Commit(); err == nil {
		t.Error("commit after the drain timeout succeeded")
	}
	eventually(t, 5*time.Second, "the rollback on the shard", func() bool { return shardCount(t, "drain_t", "id = 100") == 0 })
}

// TestSIGHUPReload: SIGHUP adds a user and changes a limit while sessions
// stay connected (the same session keeps working and sees the new limit);
// a broken file is refused and the previous configuration stays.
func TestSIGHUPReload(t *testing.T) {
	base := configYAML(t, options{})
	p := startProc(t, base)
	ctx := context.Background()
	db := openDB(t, dsn(p.MySQL, "app", "secret", "customer"))
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var id1, id2 int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id1); err != nil {
		t.Fatal(err)
	}
	cust := openDB(t, dsn(p.MySQL, "cust", "custpw", "customer"))
	custConn, err := cust.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer custConn.Close()
	if _, err := custConn.ExecContext(ctx, "REPLACE INTO ops_t (id, v) VALUES (900, 'before reload')"); err != nil {
		t.Fatal(err)
	}
	newbie := openDB(t, dsn(p.MySQL, "newbie", "fresh", "customer"))
	if err := newbie.Ping(); mysqlCode(err) != 1045 {
		t.Fatalf("newbie before reload: %v", err)
	}
	newbie.Close()

	changed := strings.Replace(base, "users:\n", "users:\n  - name: newbie\n    password: fresh\n", 1) +
		"limits: {max_packet_size: 4KiB}\nlog: {json: true}\n"
	// user cust becomes read-only
	changed = strings.Replace(changed, "    keyspaces: [customer]\n", "    keyspaces: [customer]\n    read_only: true\n", 1)
	if err := os.WriteFile(p.Path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(t, syscall.SIGHUP)
	eventually(t, 5*time.Second, "newbie to log in", func() bool {
		ndb, err := sql.Open("mysql", dsn(p.MySQL, "newbie", "fresh", "customer"))
		if err != nil {
			return false
		}
		defer ndb.Close()
		return ndb.Ping() == nil
	})
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id2); err != nil || id1 != id2 {
		t.Fatalf("the session did not survive the reload: %d -> %d, %v", id1, id2, err)
	}
	// cust's live session is read-only now
	if _, err := custConn.ExecContext(ctx, "REPLACE INTO ops_t (id, v) VALUES (900, 'after reload')"); mysqlCode(err) != 1290 {
		t.Errorf("write of a session whose account became read_only: %v, want 1290", err)
	}
	var s string
	err = conn.QueryRowContext(ctx, "SELECT '"+strings.Repeat("y", 6000)+"'").Scan(&s)
	if mysqlCode(err) != 1153 {
		t.Errorf("reloaded max_packet_size not applied to the live session: %v", err)
	}

	// A broken file: refused, the previous configuration stays in force.
	if err := os.WriteFile(p.Path, []byte("listen: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(t, syscall.SIGHUP)
	eventually(t, 5*time.Second, "the failed reload to be logged", func() bool { return p.logged("configuration reload failed") })
	ndb := openDB(t, dsn(p.MySQL, "newbie", "fresh", "customer"))
	if err := ndb.Ping(); err != nil {
		t.Errorf("newbie after a failed reload: %v", err)
	}
	m := getMetrics(t, p.HTTP)
	if m.value("shardgate_config_reloads_total", "result=ok") != 1 || m.value("shardgate_config_reloads_total", "result=error") != 1 {
		t.Errorf("reload counters ok=%v error=%v", m.value("shardgate_config_reloads_total", "result=ok"), m.value("shardgate_config_reloads_total", "result=error"))
	}
	if err := conn.PingContext(ctx); err != nil {
		t.Errorf("session after two reloads: %v", err)
	}
}

// TestManyClients: 2000 idle clients and 200 busy ones at once; every
// query succeeds and the proxy's memory stays bounded and stable.
func TestManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	p := startProc(t, configYAML(t, options{}))
	pid := p.cmd.Process.Pid
	db := openDB(t, dsn(p.MySQL, "app", "secret", "customer"))
	mustExec(t, db, "DELETE FROM busy_t")
	for i := 1; i <= 100; i++ {
		mustExec(t, db, fmt.Sprintf("INSERT INTO busy_t (id, v) VALUES (%d, 'v%d')", i, i))
	}
	db.Close()
	rss0 := rssKiB(t, pid)

	const idleN, busyN = 2000, 200
	start := time.Now()
	idle := connectMany(t, p.MySQL, idleN)
	defer closeAll(idle)
	t.Logf("%d idle clients connected in %s", idleN, time.Since(start).Round(time.Millisecond))
	rssIdle := rssKiB(t, pid)

	busy := connectMany(t, p.MySQL, busyN)
	defer closeAll(busy)
	round := func(d time.Duration) (int64, int64) {
		var ok, bad atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(d)
		for i, c := range busy {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; time.Now().Before(stop); n++ {
					id := (i*7+n)%100 + 1
					r, err := c.Execute(fmt.Sprintf("SELECT v FROM busy_t WHERE id = %d", id))
					if err != nil {
						bad.Add(1)
						continue
					}
					if v, _ := r.GetString(0, 0); v != fmt.Sprintf("v%d", id) {
						bad.Add(1)
						continue
					}
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		return ok.Load(), bad.Load()
	}
	ok1, bad1 := round(2 * time.Second)
	rss1 := rssKiB(t, pid)
	ok2, bad2 := round(2 * time.Second)
	rss2 := rssKiB(t, pid)
	t.Logf("RSS: start %d MiB, %d idle %d MiB, busy round 1 %d MiB (%d queries), round 2 %d MiB (%d queries)",
		rss0/1024, idleN, rssIdle/1024, rss1/1024, ok1, rss2/1024, ok2)
	if bad1+bad2 > 0 {
		t.Errorf("%d failed queries", bad1+bad2)
	}
	if ok1 < busyN || ok2 < busyN {
		t.Errorf("too few queries: %d, %d", ok1, ok2)
	}
	// Idle sessions cost bounded memory each, and a second busy round does
	// not grow the process.
	if per := (rssIdle - rss0) / idleN; per > 256 {
		t.Errorf("%d KiB per idle client", per)
	}
	if rss2 > rss1+rss1/5+8*1024 {
		t.Errorf("memory grew between two equal busy rounds: %d -> %d KiB", rss1, rss2)
	}
	if rss2 > 1024*1024 {
		t.Errorf("RSS %d MiB", rss2/1024)
	}
	st := getStatus(t, p.HTTP)
	if st.Connections != idleN+busyN || st.Sessions != idleN+busyN {
		t.Errorf("status: %d connections, %d sessions, want %d", st.Connections, st.Sessions, idleN+busyN)
	}
	t.Logf("Go heap %d MiB, %d goroutines", st.HeapBytes>>20, st.Goroutines)
	closeAll(idle)
	closeAll(busy)
	eventually(t, 10*time.Second, "the client gauge to drop to 0", func() bool {
		return getMetrics(t, p.HTTP).value("shardgate_client_connections") == 0
	})
}

func connectMany(t *testing.T, addr string, n int) []*client.Conn {
	t.Helper()
	conns := make([]*client.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c, err := client.Connect(addr, "app", "secret", "customer")
				if err != nil {
					errs <- err
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		closeAll(conns)
		t.Fatalf("connect: %v", err)
	}
	return conns
}

func closeAll(cs []*client.Conn) {
	for i, c := range cs {
		if c != nil {
			c.Close()
			cs[i] = nil
		}
	}
}

// TestMalformedHandshakesNeverCrash throws broken handshakes at the
// process and checks that it keeps serving.
func TestMalformedHandshakesNeverCrash(t *testing.T) {
	o, _ := tlsListen(t, false, "")
	p := startProc(t, configYAML(t, o))
	frame := func(seq byte, payload []byte) []byte {
		b := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
		return append(b, payload...)
	}
	rnd := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	caps41 := func(extra uint32) []byte {
		b := make([]byte, 32)
		encbin.LittleEndian.PutUint32(b, 0x000fa685|extra)
		return b
	}
	cases := map[string][]byte{
		"nothing":            nil,
		"short":              frame(1, []byte{1, 2, 3}),
		"random":             frame(1, rnd(200)),
		"huge length":        {0xff, 0xff, 0xff, 1, 0},
		"no protocol 41":     frame(1, make([]byte, 40)),
		"no user terminator": frame(1, append(caps41(0), []byte("appappapp")...)),
		"lenenc auth too long": frame(1, append(append(caps41(1<<21), []byte("app\x00")...),
			0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)),
		"ssl then garbage":   append(frame(1, caps41(0x800)), rnd(300)...),
		"ssl short":          frame(1, caps41(0x800)[:20]),
		"random seq storm":   append(append(frame(5, rnd(50)), frame(9, rnd(10))...), frame(0, nil)...),
		"auth switch answer": append(frame(1, append(append(caps41(0x80000), []byte("app\x00\x00")...), []byte("client_ed25519\x00")...)), frame(3, rnd(5000))...),
	}
	for round := 0; round < 3; round++ {
		for name, payload := range cases {
			c, err := net.DialTimeout("tcp", p.MySQL, 2*time.Second)
			if err != nil {
				t.Fatalf("%s: dial: %v", name, err)
			}
			_ = c.SetDeadline(time.Now().Add(400 * time.Millisecond))
			buf := make([]byte, 4096)
			_, _ = c.Read(buf) // greeting
			_, _ = c.Write(payload)
			for {
				if _, err := c.Read(buf); err != nil {
					break
				}
			}
			c.Close()
		}
		for i := 0; i < 30; i++ { // random bytes before and instead of everything
			c, err := net.DialTimeout("tcp", p.MySQL, 2*time.Second)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			_, _ = c.Write(rnd(1 + i*37))
			c.Close()
		}
	}
	select {
	case <-p.exited:
		t.Fatalf("the proxy died: %v", p.exitState)
	default:
	}
	db := openDB(t, dsn(p.MySQL, "app", "secret", "customer"))
	var v int
	if err := db.QueryRow("SELECT 3").Scan(&v); err != nil || v != 3 {
		t.Fatalf("after malformed handshakes: %v", err)
	}
	if p.logged("panic") {
		t.Errorf("a panic was logged:\n%s", p.log())
	}
}

// TestSlowQueryLog: a statement over slow_query_log.threshold is logged as
// JSON with its normalized SQL, shard, plan and user, and counted.
func TestSlowQueryLog(t *testing.T) {
	p := startProc(t, configYAML(t, options{extra: "slow_query_log: {threshold: 150ms}\n"}))
	db := openDB(t, dsn(p.MySQL, "app", "secret", "customer"))
	mustExec(t, db, "REPLACE INTO busy_t (id, v) VALUES (5, 'five')")
	var x int
	if err := db.QueryRow("SELECT SLEEP(0.3) FROM busy_t WHERE id = 5").Scan(&x); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT 1 FROM busy_t WHERE id = 5").Scan(&x); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	eventually(t, 5*time.Second, "the slow-query log line", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range p.lines {
			if strings.Contains(l, `"slow query"`) {
				return json.Unmarshal([]byte(l), &rec) == nil
			}
		}
		return false
	})
	shards, _ := rec["shards"].([]any)
	if rec["sql"] != "SELECT SLEEP(?) FROM busy_t WHERE id = ?" || rec["logger"] != "slowlog" || rec["user"] != "app" ||
		rec["keyspace"] != "customer" || rec["plan"] != "Route(EqualUnique)" || len(shards) != 1 || !strings.HasPrefix(fmt.Sprint(shards[0]), "customer/") {
		t.Errorf("slow-query log line: %v", rec)
	}
	if d, _ := rec["duration"].(float64); d < 0.3 || d > 5 {
		t.Errorf("duration %v", rec["duration"])
	}
	if n := strings.Count(p.log(), `"slow query"`); n != 1 {
		t.Errorf("%d slow-query lines, want 1", n)
	}
	if v := getMetrics(t, p.HTTP).value("shardgate_slow_queries_total"); v != 1 {
		t.Errorf("slow queries %v", v)
	}
}

// TestSystemdNotify: with NOTIFY_SOCKET set (Type=notify), the proxy reports
// READY=1 once it listens, RELOADING=1 and READY=1 around a reload, and
// STOPPING=1 when it starts draining.
func TestSystemdNotify(t *testing.T) {
	sock, received := notifySocket(t)
	states := func() string { return strings.Join(received(), ",") }
	p := startProcEnv(t, configYAML(t, options{}), []string{"NOTIFY_SOCKET=" + sock})
	eventually(t, 5*time.Second, "READY=1", func() bool { return states() == "READY=1" })
	p.signal(t, syscall.SIGHUP)
	eventually(t, 5*time.Second, "RELOADING=1, READY=1", func() bool { return states() == "READY=1,RELOADING=1,READY=1" })
	p.signal(t, syscall.SIGTERM)
	eventually(t, 5*time.Second, "STOPPING=1", func() bool { return strings.HasSuffix(states(), ",STOPPING=1") })
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit")
	}
}

// TestSIGHUPReadsNewTables: a table another proxy created in an auto_vschema
// keyspace (here: created on the shards directly) is unknown to a proxy with
// a file topology until SIGHUP reads the shards' tables again; then rows go
// to the shard its hash names.
func TestSIGHUPReadsNewTables(t *testing.T) {
	p := startProc(t, configYAML(t, options{}))
	ctx := context.Background()
	db := openDB(t, dsn(p.MySQL, "app", "secret", "customer"))
	for _, s := range servers[1:3] {
		if err := s.Exec(ctx, "DROP TABLE IF EXISTS customer.hup_t", "CREATE TABLE customer.hup_t (id BIGINT PRIMARY KEY, v VARCHAR(16))"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, s := range servers[1:3] {
			_ = s.Exec(context.Background(), "DROP TABLE IF EXISTS customer.hup_t")
		}
	})
	if _, err := db.ExecContext(ctx, "INSERT INTO hup_t (id, v) VALUES (1, 'a')"); mysqlCode(err) != 1146 {
		t.Fatalf("insert into a table the proxy has not read: %v, want 1146", err)
	}
	p.signal(t, syscall.SIGHUP)
	eventually(t, 5*time.Second, "the new table after SIGHUP", func() bool {
		_, err := db.ExecContext(ctx, "INSERT INTO hup_t (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')")
		return err == nil
	})
	names := []string{"-80", "80-"}
	for id := int64(1); id <= 4; id++ {
		want, err := testenv.ShardOf(id, names)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range servers[1:3] {
			h, err := s.DB("customer")
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := h.QueryRowContext(ctx, "SELECT COUNT(*) FROM hup_t WHERE id = ?", id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			h.Close()
			if (i == want) != (n == 1) {
				t.Errorf("id %d: %d rows on shard %s, want it on %s only", id, n, names[i], names[want])
			}
		}
	}
}

// notifySocket listens where a proxy started with NOTIFY_SOCKET=sock sends
// its sd_notify messages; received returns them so far, in order.
func notifySocket(t *testing.T) (sock string, received func() []string) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var got []string
	go func() { // ends when the cleanup closes ln
		buf := make([]byte, 256)
		for {
			n, err := ln.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()
	return sock, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}
