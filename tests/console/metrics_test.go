package console

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/metrics"
)

// value sums the series of a metric whose labels include labels ("k=v");
// a histogram counts its samples. ok is false when the metric is absent.
func value(t testing.TB, m *metrics.Metrics, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		var sum float64
	next:
		for _, s := range f.Metric {
			have := map[string]string{}
			for _, lp := range s.Label {
				have[lp.GetName()] = lp.GetValue()
			}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if have[k] != v {
					continue next
				}
			}
			sum += sampleValue(s)
		}
		return sum, true
	}
	return 0, false
}

func sampleValue(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	}
	return 0
}

// TestOperatorMetrics: the metrics an operator misses move by what known
// statements did: per-shard latency, rows returned and affected, by table
// and by user, open transactions and their age, pool capacity, dial
// failures, plan-cache evictions, build info; error series exist at 0;
// the 2PC series appear only once two-phase commit is in use.
func TestOperatorMetrics(t *testing.T) {
	testenv.RequireMariaDB(t)
	start(t) // creates the databases and table
	y := testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: vschema, Extra: "limits: {plan_cache_bytes: 1MiB}\n"}.YAML()
	y = strings.Replace(y, "users:\n", "users:\n"+users, 1)
	y += "  dead:\n    sharded: false\n    shards:\n      \"0\": {host: 127.0.0.1, port: 1, user: root, password: \"\", database: dead}\n"
	c := startCluster(t, y, false)
	c.Metrics.SetBuildInfo("v9.9.9", "abc123", "2026-01-01")
	m := c.Metrics
	v := func(name string, labels ...string) float64 {
		t.Helper()
		x, _ := value(t, m, name, labels...)
		return x
	}
	// Before any statement: error series at 0, no 2PC series.
	for _, s := range []struct {
		name   string
		labels []string
	}{{"shardgate_config_reloads_total", []string{"result=error"}}, {"shardgate_query_errors_total", []string{"code=1205"}}} {
		if _, ok := value(t, m, s.name, s.labels...); !ok {
			t.Errorf("%s%v does not exist before its first event", s.name, s.labels)
		}
	}
	for _, name := range []string{"shardgate_twopc_resolver_actions_total", "shardgate_twopc_resolver_scans_total", "shardgate_twopc_in_doubt_branches"} {
		if _, ok := value(t, m, name); ok {
			t.Errorf("%s exported although two-phase commit is not in use", name)
		}
	}
	if v("shardgate_build_info", "version=v9.9.9", "revision=abc123") != 1 {
		t.Error("shardgate_build_info")
	}
	// The resolver scanned once at start and, 2PC not in use, not again.
	co := c.Router.Coordinator()
	time.Sleep(2500 * time.Millisecond) // 2.5 resolve intervals
	if s := co.Stats().Scans; s > 1 || co.InUse() {
		t.Errorf("resolver scans %d (in use %v): want one scan at start and none while 2PC is not in use", s, co.InUse())
	}

	app := openDB(t, dsn(c.Addr, "app", "secret", "customer"))
	app.SetMaxOpenConns(1)
	if _, err := app.Exec("DELETE FROM c_t"); err != nil {
		t.Fatal(err)
	}
	before := map[string]float64{
		"lat":      v("shardgate_shard_query_duration_seconds", "keyspace=customer"),
		"returned": v("shardgate_rows_returned_total", "keyspace=customer"),
		"affected": v("shardgate_rows_affected_total", "keyspace=customer"),
		"table":    v("shardgate_table_queries_total", "keyspace=customer", "table=c_t"),
		"user":     v("shardgate_user_queries_total", "user=app"),
	}
	if _, err := app.Exec("INSERT INTO c_t (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')"); err != nil {
		t.Fatal(err)
	}
	rows, err := app.Query("SELECT v FROM c_t WHERE id IN (1, 2, 3)")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != 3 {
		t.Fatalf("%d rows", n)
	}
	if got := v("shardgate_rows_affected_total", "keyspace=customer") - before["affected"]; got != 4 {
		t.Errorf("rows affected +%v, want 4", got)
	}
	if got := v("shardgate_rows_returned_total", "keyspace=customer") - before["returned"]; got != 3 {
		t.Errorf("rows returned +%v, want 3", got)
	}
	if got := v("shardgate_table_queries_total", "keyspace=customer", "table=c_t") - before["table"]; got != 2 {
		t.Errorf("statements on c_t +%v, want 2", got)
	}
	if got := v("shardgate_user_queries_total", "user=app") - before["user"]; got != 2 {
		t.Errorf("statements of app +%v, want 2", got)
	}
	if got := v("shardgate_shard_query_duration_seconds", "keyspace=customer") - before["lat"]; got < 2 {
		t.Errorf("per-shard latency samples +%v, want >= 2", got)
	}
	a, b := v("shardgate_shard_query_duration_seconds", "shard=-80"), v("shardgate_shard_query_duration_seconds", "shard=80-")
	if a == 0 || b == 0 {
		t.Errorf("per-shard latency: -80 %v, 80- %v samples", a, b)
	}
	if _, err := app.Exec("INSERT INTO c_t (id, v) VALUES (1, 'dup')"); err == nil {
		t.Fatal("duplicate accepted")
	}
	if v("shardgate_shard_query_errors_total", "code=1062") != 1 {
		t.Errorf("shard errors 1062: %v", v("shardgate_shard_query_errors_total", "code=1062"))
	}

	// Pools, dial failures (the dead keyspace's shard is pinged at scrape).
	if got := v("shardgate_pool_capacity", "keyspace=customer", "shard=-80"); got != 64 {
		t.Errorf("pool capacity %v, want 64 (pool.size)", got)
	}
	c.Admin.Health(context.Background())
	if got := v("shardgate_shard_dial_failures_total", "keyspace=dead"); got < 1 {
		t.Errorf("dial failures of the dead shard: %v", got)
	}
	if got := v("shardgate_shard_dial_failures_total", "keyspace=customer"); got != 0 {
		t.Errorf("dial failures of live shards: %v", got)
	}

	// Open transactions and their age.
	ctx := context.Background()
	conn, err := app.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "UPDATE c_t SET v = 'x' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if got := v("shardgate_open_transactions"); got != 1 {
		t.Errorf("open transactions %v, want 1", got)
	}
	if got := v("shardgate_oldest_transaction_age_seconds"); got <= 0 {
		t.Errorf("oldest transaction age %v", got)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	// The session's state is noted when its command ends, just after the
	// client has the OK: a scrape at that moment may still count it.
	deadline := time.Now().Add(2 * time.Second)
	for v("shardgate_open_transactions") != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := v("shardgate_open_transactions"); got != 0 {
		t.Errorf("open transactions 2s after rollback %v", got)
	}

	// Plan-cache evictions: more statement shapes than a 1 MiB cache holds (about 470).
	for i := 0; i < 700; i++ {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SELECT v AS c%d FROM c_t WHERE id = 1", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := v("shardgate_plan_cache_evictions_total"); got < 50 {
		t.Errorf("plan cache evictions %v, want >= 50", got)
	}

	// Two-phase commit in use: its series appear.
	if _, err := conn.ExecContext(ctx, "SET transaction_mode = 'twopc'"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{1, 2, 3, 4} {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("UPDATE c_t SET v = 'y' WHERE id = %d", id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, ok := value(t, m, "shardgate_twopc_resolver_actions_total", "action=error"); !ok {
		t.Error("resolver error series missing once two-phase commit is in use")
	}
	if got := v("shardgate_twopc_transactions_total", "outcome=two_phase_commit"); got != 1 {
		t.Errorf("two-phase commits %v", got)
	}
	scans := co.Stats().Scans
	eventually(t, 5*time.Second, "the resolver scanning again once 2PC is in use", func() bool { return co.Stats().Scans > scans })
}
