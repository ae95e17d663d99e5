package ha

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/writeload"
)

// TestDivergedServers: a replica with a transaction of its own (errant
// GTID) is never promoted; a killed primary restarted as it was (writable,
// maybe with a binary log tail no replica received) is made read-only,
// reported drained and takes no write, and stays drained when an operator
// makes it replicate without truncating that tail; a killed primary
// rejoined as documented (--init-rpl-role=SLAVE, MASTER_DEMOTE_TO_SLAVE=1)
// becomes a replica with every acknowledged write.
func TestDivergedServers(t *testing.T) {
	c := newCluster(t, "multi", 4, 2)
	p := c.proxy(testOptions())
	g := c.groups[0]
	a, b, errant, d := g.Servers[0], g.Servers[1], g.Servers[2], g.Servers[3]
	ctx := context.Background()
	load := &writeload.Load{Table: "t", Base: 1 << 40, Workers: 4}
	load.Start(open(t, p, "customer"))
	time.Sleep(time.Second)
	// A write on a replica by an account that read_only does not stop.
	if err := errant.Exec(ctx, "INSERT INTO customer.t (id, v) VALUES (-1, 'errant')"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the errant replica drained", func() bool { return roleOf(p, c.names[0], errant.Addr()) == "drained" })

	// 1. kill -9 of the primary: the errant replica is not chosen.
	killed := time.Now()
	if err := a.Kill(); err != nil {
		t.Fatal(err)
	}
	np := c.newPrimary(t, a, 0, 15*time.Second, p)
	t.Logf("new primary %s %v after kill -9", np.Addr(), time.Since(killed).Round(time.Millisecond))
	if np == errant {
		t.Fatalf("promoted the diverged replica %s", np.Addr())
	}
	for _, r := range recoveries(t, p) {
		t.Logf("recovery: %s %s", r.Outcome, stepList(r))
	}

	// 2. The old primary comes back as it was: writable.
	a.SetReadOnly(false)
	if err := a.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the returning primary fenced and drained", func() bool {
		_, ro := binlogSeq(t, a)
		return ro && roleOf(p, c.names[0], a.Addr()) == "drained"
	})
	fenced, _ := binlogSeq(t, a)
	// Made to replicate without --init-rpl-role=SLAVE: if its binary log
	// has a tail the new primary lacks, replication refuses (1236) and it
	// stays drained; either way it never serves writes.
	if err := a.ReplicateFrom(ctx, np); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if after, _ := binlogSeq(t, a); roleOf(p, c.names[0], a.Addr()) == "primary" || after < fenced {
		t.Errorf("the returning primary: role %s, GTID sequence %d -> %d", roleOf(p, c.names[0], a.Addr()), fenced, after)
	}
	t.Logf("the old primary made to replicate without truncation: role %s", roleOf(p, c.names[0], a.Addr()))

	// 3. kill -9 of the new primary; rejoin it as documented.
	second := np
	if err := second.Kill(); err != nil {
		t.Fatal(err)
	}
	np = c.newPrimary(t, second, 0, 15*time.Second, p)
	if np == errant {
		t.Fatalf("second failover promoted the diverged replica %s", np.Addr())
	}
	t.Logf("second failover: %s promoted (b %s, d %s, the old primary %s)", np.Addr(), b.Addr(), d.Addr(), a.Addr())
	if err := second.RestartWithArgs(ctx, "--init-rpl-role=SLAVE", "--read-only=ON"); err != nil {
		t.Fatal(err)
	}
	if err := second.Exec(ctx, "STOP SLAVE",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_DEMOTE_TO_SLAVE=1", np.Port, mariadbd.ReplUser, mariadbd.ReplPassword),
		"START SLAVE"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the rejoined server a replica", func() bool { return roleOf(p, c.names[0], second.Addr()) == "replica" })
	ws := load.Stop()
	sum := writeload.Summarize(ws, func(id int64) bool { return c.shardOf(id) == 0 })
	c.checkAcked(t, np, 0, sum)
	if err := (&mariadbd.Group{Servers: []*mariadbd.Server{np, second}}).WaitCaughtUp(ctx, np); err != nil {
		t.Fatal(err)
	}
	c.checkAcked(t, second, 0, sum)
	onS, _ := writeload.IDs(ctx, direct(t, second), "customer.t")
	onNP, _ := writeload.IDs(ctx, direct(t, np), "customer.t")
	if len(onS) != len(onNP) {
		t.Errorf("the rejoined server has %d rows, the primary %d", len(onS), len(onNP))
	}
	t.Logf("%d acknowledged, %d failed (%s)", len(sum.Acked), len(sum.Failed), sum)
	for kind, n := range sum.Errors {
		if kind != "1213" {
			t.Errorf("%d errors of kind %s: %s", n, kind, sum.Samples[kind])
		}
	}
}

// TestNoFailoverWhenAsync: when the primary's semi-synchronous replication
// has fallen back to async (no replica acknowledges), writes it
// acknowledged may exist only on it. If it dies then, no replica is
// promoted (that would lose them): clients get an error saying why, and
// the shard comes back with its primary, with every acknowledged write.
func TestNoFailoverWhenAsync(t *testing.T) {
	c := newCluster(t, "multi", 3, 2)
	c.ha = strings.Replace(defaultHA, "buffer_window: 10s", "buffer_window: 2s", 1)
	p := c.proxy(testOptions())
	g := c.groups[0]
	ctx := context.Background()
	for _, r := range g.Servers[1:] {
		if err := r.Exec(ctx, "STOP SLAVE IO_THREAD"); err != nil {
			t.Fatal(err)
		}
	}
	db := open(t, p, "customer")
	ids := c.idsOn(0, 1, 30)
	for _, id := range ids[:20] {
		if _, err := db.Exec("INSERT INTO t (id, v) VALUES (?, 'async')", id); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "semi-sync reported off", func() bool {
		for _, s := range p.HA.Shards() {
			if s.Shard == c.names[0] {
				for _, srv := range s.Servers {
					if srv.Role == "primary" {
						return !srv.SemiSync
					}
				}
			}
		}
		return false
	})
	old := g.Primary()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	_, err := db.Exec("INSERT INTO t (id, v) VALUES (?, 'async')", ids[20])
	if me := mysqlErr(err); me != nil && me.Number == 1213 {
		// A pooled connection to the dead primary, used within the last
		// 250ms, is trusted once: that statement learns it died.
		_, err = db.Exec("INSERT INTO t (id, v) VALUES (?, 'async')", ids[20])
	}
	if me := mysqlErr(err); me == nil || me.Number != 1105 || !strings.Contains(me.Message, "semi-synchronous") {
		t.Fatalf("write with the async primary down: %v, want 1105 about semi-sync", err)
	}
	t.Logf("write with the async primary down: %v", err)
	for _, s := range p.HA.Shards() {
		if s.Shard == c.names[0] && s.Primary != "" && s.Primary != old.Addr() {
			t.Fatalf("failed over to %s", s.Primary)
		}
	}
	if err := old.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "writes again on the old primary", func() bool {
		_, err := db.Exec("INSERT INTO t (id, v) VALUES (?, 'back')", ids[21])
		return err == nil
	})
	have, err := writeload.IDs(ctx, direct(t, old), "customer.t")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:20] {
		if !have[id] {
			t.Errorf("acknowledged id %d lost", id)
		}
	}
	if n := len(recoveries(t, p)); n != 0 {
		t.Errorf("%d recoveries ran", n)
	}
}
