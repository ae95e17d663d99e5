package txn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Tests of the coordinator and the resolver against real mariadbd: three
// servers, the global keyspace on the first, shards a and b on the others.
// (internal/testenv imports the router, which imports txn: use mariadbd.)

var servers []*mariadbd.Server

func TestMain(m *testing.M) {
	if os.Getenv("SHARDGATE_SKIP_MARIADB") == "1" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "shardgate-txn-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	servers, err = mariadbd.StartCluster(ctx, dir, 3)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n(set SHARDGATE_SKIP_MARIADB=1 to skip tests that need MariaDB)\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	mariadbd.KillAll(servers)
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one deployment: a global pool, two shard pools, a coordinator.
type env struct {
	t        *testing.T
	global   *backend.Pool
	a, b     *backend.Pool
	c        *Coordinator
	res      *Resolver
	gdb, adb *sql.DB
	bdb      *sql.DB
}

// newEnv uses databases named after the test, so tests do not see each
// other's decision tables (XA RECOVER is per server: tests run one at a time
// and each leaves no branch behind).
func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	if servers == nil {
		t.Skip("SHARDGATE_SKIP_MARIADB=1")
	}
	db := "t_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if len(db) > 60 {
		db = db[:60]
	}
	ctx := context.Background()
	for i, s := range servers {
		if err := s.Exec(ctx, "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if err := s.Exec(ctx, "CREATE TABLE "+db+".acct (id INT PRIMARY KEY, bal INT NOT NULL)", "INSERT INTO "+db+".acct VALUES (1, 100), (2, 100)"); err != nil {
				t.Fatal(err)
			}
		}
	}
	pool := func(ks string, s *mariadbd.Server, name string) *backend.Pool {
		p := backend.NewPool(ks, &topo.Shard{Name: name, Host: "127.0.0.1", Port: s.Port, User: "root", Database: db}, config.PoolConfig{Size: 16})
		t.Cleanup(p.Close)
		return p
	}
	e := &env{t: t, global: pool("commerce", servers[0], "0"), a: pool("customer", servers[1], "-80"), b: pool("customer", servers[2], "80-")}
	e.c = NewCoordinator(e.global, db)
	e.res = NewResolver(e.c, func() []*backend.Pool { return []*backend.Pool{e.global, e.a, e.b} }, cfg, nil)
	var err error
	for i, h := range []**sql.DB{&e.gdb, &e.adb, &e.bdb} {
		if *h, err = servers[i].DB(db); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*h).Close() })
	}
	t.Cleanup(func() {
		testHookBeforeDecision, testHookBeforeAbort = nil, nil
		for _, s := range servers {
			if left := recoverRows(t, s); len(left) > 0 {
				t.Errorf("branches left in XA RECOVER on %s: %v", s.Addr(), left)
				_ = s.Exec(context.Background(), rollbackAllSQL(left)...)
			}
		}
	})
	return e
}

func recoverRows(t *testing.T, s *mariadbd.Server) []string {
	db, err := s.DB("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("XA RECOVER")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var f, gl, bl int
		var data string
		if err := rows.Scan(&f, &gl, &bl, &data); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("'%s','%s',%d", data[:gl], data[gl:gl+bl], f))
	}
	return out
}

func rollbackAllSQL(xids []string) []string {
	var out []string
	for _, x := range xids {
		out = append(out, "XA ROLLBACK "+x)
	}
	return out
}

func (e *env) balances() (a1, a2, b1, b2 int) {
	e.t.Helper()
	for _, q := range []struct {
		db   *sql.DB
		id   int
		dest *int
	}{{e.adb, 1, &a1}, {e.adb, 2, &a2}, {e.bdb, 1, &b1}, {e.bdb, 2, &b2}} {
		if err := q.db.QueryRow("SELECT bal FROM acct WHERE id = ?", q.id).Scan(q.dest); err != nil {
			e.t.Fatal(err)
		}
	}
	return
}

