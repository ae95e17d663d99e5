package clients

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Issue 26: what drivers report as insert ids through the proxy —
// Connector/J getGeneratedKeys(), PyMySQL lastrowid, LAST_INSERT_ID() in
// the mariadb CLI — is what they report on a plain MariaDB for the same
// statements. (go-sql-driver's LastInsertId: tests/sequences, with every
// kind of id.) Each client runs the same steps against the proxy and the
// reference server; ids are compared by the row that holds them.

// idClientStep is a step: mode (exec, prep, query), SQL, and arguments of
// prep. {T} is the table, {A} and {B} values of c.
type idClientStep []string

var idClientSteps = []idClientStep{
	{"exec", "INSERT INTO {T} (c, v) VALUES ({A}, 'a1')"},
	{"exec", "INSERT INTO {T} (c, v) VALUES ({B}, 'b1'), ({A}, 'a2'), ({B}, 'b2')"},
	{"prep", "INSERT INTO {T} (c, v) VALUES (?, ?)", "{B}", "b3"},
	{"prep", "INSERT INTO {T} (c, v) VALUES (?, ?), (?, ?)", "{A}", "a3", "{B}", "b4"},
	{"exec", "INSERT INTO {T} (c, id, v) VALUES ({A}, 5000900, 'a4')"},
	{"prep", "INSERT INTO {T} (c, id, v) VALUES (?, ?, ?)", "{B}", "NULL", "b5"},
	{"prep", "INSERT INTO {T} (c, id, v) VALUES (?, ?, ?)", "{B}", "5000800", "b6"},
	{"exec", "INSERT INTO {T} (c, id, v) VALUES ({A}, 5000900, 'dup')"},
	{"exec", "BEGIN"},
	{"exec", "INSERT INTO {T} (c, v) VALUES ({B}, 'b7'), ({A}, 'a5')"},
	{"exec", "COMMIT"},
	{"exec", "BEGIN"},
	{"prep", "INSERT INTO {T} (c, v) VALUES (?, ?)", "{A}", "a6"},
	{"exec", "ROLLBACK"},
	{"query", "SELECT LAST_INSERT_ID(777000001)"},
	{"exec", "UPDATE {T} SET v = 'a1x' WHERE v = 'a1'"},
	{"exec", "INSERT INTO {T} (c, v, n) VALUES ({B}, 'b8', LAST_INSERT_ID(777000002))"},
	{"exec", "INSERT INTO {T} (c, id, v, n) VALUES ({A}, 5000700, 'a7', LAST_INSERT_ID(777000003))"},
	{"exec", "INSERT INTO {T} (c, v) VALUES ({A}, 'a8'), ({B}, 'b9')"},
}

const idClientCreate = "CREATE TABLE %s (id BIGINT NOT NULL AUTO_INCREMENT, c BIGINT NOT NULL, v VARCHAR(20) NOT NULL, n BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (id), UNIQUE KEY (c, v))"

// idClientTables: a sharded table with ids from a sequence (auto_vschema,
// sharded by id, so the rows land on both shards), and a table of the
// unsharded keyspace (ids from its AUTO_INCREMENT).
var idClientTables = []string{"cl_ids", "commerce.cl_ids_u"}

// idClientRun is what one client reported: "<step> <kind> <values>" lines,
// and the table's rows at the end (id -> v).
type idClientRun struct {
	obs  []string
	rows map[int64]string
}

var reIDLine = regexp.MustCompile(`^(obs (\d+) (\w+) (.*)|row (\d+) (.*))$`)

// parseIDRun reads the lines of Ids.java and ids.py.
func parseIDRun(t *testing.T, out string) idClientRun {
	t.Helper()
	r := idClientRun{rows: map[int64]string{}}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := reIDLine.FindStringSubmatch(sc.Text())
		switch {
		case m == nil:
			t.Logf("unexpected output: %s", sc.Text())
		case m[2] != "":
			r.obs = append(r.obs, m[2]+" "+m[3]+" "+m[4])
		default:
			id, _ := strconv.ParseInt(m[5], 10, 64)
			r.rows[id] = m[6]
		}
	}
	return r
}

