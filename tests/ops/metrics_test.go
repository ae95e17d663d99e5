package ops

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/vindex"
)

// TestMetricsMove runs known statements and checks that each counter moved
// by exactly what they did.
func TestMetricsMove(t *testing.T) {
	p := startInproc(t, options{extra: "slow_query_log: {threshold: 1h}\n"})
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer", "interpolateParams=true"))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "DELETE FROM ops_t")
	for i := 1; i <= 10; i++ {
		mustExec(t, db, "INSERT INTO ops_t (id, v) VALUES (?, ?)", i, fmt.Sprint("v", i))
	}
	before := getMetrics(t, p.HTTP.URL)

	const n = 25
	for i := 0; i < n; i++ {
		var v string
		if err := db.QueryRow("SELECT v FROM ops_t WHERE id = ?", i%10+1).Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	// two errors with their codes: a duplicate key from a shard, a syntax error
	if _, err := db.Exec("INSERT INTO ops_t (id, v) VALUES (1, 'dup')"); mysqlCode(err) != 1062 {
		t.Fatalf("duplicate insert: %v", err)
	}
	if _, err := db.Exec("SELEC 1"); mysqlCode(err) != 1064 {
		t.Fatalf("syntax error: %v", err)
	}
	// a transaction over both shards, committed
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{101, 102, 103, 104} {
		if _, err := tx.Exec("INSERT INTO ops_t (id, v) VALUES (?, 'tx')", id); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// a twopc transaction over both shards
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mustExecConn(t, conn, "SET transaction_mode = 'twopc'")
	mustExecConn(t, conn, "BEGIN")
	for _, id := range idsOnBothShards(t, 201, 4) {
		mustExecConn(t, conn, fmt.Sprintf("INSERT INTO ops_t (id, v) VALUES (%d, '2pc')", id))
	}
	mustExecConn(t, conn, "COMMIT")
	mustExecConn(t, conn, "SET transaction_mode = 'multi'")
	conn.Close()
	// a scatter select touches both shards
	var cnt int
	if err := db.QueryRow("SELECT COUNT(*) FROM ops_t WHERE v = 'tx'").Scan(&cnt); err != nil && !strings.Contains(err.Error(), "1235") {
		t.Fatal(err)
	}
	after := getMetrics(t, p.HTTP.URL)

	d := func(name string, labels ...string) float64 {
		return after.value(name, labels...) - before.value(name, labels...)
	}
	if got := d("shardgate_queries_total", "keyspace=customer", "statement=select", "plan=Route(EqualUnique)"); got != n {
		t.Errorf("point selects counted %v, want %d", got, n)
	}
	if got := d("shardgate_query_duration_seconds", "keyspace=customer", "statement=select"); got < n {
		t.Errorf("latency histogram samples of selects: %v, want >= %d", got, n)
	}
	if got := d("shardgate_query_errors_total", "code=1062"); got != 1 {
		t.Errorf("errors 1062: %v, want 1", got)
	}
	if got := d("shardgate_query_errors_total", "code=1064"); got != 1 {
		t.Errorf("errors 1064: %v, want 1", got)
	}
	if got := d("shardgate_transactions_total", "mode=multi", "outcome=commit"); got != 1 {
		t.Errorf("committed transactions: %v, want 1", got)
	}
	if got := d("shardgate_queries_total", "statement=insert"); got != 9 {
		t.Errorf("inserts counted %v, want 9", got)
	}
	if got := d("shardgate_transactions_total", "mode=twopc", "outcome=commit"); got != 1 {
		t.Errorf("twopc commits %v, want 1", got)
	}
	if got := d("shardgate_twopc_transactions_total", "outcome=two_phase_commit"); got != 1 {
		t.Errorf("two-phase commits %v, want 1 (one-phase %v)", got, d("shardgate_twopc_transactions_total", "outcome=one_phase_commit"))
	}
	// Every point select reached exactly one shard; the 4 inserts reached
	// both shards between them; COMMIT touched both again.
	sh := d("shardgate_shard_queries_total", "keyspace=customer")
	if sh < n+4+2+4+2 {
		t.Errorf("shard statements %v, want >= %d", sh, n+4+2+4+2)
	}
	a, b := d("shardgate_shard_queries_total", "shard=-80"), d("shardgate_shard_queries_total", "shard=80-")
	if a == 0 || b == 0 || a+b != sh {
		t.Errorf("shard statements per shard -80=%v 80-=%v (total %v)", a, b, sh)
	}
	if got := d("shardgate_plan_cache_hits_total"); got < n-1 {
		t.Errorf("plan cache hits %v, want >= %d", got, n-1)
	}
	if got := after.value("shardgate_client_connections"); got != 1 {
		t.Errorf("client connections gauge %v, want 1", got)
	}
	if got := after.value("shardgate_pool_connections", "keyspace=customer", "state=idle"); got < 2 {
		t.Errorf("idle pool connections of customer %v, want >= 2 (one per shard)", got)
	}
	if got := after.value("shardgate_logins_total", "result=ok", "plugin=mysql_native_password"); got != 1 {
		t.Errorf("native logins %v, want 1", got)
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_goroutines", "shardgate_twopc_resolver_actions_total", "shardgate_limit_hits_total"} {
		if _, ok := after[name]; !ok && name != "shardgate_twopc_resolver_actions_total" {
			t.Errorf("metric %s missing", name)
		}
	}

	// The status page: top queries by normalized SQL, shards healthy,
	// passwords hidden.
	st := getStatus(t, p.HTTP.URL)
	found := false
	for _, q := range st.TopQueries {
		if q.SQL == "SELECT v FROM ops_t WHERE id = ?" {
			found = true
			if q.Count != n {
				t.Errorf("top query count %d, want %d", q.Count, n)
			}
			if q.TotalMS <= 0 || q.MaxMS < q.AvgMS {
				t.Errorf("top query times %+v", q)
			}
		}
	}
	if !found {
		t.Errorf("normalized point select missing from top queries: %+v", st.TopQueries)
	}
	if len(st.Shards) != 3 {
		t.Errorf("shards %+v", st.Shards)
	}
	for _, s := range st.Shards {
		if !s.OK {
			t.Errorf("shard %s not healthy: %s", s.Shard, s.Error)
		}
	}
	if len(st.Keyspaces) != 2 || st.Keyspaces[1].Name != "customer" || !st.Keyspaces[1].Sharded || len(st.Keyspaces[1].Shards) != 2 {
		t.Errorf("keyspaces %+v", st.Keyspaces)
	}
	if strings.Contains(st.Config, "secret") || strings.Contains(st.Config, "4711B9BC") || !strings.Contains(st.Config, "<hidden>") {
		t.Errorf("config shows a password or hash:\n%s", st.Config)
	}
	if code, body := httpGet(t, p.HTTP.URL+"/debug/status"); code != 200 || !strings.Contains(body, "SELECT v FROM ops_t WHERE id = ?") || !strings.Contains(body, "customer/-80") {
		t.Errorf("status page %d:\n%s", code, body)
	}
	if code, body := httpGet(t, p.HTTP.URL+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("healthz %d %q", code, body)
	}
	if code, body := httpGet(t, p.HTTP.URL+"/readyz"); code != 200 || !strings.Contains(body, "3 shards reachable") {
		t.Errorf("readyz %d %q", code, body)
	}
}

// TestReadyzShardDown: a shard nobody answers for makes /readyz 503 and
// names it.
func TestReadyzShardDown(t *testing.T) {
	y := configYAML(t, options{}) + "  dead:\n    sharded: false\n    shards:\n      \"0\": {host: 127.0.0.1, port: 1, user: root, password: \"\", database: dead}\n"
	q := startInprocYAML(t, y)
	code, body := httpGet(t, q.HTTP.URL+"/readyz")
	if code != 503 || !strings.Contains(body, "dead/0") || !strings.Contains(body, "1 of 4 shards unreachable") {
		t.Errorf("readyz with a dead shard: %d %q", code, body)
	}
	m := getMetrics(t, q.HTTP.URL)
	if m.value("shardgate_shard_up", "keyspace=dead") != 0 || m.value("shardgate_shard_up", "keyspace=customer") != 2 || m.value("shardgate_shard_up") != 3 {
		t.Errorf("shardgate_shard_up: dead %v, customer %v, all %v", m.value("shardgate_shard_up", "keyspace=dead"), m.value("shardgate_shard_up", "keyspace=customer"), m.value("shardgate_shard_up"))
	}
	st := getStatus(t, q.HTTP.URL)
	for _, s := range st.Shards {
		if (s.Shard == "dead/0") == s.OK {
			t.Errorf("shard %s ok=%v (%s)", s.Shard, s.OK, s.Error)
		}
	}
}

func mustExecConn(t testing.TB, c *sql.Conn, q string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// idsOnBothShards returns n ids from `from` on, half of them on each of the
// two customer shards (-80, 80-).
func idsOnBothShards(t testing.TB, from, n int) []int {
	t.Helper()
	h, err := vindex.New("hash", nil)
	if err != nil {
		t.Fatal(err)
	}
	var lo, hi []int
	for id := from; len(lo) < n/2 || len(hi) < n-n/2; id++ {
		ksid, err := h.Map(int64(id))
		if err != nil {
			t.Fatal(err)
		}
		if ksid[0] < 0x80 {
			if len(lo) < n/2 {
				lo = append(lo, id)
			}
		} else if len(hi) < n-n/2 {
			hi = append(hi, id)
		}
	}
	return append(lo, hi...)
}

// TestDeadlockMetrics: a deadlock across shards (two sessions updating rows
// on two shards in opposite orders) is counted once found, once as a
// victim, with its detection time, and its 1213 among the errors.
func TestDeadlockMetrics(t *testing.T) {
	p := startInproc(t, options{})
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer", "interpolateParams=true"))
	ids := idsOnBothShards(t, 301, 2) // ids[0] on -80, ids[1] on 80-
	for _, id := range ids {
		mustExec(t, db, "DELETE FROM ops_t WHERE id = ?", id)
		mustExec(t, db, "INSERT INTO ops_t (id, v) VALUES (?, 'dl')", id)
	}
	before := getMetrics(t, p.HTTP.URL)
	ctx := context.Background()
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustExecConn(t, a, "BEGIN")
	mustExecConn(t, b, "BEGIN")
	mustExecConn(t, a, fmt.Sprintf("UPDATE ops_t SET v = 'a' WHERE id = %d", ids[0]))
	mustExecConn(t, b, fmt.Sprintf("UPDATE ops_t SET v = 'b' WHERE id = %d", ids[1]))
	aErr := make(chan error, 1)
	go func() {
		_, err := a.ExecContext(ctx, fmt.Sprintf("UPDATE ops_t SET v = 'a' WHERE id = %d", ids[1]))
		aErr <- err
	}()
	time.Sleep(150 * time.Millisecond)
	_, errB := b.ExecContext(ctx, fmt.Sprintf("UPDATE ops_t SET v = 'b' WHERE id = %d", ids[0]))
	errA := <-aErr
	if mysqlCode(errA)+mysqlCode(errB) != 1213 {
		t.Fatalf("a: %v; b: %v; want one 1213", errA, errB)
	}
	_, _ = a.ExecContext(ctx, "ROLLBACK")
	_, _ = b.ExecContext(ctx, "ROLLBACK")
	after := getMetrics(t, p.HTTP.URL)
	d := func(name string, labels ...string) float64 {
		return after.value(name, labels...) - before.value(name, labels...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"shardgate_deadlocks_total", nil, 1},
		{"shardgate_deadlock_victims_total", nil, 1},
		{"shardgate_deadlock_detection_seconds", nil, 1},
		{"shardgate_query_errors_total", []string{"code=1213"}, 1},
		{"shardgate_deadlock_checks_total", []string{"result=error"}, 0},
	} {
		if got := d(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v: +%v, want +%v", c.name, c.labels, got, c.want)
		}
	}
	if got := d("shardgate_deadlock_checks_total", "result=ok"); got < 2 {
		t.Errorf("deadlock checks +%v, want at least 2 (a cycle is confirmed in a second round)", got)
	}
}
