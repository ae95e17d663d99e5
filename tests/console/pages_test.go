package console

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/txn"
)

// sessionID finds the id of a session of user in /api/sessions.
func sessionID(t testing.TB, c *cluster, user string, inTx bool) uint32 {
	t.Helper()
	var list []admin.SessionInfo
	getJSON(t, c.HTTP.URL, "/api/sessions", &list)
	for _, s := range list {
		if s.User == user && s.Transaction == inTx {
			return s.ID
		}
	}
	t.Fatalf("no session of %s (transaction %v) in %+v", user, inTx, list)
	return 0
}

// TestPages loads every page in Chromium and checks what it shows against
// the cluster: the shards of the topology and their servers, the vschema,
// a session with its open transaction, the statements run, and that
// nothing was logged as an error. Statement text that looks like HTML is
// shown as text.
func TestPages(t *testing.T) {
	c := start(t)
	app := openDB(t, dsn(c.Addr, "app", "secret", "customer"))
	ctx := context.Background()
	if _, err := app.Exec("DELETE FROM c_t"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		if _, err := app.Exec(fmt.Sprintf("INSERT INTO c_t (id, v) VALUES (%d, 'v%d')", i, i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		var v string
		if err := app.QueryRow(fmt.Sprintf("SELECT v FROM c_t WHERE id = %d", i%10+1)).Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	// A statement whose normalized text is HTML: the page must show it as text.
	const xss = "<img src=x onerror=window.__xss=1>"
	var one int
	if err := app.QueryRow("SELECT 1 AS `" + xss + "` FROM c_t WHERE id = 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	// A session holding a transaction.
	held, err := app.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := held.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := held.ExecContext(ctx, "UPDATE c_t SET v = 'held' WHERE id = 3"); err != nil {
		t.Fatal(err)
	}
	defer held.ExecContext(ctx, "ROLLBACK")
	heldID := sessionID(t, c, "app", true)

	b := newBrowser(t)
	base := c.HTTP.URL

	// Overview: one row per shard of the topology, each healthy, with its server.
	b.run(t, "overview", chromedp.Navigate(base+"/#/"),
		chromedp.WaitVisible(chromedp.CSS(`tr.shard-row[data-shard="customer/80-"]`)))
	rows := eval[[]string](t, b, `Array.from(document.querySelectorAll("tr.shard-row")).map(r => r.dataset.shard + "|" + r.children[1].textContent + "|" + r.children[2].textContent)`)
	var want []string
	snap := c.Router.Snapshot()
	for _, ks := range snap.Names() {
		k, _ := snap.Keyspace(ks)
		for _, sh := range k.Shards {
			want = append(want, ks+"/"+sh.Name)
		}
	}
	if len(rows) != len(want) {
		t.Fatalf("overview shows %d shards %q, the topology has %v", len(rows), rows, want)
	}
	for i, r := range rows {
		f := strings.SplitN(r, "|", 3)
		if f[0] != want[i] {
			t.Errorf("row %d is shard %s, want %s", i, f[0], want[i])
		}
		if !strings.HasPrefix(f[2], "ok") {
			t.Errorf("shard %s health %q, want ok", f[0], f[2])
		}
	}
	for i, srv := range servers {
		addr := fmt.Sprintf("127.0.0.1:%d", srv.Port)
		if !strings.Contains(rows[i], addr) || !strings.Contains(rows[i], "primary") {
			t.Errorf("row %q does not show server %s as primary", rows[i], addr)
		}
	}
	// After two polls the rates are numbers.
	for i := 0; i < 30; i++ {
		var v string
		_ = app.QueryRow("SELECT v FROM c_t WHERE id = 2").Scan(&v)
		time.Sleep(100 * time.Millisecond)
	}
	qps := b.text(t, ".cards .card:nth-child(3) .v")
	if _, err := strconv.ParseFloat(strings.ReplaceAll(qps, ",", ""), 64); err != nil {
		t.Errorf("queries/s card shows %q", qps)
	}
	b.screenshot(t, "overview")

	// Keyspace: the vschema.
	b.run(t, "keyspace", chromedp.Navigate(base+"/#/keyspace/customer"), chromedp.WaitVisible(chromedp.CSS("#tables")))
	if s := b.text(t, "#tables"); !strings.Contains(s, "c_t") || !strings.Contains(s, "hash") || !strings.Contains(s, "id") {
		t.Errorf("keyspace page tables: %q", s)
	}
	if s := b.text(t, "main"); !strings.Contains(s, "-80") || !strings.Contains(s, "80-") {
		t.Errorf("keyspace page shards: %q", s)
	}
	b.screenshot(t, "keyspace")

	// Sessions: the session holding a transaction.
	b.run(t, "sessions", chromedp.Navigate(base+"/#/sessions"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr.session-row[data-id="%d"]`, heldID))))
	if s := b.text(t, fmt.Sprintf(`tr.session-row[data-id="%d"]`, heldID)); !strings.Contains(s, "app") || !strings.Contains(s, "open") {
		t.Errorf("session row %q: want user app with an open transaction", s)
	}
	b.screenshot(t, "sessions")

	// Transactions: the open one; 2PC not in use.
	b.run(t, "transactions", chromedp.Navigate(base+"/#/transactions"), chromedp.WaitVisible(chromedp.CSS("#in-doubt")))
	if s := b.text(t, "#tx"); !strings.Contains(s, strconv.Itoa(int(heldID))) || !strings.Contains(s, "Not in use") {
		t.Errorf("transactions page: %q", s)
	}
	b.screenshot(t, "transactions")

	// Top queries: the point select, normalized, counted; HTML shown as text.
	b.run(t, "top", chromedp.Navigate(base+"/#/top"), chromedp.WaitVisible(chromedp.CSS("#top-table")))
	top := b.text(t, "#top-table")
	if !strings.Contains(top, "SELECT v FROM c_t WHERE id = ?") {
		t.Errorf("top queries: %q", top)
	}
	if !strings.Contains(top, xss) {
		t.Errorf("top queries do not show the statement with HTML as text: %q", top)
	}
	if eval[bool](t, b, `window.__xss !== undefined || document.querySelectorAll("#top-table img").length > 0`) {
		t.Error("statement text was read as HTML")
	}
	b.screenshot(t, "top-queries")

	// Recoveries and workflows.
	b.run(t, "recoveries", chromedp.Navigate(base+"/#/recoveries"), chromedp.WaitVisible(chromedp.CSS("#recoveries-table")))
	b.screenshot(t, "recoveries-none")
	b.run(t, "workflows", chromedp.Navigate(base+"/#/workflows"), chromedp.WaitVisible(chromedp.CSS("#workflows-none")))
	b.run(t, "query page", chromedp.Navigate(base+"/#/query"), chromedp.WaitVisible(chromedp.CSS("#query-sql")))
	b.noErrors(t, "every page")
}

// TestKillFromPage: killing a session from the sessions page needs an admin
// login (refused without one and with a wrong password), and then the
// session is gone: the client's next statement fails.
func TestKillFromPage(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	victim := openDB(t, dsn(c.Addr, "victim", "victimpw", "customer"))
	conn, err := victim.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	id := sessionID(t, c, "victim", false)
	b := newBrowser(t)
	row := fmt.Sprintf(`tr.session-row[data-id="%d"]`, id)
	kill := fmt.Sprintf(`button.kill[data-id="%d"]`, id)
	b.run(t, "sessions", chromedp.Navigate(c.HTTP.URL+"/#/sessions"), chromedp.WaitVisible(chromedp.CSS(row)))

	// Without a login: the login form, and nothing killed.
	b.clickNow(t, "kill without login", kill)
	b.run(t, "login form", chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if s := b.text(t, "#login-why"); !strings.Contains(s, "login") {
		t.Errorf("login form says %q", s)
	}
	b.run(t, "cancel", chromedp.Click(chromedp.CSS("#login-cancel")), chromedp.WaitNotVisible(chromedp.CSS("#login-form")))
	sessionID(t, c, "victim", false) // still there

	// A wrong password is refused.
	b.clickNow(t, "kill again", kill)
	b.login(t, "ops", "wrong")
	b.run(t, "refused", chromedp.WaitVisible(chromedp.CSS("#login-error")))
	eventually(t, 5*time.Second, "the login error", func() bool { return strings.Contains(b.text(t, "#login-error"), "wrong") })
	sessionID(t, c, "victim", false)

	// The admin's login: the kill goes through.
	b.login(t, "ops", "opspw")
	eventually(t, 10*time.Second, "the kill's answer", func() bool {
		return strings.Contains(b.text(t, "#kill-result"), fmt.Sprintf("Session %d killed", id))
	})
	if s := b.text(t, "#who"); !strings.Contains(s, "ops") {
		t.Errorf("logged-in user shown as %q", s)
	}
	eventually(t, 5*time.Second, "the session to be gone", func() bool {
		var list []admin.SessionInfo
		getJSON(t, c.HTTP.URL, "/api/sessions", &list)
		for _, s := range list {
			if s.ID == id {
				return false
			}
		}
		return true
	})
	b.run(t, "row gone", chromedp.WaitNotPresent(chromedp.CSS(row)))
	b.screenshot(t, "session-killed")
	if _, err := conn.ExecContext(ctx, "SELECT 1"); err == nil {
		t.Fatal("the killed session still runs statements")
	}
	// The only errors logged are the refused login (401).
	for _, e := range b.consoleErrors() {
		if !strings.Contains(e, "401") {
			t.Errorf("console error: %s", e)
		}
	}
}

// TestQueryPage: VEXPLAIN from the query page after logging in.
func TestQueryPage(t *testing.T) {
	c := start(t)
	b := newBrowser(t)
	b.run(t, "query page", chromedp.Navigate(c.HTTP.URL+"/#/query"), chromedp.WaitVisible(chromedp.CSS("#query-sql")),
		chromedp.Click(chromedp.CSS("#login-button")))
	b.login(t, "ops", "opspw")
	b.run(t, "logged in", chromedp.WaitVisible(chromedp.CSS("#who-user")),
		chromedp.SetValue(chromedp.CSS("#query-keyspace"), "customer"),
		chromedp.SendKeys(chromedp.CSS("#query-sql"), "SELECT v FROM c_t WHERE id = 5"),
		chromedp.Click(chromedp.CSS("#query-run")),
		chromedp.WaitVisible(chromedp.CSS("#query-table")))
	if s := b.text(t, "#query-table"); !strings.Contains(s, "EqualUnique") {
		t.Errorf("plan: %q", s)
	}
	b.screenshot(t, "query")
	b.noErrors(t, "query page")
}

// TestTransactionsPage: a branch left prepared on a shard without a
// decision (as after a proxy crash between PREPARE and the decision) shows
// on the Transactions page as in doubt, and then, once the resolver has
// aborted it, among the resolver's actions.
func TestTransactionsPage(t *testing.T) {
	// The branch stays in doubt 12 s before the resolver aborts it: time
	// for the page's polls on a loaded machine.
	saved := testenv.TwoPC
	testenv.TwoPC.AbortTimeout = 12 * time.Second
	defer func() { testenv.TwoPC = saved }()
	c := start(t)
	b := newBrowser(t)
	b.run(t, "transactions", chromedp.Navigate(c.HTTP.URL+"/#/transactions"), chromedp.WaitVisible(chromedp.CSS("#in-doubt")))
	ctx := context.Background()
	co := c.Router.Coordinator()
	if co == nil {
		t.Fatal("no two-phase-commit coordinator")
	}
	dtid := co.NewDTID()
	x := fmt.Sprintf("'%s','customer/-80',%d", dtid, txn.FormatID)
	shard := openDB(t, dsn(fmt.Sprintf("127.0.0.1:%d", servers[1].Port), "root", "", "customer"))
	conn, err := shard.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"XA START " + x, "UPDATE c_t SET v = 'in doubt' WHERE id = 7", "XA END " + x, "XA PREPARE " + x} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	shard.Close() // the connection ends; the branch stays prepared, detached
	// The resolver's abort decision is kept 10 minutes against late
	// coordinators: other tests of the package must not find it.
	t.Cleanup(func() {
		_ = servers[0].Exec(context.Background(), "DELETE FROM commerce."+txn.DecisionTable+" WHERE dtid = '"+dtid+"'")
	})

	var page string
	eventually(t, 10*time.Second, "the in-doubt transaction on the page", func() bool {
		page = b.text(t, "#tx")
		return strings.Contains(page, dtid) && strings.Contains(page, "customer/-80")
	}, &page)
	b.screenshot(t, "transactions-in-doubt")
	// The resolver aborts it after the abort timeout.
	eventually(t, 30*time.Second, "the resolver's rollback on the page", func() bool {
		page = b.text(t, "#tx")
		return strings.Contains(page, "rollback") && strings.Contains(page, "no decision after the abort timeout") && !strings.Contains(b.text(t, "#in-doubt"), dtid)
	}, &page)
	b.screenshot(t, "transactions-resolved")
	b.noErrors(t, "transactions page")
}
