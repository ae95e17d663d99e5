package clients

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// python is Debian's interpreter, the one python3-pymysql installs into (a
// python3 earlier in PATH may be another one without it).
const python = "/usr/bin/python3"

// TestPyMySQL runs testdata/pymysql_test.py against the proxy and the plain
// reference server: the autocommit mode PyMySQL reads from the greeting's
// status flags, @@version and DATABASE(), all types as parameters and in
// fetchall, DictCursor and SSCursor, executemany (rewritten into a multi-row
// INSERT), affected rows, lastrowid from a sequence, commit and rollback over
// two shards, SHOW WARNINGS after a truncating INSERT, errors, select_db and
// multi-statements.
func TestPyMySQL(t *testing.T) {
	p := start(t)
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is missing: %v", python, err)
	}
	if out, err := runQuiet(python, "-c", "import pymysql"); err != nil {
		t.Fatalf("PyMySQL is not installed (apt-get install python3-pymysql): %v\n%s", err, out)
	}
	script, err := filepath.Abs("testdata/pymysql_test.py")
	if err != nil {
		t.Fatal(err)
	}
	idA, idB := idOnShard(t, 0, 2000), idOnShard(t, 1, 2000)
	for _, tg := range targets(t, p) {
		t.Run(tg.name, func(t *testing.T) {
			host, port := hostPort(t, tg.addr)
			runChecks(t, "PyMySQL ("+tg.name+")", time.Minute, python, script, host, port, "t",
				strconv.FormatInt(idA, 10), strconv.FormatInt(idB, 10))
		})
	}
}