// named renders the observations with each id replaced by its row's v, or
// by the first observation that reported it ("@<n>") when no row has it
// (rolled back, or a LAST_INSERT_ID(expr) value).
func (r idClientRun) named() []string {
	seen := map[string]int{}
	name := func(s string, i int) string {
		if s == "0" || s == "" {
			return s
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return s
		}
		if v, ok := r.rows[n]; ok {
			return v
		}
		if _, ok := seen[s]; !ok {
			seen[s] = i
		}
		return "@" + strconv.Itoa(seen[s])
	}
	out := make([]string, len(r.obs))
	for i, o := range r.obs {
		f := strings.SplitN(o, " ", 3)
		if f[1] == "err" {
			out[i] = o
			continue
		}
		vals := strings.Split(f[2], ",")
		for j, v := range vals {
			vals[j] = name(v, i)
		}
		out[i] = f[0] + " " + f[1] + " " + strings.Join(vals, ",")
	}
	return out
}

// compareIDRuns checks that the proxy's run reports what the reference's
// does.
func compareIDRuns(t *testing.T, what string, proxy, ref idClientRun) {
	t.Helper()
	p, r := proxy.named(), ref.named()
	if len(r) == 0 {
		t.Fatalf("%s: the reference run reported nothing", what)
	}
	for i := 0; i < len(p) || i < len(r); i++ {
		var got, want string
		if i < len(p) {
			got = p[i]
		}
		if i < len(r) {
			want = r[i]
		}
		if got != want {
			t.Errorf("%s: proxy reported %q, mariadb %q", what, got, want)
		}
	}
	if len(proxy.rows) != len(ref.rows) {
		t.Errorf("%s: %d rows through the proxy, %d on the reference", what, len(proxy.rows), len(ref.rows))
	}
}

// idStepsFor renders the steps for table as tab-separated lines.
func idStepsFor(t *testing.T, table string) string {
	t.Helper()
	a, b := idOnShard(t, 0, 3000), idOnShard(t, 1, 3000)
	r := strings.NewReplacer("{T}", table, "{A}", strconv.FormatInt(a, 10), "{B}", strconv.FormatInt(b, 10))
	var sb strings.Builder
	for _, st := range idClientSteps {
		for i, f := range st {
			if i > 0 {
				sb.WriteByte('\t')
			}
			sb.WriteString(r.Replace(f))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// recreateIDTable gives addr an empty table (through the proxy: with a new
// sequence).
func recreateIDTable(t *testing.T, addr, table string) {
	t.Helper()
	db := open(t, addr, "customer")
	for _, q := range []string{"DROP TABLE IF EXISTS " + table, fmt.Sprintf(idClientCreate, table)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s on %s: %v", q, addr, err)
		}
	}
}

// runIDClient runs a client program on one target with the steps on stdin.
func runIDClient(t *testing.T, stdin string, name string, args ...string) idClientRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v\n%s\n%s", name, args, err, out, tailString(stderr, 3000))
	}
	return parseIDRun(t, string(out))
}

// forIDTargets runs client on the proxy and the reference for each table,
// recreating the table first, and compares the runs.
func forIDTargets(t *testing.T, what string, client func(t *testing.T, addr, table, steps string) idClientRun) {
	t.Helper()
	p := start(t)
	ref := reference(t)
	for _, table := range idClientTables {
		t.Run(table, func(t *testing.T) {
			steps := idStepsFor(t, table)
			recreateIDTable(t, p.Addr, table)
			recreateIDTable(t, ref, table)
			compareIDRuns(t, what+" "+table, client(t, p.Addr, table, steps), client(t, ref, table, steps))
			if !strings.Contains(table, ".") {
				for i, s := range servers[1:3] {
					db, err := s.DB("customer")
					if err != nil {
						t.Fatal(err)
					}
					var n int
					err = db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n)
					db.Close()
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						t.Errorf("%s: no row of %s on shard %s", what, table, shardNames[i])
					}
				}
			}
		})
	}
}

