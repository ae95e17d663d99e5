package security

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testenv"
)

// conn takes one connection of db (a session of its own).
func conn(t testing.TB, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	must(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func exec(t testing.TB, c interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, q string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func connScalar(t testing.TB, c *sql.Conn, q string) string {
	t.Helper()
	var v sql.NullString
	if err := c.QueryRowContext(context.Background(), q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if !v.Valid {
		return "NULL"
	}
	return v.String
}

// poolInUse is the checked-out connections of every shard pool.
func poolInUse(p *testenv.Proxy) int {
	n := 0
	for _, pl := range p.Router.Pools() {
		_, inUse := pl.Stats()
		n += inUse
	}
	return n
}

// TestNoStateAcrossSessions: with one pooled connection a shard, whatever
// a session leaves on it (user variables, sql_mode, a temporary table that
// shadows a real one) is never seen by the next session, of another user.
func TestNoStateAcrossSessions(t *testing.T) {
	p := startProxy(t, options{extra: "pool: {size: 2, max_idle: 1}\n"})
	app := open(t, p.Addr, "app", "secret", "commerce")
	reader := open(t, p.Addr, "reader", "reader", "commerce")
	app.SetMaxIdleConns(0) // a closed *sql.Conn ends its proxy session
	reader.SetMaxIdleConns(0)

	a := conn(t, app)
	exec(t, a, "SET @leak = 'from a'")
	exec(t, a, "SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
	if got := connScalar(t, a, `SELECT "v" FROM g_t WHERE id = 1`); got != "one" {
		t.Errorf(`ANSI_QUOTES: SELECT "v" = %q, want the column's value`, got)
	}
	// A temporary table that shadows commerce.g_t for this session only.
	exec(t, a, "CREATE TEMPORARY TABLE g_t (id BIGINT PRIMARY KEY, v VARCHAR(20))")
	exec(t, a, "INSERT INTO g_t VALUES (1, 'shadow')")
	if got := connScalar(t, a, "SELECT v FROM g_t WHERE id = 1"); got != "shadow" {
		t.Errorf("the session's own temporary table: %q, want shadow", got)
	}
	// In and out of a transaction, the session stays on the connection
	// that holds its temporary table.
	exec(t, a, "BEGIN")
	if got := connScalar(t, a, "SELECT v FROM g_t WHERE id = 1"); got != "shadow" {
		t.Errorf("temporary table inside a transaction: %q", got)
	}
	exec(t, a, "COMMIT")

	for i := 0; i < 4; i++ { // every pooled connection, by another user
		b := conn(t, reader)
		if got := connScalar(t, b, "SELECT CONCAT(IFNULL(@leak, 'none'), ' ', @@sql_mode LIKE '%ANSI_QUOTES%')"); got != "none 0" {
			t.Errorf("session b sees %q of session a", got)
		}
		if got := connScalar(t, b, "SELECT v FROM g_t WHERE id = 1"); got != "one" {
			t.Errorf("session b reads g_t = %q: session a's temporary table", got)
		}
		b.Close()
	}
	if got := connScalar(t, a, "SELECT v FROM g_t WHERE id = 1"); got != "shadow" {
		t.Errorf("session a lost its temporary table: %q", got)
	}
	a.Close()
	// The reserved connection is closed with the session, not pooled.
	deadline := time.Now().Add(5 * time.Second)
	for poolInUse(p) != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := poolInUse(p); n != 0 {
		t.Errorf("%d shard connections still checked out after the sessions ended", n)
	}
	c := conn(t, app)
	if got := connScalar(t, c, "SELECT COUNT(*) FROM g_t WHERE v = 'shadow'"); got != "0" {
		t.Errorf("a new session sees the temporary table: %s rows", got)
	}

	// Refused outright: temporary tables in a sharded keyspace, state a
	// statement would leave on a pooled connection.
	cust := open(t, p.Addr, "app", "secret", "customer")
	for q, want := range map[string]uint16{
		"CREATE TEMPORARY TABLE tt (id INT)":                           1235,
		"SELECT @n := customer_id FROM customer WHERE customer_id = 1": 1235,
		"SELECT GET_LOCK('l', 0)":                                      1235,
		"SELECT SQL_CALC_FOUND_ROWS name FROM customer LIMIT 1":        1235,
		"SELECT FOUND_ROWS()":                                          1235,
	} {
		if _, err := cust.Exec(q); code(err) != want {
			t.Errorf("%s: %v, want %d", q, err, want)
		}
	}
}

// TestReadOnlyOnTheServer: a read-only user's shard work runs in read-only
// transactions, so even a function with side effects that an
// administrator allowed cannot write for it; a writer can.
func TestReadOnlyOnTheServer(t *testing.T) {
	ctx := context.Background()
	must(t, servers[0].Exec(ctx, "DROP FUNCTION IF EXISTS commerce.f_write",
		"CREATE FUNCTION commerce.f_write() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO commerce.g_t VALUES (77, 'by f_write'); RETURN 1; END"))
	t.Cleanup(func() {
		_ = servers[0].Exec(ctx, "DROP FUNCTION IF EXISTS commerce.f_write", "DELETE FROM commerce.g_t WHERE id = 77")
	})
	count := func() string {
		return scalar(t, direct(t, servers[0], "commerce"), "SELECT COUNT(*) FROM g_t WHERE id = 77")
	}

	// Not allowed: a stored function is refused by name.
	p := startProxy(t, options{})
	if _, err := open(t, p.Addr, "app", "secret", "commerce").Exec("SELECT f_write()"); code(err) != 1235 {
		t.Errorf("stored function without security.allow_functions: %v, want 1235", err)
	}
	// Allowed by the administrator: the read-only user still cannot write.
	p = startProxy(t, options{extra: "security: {allow_functions: [f_write]}\n"})
	reader := open(t, p.Addr, "reader", "reader", "commerce")
	for _, q := range []string{"SELECT f_write()", "SELECT v FROM g_t WHERE id = f_write()"} {
		if _, err := reader.Exec(q); code(err) != 1792 {
			t.Errorf("reader %s: %v, want 1792 (read-only transaction on the shard)", q, err)
		}
	}
	rc := conn(t, reader)
	exec(t, rc, "BEGIN")
	if _, err := rc.ExecContext(ctx, "SELECT f_write()"); code(err) != 1792 {
		t.Errorf("reader in BEGIN: %v, want 1792", err)
	}
	exec(t, rc, "ROLLBACK")
	if got := count(); got != "0" {
		t.Fatalf("the read-only user wrote %s rows through a function", got)
	}
	app := open(t, p.Addr, "app", "secret", "commerce")
	if got := scalar(t, app, "SELECT f_write()"); got != "1" || count() != "1" {
		t.Errorf("writer: f_write() = %s, rows %s; want 1 and 1", got, count())
	}
	// twopc mode: the read-only user's transactions take no XA branch.
	exec(t, rc, "SET transaction_mode = 'twopc'")
	exec(t, rc, "BEGIN")
	if got := connScalar(t, rc, "SELECT COUNT(*) FROM g_t"); got == "" {
		t.Error("read in a twopc transaction")
	}
	exec(t, rc, "COMMIT")
}

// TestQuotingModes: sql_mode is read back from the shard; modes that change
// how statements are read are refused (the session keeps its mode),
// ANSI_QUOTES is followed, and a statement read under one mode never runs
// under another.
func TestQuotingModes(t *testing.T) {
	p := startProxy(t, options{})
	app := open(t, p.Addr, "app", "secret", "commerce", "multiStatements=true")
	c := conn(t, app)
	before := connScalar(t, c, "SELECT @@sql_mode")
	for _, q := range []string{
		"SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
		"SET sql_mode = CONCAT(@@sql_mode, ',PIPES_AS_CONCAT')",
		"SET SESSION sql_mode = 'ANSI'",
		"SET sql_mode = 'ORACLE'",
	} {
		if _, err := c.ExecContext(context.Background(), q); code(err) != 1235 {
			t.Errorf("%s: %v, want 1235", q, err)
		}
		if got := connScalar(t, c, "SELECT @@sql_mode"); got != before {
			t.Errorf("after the refused %s: sql_mode %q, want %q", q, got, before)
		}
	}
	// gbk the parser knows (1235 names the reason); big5 and sjis it does
	// not know at all (1064).
	for q, want := range map[string]uint16{"SET NAMES gbk": 1235, "SET CHARACTER SET big5": 1064, "SET character_set_client = sjis": 1235} {
		if _, err := c.ExecContext(context.Background(), q); code(err) != want {
			t.Errorf("%s: %v, want %d", q, err, want)
		}
	}
	if cs := connScalar(t, c, "SELECT @@character_set_client"); cs != "utf8mb4" {
		t.Errorf("character_set_client %q after the refused SETs", cs)
	}
	// The same character set asked for in the handshake.
	if err := open(t, p.Addr, "app", "secret", "commerce", "collation=gbk_chinese_ci").Ping(); code(err) != 1115 {
		t.Errorf("login with collation gbk_chinese_ci: %v, want 1115", err)
	}
	// A statement prepared in one mode does not run in another.
	st, err := c.PrepareContext(context.Background(), `SELECT COUNT(*) FROM g_t WHERE v <> "x"`)
	must(t, err)
	exec(t, c, "SET sql_mode = 'ANSI_QUOTES'")
	if _, err := st.Exec(); code(err) != 1235 {
		t.Errorf("executing a statement prepared before ANSI_QUOTES: %v, want 1235", err)
	}
	st.Close()
	// The rest of a multi-statement query after a mode change is refused.
	exec(t, c, "SET sql_mode = DEFAULT")
	rs, err := c.QueryContext(context.Background(), `SET sql_mode = 'ANSI_QUOTES'; SELECT "v" FROM g_t WHERE id = 1`)
	if err == nil {
		for rs.NextResultSet() {
		}
		err = rs.Err()
		rs.Close()
	}
	if code(err) != 1235 {
		t.Errorf("a statement after SET sql_mode in the same query: %v, want 1235", err)
	}
}

// TestLeastPrivilegeAccount: the proxy runs on the account the docs ask for
// (DML and DDL on its databases, PROCESS on *.* for the deadlock detector):
// DDL with sequences, cross-shard two-phase commit, joins and temporary
// tables work, and the startup check finds nothing to warn about; over root
// it warns. PROCESS lets the proxy read every connection's transactions and
// statements, but clients cannot use it through the proxy.
func TestLeastPrivilegeAccount(t *testing.T) {
	ctx := context.Background()
	must(t, servers[0].CreateProxyAccount(ctx, "shardgate", "sgpw", "commerce", "vault"))
	for _, s := range servers[1:3] {
		must(t, s.CreateProxyAccount(ctx, "shardgate", "sgpw", "customer"))
	}
	p := startProxy(t, options{shardUser: "shardgate", shardPass: "sgpw"})
	if w := p.Router.CheckPrivileges(ctx); len(w) != 0 {
		t.Errorf("least-privilege account: warnings %q", w)
	}
	db := open(t, p.Addr, "app", "secret", "customer")
	_, _ = db.Exec("DROP TABLE IF EXISTS lp_orders")
	_, _ = open(t, p.Addr, "app", "secret", "commerce").Exec("DROP TABLE IF EXISTS lp_orders_seq")
	for _, q := range []string{
		"CREATE TABLE lp_orders (order_id BIGINT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20))",
		"SET transaction_mode = 'twopc'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c := conn(t, db)
	exec(t, c, "SET transaction_mode = 'twopc'")
	exec(t, c, "BEGIN")
	for i := 0; i < 6; i++ {
		exec(t, c, fmt.Sprintf("INSERT INTO lp_orders (note) VALUES ('n%d')", i))
	}
	exec(t, c, "UPDATE customer SET name = name WHERE customer_id IN (1, 4)")
	exec(t, c, "COMMIT")
	got := rows(t, db, "SELECT o.note, COUNT(*) FROM lp_orders o JOIN customer c ON c.customer_id <= 2 GROUP BY o.note ORDER BY o.note")
	if len(got) != 6 || got[0] != `"n0"|"2"` {
		t.Errorf("join over the least-privilege account: %v", got)
	}
	cm := conn(t, open(t, p.Addr, "app", "secret", "commerce"))
	exec(t, cm, "CREATE TEMPORARY TABLE lp_tmp (id INT)")
	exec(t, cm, "INSERT INTO lp_tmp VALUES (1), (2)")
	if n := connScalar(t, cm, "SELECT COUNT(*) FROM lp_tmp"); n != "2" {
		t.Errorf("temporary table: %s rows", n)
	}

	runAttacks(t, p.Addr, []attack{
		{"app", "secret", "customer", "SELECT * FROM information_schema.INNODB_TRX", 1142},
		{"app", "secret", "customer", "SELECT * FROM information_schema.INNODB_LOCK_WAITS", 1142},
		{"app", "secret", "customer", "SELECT * FROM information_schema.INNODB_LOCKS", 1142},
		{"app", "secret", "customer", "SELECT info FROM information_schema.PROCESSLIST", 1142},
		{"app", "secret", "customer", "SHOW ENGINE INNODB STATUS", 0},
		{"app", "secret", "customer", "SHOW EXPLAIN FOR 1", 0},
		{"app", "secret", "customer", "SHOW ANALYZE FOR 1", 0},
	})

	root := startProxy(t, options{})
	w := strings.Join(root.Router.CheckPrivileges(ctx), "\n")
	for _, right := range []string{"ALL PRIVILEGES ON *.*", "GRANT OPTION"} {
		if !strings.Contains(w, right) {
			t.Errorf("root account: warnings %q lack %s", w, right)
		}
	}
}
