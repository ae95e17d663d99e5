package console

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// TestRecoveriesPage: a shard that is a replication group shows its
// servers with their roles on the overview; a planned switch asked for with
// `shardgate reparent`'s client shows on the Recoveries page with its steps,
// and the overview follows the new primary.
func TestRecoveriesPage(t *testing.T) {
	testenv.RequireMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, err := mariadbd.StartGroup(ctx, filepath.Join(t.TempDir(), "g"), 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Kill)
	if err := g.Primary().Exec(ctx, "CREATE DATABASE IF NOT EXISTS orders", "CREATE TABLE IF NOT EXISTS orders.o (id BIGINT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if err := g.WaitCaughtUp(ctx, g.Primary()); err != nil {
		t.Fatal(err)
	}
	if err := servers[0].Exec(ctx, "CREATE DATABASE IF NOT EXISTS commerce"); err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf(`listen: {mysql: 127.0.0.1:0, http: 127.0.0.1:0}
users:
%s  - {name: app, password: secret}
global_keyspace: commerce
ha:
  failover: auto
  replication: {user: repl, password: repl}
  admin: {user: root, password: ""}
  probe_interval: 100ms
keyspaces:
  commerce:
    sharded: false
    shards: {"0": {host: 127.0.0.1, port: %d, user: root, password: "", database: commerce}}
  orders:
    sharded: false
    shards: {"0": {servers: ["%s"], user: %s, password: "", database: orders}}
`, users, servers[0].Port, strings.Join(g.Addrs(), `", "`), mariadbd.AppUser)
	c := startCluster(t, y, false)
	old, replica := g.Servers[0].Addr(), g.Servers[1].Addr()

	b := newBrowser(t)
	b.run(t, "overview", chromedp.Navigate(c.HTTP.URL+"/#/"), chromedp.WaitVisible(chromedp.CSS(`tr.shard-row[data-shard="orders/0"]`)))
	eventually(t, 10*time.Second, "the group's roles on the overview", func() bool {
		s := b.text(t, `tr.shard-row[data-shard="orders/0"]`)
		return strings.Contains(s, old+" primary") && strings.Contains(s, replica+" replica")
	})
	b.screenshot(t, "overview-replication-group")

	rec, err := admin.Reparent(ctx, c.HTTP.URL, "ops", "opspw", admin.ReparentRequest{Keyspace: "orders", Shard: "0", NewPrimary: replica})
	if err != nil {
		t.Fatalf("reparent: %v", err)
	}
	b.run(t, "recoveries", chromedp.Navigate(c.HTTP.URL+"/#/recoveries"), chromedp.WaitVisible(chromedp.CSS("#recoveries-table")))
	eventually(t, 10*time.Second, "the switch on the Recoveries page", func() bool {
		s := b.text(t, "#recoveries-table")
		return strings.Contains(s, "reparent") && strings.Contains(s, old+" → "+replica) && strings.Contains(s, "success") && strings.Contains(s, "promote")
	})
	b.screenshot(t, "recoveries")
	b.run(t, "overview again", chromedp.Navigate(c.HTTP.URL+"/#/"), chromedp.WaitVisible(chromedp.CSS(`tr.shard-row[data-shard="orders/0"]`)))
	eventually(t, 10*time.Second, "the new primary on the overview", func() bool {
		s := b.text(t, `tr.shard-row[data-shard="orders/0"]`)
		return strings.Contains(s, replica+" primary") && strings.Contains(s, fmt.Sprintf("term %d", rec.Term))
	})
	b.noErrors(t, "recoveries")
}