func (e *env) decisions() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	rows, err := e.gdb.Query("SELECT dtid, decision FROM " + DecisionTable)
	if err != nil {
		if strings.Contains(err.Error(), "1146") {
			return out
		}
		e.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var d, v string
		if err := rows.Scan(&d, &v); err != nil {
			e.t.Fatal(err)
		}
		out[d] = v
	}
	return out
}

// transfer moves n from a.1 to b.1 in a twopc transaction, not committed.
func (e *env) transfer(ctx context.Context, tx *Tx, n int) {
	e.t.Helper()
	tx.Begin("START TRANSACTION")
	for _, step := range []struct {
		p   *backend.Pool
		sql string
	}{{e.a, fmt.Sprintf("UPDATE acct SET bal = bal - %d WHERE id = 1", n)}, {e.b, fmt.Sprintf("UPDATE acct SET bal = bal + %d WHERE id = 1", n)}} {
		c, err := tx.Conn(ctx, step.p, false, false)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := c.Exec(ctx, step.sql); err != nil {
			e.t.Fatal(err)
		}
	}
}

// prepareDetached leaves a prepared branch of dtid on pool p's server, with
// its connection closed (as after a proxy crash).
func (e *env) prepareDetached(p *backend.Pool, dtid, sql string) {
	e.t.Helper()
	ctx := context.Background()
	c, err := p.Get(ctx, false)
	if err != nil {
		e.t.Fatal(err)
	}
	x := xid{gtrid: dtid, bqual: bqualOf(p.Name())}.String()
	if _, err := c.Exec(ctx, "XA START "+x+"; "+sql+"; XA END "+x+"; XA PREPARE "+x); err != nil {
		e.t.Fatal(err)
	}
	id := c.ThreadID
	c.MarkBroken()
	c.Release()
	// Wait until the server noticed the disconnect (the branch is detached).
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		probe, err := p.Get(ctx, false)
		if err != nil {
			e.t.Fatal(err)
		}
		rows, err := probe.QueryStrings(ctx, fmt.Sprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %d", id))
		probe.Release()
		if err != nil {
			e.t.Fatal(err)
		}
		if rows[0][0] == "0" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("the server did not notice the disconnect")
}

func TestTwoPhaseCommit(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	tx := &Tx{Mode: TwoPC, Coordinator: e.c}
	e.transfer(ctx, tx, 10)
	dtid := tx.DTID()
	if !strings.HasPrefix(dtid, "sg1-"+e.c.tag+"-") {
		t.Fatalf("dtid %q", dtid)
	}
	before := e.c.Stats()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if w := tx.Warning(); w != "" {
		t.Errorf("warning %q", w)
	}
	if a1, _, b1, _ := e.balances(); a1 != 90 || b1 != 110 {
		t.Errorf("balances a1=%d b1=%d, want 90 110", a1, b1)
	}
	if got := e.c.Stats().TwoPhaseCommits - before.TwoPhaseCommits; got != 1 {
		t.Errorf("TwoPhaseCommits +%d", got)
	}
	// The decision row is deleted in the background.
	waitFor(t, "decision deleted", func() bool { _, ok := e.decisions()[dtid]; return !ok })

	// One shard: one phase, no decision.
	tx.Begin("START TRANSACTION")
	c, err := tx.Conn(ctx, e.a, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "UPDATE acct SET bal = bal + 1 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, a2, _, _ := e.balances(); a2 != 101 {
		t.Errorf("a2=%d after a one-phase commit", a2)
	}
	if got := e.c.Stats().OnePhaseCommits - before.OnePhaseCommits; got != 1 {
		t.Errorf("OnePhaseCommits +%d", got)
	}

	// ROLLBACK on two shards.
	e.transfer(ctx, tx, 5)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if a1, _, b1, _ := e.balances(); a1 != 90 || b1 != 110 {
		t.Errorf("after rollback a1=%d b1=%d", a1, b1)
	}

	// A disconnect in the middle (Close) rolls back too.
	e.transfer(ctx, tx, 5)
	tx.Close(ctx)
	if a1, _, b1, _ := e.balances(); a1 != 90 || b1 != 110 {
		t.Errorf("after close a1=%d b1=%d", a1, b1)
	}

	// READ ONLY: plain branches, plain commit.
	tx.Begin("START TRANSACTION READ ONLY")
	for _, p := range []*backend.Pool{e.a, e.b} {
		c, err := tx.Conn(ctx, p, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "SELECT * FROM acct"); err != nil {
			t.Fatal(err)
		}
	}
	if tx.DTID() != "" {
		t.Errorf("read-only transaction got a dtid")
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPrepareFailure: a branch whose connection dies before COMMIT fails the
// commit and every branch is rolled back.
func TestPrepareFailure(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	tx := &Tx{Mode: TwoPC, Coordinator: e.c}
	e.transfer(ctx, tx, 10)
	// Kill the b branch's session from the server side.
	c, err := tx.Conn(ctx, e.b, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.bdb.Exec(fmt.Sprintf("KILL %d", c.ThreadID)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	err = tx.Commit(ctx)
	if err == nil || !strings.Contains(err.Error(), "rolled back on every shard") {
		t.Fatalf("commit: %v", err)
	}
	t.Logf("commit error: %v", err)
	if a1, _, b1, _ := e.balances(); a1 != 100 || b1 != 100 {
		t.Errorf("a1=%d b1=%d, want 100 100", a1, b1)
	}
	// A deadlock-style failure: XA END on a rollback-only branch.
	tx2 := &Tx{Mode: TwoPC, Coordinator: e.c}
	e.transfer(ctx, tx2, 10)
	c2, _ := tx2.Conn(ctx, e.b, false, false)
	if _, err := c2.Exec(ctx, "SELECT * FROM no_such_table"); err == nil {
		t.Fatal("expected an error")
	}
	if err := tx2.Commit(ctx); err != nil {
		t.Fatalf("a failed statement does not doom the transaction: %v", err)
	}
	if a1, _, b1, _ := e.balances(); a1 != 90 || b1 != 110 {
		t.Errorf("a1=%d b1=%d, want 90 110", a1, b1)
	}
}

// TestResolverCommit: branches prepared with a commit decision and no
// coordinator (it crashed) are committed, then the decision is deleted.
func TestResolverCommit(t *testing.T) {
	e := newEnv(t, Config{ResolveInterval: 50 * time.Millisecond, AbortTimeout: time.Hour})
	ctx := context.Background()
	dtid := e.c.newDTID()
	e.prepareDetached(e.a, dtid, "UPDATE acct SET bal = bal - 7 WHERE id = 1")
	e.prepareDetached(e.b, dtid, "UPDATE acct SET bal = bal + 7 WHERE id = 1")
	if d, won, err := e.c.decide(ctx, dtid, DecisionCommit, []string{bqualOf(e.a.Name()), bqualOf(e.b.Name())}); err != nil || !won || d != DecisionCommit {
		t.Fatalf("decide: %s %v %v", d, won, err)
	}
	list, err := e.c.InDoubt(ctx, []*backend.Pool{e.global, e.a, e.b})
	if err != nil || len(list) != 1 || list[0].Decision != DecisionCommit || len(list[0].Branches) != 2 {
		t.Fatalf("InDoubt: %+v %v", list, err)
	}
	t.Logf("in doubt: %+v", list[0])
	time.Sleep(60 * time.Millisecond) // the commit grace (one interval)
	before := e.c.Stats()
	if err := e.res.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if a1, _, b1, _ := e.balances(); a1 != 93 || b1 != 107 {
		t.Errorf("a1=%d b1=%d, want 93 107", a1, b1)
	}
	if got := e.c.Stats().ResolvedCommits - before.ResolvedCommits; got != 2 {
		t.Errorf("ResolvedCommits +%d", got)
	}
	if err := e.res.ResolveOnce(ctx); err != nil { // cleans the decision
		t.Fatal(err)
	}
	if d := e.decisions(); len(d) != 0 {
		t.Errorf("decisions left: %v", d)
	}
}

// TestResolverAbort: branches prepared without a decision are aborted after
// the timeout (not before), with an abort decision kept for late
// coordinators; a read-only branch (MariaDB answers XA_RBROLLBACK) counts as
// done; branches of another deployment are left alone.
func TestResolverAbort(t *testing.T) {
	cfg := Config{ResolveInterval: 50 * time.Millisecond, AbortTimeout: 400 * time.Millisecond}
	e := newEnv(t, cfg)
	ctx := context.Background()
	dtid := e.c.newDTID()
	e.prepareDetached(e.a, dtid, "UPDATE acct SET bal = bal - 7 WHERE id = 1")
	e.prepareDetached(e.b, dtid, "SELECT * FROM acct") // read-only branch
	foreign := formatDTID("00000000", newInstanceID(), 1)
	e.prepareDetached(e.b, foreign, "UPDATE acct SET bal = bal + 1 WHERE id = 2")
	defer e.bdb.Exec("XA ROLLBACK " + xid{gtrid: foreign, bqual: bqualOf(e.b.Name())}.String())

	if err := e.res.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if d := e.decisions(); len(d) != 0 {
		t.Fatalf("aborted before the timeout: %v", d)
	}
	time.Sleep(cfg.AbortTimeout)
	before := e.c.Stats()
	var mu sync.Mutex
	actions := map[string]int{}
	e.c.SetObserver(func(a string) { mu.Lock(); actions[a]++; mu.Unlock() })
	defer e.c.SetObserver(nil)
	if err := e.res.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if actions[ActionAbort] != 1 || actions[ActionRollback] != 2 || len(actions) != 2 {
		t.Errorf("observed actions %v, want abort 1, rollback 2", actions)
	}
	mu.Unlock()
	if d := e.decisions(); d[dtid] != DecisionAbort || len(d) != 1 {
		t.Errorf("decisions %v, want %s: abort", d, dtid)
	}
	s := e.c.Stats()
	if s.AbortDecisions-before.AbortDecisions != 1 || s.ResolvedAborts-before.ResolvedAborts != 2 {
		t.Errorf("stats %+v", s)
	}
	if a1, _, _, _ := e.balances(); a1 != 100 {
		t.Errorf("a1=%d, want 100 (rolled back)", a1)
	}
	left := recoverRows(t, servers[2])
	if len(left) != 1 || !strings.Contains(left[0], foreign) {
		t.Errorf("XA RECOVER on b: %v, want only the foreign branch", left)
	}
	// The abort decision stays (AbortRetention), so a late coordinator
	// cannot commit.
	if d, _, err := e.c.decide(ctx, dtid, DecisionCommit, nil); err != nil || d != DecisionAbort {
		t.Errorf("late commit decision: %s %v", d, err)
	}
	if err := e.res.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if d := e.decisions(); d[dtid] != DecisionAbort {
		t.Errorf("abort decision deleted before its retention: %v", d)
	}
}

// TestLateCoordinator: the coordinator stalls between PREPARE and its
// decision while a resolver times the transaction out. The resolver's abort
// wins; the branches (still attached to the coordinator's sessions, so the
// resolver cannot roll them back itself) are rolled back by the coordinator
// when it finds the abort, and the client gets XA_RBTIMEOUT.
func TestLateCoordinator(t *testing.T) {
	cfg := Config{ResolveInterval: 50 * time.Millisecond, AbortTimeout: 600 * time.Millisecond}
	e := newEnv(t, cfg)
	ctx := context.Background()
	tx := &Tx{Mode: TwoPC, Coordinator: e.c}
	e.transfer(ctx, tx, 10)
	testHookBeforeDecision = func(dtid string) {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if err := e.res.ResolveOnce(ctx); err != nil {
				t.Error(err)
			}
			if e.decisions()[dtid] == DecisionAbort {
				return
			}
			time.Sleep(cfg.ResolveInterval)
		}
		t.Error("the resolver did not abort")
	}
	before := e.c.Stats()
	err := tx.Commit(ctx)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != mysql.ER_XA_RBTIMEOUT {
		t.Fatalf("commit: %v, want XA_RBTIMEOUT", err)
	}
	t.Logf("commit error: %v", err)
	if got := e.c.Stats().LostToResolver - before.LostToResolver; got != 1 {
		t.Errorf("LostToResolver +%d", got)
	}
	if a1, _, b1, _ := e.balances(); a1 != 100 || b1 != 100 {
		t.Errorf("a1=%d b1=%d, want 100 100", a1, b1)
	}
}

// TestResolverLosesToCoordinator: the resolver times a transaction out, but
// the coordinator records commit just before the resolver's abort: the
// resolver finds commit and commits.
func TestResolverLosesToCoordinator(t *testing.T) {
	cfg := Config{ResolveInterval: 50 * time.Millisecond, AbortTimeout: 200 * time.Millisecond}
	e := newEnv(t, cfg)
	ctx := context.Background()
	dtid := e.c.newDTID()
	e.prepareDetached(e.a, dtid, "UPDATE acct SET bal = bal - 3 WHERE id = 1")
	e.prepareDetached(e.b, dtid, "UPDATE acct SET bal = bal + 3 WHERE id = 1")
	if err := e.res.ResolveOnce(ctx); err != nil { // first seen
		t.Fatal(err)
	}
	time.Sleep(cfg.AbortTimeout)
	testHookBeforeAbort = func(id string) {
		testHookBeforeAbort = nil
		if d, won, err := e.c.decide(ctx, id, DecisionCommit, nil); err != nil || !won || d != DecisionCommit {
			t.Errorf("coordinator's decide: %s %v %v", d, won, err)
		}
	}
	before := e.c.Stats()
	if err := e.res.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	s := e.c.Stats()
	if s.AbortDecisions != before.AbortDecisions || s.ResolvedCommits-before.ResolvedCommits != 2 {
		t.Errorf("stats before %+v after %+v", before, s)
	}
	if a1, _, b1, _ := e.balances(); a1 != 97 || b1 != 103 {
		t.Errorf("a1=%d b1=%d, want 97 103", a1, b1)
	}
	if err := e.res.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if d := e.decisions(); len(d) != 0 {
		t.Errorf("decisions left: %v", d)
	}
}

// TestShardsOnOneServer: two shards that are databases of one server get
// distinct branches (bqual), and XA RECOVER is read once per server.
func TestShardsOnOneServer(t *testing.T) {
	e := newEnv(t, Config{ResolveInterval: 50 * time.Millisecond, AbortTimeout: time.Hour})
	ctx := context.Background()
	db2 := "t_one_server_2"
	if err := servers[1].Exec(ctx, "DROP DATABASE IF EXISTS "+db2, "CREATE DATABASE "+db2,
		"CREATE TABLE "+db2+".acct (id INT PRIMARY KEY, bal INT NOT NULL)", "INSERT INTO "+db2+".acct VALUES (1, 100)"); err != nil {
		t.Fatal(err)
	}
	other := backend.NewPool("customer", &topo.Shard{Name: "80-", Host: "127.0.0.1", Port: servers[1].Port, User: "root", Database: db2}, config.PoolConfig{Size: 4})
	defer other.Close()
	tx := &Tx{Mode: TwoPC, Coordinator: e.c}
	tx.Begin("START TRANSACTION")
	for _, p := range []*backend.Pool{e.a, other} {
		c, err := tx.Conn(ctx, p, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "UPDATE acct SET bal = bal + 1 WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.adb.QueryRow("SELECT bal FROM acct WHERE id = 1").Scan(&n); err != nil || n != 101 {
		t.Errorf("bal %d %v", n, err)
	}
	if err := e.adb.QueryRow("SELECT bal FROM " + db2 + ".acct WHERE id = 1").Scan(&n); err != nil || n != 101 {
		t.Errorf("bal %d %v", n, err)
	}
}

func TestXIDHelpers(t *testing.T) {
	if got := bqualOf("customer/-80"); got != "customer/-80" {
		t.Errorf("bqual %q", got)
	}
	long := strings.Repeat("k", 80) + "/'x"
	if got := bqualOf(long); len(got) != 64 || strings.ContainsAny(got, "'\\") {
		t.Errorf("bqual of a long name: %q", got)
	}
	d := formatDTID("0badcafe", newInstanceID(), 1<<62)
	if len(d) > 64 {
		t.Errorf("dtid too long: %q", d)
	}
	x, ok := parseRecoverRow([]string{fmt.Sprint(FormatID), fmt.Sprint(len(d)), "3", d + "a/b"}, "0badcafe")
	if !ok || x.gtrid != d || x.bqual != "a/b" {
		t.Errorf("parse: %+v %v", x, ok)
	}
	if _, ok := parseRecoverRow([]string{fmt.Sprint(FormatID), fmt.Sprint(len(d)), "3", d + "a/b"}, "12345678"); ok {
		t.Error("another deployment's branch accepted")
	}
	if _, ok := parseRecoverRow([]string{"1", "2", "2", "g1b1"}, "0badcafe"); ok {
		t.Error("a foreign formatID accepted")
	}
	for begin, want := range map[string]string{
		"START TRANSACTION":                                                 "XA START 'g','b',1936142640",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT":                        "XA START 'g','b',1936142640",
		"SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION": "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; XA START 'g','b',1936142640",
	} {
		if got := xaBegin(begin, xid{"g", "b"}); got != want {
			t.Errorf("xaBegin(%q) = %q, want %q", begin, got, want)
		}
	}
	if m, err := ParseMode("TwoPC"); err != nil || m != TwoPC {
		t.Errorf("ParseMode: %v %v", m, err)
	}
	if _, err := ParseMode("2pc"); err == nil || wire.AsError(err).Code != mysql.ER_WRONG_VALUE_FOR_VAR {
		t.Errorf("ParseMode(2pc): %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCommitWarning: a branch's connection dies after the commit decision:
// the commit succeeds with a warning, and the resolver commits the branch.
func TestCommitWarning(t *testing.T) {
	cfg := Config{ResolveInterval: 50 * time.Millisecond, AbortTimeout: time.Hour}
	e := newEnv(t, cfg)
	ctx := context.Background()
	tx := &Tx{Mode: TwoPC, Coordinator: e.c}
	e.transfer(ctx, tx, 10)
	cb, err := tx.Conn(ctx, e.b, false, false)
	if err != nil {
		t.Fatal(err)
	}
	testHookBeforeDecision = func(string) {
		if _, err := e.bdb.Exec(fmt.Sprintf("KILL %d", cb.ThreadID)); err != nil {
			t.Error(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := e.c.Stats()
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	w := tx.Warning()
	if !strings.Contains(w, "is committed, but 1 of 2 shards did not confirm") {
		t.Fatalf("warning %q", w)
	}
	t.Logf("warning: %s", w)
	if got := e.c.Stats().IncompleteCommits - before.IncompleteCommits; got != 1 {
		t.Errorf("IncompleteCommits +%d", got)
	}
	if a1, _, b1, _ := e.balances(); a1 != 90 || b1 != 100 {
		t.Errorf("before the resolver: a1=%d b1=%d, want 90 100", a1, b1)
	}
	time.Sleep(cfg.ResolveInterval)
	if err := e.res.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if a1, _, b1, _ := e.balances(); a1 != 90 || b1 != 110 {
		t.Errorf("after the resolver: a1=%d b1=%d, want 90 110", a1, b1)
	}
	if err := e.res.ResolveOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if d := e.decisions(); len(d) != 0 {
		t.Errorf("decisions left: %v", d)
	}
}

// A branch's BEGIN queued behind a read (one round trip) opens the
// transaction before the read runs; a BEGIN that fails fails the read and
// breaks the connection.
func TestQueuedBegin(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	for _, mode := range []Mode{Multi, TwoPC} {
		tx := &Tx{Mode: mode, Coordinator: e.c}
		tx.Begin("START TRANSACTION")
		c, err := tx.Conn(ctx, e.a, false, true)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := c.QueryStrings(ctx, "SELECT @@in_transaction, bal FROM acct WHERE id = 1")
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if len(rows) != 1 || rows[0][0] != "1" || rows[0][1] != "100" {
			t.Errorf("%s: got %v, want [[1 100]] (in a transaction)", mode, rows)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
	}

	tx := &Tx{Mode: Multi}
	tx.Begin("START TRANSACTION NOT A STATEMENT")
	c, err := tx.Conn(ctx, e.a, false, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.QueryStrings(ctx, "SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "on shard customer/-80") || wire.AsError(err).Code != 1064 {
		t.Errorf("read after a failed BEGIN: err %v, want 1064 naming shard customer/-80", err)
	}
	if !c.Broken() {
		t.Error("connection not broken after a failed queued BEGIN")
	}
	_ = tx.Rollback(ctx)
}

// A transaction that only read, and any ROLLBACK, end all shards in one
// round trip (finishAll); the branches end and their connections are reused.
func TestFinishAll(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	tx := &Tx{Mode: Multi}

	e.transfer(ctx, tx, 7)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if a1, _, b1, _ := e.balances(); a1 != 100 || b1 != 100 {
		t.Errorf("after a rollback on two shards a1=%d b1=%d, want 100 100", a1, b1)
	}

	tx.Begin("START TRANSACTION")
	for _, p := range []*backend.Pool{e.a, e.b} {
		c, err := tx.Conn(ctx, p, false, true)
		if err != nil {
			t.Fatal(err)
		}
		if rows, err := c.QueryStrings(ctx, "SELECT @@in_transaction, bal FROM acct WHERE id = 1"); err != nil || len(rows) != 1 || rows[0][0] != "1" {
			t.Fatalf("read in the transaction: %v %v", rows, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*backend.Pool{e.a, e.b} {
		c, err := p.Get(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := c.QueryStrings(ctx, "SELECT @@in_transaction")
		c.Release()
		if err != nil || len(rows) != 1 || rows[0][0] != "0" {
			t.Errorf("pooled connection of %s after the commit: %v %v, want not in a transaction", p.Name(), rows, err)
		}
	}
	if tx.Active() {
		t.Error("transaction still active after COMMIT")
	}
}

// TestBranchesForDeadlockDetector: Branches lists an open transaction's
// shard connections (server, thread id) to other goroutines, and shows
// nothing once COMMIT has begun: a twopc transaction that is preparing or
// past PREPARE is never picked as a deadlock victim (Current is false).
func TestBranchesForDeadlockDetector(t *testing.T) {
	e := newEnv(t, Config{ResolveInterval: time.Hour, AbortTimeout: time.Hour})
	ctx := context.Background()
	tx := &Tx{Mode: TwoPC, Coordinator: e.c}
	if _, _, ok := tx.Branches(nil); ok {
		t.Fatal("Branches outside a transaction: ok")
	}
	e.transfer(ctx, tx, 10)
	id, bs, ok := tx.Branches(nil)
	if !ok || id != tx.ID() || len(bs) != 2 || !tx.Current(id) {
		t.Fatalf("open transaction: id %d %v ok %v current %v", id, bs, ok, tx.Current(id))
	}
	for i, p := range []*backend.Pool{e.a, e.b} {
		var tid uint32
		db := []*sql.DB{e.adb, e.bdb}[i]
		if err := db.QueryRow("SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?", bs[i].ThreadID).Scan(&tid); err != nil {
			t.Errorf("branch %+v: no InnoDB transaction of that thread on its server: %v", bs[i], err)
		}
		if bs[i].Shard != p.Name() || bs[i].Server != p.Addr() {
			t.Errorf("branch %d: %+v, want shard %s on %s", i, bs[i], p.Name(), p.Addr())
		}
	}
	prepared := false
	testHookBeforeDecision = func(string) { // prepared on both shards, no decision yet
		prepared = true
		if _, _, ok := tx.Branches(nil); ok || tx.Current(id) {
			t.Error("a prepared transaction still shows its branches: it could be chosen as a deadlock victim")
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if !prepared || tx.Current(id) {
		t.Errorf("the commit hook ran: %v; Current after COMMIT: %v", prepared, tx.Current(id))
	}
	tx.Begin("START TRANSACTION")
	if id2, _, ok := tx.Branches(nil); !ok || id2 != id+1 || tx.Current(id) {
		t.Errorf("next transaction: id %d ok %v (previous %d current %v)", id2, ok, id, tx.Current(id))
	}
	_ = tx.Rollback(ctx)
}
