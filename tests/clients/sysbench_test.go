package clients

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sysbench workloads run through the proxy, each with prepared statements
// (--db-ps-mode=auto) and without (disable).
var sysbenchTests = []string{
	"oltp_read_only", "oltp_read_write", "oltp_write_only", "oltp_update_index",
	"oltp_update_non_index", "oltp_delete", "oltp_insert", "select_random_ranges",
}

const (
	sbTables    = 2
	sbTableSize = 2000
)

// runSysbench runs sysbench against addr and returns its output and exit
// error (nil when it exited with 0).
func runSysbench(t *testing.T, addr string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	host, port := hostPort(t, addr)
	full := append([]string{args[0], "--db-driver=mysql", "--mysql-host=" + host, "--mysql-port=" + port,
		"--mysql-user=app", "--mysql-password=secret", "--mysql-db=customer",
		"--tables=" + strconv.Itoa(sbTables), "--table-size=" + strconv.Itoa(sbTableSize)}, args[1:]...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "sysbench", full...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("did not finish within %v (killed): %w", timeout, err)
	}
	return out.String(), err
}

var (
	reSBTx      = regexp.MustCompile(`transactions:\s+(\d+)`)
	reSBQueries = regexp.MustCompile(`queries:\s+(\d+)`)
	reSBIgnored = regexp.MustCompile(`ignored errors:\s+(\d+)`)
	reSBReconn  = regexp.MustCompile(`reconnects:\s+(\d+)`)
	reSBFatal   = regexp.MustCompile(`(?m)^.*(FATAL|error \d+|Error \d+).*$`)
)

func sbCount(out string, re *regexp.Regexp) (int, bool) {
	m := re.FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	return n, true
}

// TestSysbench prepares sysbench's tables through the proxy (AUTO_INCREMENT
// ids from sequences, multi-row INSERTs, CREATE INDEX) and runs every
// workload of sysbenchTests for 5 s with 4 threads in both --db-ps-mode
// settings with --mysql-ignore-errors=none: each must exit with 0 and report
// 0 ignored errors and 0 reconnects.
//
// The runs use --rand-type=uniform: with sysbench's default (special, a hot
// spot of 1% of the rows) plain MariaDB itself fails oltp_read_write and
// oltp_write_only with deadlocks (1213) within a second on 2×2000 rows and 4
// threads, which --mysql-ignore-errors=none turns into a FATAL error.
// SHARDGATE_SYSBENCH_REFERENCE=1 runs the same workloads against the plain
// MariaDB server instead of the proxy, to check that.
func TestSysbench(t *testing.T) {
	p := start(t)
	if _, err := exec.LookPath("sysbench"); err != nil {
		t.Fatalf("sysbench is not installed (apt-get install sysbench): %v", err)
	}
	addr := p.Addr
	if os.Getenv("SHARDGATE_SYSBENCH_REFERENCE") == "1" {
		// The same runs against the plain MariaDB server, to tell the
		// proxy's failures from sysbench's own.
		addr = reference(t)
		if err := servers[3].Exec(context.Background(), "DROP TABLE IF EXISTS customer.sbtest1", "DROP TABLE IF EXISTS customer.sbtest2"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for i := 1; i <= sbTables; i++ {
		for _, s := range servers[1:3] {
			if err := s.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS customer.sbtest%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := servers[0].Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS commerce.sbtest%d_seq", i)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runSysbench(t, addr, 2*time.Minute, "oltp_read_write", "prepare")
	if err != nil {
		t.Fatalf("sysbench oltp_read_write prepare through the proxy: %v\n%s", err, tailString(out, 4000))
	}
	db := open(t, addr, "customer")
	for i := 1; i <= sbTables; i++ {
		eq(t, fmt.Sprintf("rows of sbtest%d after prepare", i), one(t, db, fmt.Sprintf("SELECT COUNT(*) FROM sbtest%d", i)), strconv.Itoa(sbTableSize))
	}

	summary := map[string]string{}
	for _, test := range sysbenchTests {
		for _, mode := range []string{"auto", "disable"} {
			name := test + "/ps-mode=" + mode
			t.Run(name, func(t *testing.T) {
				out, err := runSysbench(t, addr, 45*time.Second, test, "--time=5", "--threads=4", "--mysql-ignore-errors=none",
					"--report-interval=0", "--db-ps-mode="+mode, "--rand-type=uniform", "--rand-seed=1", "run")
				var ee *exec.ExitError
				if err != nil {
					first := ""
					if m := reSBFatal.FindAllString(out, 3); m != nil {
						first = strings.Join(m, " | ")
					}
					code := -1
					if errors.As(err, &ee) {
						code = ee.ExitCode()
					}
					t.Errorf("sysbench %s --db-ps-mode=%s: exit code %d (%v); first errors: %s\n%s", test, mode, code, err, first, tailString(out, 3000))
					summary[name] = "FAIL: " + first
					return
				}
				tx, ok1 := sbCount(out, reSBTx)
				q, ok2 := sbCount(out, reSBQueries)
				ignored, ok3 := sbCount(out, reSBIgnored)
				reconn, ok4 := sbCount(out, reSBReconn)
				if !ok1 || !ok2 || !ok3 || !ok4 {
					t.Fatalf("sysbench %s: report without transactions/queries/ignored errors/reconnects:\n%s", test, out)
				}
				if ignored != 0 || reconn != 0 {
					t.Errorf("sysbench %s --db-ps-mode=%s: %d ignored errors, %d reconnects, want 0\n%s", test, mode, ignored, reconn, tailString(out, 3000))
				}
				if tx == 0 || q == 0 {
					t.Errorf("sysbench %s --db-ps-mode=%s: %d transactions, %d queries: nothing ran\n%s", test, mode, tx, q, tailString(out, 3000))
				}
				summary[name] = fmt.Sprintf("%d transactions, %d queries, %d ignored errors", tx, q, ignored)
				t.Logf("sysbench %s --db-ps-mode=%s: %s", test, mode, summary[name])
			})
		}
	}

	// The tables are still consistent: the proxy's count is the shards' sum.
	for i := 1; i <= sbTables; i++ {
		total := int64(0)
		shards := servers[1:3]
		if addr != p.Addr {
			shards = servers[3:4]
		}
		for _, s := range shards {
			h, err := s.DB("customer")
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := h.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM sbtest%d", i)).Scan(&n); err != nil {
				t.Error(err)
			}
			h.Close()
			total += n
		}
		eq(t, fmt.Sprintf("COUNT(*) of sbtest%d through the proxy vs the shards' sum", i), one(t, db, fmt.Sprintf("SELECT COUNT(*) FROM sbtest%d", i)), strconv.FormatInt(total, 10))
	}
}
