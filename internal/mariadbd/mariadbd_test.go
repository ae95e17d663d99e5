package mariadbd_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
)

func requireMariaDB(t *testing.T) {
	t.Helper()
	if os.Getenv("SHARDGATE_SKIP_MARIADB") == "1" {
		t.Skip("SHARDGATE_SKIP_MARIADB=1: skipping a test that needs a real MariaDB server")
	}
	if _, err := mariadbd.FindBinaries(); err != nil {
		t.Fatal(err)
	}
}

func queryInts(t *testing.T, db *sql.DB, q string) []int {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestClusterKillRestart(t *testing.T) {
	requireMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t0 := time.Now()
	servers, err := mariadbd.StartCluster(ctx, dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster of 2 started in %v", time.Since(t0))
	t.Cleanup(func() { mariadbd.KillAll(servers) })

	a, b := servers[0], servers[1]
	if a.Port == b.Port {
		t.Fatalf("servers share port %d", a.Port)
	}
	if a.Addr() != "127.0.0.1:"+strconv.Itoa(a.Port) {
		t.Fatalf("Addr() = %q", a.Addr())
	}
	for i, s := range servers {
		if want := filepath.Join(dir, fmt.Sprintf("s%d", i)); s.Dir != want {
			t.Fatalf("Dir = %q, want %q", s.Dir, want)
		}
		if err := s.Exec(ctx, "CREATE DATABASE app",
			"CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB"); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("mysql", s.DSN("app"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// multiStatements=true is part of the DSN.
		if _, err := db.Exec(fmt.Sprintf("INSERT INTO t VALUES (%d, 'x'); INSERT INTO t VALUES (%d, 'y')", 10*i+1, 10*i+2)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO t VALUES (?, ?)", 10*i+3, "z"); err != nil {
			t.Fatal(err)
		}
	}
	dbA, _ := a.DB("app")
	defer dbA.Close()
	dbB, _ := b.DB("app")
	defer dbB.Close()
	if got := fmt.Sprint(queryInts(t, dbA, "SELECT id FROM t ORDER BY id")); got != "[1 2 3]" {
		t.Fatalf("server 0 rows = %s", got)
	}
	if got := fmt.Sprint(queryInts(t, dbB, "SELECT id FROM t ORDER BY id")); got != "[11 12 13]" {
		t.Fatalf("server 1 rows = %s", got)
	}
	// Independent: a table created on one server does not exist on the other.
	if err := a.Exec(ctx, "CREATE TABLE app.only_a (id INT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := dbB.Exec("SELECT * FROM only_a"); err == nil {
		t.Fatal("table only_a visible on server 1")
	}
	var cs string
	if err := dbA.QueryRow("SELECT @@character_set_server").Scan(&cs); err != nil || cs != "utf8mb4" {
		t.Fatalf("character_set_server = %q, %v", cs, err)
	}

	// kill -9 and Restart: same port, committed data survives crash recovery.
	port, oldPid := a.Port, a.Pid()
	dbA.Close()
	if err := a.Kill(); err != nil {
		t.Fatal(err)
	}
	if a.Running() {
		t.Fatal("Running after Kill")
	}
	if syscall.Kill(oldPid, 0) == nil {
		t.Fatalf("pid %d still alive after Kill", oldPid)
	}
	if err := a.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Port != port {
		t.Fatalf("Restart moved port %d -> %d", port, a.Port)
	}
	dbA, _ = a.DB("app")
	defer dbA.Close()
	if got := fmt.Sprint(queryInts(t, dbA, "SELECT id FROM t ORDER BY id")); got != "[1 2 3]" {
		t.Fatalf("after kill+restart: rows = %s", got)
	}

	// Graceful Stop, then a fresh Start on the same folder reuses the datadir.
	dbA.Close()
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(); err != nil { // no-op
		t.Fatal(err)
	}
	a2, err := mariadbd.Start(ctx, a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	servers[0] = a2
	if a2.Port == b.Port {
		t.Fatalf("new server reuses port %d of a running one", b.Port)
	}
	dbA2, _ := a2.DB("app")
	defer dbA2.Close()
	if got := fmt.Sprint(queryInts(t, dbA2, "SELECT id FROM t ORDER BY id")); got != "[1 2 3]" {
		t.Fatalf("after stop+start: rows = %s", got)
	}
	// A second server on a folder in use is refused.
	if s, err := mariadbd.Start(ctx, a.Dir); err == nil {
		s.Kill()
		t.Fatal("second Start on a running folder succeeded")
	}
}

// TestNoOrphans runs a child test process that starts a server and then panics; the server
// must die with it. The child uses a folder too long for a unix socket path.
func TestNoOrphans(t *testing.T) {
	if os.Getenv("LOCALDB_ORPHAN_HELPER") == "1" {
		dir := filepath.Join(os.Getenv("LOCALDB_ORPHAN_DIR"), strings.Repeat("long-folder-name-", 6))
		s, err := mariadbd.Start(context.Background(), dir)
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(3)
		}
		if err := s.Exec(context.Background(), "SELECT 1"); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(3)
		}
		fmt.Printf("PID %d SOCKET %s\n", s.Pid(), s.Socket)
		panic("boom: the test process dies without stopping its server")
	}
	requireMariaDB(t)
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoOrphans$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LOCALDB_ORPHAN_HELPER=1", "LOCALDB_ORPHAN_DIR="+t.TempDir())
	out, _ := cmd.CombinedOutput()
	var pid int
	var sock string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "PID %d SOCKET %s", &pid, &sock); err == nil {
			break
		}
	}
	if pid == 0 {
		t.Fatalf("helper did not start a server:\n%s", out)
	}
	if !strings.Contains(string(out), "boom") {
		t.Fatalf("helper did not panic:\n%s", out)
	}
	if len(sock) > 100 {
		t.Fatalf("socket path too long: %q", sock)
	}
	if d := filepath.Dir(sock); strings.HasPrefix(filepath.Base(d), "sgdb-") {
		os.RemoveAll(d) // the helper died without Stop, which would have removed it
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			break
		}
		// A zombie (not yet reaped by init) is dead too.
		if st, e := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); e == nil && strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("mariadbd pid %d survived its parent", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := mariadbd.FindBinaries()
	if _, statErr := os.Stat("/usr/sbin/mariadbd"); statErr == nil {
		if err != nil {
			t.Fatalf("FindBinaries with empty PATH: %v (should fall back to /usr/sbin)", err)
		}
		return
	}
	if !errors.Is(err, mariadbd.ErrNotInstalled) || !strings.Contains(err.Error(), `apt-get install mariadb-server`) {
		t.Fatalf("err = %v", err)
	}
}

func TestOptions(t *testing.T) {
	requireMariaDB(t)
	t.Parallel()
	ctx := context.Background()
	s, err := mariadbd.StartWithOptions(ctx, t.TempDir(), mariadbd.Options{
		Binlog: true,
		Args:   []string{"--max-connections=77"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	db, _ := s.DB("")
	defer db.Close()
	var logBin, format string
	var maxConn, serverID int
	if err := db.QueryRow("SELECT @@log_bin, @@binlog_format, @@max_connections, @@server_id").Scan(&logBin, &format, &maxConn, &serverID); err != nil {
		t.Fatal(err)
	}
	if logBin != "1" || format != "ROW" || maxConn != 77 || serverID == 0 {
		t.Fatalf("log_bin=%s binlog_format=%s max_connections=%d server_id=%d", logBin, format, maxConn, serverID)
	}
}

func TestStartErrorShowsLog(t *testing.T) {
	requireMariaDB(t)
	t.Parallel()
	_, err := mariadbd.StartWithOptions(context.Background(), t.TempDir(), mariadbd.Options{Args: []string{"--no-such-option=1"}})
	if err == nil || !strings.Contains(err.Error(), "no-such-option") || !strings.Contains(err.Error(), "error.log") {
		t.Fatalf("err = %v", err)
	}
}
