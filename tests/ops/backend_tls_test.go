package ops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// TestBackendTLS: the proxy reaches a shard that requires secure transport
// over TLS (verified against the shard's certificate), the query timeout
// still kills statements there, and without TLS, or with the wrong CA, the
// shard is reported unavailable.
func TestBackendTLS(t *testing.T) {
	testenv.RequireMariaDB(t)
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	otherDir := filepath.Join(dir, "other")
	if err := os.Mkdir(otherDir, 0o700); err != nil {
		t.Fatal(err)
	}
	otherCA, _ := selfSigned(t, otherDir)
	ctx, cancel := context.WithTimeout(context.Background(), testenv.StartTimeout)
	defer cancel()
	srv, err := mariadbd.StartWithOptions(ctx, filepath.Join(dir, "db"), mariadbd.Options{Args: []string{
		"--ssl-cert=" + cert, "--ssl-key=" + key}})
	if err != nil {
		t.Fatal(err)
	}
	defer mariadbd.KillAll([]*mariadbd.Server{srv})
	if err := srv.Exec(ctx, "CREATE DATABASE IF NOT EXISTS secure", "CREATE TABLE IF NOT EXISTS secure.s_t (id BIGINT PRIMARY KEY, v VARCHAR(20))",
		"REPLACE INTO secure.s_t VALUES (1, 'one')", "SET GLOBAL require_secure_transport = ON"); err != nil {
		t.Fatal(err)
	}
	yaml := func(tls string) string {
		return fmt.Sprintf(`listen: {mysql: 127.0.0.1:0, http: 127.0.0.1:0}
users: [{name: app, password: secret}]
default_keyspace: secure
keyspaces:
  secure:
    sharded: false
    shards:
      "0": {host: 127.0.0.1, port: %d, user: root, password: "", database: secure%s}
`, srv.Port, tls)
	}

	p := startInprocYAML(t, yaml(", tls: {ca: "+cert+"}"))
	db := openDB(t, dsn(p.Addr, "app", "secret", "secure"))
	var name, version, v string
	if err := db.QueryRow("SELECT v FROM s_t WHERE id = 1").Scan(&v); err != nil || v != "one" {
		t.Fatalf("query over backend TLS: %q %v", v, err)
	}
	if err := db.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_version'").Scan(&name, &version); err != nil || !strings.HasPrefix(version, "TLS") {
		t.Fatalf("the shard connection's Ssl_version: %q %v", version, err)
	}
	t.Logf("proxy -> shard: %s", version)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET max_execution_time = 300"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var x int
	if err := conn.QueryRowContext(ctx, "SELECT SLEEP(5) FROM s_t WHERE id = 1").Scan(&x); mysqlCode(err) != 1317 || time.Since(start) > 3*time.Second {
		t.Fatalf("timeout over TLS: %v after %s", err, time.Since(start))
	}
	if err := conn.QueryRowContext(ctx, "SELECT v FROM s_t WHERE id = 1").Scan(&v); err != nil {
		t.Fatalf("same session after the kill: %v", err)
	}
	if code, body := httpGet(t, p.HTTP.URL+"/readyz"); code != 200 {
		t.Errorf("readyz: %d %s", code, body)
	}

	for name, tls := range map[string]string{"plaintext": "", "wrong CA": ", tls: {ca: " + otherCA + "}"} {
		q := startInprocYAML(t, yaml(tls))
		qdb := openDB(t, dsn(q.Addr, "app", "secret", "secure"))
		err := qdb.QueryRow("SELECT v FROM s_t WHERE id = 1").Scan(&v)
		if err == nil || !strings.Contains(err.Error(), "secure/0 unavailable") {
			t.Errorf("%s: %v, want the shard unavailable", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	// skip_verify accepts any certificate
	q := startInprocYAML(t, yaml(", tls: {skip_verify: true}"))
	if err := openDB(t, dsn(q.Addr, "app", "secret", "secure")).QueryRow("SELECT v FROM s_t WHERE id = 1").Scan(&v); err != nil {
		t.Errorf("skip_verify: %v", err)
	}
}
