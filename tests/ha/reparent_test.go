package ha

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/internal/writeload"
	"github.com/shardgate/shardgate/metrics"
)

// serveAdmin serves a proxy's HTTP endpoints on a free port and returns
// its address.
func serveAdmin(t *testing.T, p *testenv.Proxy) string {
	t.Helper()
	m := metrics.New(p.Router, zap.NewNop())
	m.Registry.MustRegister(p.HA.Collectors()...)
	a := admin.New(p.Server, p.Router, m, zap.NewNop(), "test")
	a.SetHA(p.HA)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Serve(ctx, ln)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// TestPlannedReparent: `shardgate reparent` (its client, admin.Reparent)
// moves the primary role to a replica under a write load of autocommit
// statements and short transactions: no client sees an error, every write
// is on the new primary, the old primary becomes its replica. The endpoint
// refuses anyone but an admin user.
func TestPlannedReparent(t *testing.T) {
	c := newCluster(t, "multi", 3, 2)
	p := c.proxy(testOptions())
	addr := serveAdmin(t, p)
	db := open(t, p, "customer")
	load := &writeload.Load{Table: "t", Base: 1 << 40, Workers: 4}
	load.Start(db)
	// Short transactions on the same shard, beside the autocommit writes.
	txErrs := make(chan error, 1000)
	stopTx := make(chan struct{})
	txDone := make(chan struct{})
	ids := c.idsOn(0, 1, 50)
	if _, err := db.Exec("INSERT INTO accounts (id, balance) VALUES (?, 0)", ids[0]); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(txDone)
		for {
			select {
			case <-stopTx:
				return
			default:
			}
			tx, err := db.Begin()
			if err == nil {
				_, err = tx.Exec("UPDATE accounts SET balance = balance + 1 WHERE id = ?", ids[0])
				if err == nil {
					err = tx.Commit()
				} else {
					_ = tx.Rollback()
				}
			}
			if err != nil {
				txErrs <- err
			}
		}
	}()
	time.Sleep(time.Second)

	ctx := context.Background()
	req := admin.ReparentRequest{Keyspace: "customer", Shard: c.names[0], NewPrimary: c.groups[0].Servers[2].Addr()}
	for _, cred := range [][2]string{{"", ""}, {"ops", "wrong"}, {"app", "secret"}, {"nobody", "opspw"}} {
		if _, err := admin.Reparent(ctx, addr, cred[0], cred[1], req); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("reparent as %q/%q: %v, want 401", cred[0], cred[1], err)
		}
	}
	if resp, err := http.Get("http://" + addr + "/api/reparent"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /api/reparent: %v %v", resp, err)
	}
	old := c.groups[0].Primary()
	rec, err := admin.Reparent(ctx, addr, "ops", "opspw", req)
	if err != nil {
		t.Fatalf("reparent: %v (%+v)", err, rec)
	}
	t.Logf("reparent %s -> %s term %d in %.0fms: %s", rec.OldPrimary, rec.NewPrimary, rec.Term, rec.DurationMS, stepList(*rec))
	if rec.NewPrimary != req.NewPrimary || rec.OldPrimary != old.Addr() {
		t.Fatalf("record: %+v", rec)
	}
	time.Sleep(time.Second)
	close(stopTx)
	<-txDone
	ws := load.Stop()
	close(txErrs)
	for err := range txErrs {
		t.Errorf("a transaction failed during the planned switch: %v", err)
	}
	sum := writeload.Summarize(ws, nil)
	if len(sum.Failed) > 0 {
		t.Errorf("writes failed during the planned switch: %s", sum)
	}
	np := c.groups[0].Servers[2]
	if got := primaryOf(t, p, c.groups[0], c.names[0]); got != np {
		t.Fatalf("primary after reparent: %s", got.Addr())
	}
	c.checkAcked(t, np, 0, writeload.Summarize(ws, func(id int64) bool { return c.shardOf(id) == 0 }))
	waitFor(t, 10*time.Second, "the old primary a replica of the new one", func() bool { return roleOf(p, c.names[0], old.Addr()) == "replica" })
	// And back, choosing the replica automatically.
	rec, err = admin.Reparent(ctx, addr, "ops", "opspw", admin.ReparentRequest{Keyspace: "customer", Shard: c.names[0]})
	if err != nil {
		t.Fatalf("second reparent: %v", err)
	}
	if rec.OldPrimary != np.Addr() || rec.NewPrimary == np.Addr() || rec.Term != 3 {
		t.Errorf("second reparent: %+v", rec)
	}
	// Unknown shard, bad new primary.
	if _, err := admin.Reparent(ctx, addr, "ops", "opspw", admin.ReparentRequest{Keyspace: "customer", Shard: "nope"}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown shard: %v", err)
	}
	if _, err := admin.Reparent(ctx, addr, "ops", "opspw", admin.ReparentRequest{Keyspace: "customer", Shard: c.names[0], NewPrimary: "10.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "not a server") {
		t.Errorf("bad new primary: %v", err)
	}
	// Every HA metric the shipped alert rules use is exported.
	rules, err := os.ReadFile("../../configs/prometheus-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range regexp.MustCompile(`shardgate_ha_[a-z_]+`).FindAllString(string(rules), -1) {
		if !strings.Contains(string(body), "\n"+name) {
			t.Errorf("the alert rules use %s, which /metrics does not export", name)
		}
	}
	// /api/shards and /api/recoveries answer without login.
	for _, path := range []string{"/api/shards", "/api/recoveries", "/debug/status"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
}

// TestPlannedReparentTwoProxies: a planned switch run by one proxy while
// two write through etcd-sharing proxies: the other proxy holds its
// statements too (etcd's record announces the switch), so no client of
// either sees an error.
func TestPlannedReparentTwoProxies(t *testing.T) {
	c := newCluster(t, "multi", 3, 2)
	e := startEtcd(t)
	p1 := c.proxy(testenv.Options{Etcd: e.client(t, "/ha"), ID: "p1"})
	p2 := c.proxy(testenv.Options{Etcd: e.client(t, "/ha"), ID: "p2"})
	load := &writeload.Load{Table: "t", Base: 1 << 40, Workers: 4}
	load.Start(open(t, p1, "customer"), open(t, p2, "customer"))
	time.Sleep(time.Second)
	old := c.groups[0].Primary()
	rec, err := p1.HA.Reparent(context.Background(), "customer", c.names[0], "")
	if err != nil {
		t.Fatalf("reparent: %v", err)
	}
	t.Logf("reparent %s -> %s term %d in %.0fms: %s", rec.OldPrimary, rec.NewPrimary, rec.Term, rec.DurationMS, stepList(*rec))
	np := c.newPrimary(t, old, 0, 5*time.Second, p1, p2)
	time.Sleep(time.Second)
	ws := load.Stop()
	sum := writeload.Summarize(ws, nil)
	if len(sum.Failed) > 0 {
		t.Errorf("writes failed during the planned switch: %s", sum)
	}
	c.checkAcked(t, np, 0, writeload.Summarize(ws, func(id int64) bool { return c.shardOf(id) == 0 }))
}
