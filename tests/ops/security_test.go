package ops

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-sql-driver/mysql"
)

func tlsListen(t *testing.T, require bool, defaultAuth string) (options, string) {
	t.Helper()
	cert, key := selfSigned(t, t.TempDir())
	req := "false"
	if require {
		req = "true"
	}
	l := "  tls: {cert: " + cert + ", key: " + key + ", require: " + req + "}\n"
	if defaultAuth != "" {
		l += "  default_auth: " + defaultAuth + "\n"
	}
	return options{listenExtra: l}, cert
}

// TestTLSClients: the mariadb CLI and go-sql-driver connect over TLS (a
// certificate made by the test), verified against that certificate too.
func TestTLSClients(t *testing.T) {
	o, certPath := tlsListen(t, false, "")
	p := startInproc(t, o)

	out, errOut, err := cli(t, p.Addr, "app", "secret", "customer", "--ssl", "-e", "SELECT 41+1")
	if err != nil || strings.TrimSpace(out) != "42" {
		t.Fatalf("mariadb --ssl: %v %q %q", err, out, errOut)
	}
	// go-sql-driver: skip-verify, and a config that verifies the certificate.
	pem, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	if err := mysql.RegisterTLSConfig("shardgate-ops", &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"skip-verify", "shardgate-ops"} {
		db := openDB(t, dsn(p.Addr, "app", "secret", "customer", "tls="+mode))
		var v string
		if err := db.QueryRow("SELECT 'tls-ok'").Scan(&v); err != nil || v != "tls-ok" {
			t.Fatalf("go-sql-driver tls=%s: %q %v", mode, v, err)
		}
	}
	// Plaintext still allowed (require: false).
	if out, errOut, err := cli(t, p.Addr, "app", "secret", "customer", "--skip-ssl", "-e", "SELECT 7"); err != nil || strings.TrimSpace(out) != "7" {
		t.Fatalf("mariadb without TLS: %v %q %q", err, out, errOut)
	}
	m := getMetrics(t, p.HTTP.URL)
	if v := m.value("shardgate_logins_total", "result=ok", "tls=yes"); v != 3 {
		t.Errorf("TLS logins %v, want 3", v)
	}
	if v := m.value("shardgate_logins_total", "result=ok", "tls=no"); v != 1 {
		t.Errorf("plaintext logins %v, want 1", v)
	}
}

// TestRequireSecureTransport: with listen.tls.require, plaintext clients get
// 3159 before authentication; TLS clients get in.
func TestRequireSecureTransport(t *testing.T) {
	o, _ := tlsListen(t, true, "")
	p := startInproc(t, o)
	db := openDB(t, dsn(p.Addr, "app", "secret", "customer", "tls=false"))
	if err := db.Ping(); mysqlCode(err) != 3159 {
		t.Fatalf("plaintext go-sql-driver: %v, want 3159", err)
	}
	_, errOut, err := cli(t, p.Addr, "app", "secret", "customer", "--skip-ssl", "-e", "SELECT 1")
	if err == nil || !strings.Contains(errOut, "3159") {
		t.Fatalf("plaintext mariadb CLI: %v %q, want ERROR 3159", err, errOut)
	}
	if out, errOut, err := cli(t, p.Addr, "app", "secret", "customer", "--ssl", "-e", "SELECT 1"); err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("mariadb --ssl: %v %q %q", err, out, errOut)
	}
	tdb := openDB(t, dsn(p.Addr, "app", "secret", "customer", "tls=skip-verify"))
	if err := tdb.Ping(); err != nil {
		t.Fatalf("TLS go-sql-driver: %v", err)
	}
	if v := getMetrics(t, p.HTTP.URL).value("shardgate_client_connections_refused_total", "reason=require_secure_transport"); v != 2 {
		t.Errorf("refused for TLS %v, want 2", v)
	}
}

