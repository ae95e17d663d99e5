package ha

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestReadsOnReplicas: customer@replica reads go to healthy replicas,
// balanced; writes there are refused; a lagging replica leaves the
// rotation within about a second and comes back when it has caught up;
// without a usable replica reads use the primary without error; the
// @replica suffix does not get around a user's keyspace list.
func TestReadsOnReplicas(t *testing.T) {
	c := newCluster(t, "multi", 3, 2)
	p := c.proxy(testOptions())
	rw := open(t, p, "customer")
	ro := open(t, p, "customer@replica")
	g := c.groups[0]
	shard := c.names[0]
	ids := c.idsOn(0, 1, 20)
	for _, id := range ids {
		if _, err := rw.Exec("INSERT INTO t (id, v) VALUES (?, 'x')", id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rw.Exec("INSERT INTO accounts (id, balance) VALUES (?, 0)", ids[0]); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := g.WaitCaughtUp(ctx, g.Primary()); err != nil {
		t.Fatal(err)
	}
	readPort := func(id int64) int {
		t.Helper()
		var port int
		if err := ro.QueryRow("SELECT @@port FROM t WHERE id = ?", id).Scan(&port); err != nil {
			t.Fatalf("read on replica: %v", err)
		}
		return port
	}
	ports := func(n int) map[int]int {
		seen := map[int]int{}
		for i := 0; i < n; i++ {
			seen[readPort(ids[i%len(ids)])]++
		}
		return seen
	}
	primary, r1, r2 := g.Servers[0], g.Servers[1], g.Servers[2]
	waitFor(t, 10*time.Second, "both replicas in the rotation", func() bool {
		s := ports(20)
		return s[r1.Port] > 0 && s[r2.Port] > 0 && s[primary.Port] == 0
	})
	// The primary session reads from the primary.
	var pp int
	if err := rw.QueryRow("SELECT @@port FROM t WHERE id = ?", ids[0]).Scan(&pp); err != nil || pp != primary.Port {
		t.Fatalf("customer session read from port %d (%v), want the primary %d", pp, err, primary.Port)
	}

	// Writes are refused on customer@replica, in and out of transactions.
	_, err := ro.Exec("INSERT INTO t (id, v) VALUES (?, 'y')", ids[0]+100000)
	if me := mysqlErr(err); me == nil || me.Number != 1290 || !strings.Contains(me.Message, "@replica") {
		t.Fatalf("write on customer@replica: %v, want 1290 naming @replica", err)
	}
	tx, err := ro.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM t WHERE id = ?", ids[1]).Scan(&n); err != nil || n != 1 {
		t.Fatalf("read in a replica transaction: %d %v", n, err)
	}
	if _, err := tx.Exec("UPDATE t SET v = 'z' WHERE id = ?", ids[1]); mysqlErr(err) == nil || mysqlErr(err).Number != 1290 {
		t.Fatalf("update in a replica transaction: %v, want 1290", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// USE ks@replica by statement, without and with backquotes, and back.
	conn, err := rw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, use := range []string{"USE customer@replica", "USE `customer@replica`"} {
		if _, err := conn.ExecContext(ctx, use); err != nil {
			t.Fatalf("%s: %v", use, err)
		}
		var port int
		if err := conn.QueryRowContext(ctx, "SELECT @@port FROM t WHERE id = ?", ids[0]).Scan(&port); err != nil || port == primary.Port {
			t.Fatalf("after %s the read came from port %d (%v)", use, port, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "USE customer@primary"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT @@port FROM t WHERE id = ?", ids[0]).Scan(&pp); err != nil || pp != primary.Port {
		t.Fatalf("after USE customer@primary: port %d (%v)", pp, err)
	}
	// A user limited to commerce cannot reach customer through the suffix.
	lim, _ := sqlOpen(strings.Replace(p.DSN("commerce"), "app:secret", "limited:limited", 1))
	defer lim.Close()
	lconn, err := lim.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lconn.Close()
	if _, err := lconn.ExecContext(ctx, "USE `customer@replica`"); mysqlErr(err) == nil || mysqlErr(err).Number != 1044 {
		t.Fatalf("limited user: USE customer@replica: %v, want 1044", err)
	}
	if _, err := lconn.ExecContext(ctx, "USE `commerce@replica`"); err != nil {
		t.Fatalf("limited user: USE commerce@replica: %v", err)
	}
	bad, _ := sqlOpen(strings.Replace(p.DSN("customer@replica"), "app:secret", "limited:limited", 1))
	defer bad.Close()
	if err := bad.Ping(); mysqlErr(err) == nil || mysqlErr(err).Number != 1044 {
		t.Fatalf("limited user logging in to customer@replica: %v, want 1044", err)
	}

	// Lag: hold the replica's applier on a lock (of another table than the
	// one read) while writes go on.
	lock := direct(t, r1)
	lc, err := lock.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if _, err := lc.ExecContext(ctx, "LOCK TABLES customer.accounts WRITE"); err != nil {
		t.Fatal(err)
	}
	stopWrites := make(chan struct{})
	writesDone := make(chan struct{})
	go func() {
		defer close(writesDone)
		for i := 0; ; i++ {
			select {
			case <-stopWrites:
				return
			case <-time.After(50 * time.Millisecond):
			}
			_, _ = rw.Exec("UPDATE accounts SET balance = balance + 1 WHERE id = ?", ids[0])
		}
	}()
	locked := time.Now()
	waitFor(t, 10*time.Second, "the lagging replica out of the rotation", func() bool {
		return ports(10)[r1.Port] == 0
	})
	out := time.Since(locked)
	t.Logf("replica %s lagging: out of the rotation %v after its applier stopped (replica_max_lag 1s)", r1.Addr(), out.Round(10*time.Millisecond))
	if out > 6*time.Second { // 1s of lag, a probe, and slack for a loaded machine
		t.Errorf("the lagging replica left the rotation only after %v", out)
	}
	if _, err := lc.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	unlocked := time.Now()
	waitFor(t, 10*time.Second, "the replica back in the rotation", func() bool { return ports(20)[r1.Port] > 0 })
	t.Logf("replica back %v after it caught up", time.Since(unlocked).Round(10*time.Millisecond))
	close(stopWrites)
	<-writesDone

	// No usable replica: reads use the primary, without error.
	if err := r1.Exec(ctx, "STOP SLAVE"); err != nil {
		t.Fatal(err)
	}
	if err := r2.Exec(ctx, "STOP SLAVE"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reads falling back to the primary", func() bool { return ports(5)[primary.Port] == 5 })
	if err := r1.Exec(ctx, "START SLAVE"); err != nil {
		t.Fatal(err)
	}
	if err := r2.Exec(ctx, "START SLAVE"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "replicas back", func() bool { s := ports(20); return s[r1.Port] > 0 && s[r2.Port] > 0 })
	if got := roleOf(p, shard, r1.Addr()); got != "replica" {
		t.Errorf("role of %s = %q", r1.Addr(), got)
	}
}
