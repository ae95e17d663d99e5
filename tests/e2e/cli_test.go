package e2e

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// cliResult is what one run of the mariadb client produced.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the mariadb client in batch mode (-B -N) against addr with
// extra arguments, stdin optional.
func runCLI(t *testing.T, addr, stdin string, args ...string) cliResult {
	t.Helper()
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		if bin, err = exec.LookPath("mysql"); err != nil {
			t.Fatal("the mariadb client is not installed (apt-get install mariadb-client)")
		}
	}
	host, port, _ := net.SplitHostPort(addr)
	base := []string{"--no-defaults", "--protocol=TCP", "-h", host, "-P", port, "-u", "app", "-psecret",
		"--default-character-set=utf8mb4", "--connect-timeout=10", "-B", "-N"}
	cmd := exec.CommandContext(ctx(t), bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err = cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("mariadb %q: %v", args, err)
	}
	return res
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestMariaDBCLI drives the mariadb command-line client in batch mode
// through the proxy.
func TestMariaDBCLI(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS cli_t")
	mustExec(t, db, "CREATE TABLE cli_t (customer_id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NULL) DEFAULT CHARSET=utf8mb4")
	mustExec(t, db, "INSERT INTO cli_t VALUES (1, 'one'), (2, NULL), (100, 'hundred 😀'), (7, 'tab\there')")

	ok := func(what string, r cliResult) bool {
		t.Helper()
		if r.code != 0 {
			t.Errorf("%s: exit code %d, stderr %q, stdout %q", what, r.code, r.stderr, r.stdout)
			return false
		}
		return true
	}

	// SHOW DATABASES lists the keyspaces.
	if r := runCLI(t, p.Addr, "", "-e", "SHOW DATABASES"); ok("SHOW DATABASES", r) {
		got := lines(r.stdout)
		for _, ks := range []string{"commerce", "customer"} {
			if !containsLine(got, ks) {
				t.Errorf("SHOW DATABASES: %q does not list keyspace %s", got, ks)
			}
		}
	}
	// SHOW TABLES with a database on the command line (COM_INIT_DB / connect with db).
	if r := runCLI(t, p.Addr, "", "-D", "customer", "-e", "SHOW TABLES"); ok("SHOW TABLES", r) {
		if got := lines(r.stdout); !containsLine(got, "cli_t") {
			t.Errorf("SHOW TABLES: %q does not list cli_t", got)
		}
	}
	// USE then a routed SELECT, in one -e (the client splits at ';').
	if r := runCLI(t, p.Addr, "", "-e", "USE customer; SELECT DATABASE(); SELECT customer_id, v FROM cli_t WHERE customer_id = 100"); ok("USE + routed SELECT", r) {
		want := []string{"customer", "100\thundred 😀"}
		if got := lines(r.stdout); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("USE + routed SELECT: got %q, want %q", got, want)
		}
	}
	// A routed IN select with NULL and an escaped tab, from stdin.
	if r := runCLI(t, p.Addr, "SELECT customer_id, v FROM cli_t WHERE customer_id IN (2, 7);\n", "customer"); ok("stdin SELECT", r) {
		got := lines(r.stdout)
		want := []string{"2\tNULL", "7\ttab\\there"}
		if d := diffRows(got, want, false); d != "" {
			t.Errorf("stdin routed SELECT:\n%s", d)
		}
	}
	// A scatter SELECT.
	if r := runCLI(t, p.Addr, "", "customer", "-e", "SELECT customer_id FROM cli_t"); ok("scatter SELECT", r) {
		if d := diffRows(lines(r.stdout), []string{"1", "2", "100", "7"}, false); d != "" {
			t.Errorf("scatter SELECT:\n%s", d)
		}
	}
	// Errors: exit code 1 and the error on stderr.
	for _, tc := range []struct {
		sql  string
		code string
		msg  string
	}{
		{"SELEC customer_id FROMM cli_t", "ERROR 1064", "SELEC"},
		{"SELECT * FROM no_such_table_cli", "ERROR 1146", "no_such_table_cli"},
		{"USE nope_ks", "ERROR 1049", "nope_ks"},
		{"UPDATE cli_t SET customer_id = 5 WHERE customer_id = 1", "ERROR 1235", "customer_id"},
	} {
		r := runCLI(t, p.Addr, "", "customer", "-e", tc.sql)
		if r.code != 1 {
			t.Errorf("%s: exit code %d, want 1 (stdout %q, stderr %q)", tc.sql, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, tc.code) || !strings.Contains(strings.ToUpper(r.stderr), strings.ToUpper(tc.msg)) {
			t.Errorf("%s: stderr %q, want %s mentioning %q", tc.sql, r.stderr, tc.code, tc.msg)
		}
	}
	// In a script, the client stops at the first error: the statements before it ran.
	r := runCLI(t, p.Addr, "SELECT 'before';\nSELECT * FROM no_such_table_cli;\nSELECT 'after';\n", "customer")
	if r.code != 1 || strings.TrimSpace(r.stdout) != "before" || !strings.Contains(r.stderr, "ERROR 1146") {
		t.Errorf("script with an error: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// --force continues after the error on the same connection.
	r = runCLI(t, p.Addr, "SELECT 'before';\nSELECT * FROM no_such_table_cli;\nSELECT v FROM cli_t WHERE customer_id = 1;\n", "--force", "customer")
	if got := lines(r.stdout); strings.Join(got, ",") != "before,one" {
		t.Errorf("--force script: stdout %q (stderr %q), want before, one", got, r.stderr)
	}
	// mariadb-admin: COM_PING and COM_STATISTICS.
	if admin, err := exec.LookPath("mariadb-admin"); err == nil {
		h, port, _ := net.SplitHostPort(p.Addr)
		out, err := exec.CommandContext(ctx(t), admin, "--no-defaults", "--protocol=TCP", "-h", h, "-P", port, "-u", "app", "-psecret", "ping").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "mysqld is alive") {
			t.Errorf("mariadb-admin ping: %v, %q", err, out)
		}
		out, err = exec.CommandContext(ctx(t), admin, "--no-defaults", "--protocol=TCP", "-h", h, "-P", port, "-u", "app", "-psecret", "status").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Uptime:") {
			t.Errorf("mariadb-admin status (COM_STATISTICS): %v, %q", err, out)
		}
	}
	// Wrong password: exit code 1, ERROR 1045.
	host, port, _ := net.SplitHostPort(p.Addr)
	bin, _ := exec.LookPath("mariadb")
	out, err := exec.CommandContext(ctx(t), bin, "--no-defaults", "--protocol=TCP", "-h", host, "-P", port, "-u", "app", "-pwrong", "-B", "-N", "-e", "SELECT 1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ERROR 1045") {
		t.Errorf("wrong password: err %v, output %q, want ERROR 1045", err, out)
	}
}

func containsLine(ls []string, s string) bool {
	for _, l := range ls {
		if l == s {
			return true
		}
	}
	return false
}
