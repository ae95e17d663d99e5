package console

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/internal/testenv"
)

// TestAdminLocks: every action needs an admin login and the CSRF header, is
// refused by GET and from another origin; pprof needs the login; failed
// logins are limited per address; every answer carries the headers that
// keep pages from being framed or scripts from other origins from running.
func TestAdminLocks(t *testing.T) {
	c := start(t)
	base := c.HTTP.URL
	kill := "/api/sessions/999999/kill"
	ops := request{method: "POST", path: kill, user: "ops", pw: "opspw", csrf: true}

	if code, _ := do(t, base, request{method: "GET", path: kill, user: "ops", pw: "opspw", csrf: true}); code != http.StatusMethodNotAllowed {
		t.Errorf("GET of an action: %d, want 405", code)
	}
	if code, body := do(t, base, request{method: "POST", path: kill, csrf: true}); code != http.StatusUnauthorized {
		t.Errorf("action without login: %d %s", code, body)
	}
	if code, body := do(t, base, request{method: "POST", path: kill}); code != http.StatusForbidden {
		t.Errorf("action without login nor CSRF header: %d %s", code, body)
	}
	if code, body := do(t, base, request{method: "POST", path: kill, user: "ops", pw: "opspw"}); code != http.StatusForbidden || !strings.Contains(body, admin.CSRFHeader) {
		t.Errorf("action without the CSRF header: %d %s", code, body)
	}
	evil := ops
	evil.header = map[string]string{"Origin": "http://evil.example"}
	if code, body := do(t, base, evil); code != http.StatusForbidden {
		t.Errorf("action from another origin: %d %s", code, body)
	}
	cross := ops
	cross.header = map[string]string{"Sec-Fetch-Site": "cross-site"}
	if code, body := do(t, base, cross); code != http.StatusForbidden {
		t.Errorf("cross-site action: %d %s", code, body)
	}
	if code, body := do(t, base, request{method: "POST", path: kill, user: "app", pw: "secret", csrf: true}); code != http.StatusUnauthorized {
		t.Errorf("action by a user without admin: %d %s", code, body)
	}
	if code, body := do(t, base, ops); code != http.StatusNotFound || !strings.Contains(body, "Unknown thread") {
		t.Errorf("admin's kill of an unknown session: %d %s", code, body)
	}
	for _, path := range []string{"/api/top/reset", "/api/query"} {
		if code, _ := do(t, base, request{method: "POST", path: path, body: `{}`, csrf: true}); code != http.StatusUnauthorized {
			t.Errorf("POST %s without login: %d", path, code)
		}
	}
	// pprof
	if code, _ := do(t, base, request{method: "GET", path: "/debug/pprof/"}); code != http.StatusUnauthorized {
		t.Errorf("pprof without login: %d", code)
	}
	if code, _ := do(t, base, request{method: "GET", path: "/debug/pprof/cmdline", user: "ops", pw: "opspw"}); code != http.StatusOK {
		t.Errorf("pprof with the admin login: %d", code)
	}
	// headers
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header on /", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q", csp)
	}
	// brute force: after 10 failures (app's attempt above was one) the
	// address is blocked, even with the right password
	for i := 0; ; i++ {
		code, _ := do(t, base, request{method: "GET", path: "/api/whoami", user: "ops", pw: "guess" + strconv.Itoa(i)})
		if code == http.StatusTooManyRequests {
			if i != 9 {
				t.Errorf("blocked after %d more failures, want 9", i)
			}
			break
		}
		if code != http.StatusUnauthorized || i > 10 {
			t.Fatalf("failed login %d: %d", i, code)
		}
	}
	if code, _ := do(t, base, request{method: "GET", path: "/api/whoami", user: "ops", pw: "opspw"}); code != http.StatusTooManyRequests {
		t.Errorf("after 10 failed logins: %d, want 429", code)
	}
}

// TestReadOnlyListener: with listen.admin set, listen.http serves no action
// and no pprof, and says so; its pages still read.
func TestReadOnlyListener(t *testing.T) {
	testenv.RequireMariaDB(t)
	y := testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: vschema}.YAML()
	y = strings.Replace(y, "users:\n", "users:\n"+users, 1)
	c := startCluster(t, y, true)
	base := c.HTTP.URL
	if code, body := do(t, base, request{method: "POST", path: "/api/top/reset", user: "ops", pw: "opspw", csrf: true}); code != http.StatusNotFound || !strings.Contains(body, "listen.admin") {
		t.Errorf("action on the read-only listener: %d %s", code, body)
	}
	if code, _ := do(t, base, request{method: "GET", path: "/debug/pprof/", user: "ops", pw: "opspw"}); code != http.StatusNotFound {
		t.Errorf("pprof on the read-only listener: %d", code)
	}
	var info admin.Info
	getJSON(t, base, "/api/info", &info)
	if info.Actions {
		t.Error("/api/info says the read-only listener takes actions")
	}
	var ov admin.Overview
	getJSON(t, base, "/api/overview", &ov)
	if len(ov.Keyspaces) != 2 {
		t.Errorf("overview on the read-only listener: %+v", ov)
	}
}

