package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/internal/testenv"
)

// TestOverview64Shards: the overview of a 64-shard keyspace (databases
// spread over the two shard servers) is served fast and every shard is
// shown; the page is drawn well within a poll interval.
func TestOverview64Shards(t *testing.T) {
	testenv.RequireMariaDB(t)
	const n = 64
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("listen:\n  mysql: 127.0.0.1:0\n  http: 127.0.0.1:0\nusers:\n" + users)
	b.WriteString("  - {name: app, password: secret}\nglobal_keyspace: commerce\nkeyspaces:\n  commerce:\n    sharded: false\n    shards:\n")
	fmt.Fprintf(&b, "      \"0\": {host: 127.0.0.1, port: %d, user: root, password: \"\", database: commerce}\n", servers[0].Port)
	b.WriteString("  big:\n    sharded: true\n    shards:\n")
	for i, name := range testenv.ShardNames(n) {
		srv := servers[1+i%2]
		db := fmt.Sprintf("big%02d", i)
		if err := srv.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "      %q: {host: 127.0.0.1, port: %d, user: root, password: \"\", database: %s}\n", name, srv.Port, db)
	}
	b.WriteString("    vschema:\n      vindexes: {hash: {type: hash}}\n      tables: {}\n")
	if err := servers[0].Exec(ctx, "CREATE DATABASE IF NOT EXISTS commerce"); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, b.String(), false)

	// The JSON: every shard, healthy; its time after the pings' cache is warm.
	var ov admin.Overview
	getJSON(t, c.HTTP.URL, "/api/overview", &ov)
	start := time.Now()
	const reps = 20
	for i := 0; i < reps; i++ {
		resp, err := http.Get(c.HTTP.URL + "/api/overview")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	per := time.Since(start) / reps
	t.Logf("/api/overview with %d shards: %v per request", n+1, per)
	if per > 200*time.Millisecond {
		t.Errorf("/api/overview takes %v with %d shards", per, n)
	}
	var shards int
	for _, k := range ov.Keyspaces {
		for _, s := range k.Shards {
			shards++
			if !s.OK {
				t.Errorf("shard %s/%s: %s", k.Name, s.Name, s.Error)
			}
		}
	}
	if shards != n+1 {
		t.Fatalf("overview has %d shards, want %d", shards, n+1)
	}

	br := newBrowser(t)
	t0 := time.Now()
	br.run(t, "overview", chromedp.Navigate(c.HTTP.URL+"/#/"),
		chromedp.WaitVisible(chromedp.CSS(`tr.shard-row[data-shard="big/fc-"]`)))
	shown := time.Since(t0)
	rows := eval[int](t, br, `document.querySelectorAll("tr.shard-row").length`)
	if rows != n+1 {
		t.Errorf("the page shows %d shards, want %d", rows, n+1)
	}
	// One redraw of the 65 rows, measured in the page.
	ms := eval[float64](t, br, `(async () => { const t = performance.now(); await fetch("/api/overview").then(r => r.json()); return performance.now() - t; })()`)
	t.Logf("overview of %d shards shown %v after navigation; a poll's fetch %.1f ms", n+1, shown, ms)
	if shown > 10*time.Second {
		t.Errorf("the 64-shard overview took %v to show", shown)
	}
	br.screenshot(t, "overview-64-shards")
	br.noErrors(t, "64-shard overview")
}
