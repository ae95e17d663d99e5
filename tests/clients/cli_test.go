package clients

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cliOut is what one run of the mariadb client produced.
type cliOut struct {
	stdout, stderr string
	code           int
}

func (r cliOut) String() string {
	return fmt.Sprintf("exit code %d, stdout %q, stderr %q", r.code, tailString(r.stdout, 2000), tailString(r.stderr, 2000))
}

// mariadbCLI runs the mariadb client against addr as app/secret with args
// (after the connection options) and stdin.
func mariadbCLI(t *testing.T, addr, stdin string, args ...string) cliOut {
	t.Helper()
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		if bin, err = exec.LookPath("mysql"); err != nil {
			t.Fatal("the mariadb client is not installed (apt-get install mariadb-client)")
		}
	}
	host, port := hostPort(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := []string{"--no-defaults", "--protocol=TCP", "-h", host, "-P", port, "-u", "app", "-psecret",
		"--default-character-set=utf8mb4", "--connect-timeout=10"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err = cmd.Run()
	res := cliOut{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("mariadb %q did not finish within 30s", args)
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("mariadb %q: %v", args, err)
	}
	return res
}

// TestMariaDBCLI drives the mariadb command-line client against the proxy
// and the plain reference server: batch mode, a script on stdin, several
// statements in one COM_QUERY (DELIMITER), \G, SHOW WARNINGS and
// --show-warnings, \s (status, which uses COM_STATISTICS), exit codes.
func TestMariaDBCLI(t *testing.T) {
	p := start(t)
	idA, idB := idOnShard(t, 0, 4000), idOnShard(t, 1, 4000)
	for _, tg := range targets(t, p) {
		t.Run(tg.name, func(t *testing.T) {
			addr := tg.addr
			want := func(what string, r cliOut, code int, stdout string) {
				t.Helper()
				if r.code != code || r.stdout != stdout {
					t.Errorf("%s: %v; want exit code %d, stdout %q", what, r, code, stdout)
				}
			}

			// Batch mode, one statement.
			want("-B -N -e SELECT", mariadbCLI(t, addr, "", "-B", "-N", "-D", "customer", "-e", "SELECT 1, 'a😀', NULL, DATABASE()"),
				0, "1\ta😀\tNULL\tcustomer\n")
			// Column names without -N.
			want("-B -e SELECT (with column names)", mariadbCLI(t, addr, "", "-B", "-D", "customer", "-e", "SELECT 1 AS one, 'x' AS `two words`"),
				0, "one\ttwo words\n1\tx\n")

			// A script on stdin: DDL, writes on both shards, reads; each result printed.
			script := fmt.Sprintf(`DROP TABLE IF EXISTS cli_t;
CREATE TABLE cli_t (id BIGINT NOT NULL PRIMARY KEY, s VARCHAR(3), v VARCHAR(40)) DEFAULT CHARSET=utf8mb4;
INSERT INTO cli_t (id, v) VALUES (%[1]d, 'a😀'), (%[2]d, 'tab	here'), (3, NULL);
SELECT id, v FROM cli_t WHERE id = %[1]d;
SELECT COUNT(*) FROM cli_t;
UPDATE cli_t SET v = 'u' WHERE id IN (%[1]d, %[2]d);
SELECT v FROM cli_t WHERE id = %[2]d;
SELECT id FROM cli_t ORDER BY id DESC;
`, idA, idB)
			ids := []int64{idA, idB, 3}
			if ids[0] < ids[1] {
				ids[0], ids[1] = ids[1], ids[0]
			}
			want("stdin script", mariadbCLI(t, addr, script, "-B", "-N", "customer"), 0,
				fmt.Sprintf("%d\ta😀\n3\nu\n%d\n%d\n3\n", idA, ids[0], ids[1]))
			// ROW_COUNT() after an UPDATE of one row on each shard.
			want("ROW_COUNT() after a two-shard UPDATE", mariadbCLI(t, addr, fmt.Sprintf("UPDATE cli_t SET v = 'u2' WHERE id IN (%d, %d);\nSELECT ROW_COUNT();\n", idA, idB),
				"-B", "-N", "customer"), 0, "2\n")

			// Several statements in one COM_QUERY (the client sends everything
			// up to the delimiter as one query): one result each.
			want("multi-statement query", mariadbCLI(t, addr, fmt.Sprintf("DELIMITER //\nSELECT 1; SELECT v FROM cli_t WHERE id = %d; UPDATE cli_t SET v = 'w' WHERE id = 3; SELECT v FROM cli_t WHERE id = 3//\n", idA),
				"-B", "-N", "customer"), 0, "1\nu2\nw\n")
			// -e splits at ';' itself: several statements, several results.
			want("-e with several statements", mariadbCLI(t, addr, "", "-B", "-N", "-D", "customer", "-e", "SELECT 'x'; SELECT COUNT(*) FROM cli_t; SELECT 'y'"),
				0, "x\n3\ny\n")

			// \G (vertical output).
			want(`\G`, mariadbCLI(t, addr, "", "-D", "customer", "-e", `SELECT 1 AS a, 'b' AS b\G`),
				0, "*************************** 1. row ***************************\na: 1\nb: b\n")

			// SHOW WARNINGS after a statement that warns (non-strict truncation).
			want("SHOW WARNINGS", mariadbCLI(t, addr, fmt.Sprintf("SET sql_mode = '';\nINSERT INTO cli_t (id, s) VALUES (%d, 'abcdef');\nSHOW WARNINGS;\nSELECT @@warning_count;\nSELECT s FROM cli_t WHERE id = %d;\n", idA+1000003, idA+1000003),
				"-B", "-N", "customer"), 0, "Warning\t1265\tData truncated for column 's' at row 1\n1\nabc\n")
			// --show-warnings: the client asks for the warnings itself after a
			// statement whose OK packet counts some.
			r := mariadbCLI(t, addr, fmt.Sprintf("SET sql_mode = '';\nUPDATE cli_t SET s = 'defghi' WHERE id IN (%d, %d);\n", idA, idB), "-B", "-N", "--show-warnings", "customer")
			if r.code != 0 || strings.Count(r.stdout+r.stderr, "Data truncated for column 's'") != 2 {
				t.Errorf("--show-warnings after an UPDATE truncating on two shards: %v; want two 'Data truncated' warnings", r)
			}

			// \s: status (connection, server, characters sets, COM_STATISTICS).
			r = mariadbCLI(t, addr, "", "-D", "customer", "-e", `\s`)
			if r.code != 0 {
				t.Errorf(`\s: %v`, r)
			} else {
				for _, s := range []string{"Current database:\tcustomer", "Current user:\t\tapp@", "Server:\t\t\tMariaDB", "Client characterset:\tutf8mb4",
					"Conn.  characterset:\tutf8mb4", "TCP port:\t\t", "Uptime:", "Threads: ", "Questions: ", "Queries per second avg: "} {
					if !strings.Contains(r.stdout, s) {
						key, _, _ := strings.Cut(s, ":")
						got := "(no such line)"
						for _, l := range strings.Split(r.stdout, "\n") {
							if strings.Contains(l, key+":") {
								got = l
							}
						}
						t.Errorf(`\s: want a line with %q, got %q`, s, got)
					}
				}
			}

			// Exit codes and errors on stderr.
			r = mariadbCLI(t, addr, "", "-B", "-N", "-D", "customer", "-e", "SELECT * FROM no_such_table_cli")
			if r.code != 1 || !strings.Contains(r.stderr, "ERROR 1146") {
				t.Errorf("unknown table: %v; want exit code 1 and ERROR 1146", r)
			}
			r = mariadbCLI(t, addr, "", "-B", "-N", "-D", "customer", "-e", "SELEC 1")
			if r.code != 1 || !strings.Contains(r.stderr, "ERROR 1064") {
				t.Errorf("syntax error: %v; want exit code 1 and ERROR 1064", r)
			}
			// A script stops at its first error ...
			r = mariadbCLI(t, addr, "SELECT 'before';\nSELECT * FROM no_such_table_cli;\nSELECT 'after';\n", "-B", "-N", "customer")
			if r.code != 1 || r.stdout != "before\n" || !strings.Contains(r.stderr, "ERROR 1146") {
				t.Errorf("script with an error: %v; want exit code 1, stdout \"before\\n\", ERROR 1146", r)
			}
			// ... unless --force, which goes on (on the same connection); the
			// mariadb client then exits with 0.
			r = mariadbCLI(t, addr, fmt.Sprintf("SET @x = 7;\nSELECT * FROM no_such_table_cli;\nSELECT @x, v FROM cli_t WHERE id = %d;\n", idB), "-B", "-N", "--force", "customer")
			if r.code != 0 || r.stdout != "7\tu2\n" || !strings.Contains(r.stderr, "ERROR 1146") {
				t.Errorf("--force script with an error: %v; want exit code 0, stdout \"7\\tu2\\n\", ERROR 1146", r)
			}
			// Wrong password and unknown database: exit code 1.
			host, port := hostPort(t, addr)
			out, err := exec.Command("mariadb", "--no-defaults", "--protocol=TCP", "-h", host, "-P", port, "-u", "app", "-pwrong", "-B", "-N", "-e", "SELECT 1").CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "ERROR 1045") {
				t.Errorf("wrong password: %v, output %q; want exit code 1 and ERROR 1045", err, out)
			}
			r = mariadbCLI(t, addr, "", "-B", "-N", "-D", "no_such_db_cli", "-e", "SELECT 1")
			if r.code != 1 || !strings.Contains(r.stderr, "ERROR 1049") {
				t.Errorf("unknown database: %v; want exit code 1 and ERROR 1049", r)
			}
		})
	}
}