// TestAuthPlugins: caching_sha2_password (fast path; full authentication
// over TLS for an account given by password_hash) with go-sql-driver, and
// mysql_native_password with the mariadb CLI and go-sql-driver.
func TestAuthPlugins(t *testing.T) {
	t.Run("caching_sha2", func(t *testing.T) {
		p := startInproc(t, options{listenExtra: "  default_auth: caching_sha2_password\n"})
		db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
		var v int
		if err := db.QueryRow("SELECT 5").Scan(&v); err != nil || v != 5 {
			t.Fatalf("caching_sha2 login: %v", err)
		}
		// An account by password_hash has no SHA2 hash: switched to native.
		hdb := openDB(t, dsn(p.Addr, "hashed", hashedPassword, "customer"))
		if err := hdb.Ping(); err != nil {
			t.Fatalf("password_hash account over caching_sha2 client: %v", err)
		}
		bad := openDB(t, dsn(p.Addr, "app", "nope", "customer"))
		if err := bad.Ping(); mysqlCode(err) != 1045 {
			t.Fatalf("wrong password: %v", err)
		}
		m := getMetrics(t, p.HTTP.URL)
		if v := m.value("shardgate_logins_total", "result=ok", "plugin=caching_sha2_password"); v != 1 {
			t.Errorf("caching_sha2 logins %v, want 1", v)
		}
		if v := m.value("shardgate_logins_total", "result=ok", "plugin=mysql_native_password"); v != 1 {
			t.Errorf("native logins after the switch %v, want 1", v)
		}
		if v := m.value("shardgate_logins_total", "result=denied"); v != 1 {
			t.Errorf("denied %v, want 1", v)
		}
	})
	t.Run("caching_sha2_full_auth_over_tls", func(t *testing.T) {
		o, _ := tlsListen(t, true, "caching_sha2_password")
		p := startInproc(t, o)
		db := openDB(t, dsn(p.Addr, "hashed", hashedPassword, "customer", "tls=skip-verify"))
		if err := db.Ping(); err != nil {
			t.Fatalf("full authentication: %v", err)
		}
		bad := openDB(t, dsn(p.Addr, "hashed", "wrong", "customer", "tls=skip-verify"))
		if err := bad.Ping(); mysqlCode(err) != 1045 {
			t.Fatalf("full authentication, wrong password: %v", err)
		}
		if v := getMetrics(t, p.HTTP.URL).value("shardgate_logins_total", "result=ok", "plugin=caching_sha2_password", "tls=yes"); v != 1 {
			t.Errorf("caching_sha2 TLS logins %v", v)
		}
	})
	t.Run("native", func(t *testing.T) {
		p := startInproc(t, options{})
		out, errOut, err := cli(t, p.Addr, "app", "secret", "customer", "-e", "SELECT 'cli'")
		if err != nil || strings.TrimSpace(out) != "cli" {
			t.Fatalf("mariadb CLI: %v %q %q", err, out, errOut)
		}
		_, errOut, err = cli(t, p.Addr, "hashed", "wrong", "customer", "-e", "SELECT 1")
		if err == nil || !strings.Contains(errOut, "1045") {
			t.Fatalf("mariadb CLI, wrong password: %v %q", err, errOut)
		}
		out, errOut, err = cli(t, p.Addr, "hashed", hashedPassword, "customer", "-e", "SELECT 'hashed'")
		if err != nil || strings.TrimSpace(out) != "hashed" {
			t.Fatalf("mariadb CLI, password_hash account: %v %q %q", err, out, errOut)
		}
		// The CLI asking for caching_sha2_password itself.
		out, errOut, err = cli(t, p.Addr, "app", "secret", "customer", "--default-auth=caching_sha2_password", "-e", "SELECT 'sha2'")
		if err != nil || strings.TrimSpace(out) != "sha2" {
			t.Logf("mariadb CLI with --default-auth=caching_sha2_password: %v %q %q", err, out, errOut)
		}
		db := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAccessDeniedIndistinguishable: an unknown user and a known user with
// a wrong password get the same error (code, SQLSTATE, wording) and take
// the same time.
func TestAccessDeniedIndistinguishable(t *testing.T) {
	for _, plugin := range []string{"mysql_native_password", "caching_sha2_password"} {
		t.Run(plugin, func(t *testing.T) {
			p := startInproc(t, options{listenExtra: "  default_auth: " + plugin + "\n", extra: "login_rate_limit: {max_failures: 0}\n"})
			login := func(user string) (string, time.Duration) {
				start := time.Now()
				db := openDB(t, dsn(p.Addr, user, "wrong-password", "customer"))
				err := db.Ping()
				d := time.Since(start)
				db.Close()
				var me *mysql.MySQLError
				if !asMySQL(err, &me) {
					t.Fatalf("%s: %v", user, err)
				}
				return strings.Replace(me.Error(), "'"+user+"'", "'<user>'", 1) + " state=" + string(me.SQLState[:]), d
			}
			msgKnown, _ := login("app")
			msgUnknown, _ := login("nosuchuser")
			if msgKnown != msgUnknown || !strings.Contains(msgKnown, "1045") {
				t.Fatalf("messages differ:\n known:   %s\n unknown: %s", msgKnown, msgUnknown)
			}
			const rounds = 40
			var known, unknown []time.Duration
			for i := 0; i < rounds; i++ {
				_, d := login("app")
				known = append(known, d)
				_, d = login("nosuchuser")
				unknown = append(unknown, d)
			}
			mk, mu := median(known), median(unknown)
			diff := mk - mu
			if diff < 0 {
				diff = -diff
			}
			t.Logf("median login failure: known user %s, unknown user %s", mk, mu)
			if diff > 2*time.Millisecond+max(mk, mu)/2 {
				t.Errorf("timing tells users apart: known %s, unknown %s", mk, mu)
			}
		})
	}
}

func asMySQL(err error, me **mysql.MySQLError) bool {
	if err == nil {
		return false
	}
	e, ok := err.(*mysql.MySQLError)
	if ok {
		*me = e
	}
	return ok
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestReadOnlyUserEveryPath: a read_only user's writes are refused as text,
// prepared, and inside multi-statements; nothing reaches the shards.
func TestReadOnlyUserEveryPath(t *testing.T) {
	p := startInproc(t, options{})
	app := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	mustExec(t, app, "DELETE FROM acl_t")
	mustExec(t, app, "INSERT INTO acl_t (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')")

	text := openDB(t, dsn(p.Addr, "reader", "reader", "customer", "interpolateParams=true"))
	prep := openDB(t, dsn(p.Addr, "reader", "reader", "customer"))
	multi := openDB(t, dsn(p.Addr, "reader", "reader", "customer", "multiStatements=true"))
	writes := []string{
		"INSERT INTO acl_t (id, v) VALUES (10, 'x')",
		"UPDATE acl_t SET v = 'x' WHERE id = 1",
		"DELETE FROM acl_t WHERE id = 2",
		"REPLACE INTO acl_t (id, v) VALUES (3, 'x')",
		"UPDATE acl_t SET v = 'x'",
		"CREATE TABLE ro_new (id BIGINT PRIMARY KEY)",
		"DROP TABLE acl_t",
		"INSERT INTO commerce.g_t (id, v) VALUES (1, 'x')",
	}
	for _, q := range writes {
		if _, err := text.Exec(q); mysqlCode(err) != 1290 {
			t.Errorf("text %q: %v, want 1290", q, err)
		}
	}
	for _, q := range []string{"INSERT INTO acl_t (id, v) VALUES (?, ?)", "UPDATE acl_t SET v = ? WHERE id = ?", "DELETE FROM acl_t WHERE id = ? OR v = ?"} {
		if _, err := prep.Exec(q, 1, "x"); mysqlCode(err) != 1290 {
			t.Errorf("prepared %q: %v, want 1290", q, err)
		}
	}
	if _, err := multi.Exec("SELECT 1; DELETE FROM acl_t WHERE id = 1"); mysqlCode(err) != 1290 {
		t.Errorf("multi-statement with a DELETE: %v, want 1290", err)
	}
	var n int
	if err := text.QueryRow("SELECT COUNT(*) FROM acl_t WHERE id = 1").Scan(&n); err != nil || n != 1 {
		t.Errorf("reads still work: %d %v", n, err)
	}
	// Nothing changed on the shards.
	total := 0
	for _, s := range servers[1:3] {
		sdb, err := s.DB("customer")
		if err != nil {
			t.Fatal(err)
		}
		var c int
		var vals string
		if err := sdb.QueryRow("SELECT COUNT(*), COALESCE(GROUP_CONCAT(v ORDER BY id), '') FROM acl_t").Scan(&c, &vals); err != nil {
			t.Fatal(err)
		}
		var tables int
		_ = sdb.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'customer' AND TABLE_NAME = 'ro_new'").Scan(&tables)
		sdb.Close()
		if strings.Contains(vals, "x") || tables != 0 {
			t.Errorf("shard %d changed: %q, ro_new tables %d", s.Port, vals, tables)
		}
		total += c
	}
	if total != 3 {
		t.Errorf("rows on the shards: %d, want 3", total)
	}
}

// TestKeyspaceAccessEveryPath: a user limited to keyspace customer cannot
// reach commerce by login database, COM_INIT_DB, USE, qualified names
// (text, prepared, multi-statement) or a cross-keyspace join.
func TestKeyspaceAccessEveryPath(t *testing.T) {
	p := startInproc(t, options{})
	app := openDB(t, dsn(p.Addr, "app", "secret", "customer"))
	mustExec(t, app, "REPLACE INTO commerce.g_t (id, v) VALUES (1, 'global')")

	// login database
	if _, err := client.Connect(p.Addr, "cust", "custpw", "commerce"); err == nil || !strings.Contains(err.Error(), "1044") {
		t.Errorf("login with database commerce: %v, want 1044", err)
	}
	// COM_INIT_DB, then USE as text
	c, err := client.Connect(p.Addr, "cust", "custpw", "customer")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.UseDB("commerce"); err == nil || !strings.Contains(err.Error(), "1044") {
		t.Errorf("COM_INIT_DB commerce: %v, want 1044", err)
	}
	if _, err := c.Execute("USE commerce"); err == nil || !strings.Contains(err.Error(), "1044") {
		t.Errorf("USE commerce: %v, want 1044", err)
	}
	// the mariadb CLI's use command (COM_INIT_DB)
	if _, errOut, err := cli(t, p.Addr, "cust", "custpw", "customer", "-e", "use commerce"); err == nil || !strings.Contains(errOut, "1044") {
		t.Errorf("mariadb use commerce: %v %q", err, errOut)
	}
	text := openDB(t, dsn(p.Addr, "cust", "custpw", "customer", "interpolateParams=true"))
	prep := openDB(t, dsn(p.Addr, "cust", "custpw", "customer"))
	multi := openDB(t, dsn(p.Addr, "cust", "custpw", "customer", "multiStatements=true"))
	for _, q := range []string{
		"SELECT v FROM commerce.g_t WHERE id = 1",
		"INSERT INTO commerce.g_t (id, v) VALUES (2, 'x')",
		"SELECT a.v, g.v FROM acl_t a JOIN commerce.g_t g ON g.id = a.id WHERE a.id = 1",
	} {
		var v string
		if err := text.QueryRow(q).Scan(&v); mysqlCode(err) != 1044 {
			t.Errorf("text %q: %v, want 1044", q, err)
		}
	}
	var v string
	if err := prep.QueryRow("SELECT v FROM commerce.g_t WHERE id = ?", 1).Scan(&v); mysqlCode(err) != 1044 {
		t.Errorf("prepared: %v, want 1044", err)
	}
	if _, err := multi.Exec("SELECT 1; SELECT v FROM commerce.g_t"); mysqlCode(err) != 1044 {
		t.Errorf("multi-statement: %v, want 1044", err)
	}
	// its own keyspace works
	if err := text.QueryRow("SELECT COUNT(*) FROM acl_t").Scan(&v); err != nil {
		t.Errorf("own keyspace: %v", err)
	}
	ctx := context.Background()
	gdb, err := servers[0].DB("commerce")
	if err != nil {
		t.Fatal(err)
	}
	defer gdb.Close()
	var n int
	if err := gdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM g_t WHERE id = 2").Scan(&n); err != nil || n != 0 {
		t.Errorf("the refused insert reached the global shard: %d %v", n, err)
	}
}