// TestAdminOverSQL: an admin account sees and kills every session with
// SHOW PROCESSLIST and KILL; another account sees and kills only its own.
func TestAdminOverSQL(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	conn := func(user, pw string) *sql.Conn {
		db := openDB(t, dsn(c.Addr, user, pw, "customer"))
		cn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cn.Close() })
		if _, err := cn.ExecContext(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		return cn
	}
	app, victim, ops := conn("app", "secret"), conn("victim", "victimpw"), conn("ops", "opspw")
	users := func(cn *sql.Conn) map[string]int64 {
		rows, err := cn.QueryContext(ctx, "SHOW PROCESSLIST")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int64{}
		for rows.Next() {
			var id int64
			var user, host, db, cmd, state, info sql.NullString
			var tm int64
			if err := rows.Scan(&id, &user, &host, &db, &cmd, &tm, &state, &info); err != nil {
				t.Fatal(err)
			}
			out[user.String] = id
		}
		return out
	}
	seen := users(ops)
	if _, ok := seen["app"]; !ok {
		t.Fatalf("the admin's SHOW PROCESSLIST lacks app's session: %v", seen)
	}
	if _, ok := seen["victim"]; !ok {
		t.Fatalf("the admin's SHOW PROCESSLIST lacks victim's session: %v", seen)
	}
	if s := users(victim); len(s) != 1 {
		t.Errorf("victim sees %v, want only itself", s)
	}
	var me *mysql.MySQLError
	if _, err := victim.ExecContext(ctx, "KILL "+strconv.FormatInt(seen["app"], 10)); err == nil || !asMySQL(err, &me) || me.Number != 1094 {
		t.Errorf("victim's KILL of app's session: %v, want 1094", err)
	}
	if _, err := ops.ExecContext(ctx, "KILL "+strconv.FormatInt(seen["app"], 10)); err != nil {
		t.Fatalf("admin's KILL of app's session: %v", err)
	}
	if _, err := app.ExecContext(ctx, "SELECT 1"); err == nil {
		t.Error("app's killed session still runs statements")
	}
}

func asMySQL(err error, me **mysql.MySQLError) bool {
	e, ok := err.(*mysql.MySQLError)
	if ok {
		*me = e
	}
	return ok
}

// TestQueryRights: the query page's statements run with the logged-in
// admin's account: its keyspace list and read-only flag apply, never the
// shards' account.
func TestQueryRights(t *testing.T) {
	c := start(t)
	base := c.HTTP.URL
	q := func(user, pw, body string) (int, string) {
		return do(t, base, request{method: "POST", path: "/api/query", user: user, pw: pw, csrf: true, body: body})
	}
	code, body := q("ops", "opspw", `{"keyspace":"customer","sql":"SELECT v FROM c_t WHERE id IN (1, 2)","mode":"plan"}`)
	if code != 200 || !strings.Contains(body, "Route") {
		t.Fatalf("ops's plan: %d %s", code, body)
	}
	// narrow: admin, but read-only and limited to commerce
	if code, body := q("narrow", "narrowpw", `{"keyspace":"customer","sql":"SELECT v FROM c_t WHERE id = 1","mode":"plan"}`); code != 422 || !strings.Contains(body, "1044") {
		t.Errorf("narrow on customer: %d %s, want ERROR 1044", code, body)
	}
	if code, body := q("narrow", "narrowpw", `{"keyspace":"commerce","sql":"CREATE TABLE x (id INT PRIMARY KEY)","mode":"queries"}`); code != 422 || !strings.Contains(body, "1290") {
		t.Errorf("narrow's DDL: %d %s, want ERROR 1290 (read-only)", code, body)
	}
	// QUERIES runs the statement as ops: the row is there afterwards.
	code, body = q("ops", "opspw", `{"keyspace":"customer","sql":"INSERT INTO c_t (id, v) VALUES (4242, 'from the console')","mode":"queries"}`)
	if code != 200 || !strings.Contains(body, "INSERT") {
		t.Fatalf("ops's VEXPLAIN QUERIES: %d %s", code, body)
	}
	app := openDB(t, dsn(c.Addr, "app", "secret", "customer"))
	var v string
	if err := app.QueryRow("SELECT v FROM c_t WHERE id = 4242").Scan(&v); err != nil || v != "from the console" {
		t.Errorf("row written by VEXPLAIN QUERIES: %q %v", v, err)
	}
	if _, err := app.Exec("DELETE FROM c_t WHERE id = 4242"); err != nil {
		t.Fatal(err)
	}
}
