package mariadbd_test

import (
	"context"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
)

func TestGroupReplicates(t *testing.T) {
	requireMariaDB(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, err := mariadbd.StartGroup(ctx, t.TempDir(), 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Kill()
	p := g.Primary()
	if err := p.Exec(ctx, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1),(2),(3)"); err != nil {
		t.Fatal(err)
	}
	if err := g.WaitCaughtUp(ctx, p); err != nil {
		t.Fatal(err)
	}
	for i, s := range g.Servers {
		db, _ := s.DB("")
		var n, ro, domain, strict int
		var semiMaster string
		if err := db.QueryRow("SELECT (SELECT COUNT(*) FROM app.t), @@read_only, @@gtid_domain_id, @@gtid_strict_mode, @@rpl_semi_sync_master_enabled").Scan(&n, &ro, &domain, &strict, &semiMaster); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if n != 3 || ro != min(i, 1) || domain != 7 || strict != 1 || (semiMaster == "1") != (i == 0) {
			t.Errorf("server %d: rows=%d read_only=%d domain=%d strict=%d semi-sync master=%s", i, n, ro, domain, strict, semiMaster)
		}
	}
	// The primary's commits waited for a replica's acknowledgement.
	db, _ := p.DB("")
	defer db.Close()
	var name, acks string
	if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_yes_tx'").Scan(&name, &acks); err != nil || acks == "0" {
		t.Errorf("semi-sync acknowledged transactions: %s (%v)", acks, err)
	}
	// SIGSTOP then SIGCONT.
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	qctx, qcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = db.PingContext(qctx)
	qcancel()
	if err == nil {
		t.Log("ping answered by a pooled connection before the pause took hold")
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
}