// TestInsertIDConnectorJ: getGeneratedKeys() (one and several rows, text
// and server-side prepared statements) and LAST_INSERT_ID().
func TestInsertIDConnectorJ(t *testing.T) {
	testenvRequireJava(t)
	classes := t.TempDir()
	src, err := filepath.Abs("testdata/Ids.java")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("javac", "-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-encoding", "UTF-8", "-d", classes, "-cp", connectorJJar, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	for _, params := range []string{"useServerPrepStmts=true", "useServerPrepStmts=false"} {
		t.Run(params, func(t *testing.T) {
			forIDTargets(t, "Connector/J "+params, func(t *testing.T, addr, table, steps string) idClientRun {
				host, port := hostPort(t, addr)
				return runIDClient(t, steps, "java", "-Dfile.encoding=UTF-8", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
					"-cp", classes+string(os.PathListSeparator)+connectorJJar, "Ids", host, port, params, table)
			})
		})
	}
}

// TestInsertIDPyMySQL: cursor.lastrowid and LAST_INSERT_ID().
func TestInsertIDPyMySQL(t *testing.T) {
	if out, err := runQuiet(python, "-c", "import pymysql"); err != nil {
		t.Fatalf("PyMySQL is not installed (apt-get install python3-pymysql): %v\n%s", err, out)
	}
	script, err := filepath.Abs("testdata/ids.py")
	if err != nil {
		t.Fatal(err)
	}
	forIDTargets(t, "PyMySQL", func(t *testing.T, addr, table, steps string) idClientRun {
		host, port := hostPort(t, addr)
		return runIDClient(t, steps, python, script, host, port, table)
	})
}

var reCLIError = regexp.MustCompile(`ERROR (\d+) \(\w+\) at line (\d+)`)

// TestInsertIDCLI: SELECT LAST_INSERT_ID() in a mariadb CLI script (--force
// goes on after the failing step; prepared steps are sent as text).
func TestInsertIDCLI(t *testing.T) {
	forIDTargets(t, "mariadb CLI", func(t *testing.T, addr, table, steps string) idClientRun {
		// Three script lines per step: a marker, the statement,
		// LAST_INSERT_ID().
		var script strings.Builder
		for i, line := range strings.Split(strings.TrimSpace(steps), "\n") {
			f := strings.Split(line, "\t")
			q := f[1]
			for _, a := range f[2:] {
				if _, err := strconv.ParseInt(a, 10, 64); err != nil && a != "NULL" {
					a = "'" + a + "'"
				}
				q = strings.Replace(q, "?", a, 1)
			}
			fmt.Fprintf(&script, "SELECT 'step', %d;\n%s;\nSELECT 'obs', %d, 'lid', LAST_INSERT_ID();\n", i+1, q, i+1)
		}
		fmt.Fprintf(&script, "SELECT 'row', id, v FROM %s;\n", table)
		out := mariadbCLI(t, addr, script.String(), "-B", "-N", "--force", "customer")
		var lines []string
		step := 0
		for _, l := range strings.Split(strings.TrimRight(out.stdout, "\n"), "\n") {
			f := strings.Split(l, "\t")
			switch {
			case len(f) == 2 && f[0] == "step":
				step, _ = strconv.Atoi(f[1])
			case len(f) == 4 && f[0] == "obs":
				lines = append(lines, fmt.Sprintf("obs %s %s %s", f[1], f[2], f[3]))
			case len(f) == 3 && f[0] == "row":
				lines = append(lines, "row "+f[1]+" "+f[2])
			default:
				lines = append(lines, fmt.Sprintf("obs %d rows %s", step, strings.Join(f, ",")))
			}
		}
		for _, m := range reCLIError.FindAllStringSubmatch(out.stderr, -1) {
			n, _ := strconv.Atoi(m[2])
			lines = append(lines, fmt.Sprintf("obs %d err %s", (n+2)/3, m[1]))
		}
		return parseIDRun(t, strings.Join(lines, "\n"))
	})
}

func testenvRequireJava(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"java", "javac"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (apt-get install default-jdk-headless): %v", bin, err)
		}
	}
	if _, err := os.Stat(connectorJJar); err != nil {
		t.Fatalf("Connector/J is not installed (apt-get install libmariadb-java): %v", err)
	}
}
