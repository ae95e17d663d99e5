package clients

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/internal/rawclient"
	"github.com/shardgate/shardgate/internal/testenv"
)

const (
	collUTF8MB4 = 45 // utf8mb4_general_ci
	collLatin1  = 8  // latin1_swedish_ci
)

var readerOnce struct {
	sync.Once
	err error
}

// referenceReader gives the reference server the proxy's read-only account
// reader/reader.
func referenceReader(t testing.TB) {
	t.Helper()
	reference(t)
	readerOnce.Do(func() {
		readerOnce.err = servers[3].Exec(context.Background(),
			"CREATE USER IF NOT EXISTS 'reader'@'%' IDENTIFIED BY 'reader'",
			"GRANT SELECT ON *.* TO 'reader'@'%'")
	})
	if readerOnce.err != nil {
		t.Fatal(readerOnce.err)
	}
}

// TestProtocol checks session and protocol features against the proxy and
// the plain reference server: COM_STATISTICS, COM_RESET_CONNECTION,
// COM_CHANGE_USER, KILL [QUERY] and COM_PROCESS_KILL, SHOW PROCESSLIST,
// SHOW VARIABLES/STATUS/COLLATION/CHARACTER SET/FULL COLUMNS/INDEX/TABLE
// STATUS, information_schema, SET NAMES and the handshake's collation.
func TestProtocol(t *testing.T) {
	p := start(t)
	referenceReader(t)
	idA, idB := idOnShard(t, 0, 5000), idOnShard(t, 1, 5000)
	for _, tg := range targets(t, p) {
		t.Run(tg.name, func(t *testing.T) {
			pr := protocol{tg: tg, idA: idA, idB: idB}
			db := open(t, tg.addr, "customer")
			mustExec(t, db, "DROP TABLE IF EXISTS ps_t", "DROP TABLE IF EXISTS ps_t2",
				"CREATE TABLE ps_t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) COMMENT 'the value', k INT NOT NULL DEFAULT 0, KEY k_k (k)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ps table'",
				"CREATE TABLE ps_t2 (id BIGINT NOT NULL PRIMARY KEY, w INT) DEFAULT CHARSET=utf8mb4")
			exec1(t, db, "INSERT INTO ps_t (id, v, k) VALUES (?, 'a', 1), (?, 'b', 2)", idA, idB)
			t.Run("COM_STATISTICS", pr.statistics)
			t.Run("prepared", pr.prepared)
			t.Run("OK_packet", pr.okPacket)
			t.Run("COM_RESET_CONNECTION", pr.resetConnection)
			t.Run("COM_CHANGE_USER", pr.changeUser)
			t.Run("KILL", pr.kill)
			t.Run("PROCESSLIST", pr.processlist)
			t.Run("SHOW", pr.show)
			t.Run("information_schema", func(t *testing.T) { infoSchema(t, tg.addr, "ps_") })
			t.Run("charset", pr.charset)
		})
	}
	// The same information_schema and SHOW checks through a proxy whose
	// shards' databases are not named like the keyspace.
	t.Run("renamed_shard_databases", func(t *testing.T) {
		q := startRenamed(t)
		db := open(t, q.Addr, "customer")
		mustExec(t, db, "DROP TABLE IF EXISTS ps_t", "DROP TABLE IF EXISTS ps_t2",
			"CREATE TABLE ps_t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) COMMENT 'the value', k INT NOT NULL DEFAULT 0, KEY k_k (k)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='ps table'",
			"CREATE TABLE ps_t2 (id BIGINT NOT NULL PRIMARY KEY, w INT) DEFAULT CHARSET=utf8mb4")
		exec1(t, db, "INSERT INTO ps_t (id, v, k) VALUES (?, 'a', 1), (?, 'b', 2)", idA, idB)
		eq(t, "DATABASE()", one(t, db, "SELECT DATABASE()"), "customer")
		eq(t, "rows through the proxy", fmtRows(rows(t, db, "SELECT id, v FROM ps_t ORDER BY v")),
			fmtRows([][]string{{fmt.Sprint(idA), "a"}, {fmt.Sprint(idB), "b"}}))
		infoSchema(t, q.Addr, "ps_")
		pr := protocol{tg: target{"proxy", q.Addr}, idA: idA, idB: idB}
		pr.showTables(t, db)
	})
}

// startRenamed starts a proxy whose customer shards use the databases
// cust_a and cust_b (the keyspace is still called customer).
func startRenamed(t *testing.T) *testenv.Proxy {
	t.Helper()
	top := testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: testVSchema}
	y := top.YAML()
	for i, s := range servers[1:3] {
		name := []string{"cust_a", "cust_b"}[i]
		if err := s.Exec(context.Background(), "CREATE DATABASE IF NOT EXISTS "+name); err != nil {
			t.Fatal(err)
		}
		old := fmt.Sprintf("port: %d, user: root, password: \"\", database: customer}", s.Port)
		if !strings.Contains(y, old) {
			t.Fatalf("config has no %q:\n%s", old, y)
		}
		y = strings.Replace(y, old, fmt.Sprintf("port: %d, user: root, password: \"\", database: %s}", s.Port, name), 1)
	}
	if err := servers[0].Exec(context.Background(), "CREATE DATABASE IF NOT EXISTS commerce"); err != nil {
		t.Fatal(err)
	}
	return testenv.StartProxyYAML(t, y)
}

type protocol struct {
	tg       target
	idA, idB int64
}

// restore puts ps_t's rows back to their first values (v 'a' and 'b').
func (pr protocol) restore(t *testing.T) {
	t.Helper()
	db := open(t, pr.tg.addr, "customer")
	exec1(t, db, "UPDATE ps_t SET v = 'a', k = 1 WHERE id = ?", pr.idA)
	exec1(t, db, "UPDATE ps_t SET v = 'b', k = 2 WHERE id = ?", pr.idB)
}

func (pr protocol) raw(t *testing.T, user, password, db string, collation byte) *rawclient.Conn {
	t.Helper()
	c, err := rawclient.Dial(pr.tg.addr, user, password, db, collation)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(c.Close)
	return c
}

var reStatistics = regexp.MustCompile(`^Uptime: \d+\s+Threads: \d+\s+Questions: \d+\s+Slow queries: \d+\s+Opens: \d+\s+(Flush tables: \d+\s+)?Open tables: \d+\s+Queries per second avg: [0-9.]+$`)

func (pr protocol) statistics(t *testing.T) {
	c := pr.raw(t, "app", "secret", "customer", collUTF8MB4)
	s, err := c.Statistics()
	if err != nil {
		t.Fatalf("COM_STATISTICS: %v", err)
	}
	if !reStatistics.MatchString(s) {
		t.Errorf("COM_STATISTICS: %q does not look like MySQL's statistics string", s)
	}
	// The connection is usable afterwards.
	eq(t, "query after COM_STATISTICS", c.Value("SELECT 1"), "1")
}

// prepared: COM_STMT_SEND_LONG_DATA, COM_STMT_RESET, and statements
// prepared before COM_INIT_DB.
func (pr protocol) prepared(t *testing.T) {
	pr.restore(t)
	c := pr.raw(t, "app", "secret", "customer", collUTF8MB4)
	upd, _, err := c.Prepare("UPDATE ps_t SET v = ? WHERE id = ?")
	if err != nil {
		t.Fatalf("COM_STMT_PREPARE: %v", err)
	}
	sel, _, err := c.Prepare("SELECT COUNT(*) FROM ps_t WHERE id = ?")
	if err != nil {
		t.Fatalf("COM_STMT_PREPARE: %v", err)
	}
	for i, id := range []int64{pr.idA, pr.idB} {
		// Long data in two pieces for the first parameter.
		for _, piece := range []string{"long ", "data 😀"} {
			if err := c.SendLongData(upd, 0, []byte(piece)); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := c.ExecuteParams(upd, rawclient.Param{Type: mysql.MYSQL_TYPE_BLOB}, rawclient.LongLong(id)); err != nil {
			t.Errorf("COM_STMT_EXECUTE with long data on shard %s: %v", shardNames[i], err)
		} else {
			eq(t, "COM_STMT_EXECUTE with long data: affected rows", r.Affected, uint64(1))
		}
		eq(t, "value sent as long data on shard "+shardNames[i], c.Value(fmt.Sprintf("SELECT v FROM ps_t WHERE id = %d", id)), "long data 😀")
		// COM_STMT_RESET drops long data sent since.
		if err := c.SendLongData(upd, 0, []byte("dropped ")); err != nil {
			t.Fatal(err)
		}
		if err := c.ResetStmt(upd); err != nil {
			t.Errorf("COM_STMT_RESET: %v", err)
		}
		if err := c.SendLongData(upd, 0, []byte("after reset")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExecuteParams(upd, rawclient.Param{Type: mysql.MYSQL_TYPE_BLOB}, rawclient.LongLong(id)); err != nil {
			t.Errorf("COM_STMT_EXECUTE after COM_STMT_RESET on shard %s: %v", shardNames[i], err)
		}
		eq(t, "long data after COM_STMT_RESET on shard "+shardNames[i], c.Value(fmt.Sprintf("SELECT v FROM ps_t WHERE id = %d", id)), "after reset")
		// Re-execution with inline values of another type.
		if _, err := c.ExecuteParams(upd, rawclient.VarString(fmt.Sprint("inline ", i)), rawclient.VarString(fmt.Sprint(id))); err != nil {
			t.Errorf("COM_STMT_EXECUTE with VAR_STRING parameters on shard %s: %v", shardNames[i], err)
		}
		eq(t, "inline value on shard "+shardNames[i], c.Value(fmt.Sprintf("SELECT v FROM ps_t WHERE id = %d", id)), fmt.Sprint("inline ", i))
	}
	// A statement prepared in customer still reads customer.ps_t after USE commerce.
	if _, err := c.Simple(mysql.COM_INIT_DB, []byte("commerce")); err != nil {
		t.Fatalf("COM_INIT_DB commerce: %v", err)
	}
	eq(t, "DATABASE() after COM_INIT_DB", c.Value("SELECT DATABASE()"), "commerce")
	for i, id := range []int64{pr.idA, pr.idB} {
		r, err := c.ExecuteInts(sel, id)
		if err != nil || len(r) != 1 {
			t.Errorf("statement prepared before USE, executed on shard %s: %v %q", shardNames[i], err, r)
		} else if !strings.HasSuffix(string(r[0]), "\x01\x00\x00\x00\x00\x00\x00\x00") {
			t.Errorf("statement prepared before USE, executed on shard %s: row %q, want COUNT(*) = 1", shardNames[i], r[0])
		}
	}
}

// okPacket: affected rows, last insert id, warnings and the info string of
// statements over two shards, summed as one server would.
func (pr protocol) okPacket(t *testing.T) {
	pr.restore(t)
	c := pr.raw(t, "app", "secret", "customer", collUTF8MB4)
	if _, err := c.Query("DELETE FROM ps_t2"); err != nil {
		t.Fatal(err)
	}
	type want struct {
		affected uint64
		warnings uint16
		info     string
	}
	for _, tc := range []struct {
		sql  string
		want want
	}{
		{fmt.Sprintf("INSERT INTO ps_t2 (id, w) VALUES (%d, 1), (%d, 2), (3, 3)", pr.idA, pr.idB), want{3, 0, "Records: 3  Duplicates: 0  Warnings: 0"}},
		{fmt.Sprintf("INSERT INTO ps_t2 (id, w) VALUES (%d, 1)", pr.idA+1000), want{1, 0, ""}},
		{fmt.Sprintf("UPDATE ps_t2 SET w = w + 10 WHERE id IN (%d, %d)", pr.idA, pr.idB), want{2, 0, "Rows matched: 2  Changed: 2  Warnings: 0"}},
		{"UPDATE ps_t2 SET w = 11 WHERE w >= 10", want{1, 0, "Rows matched: 2  Changed: 1  Warnings: 0"}},
		{fmt.Sprintf("INSERT INTO ps_t2 (id, w) VALUES (%d, 1), (%d, 2) ON DUPLICATE KEY UPDATE w = VALUES(w) + 100", pr.idA, pr.idB), want{4, 0, "Records: 2  Duplicates: 2  Warnings: 0"}},
		{"UPDATE ps_t2 SET w = w + 0.4", want{0, 0, "Rows matched: 4  Changed: 0  Warnings: 0"}},
		{fmt.Sprintf("INSERT IGNORE INTO ps_t2 (id, w) VALUES (%d, 1), (%d, 2), (5, 5)", pr.idA, pr.idB), want{1, 2, "Records: 3  Duplicates: 2  Warnings: 2"}},
		{"DELETE FROM ps_t2", want{5, 0, ""}},
	} {
		r, err := c.Query(tc.sql)
		if err != nil {
			t.Errorf("%s: %v", tc.sql, err)
			continue
		}
		eq(t, tc.sql+": OK packet (affected rows, warnings, info)", fmt.Sprintf("%d, %d, %q", r.Affected, r.Warnings, r.Info),
			fmt.Sprintf("%d, %d, %q", tc.want.affected, tc.want.warnings, tc.want.info))
	}
}

func (pr protocol) resetConnection(t *testing.T) {
	pr.restore(t)
	c := pr.raw(t, "app", "secret", "customer", collUTF8MB4)
	fresh := pr.raw(t, "app", "secret", "customer", collUTF8MB4)
	probe := func(c *rawclient.Conn) string {
		var out []string
		for _, q := range []string{
			"SELECT @u", "SELECT @@sql_mode", "SELECT @@time_zone", "SELECT @@autocommit", "SELECT @@tx_isolation", "SELECT @@character_set_client",
			fmt.Sprintf("SELECT TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), NOW()) FROM ps_t WHERE id = %d", pr.idA),
			fmt.Sprintf("SELECT TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), NOW()) FROM ps_t WHERE id = %d", pr.idB),
			fmt.Sprintf("SELECT @@session.sql_mode FROM ps_t WHERE id = %d", pr.idA),
			fmt.Sprintf("SELECT @@session.sql_mode FROM ps_t WHERE id = %d", pr.idB),
		} {
			out = append(out, q+" = "+c.Value(q))
		}
		return strings.Join(out, "\n")
	}
	want := probe(fresh)
	for _, q := range []string{"SET @u = 5", "SET sql_mode = 'ANSI_QUOTES'", "SET time_zone = '+03:00'", "SET autocommit = 0",
		"SET SESSION tx_isolation = 'READ-COMMITTED'", "SET NAMES latin1"} {
		if _, err := c.Query(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Session state on both shards and an open transaction.
	for _, id := range []int64{pr.idA, pr.idB} {
		if _, err := c.Query(fmt.Sprintf("UPDATE ps_t SET v = 'uncommitted' WHERE id = %d", id)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Status&mysql.SERVER_STATUS_IN_TRANS == 0 {
		t.Errorf("autocommit=0 and an UPDATE: status flags %#x lack SERVER_STATUS_IN_TRANS", c.Status)
	}
	stmt, _, err := c.Prepare("SELECT ? + 1")
	if err != nil {
		t.Fatalf("COM_STMT_PREPARE: %v", err)
	}
	if r, err := c.ExecuteInts(stmt, 41); err != nil || len(r) != 1 {
		t.Errorf("COM_STMT_EXECUTE before the reset: %v %v", r, err)
	}

	if _, err := c.Simple(mysql.COM_RESET_CONNECTION, nil); err != nil {
		t.Fatalf("COM_RESET_CONNECTION: %v", err)
	}
	if c.Status&mysql.SERVER_STATUS_IN_TRANS != 0 || c.Status&mysql.SERVER_STATUS_AUTOCOMMIT == 0 {
		t.Errorf("COM_RESET_CONNECTION: status flags %#x, want AUTOCOMMIT and not IN_TRANS", c.Status)
	}
	if got := probe(c); got != want {
		t.Errorf("session after COM_RESET_CONNECTION differs from a new session's:\ngot:\n%s\nwant:\n%s", got, want)
	}
	// The transaction was rolled back, on both shards.
	eq(t, "rows after COM_RESET_CONNECTION rolled the transaction back", fresh.Value("SELECT COUNT(*) FROM ps_t WHERE v = 'uncommitted'"), "0")
	eq(t, "own rows after COM_RESET_CONNECTION", c.Value("SELECT COUNT(*) FROM ps_t WHERE v = 'uncommitted'"), "0")
	// Prepared statements are gone.
	_, err = c.ExecuteInts(stmt, 41)
	var re *rawclient.Error
	if !errors.As(err, &re) || re.Code != 1243 {
		t.Errorf("COM_STMT_EXECUTE of a statement prepared before COM_RESET_CONNECTION: %v, want error 1243 (unknown prepared statement handler)", err)
	}
	eq(t, "DATABASE() after COM_RESET_CONNECTION", c.Value("SELECT DATABASE()"), "customer")
}

func (pr protocol) changeUser(t *testing.T) {
	pr.restore(t)
	c := pr.raw(t, "app", "secret", "customer", collUTF8MB4)
	if _, err := c.Query("SET @u = 7"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query("SET time_zone = '+05:00'"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query("BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(fmt.Sprintf("UPDATE ps_t SET v = 'cu' WHERE id = %d", pr.idA)); err != nil {
		t.Fatal(err)
	}
	// To the read-only account, database commerce.
	if err := c.ChangeUser("reader", "reader", "commerce", collUTF8MB4); err != nil {
		t.Fatalf("COM_CHANGE_USER to reader: %v", err)
	}
	eq(t, "DATABASE() after COM_CHANGE_USER", c.Value("SELECT DATABASE()"), "commerce")
	eq(t, "user variable after COM_CHANGE_USER", c.Value("SELECT @u"), "NULL")
	eq(t, "@@time_zone after COM_CHANGE_USER", c.Value("SELECT @@time_zone"), "SYSTEM")
	eq(t, "the transaction was rolled back", c.Value(fmt.Sprintf("SELECT COUNT(*) FROM customer.ps_t WHERE v = 'cu' AND id = %d", pr.idA)), "0")
	if _, err := c.Query(fmt.Sprintf("UPDATE customer.ps_t SET v = 'ro' WHERE id = %d", pr.idA)); err == nil {
		t.Errorf("UPDATE as the read-only user after COM_CHANGE_USER: no error")
	}
	// Back to app: writes work again.
	if err := c.ChangeUser("app", "secret", "customer", collUTF8MB4); err != nil {
		t.Fatalf("COM_CHANGE_USER back to app: %v", err)
	}
	if r, err := c.Query(fmt.Sprintf("UPDATE ps_t SET k = k WHERE id IN (%d, %d)", pr.idA, pr.idB)); err != nil {
		t.Errorf("UPDATE as app after COM_CHANGE_USER: %v", err)
	} else {
		eq(t, "UPDATE as app after COM_CHANGE_USER: affected rows", r.Affected, uint64(0))
	}
	eq(t, "query as app after COM_CHANGE_USER", c.Value(fmt.Sprintf("SELECT v FROM ps_t WHERE id = %d", pr.idB)), "b")
	// A wrong password is refused with 1045.
	err := c.ChangeUser("app", "wrong", "customer", collUTF8MB4)
	var re *rawclient.Error
	if !errors.As(err, &re) || re.Code != 1045 {
		t.Errorf("COM_CHANGE_USER with a wrong password: %v, want error 1045", err)
	}
}

func (pr protocol) kill(t *testing.T) {
	pr.restore(t)
	db := open(t, pr.tg.addr, "customer")
	victim := conn(t, db)
	killer := conn(t, db)
	var id int64
	if err := victim.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	// CONNECTION_ID() is the id of the greeting.
	rc := pr.raw(t, "app", "secret", "customer", collUTF8MB4)
	eq(t, "CONNECTION_ID() vs the greeting's connection id", rc.Value("SELECT CONNECTION_ID()"), strconv.FormatUint(uint64(rc.ConnID), 10))

	for _, q := range []string{
		"SELECT SLEEP(10)",
		fmt.Sprintf("SELECT SLEEP(10) FROM ps_t WHERE id = %d", pr.idB),
		"SELECT SLEEP(5) FROM ps_t",
	} {
		done := make(chan error, 1)
		began := time.Now()
		var took time.Duration
		go func() {
			_, _, err := queryRows(victim, q)
			took = time.Since(began)
			done <- err
		}()
		waitRunning(killer, strconv.FormatInt(id, 10), "SLEEP")
		killedAt := time.Now()
		if _, err := killer.ExecContext(context.Background(), fmt.Sprintf("KILL QUERY %d", id)); err != nil {
			t.Errorf("KILL QUERY %d: %v", id, err)
		}
		select {
		case err := <-done:
			if me := mysqlErr(err); err != nil && (me == nil || me.Number != 1317) {
				t.Errorf("%s after KILL QUERY: error %v, want none or 1317 (interrupted)", q, err)
			}
			if d := took - killedAt.Sub(began); d > time.Second {
				t.Errorf("%s: returned %v after KILL QUERY, want within 1s", q, d.Round(time.Millisecond))
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: still running 15s after KILL QUERY", q)
		}
		// KILL QUERY leaves the connection usable.
		eq(t, "victim's query after KILL QUERY ("+q+")", one(t, victim, fmt.Sprintf("SELECT v FROM ps_t WHERE id = %d", pr.idA)), "a")
	}

	// COM_PROCESS_KILL (the command behind mysql_kill()).
	{
		done := make(chan error, 1)
		go func() {
			_, _, err := queryRows(victim, "SELECT SLEEP(10)")
			done <- err
		}()
		waitRunning(killer, strconv.FormatInt(id, 10), "SLEEP")
		// COM_PROCESS_KILL kills the connection; send it for another
		// session so that the killer stays up.
		other := pr.raw(t, "app", "secret", "customer", collUTF8MB4)
		victimRaw := pr.raw(t, "app", "secret", "customer", collUTF8MB4)
		arg := []byte{byte(victimRaw.ConnID), byte(victimRaw.ConnID >> 8), byte(victimRaw.ConnID >> 16), byte(victimRaw.ConnID >> 24)}
		if _, err := other.Simple(mysql.COM_PROCESS_KILL, arg); err != nil {
			t.Errorf("COM_PROCESS_KILL %d: %v", victimRaw.ConnID, err)
		} else if _, err := victimRaw.Query("SELECT 1"); err == nil {
			t.Errorf("COM_PROCESS_KILL %d: the killed session still answers", victimRaw.ConnID)
		}
		if _, err := killer.ExecContext(context.Background(), fmt.Sprintf("KILL QUERY %d", id)); err != nil {
			t.Errorf("KILL QUERY %d: %v", id, err)
		}
		<-done
	}

	// KILL <id> ends the connection: its next query fails, the pool makes a new one.
	if _, err := killer.ExecContext(context.Background(), fmt.Sprintf("KILL %d", id)); err != nil {
		t.Errorf("KILL %d: %v", id, err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, _, err := queryRows(victim, "SELECT 1"); err == nil {
		t.Errorf("KILL %d: the killed connection still answers", id)
	}
	eq(t, "a new connection after KILL", one(t, db, "SELECT COUNT(*) FROM ps_t"), "2")
	// KILL of an unknown id: 1094.
	_, err := killer.ExecContext(context.Background(), "KILL QUERY 987654321")
	if me := mysqlErr(err); me == nil || me.Number != 1094 {
		t.Errorf("KILL QUERY of an unknown thread: %v, want error 1094", err)
	}
}

func (pr protocol) processlist(t *testing.T) {
	db := open(t, pr.tg.addr, "customer")
	idle := conn(t, db)
	busy := conn(t, db)
	me := conn(t, db)
	ids := map[string]string{}
	for name, c := range map[string]*sql.Conn{"idle": idle, "busy": busy, "me": me} {
		ids[name] = one(t, c, "SELECT CONNECTION_ID()")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		queryRows(busy, "SELECT SLEEP(2)")
	}()
	waitRunning(me, ids["busy"], "SLEEP")
	cols, r, err := queryRows(me, "SHOW PROCESSLIST")
	<-done
	if err != nil {
		t.Fatalf("SHOW PROCESSLIST: %v", err)
	}
	if len(cols) < 8 || strings.Join(cols[:8], ",") != "Id,User,Host,db,Command,Time,State,Info" {
		t.Errorf("SHOW PROCESSLIST columns %v, want Id,User,Host,db,Command,Time,State,Info first", cols)
	}
	byID := map[string][]string{}
	for _, row := range r {
		byID[row[0]] = row
		if len(row) > 1 && row[1] == "root" {
			t.Errorf("SHOW PROCESSLIST lists a root session (a backend connection?): %v", row)
		}
	}
	for name, id := range ids {
		row, ok := byID[id]
		if !ok {
			t.Errorf("SHOW PROCESSLIST: the %s session %s is not listed (rows %s)", name, id, fmtRows(r))
			continue
		}
		eq(t, "SHOW PROCESSLIST: user of the "+name+" session", row[1], "app")
		eq(t, "SHOW PROCESSLIST: db of the "+name+" session", row[3], "customer")
		switch name {
		case "idle":
			eq(t, "SHOW PROCESSLIST: command of the idle session", row[4], "Sleep")
		case "busy":
			eq(t, "SHOW PROCESSLIST: command of the busy session", row[4], "Query")
			eq(t, "SHOW PROCESSLIST: info of the busy session", row[7], "SELECT SLEEP(2)")
		case "me":
			eq(t, "SHOW PROCESSLIST: info of the own session", row[7], "SHOW PROCESSLIST")
		}
	}
	_, r, err = queryRows(me, "SHOW FULL PROCESSLIST")
	if err != nil {
		t.Errorf("SHOW FULL PROCESSLIST: %v", err)
	} else if _, ok := func() ([]string, bool) {
		for _, row := range r {
			if row[0] == ids["idle"] {
				return row, true
			}
		}
		return nil, false
	}(); !ok {
		t.Errorf("SHOW FULL PROCESSLIST does not list the idle session %s", ids["idle"])
	}
}

// waitRunning waits (up to 3 s) until SHOW PROCESSLIST shows session id
// running a statement containing substr, so that a KILL does not come
// before the statement started. Without a usable SHOW PROCESSLIST it just
// waits 3 s.
func waitRunning(q queryer, id, substr string) {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		_, r, err := queryRows(q, "SHOW PROCESSLIST")
		for _, row := range r {
			if err == nil && len(row) > 7 && row[0] == id && strings.Contains(row[7], substr) {
				time.Sleep(100 * time.Millisecond)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// show: SHOW statements a driver or GUI sends, answered once (not once per
// shard).
func (pr protocol) show(t *testing.T) {
	db := open(t, pr.tg.addr, "customer")
	c := conn(t, db)
	mustExec(t, c, "SET time_zone = '+04:00'", "SET SESSION sql_mode = 'ANSI_QUOTES,STRICT_ALL_TABLES'")
	want := func(q string, wantRows [][]string) {
		t.Helper()
		eq(t, q, fmtRows(rows(t, c, q)), fmtRows(wantRows))
	}
	want("SHOW VARIABLES LIKE 'time_zone'", [][]string{{"time_zone", "+04:00"}})
	want("SHOW SESSION VARIABLES LIKE 'time_zone'", [][]string{{"time_zone", "+04:00"}})
	want("SHOW GLOBAL VARIABLES LIKE 'time_zone'", [][]string{{"time_zone", "SYSTEM"}})
	want("SHOW VARIABLES LIKE 'sql_mode'", [][]string{{"sql_mode", "ANSI_QUOTES,STRICT_ALL_TABLES"}})
	want("SHOW VARIABLES WHERE Variable_name = 'autocommit'", [][]string{{"autocommit", "ON"}})
	want("SHOW SESSION VARIABLES LIKE 'character\\_set\\_client'", [][]string{{"character_set_client", "utf8mb4"}})
	r := rows(t, c, "SHOW VARIABLES LIKE 'max_allowed_packet'")
	if len(r) != 1 || atoi(r[0][1]) <= 0 {
		t.Errorf("SHOW VARIABLES LIKE 'max_allowed_packet': %s, want one positive value", fmtRows(r))
	}
	r = rows(t, c, "SHOW VARIABLES LIKE 'version'")
	if len(r) != 1 || !strings.HasPrefix(r[0][1], "10.") {
		t.Errorf("SHOW VARIABLES LIKE 'version': %s, want one 10.x row", fmtRows(r))
	}
	for _, q := range []string{"SHOW STATUS LIKE 'Uptime'", "SHOW GLOBAL STATUS LIKE 'Uptime'", "SHOW SESSION STATUS LIKE 'Questions'", "SHOW GLOBAL STATUS LIKE 'Threads_connected'"} {
		r := rows(t, c, q)
		if len(r) != 1 || len(r[0]) != 2 {
			t.Errorf("%s: %s, want one row", q, fmtRows(r))
		} else if _, err := strconv.ParseUint(r[0][1], 10, 64); err != nil {
			t.Errorf("%s: %s, want a number", q, fmtRows(r))
		}
	}
	want("SHOW COLLATION LIKE 'utf8mb4_general_ci'", [][]string{{"utf8mb4_general_ci", "utf8mb4", "45", "Yes", "Yes", "1"}})
	want("SHOW COLLATION WHERE Charset = 'latin1' AND `Default` = 'Yes'", [][]string{{"latin1_swedish_ci", "latin1", "8", "Yes", "Yes", "1"}})
	want("SHOW CHARACTER SET LIKE 'utf8mb4'", [][]string{{"utf8mb4", "UTF-8 Unicode", "utf8mb4_general_ci", "4"}})
	want("SHOW CHARSET WHERE Charset = 'latin1'", [][]string{{"latin1", "cp1252 West European", "latin1_swedish_ci", "1"}})
	pr.showTables(t, c)
}

// showTables: SHOW statements about the tables ps_t and ps_t2 of customer.
func (pr protocol) showTables(t *testing.T, q queryer) {
	t.Helper()
	want := func(sqlText string, wantRows [][]string) {
		t.Helper()
		eq(t, sqlText, fmtRows(rows(t, q, sqlText)), fmtRows(wantRows))
	}
	full := [][]string{
		{"id", "bigint(20)", "NULL", "NO", "PRI", "NULL", "", "select,insert,update,references", ""},
		{"v", "varchar(40)", "utf8mb4_general_ci", "YES", "", "NULL", "", "select,insert,update,references", "the value"},
		{"k", "int(11)", "NULL", "NO", "MUL", "0", "", "select,insert,update,references", ""},
	}
	want("SHOW FULL COLUMNS FROM ps_t", full)
	want("SHOW FULL COLUMNS FROM ps_t FROM customer", full)
	want("SHOW FULL COLUMNS FROM customer.ps_t", full)
	want("SHOW COLUMNS FROM ps_t LIKE 'v'", [][]string{{"v", "varchar(40)", "YES", "", "NULL", ""}})
	want("DESCRIBE ps_t2", [][]string{{"id", "bigint(20)", "NO", "PRI", "NULL", ""}, {"w", "int(11)", "YES", "", "NULL", ""}})
	_, r, err := queryRows(q, "SHOW INDEX FROM ps_t")
	if err != nil {
		t.Errorf("SHOW INDEX FROM ps_t: %v", err)
	} else {
		var got [][]string
		for _, row := range r {
			if len(row) < 5 {
				t.Errorf("SHOW INDEX FROM ps_t: short row %v", row)
				continue
			}
			got = append(got, []string{row[0], row[1], row[2], row[3], row[4]}) // Table, Non_unique, Key_name, Seq_in_index, Column_name
		}
		eq(t, "SHOW INDEX FROM ps_t", fmtRows(got), fmtRows([][]string{{"ps_t", "0", "PRIMARY", "1", "id"}, {"ps_t", "1", "k_k", "1", "k"}}))
	}
	for _, sqlText := range []string{"SHOW TABLE STATUS LIKE 'ps\\_t%'", "SHOW TABLE STATUS FROM customer WHERE Name LIKE 'ps\\_t%'"} {
		cols, r, err := queryRows(q, sqlText)
		if err != nil {
			t.Errorf("%s: %v", sqlText, err)
			continue
		}
		col := map[string]int{}
		for i, c := range cols {
			col[c] = i
		}
		var got [][]string
		for _, row := range r {
			got = append(got, []string{row[col["Name"]], row[col["Engine"]], row[col["Collation"]], row[col["Comment"]]})
		}
		eq(t, sqlText, fmtRows(got), fmtRows([][]string{{"ps_t", "InnoDB", "utf8mb4_general_ci", "ps table"}, {"ps_t2", "InnoDB", "utf8mb4_general_ci", ""}}))
	}
	_, r, err = queryRows(q, "SHOW TABLES FROM customer LIKE 'ps\\_t%'")
	if err != nil {
		t.Errorf("SHOW TABLES FROM customer LIKE: %v", err)
	} else {
		eq(t, "SHOW TABLES FROM customer LIKE 'ps\\_t%'", fmtRows(r), fmtRows([][]string{{"ps_t"}, {"ps_t2"}}))
	}
	_, r, err = queryRows(q, "SHOW FULL TABLES FROM customer LIKE 'ps\\_t%'")
	if err != nil {
		t.Errorf("SHOW FULL TABLES: %v", err)
	} else {
		eq(t, "SHOW FULL TABLES FROM customer LIKE 'ps\\_t%'", fmtRows(r), fmtRows([][]string{{"ps_t", "BASE TABLE"}, {"ps_t2", "BASE TABLE"}}))
	}
}

// infoSchema: the information_schema queries drivers and GUIs send, with
// table_schema = the keyspace's name, answered once per table.
func infoSchema(t *testing.T, addr, prefix string) {
	db := open(t, addr, "customer")
	c := conn(t, db)
	want := func(q string, wantRows [][]string) {
		t.Helper()
		eq(t, q, fmtRows(rows(t, c, q)), fmtRows(wantRows))
	}
	like := strings.ReplaceAll(prefix, "_", "\\_") + "%"
	want("SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'customer' AND TABLE_NAME LIKE '"+like+"' ORDER BY TABLE_NAME",
		[][]string{{"customer", "ps_t", "BASE TABLE", "InnoDB", "ps table"}, {"customer", "ps_t2", "BASE TABLE", "InnoDB", ""}})
	want("select table_name from information_schema.tables where table_schema = database() and table_name like '"+like+"' order by 1",
		[][]string{{"ps_t"}, {"ps_t2"}})
	want("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'customer' AND TABLE_NAME = 'ps_t'", [][]string{{"1"}})
	want("SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'customer' AND TABLE_NAME = 'ps_t' ORDER BY ORDINAL_POSITION",
		[][]string{
			{"customer", "ps_t", "id", "1", "bigint", "bigint(20)", "NO", "PRI", ""},
			{"customer", "ps_t", "v", "2", "varchar", "varchar(40)", "YES", "", "the value"},
			{"customer", "ps_t", "k", "3", "int", "int(11)", "NO", "MUL", ""},
		})
	want("SELECT TABLE_NAME, COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'customer' AND TABLE_NAME LIKE '"+like+"' GROUP BY TABLE_NAME ORDER BY TABLE_NAME",
		[][]string{{"ps_t", "3"}, {"ps_t2", "2"}})
	want("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('customer', 'commerce') ORDER BY SCHEMA_NAME",
		[][]string{{"commerce", "utf8mb4"}, {"customer", "utf8mb4"}})
	want("SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'customer' AND TABLE_NAME = 'ps_t' ORDER BY INDEX_NAME",
		[][]string{{"k_k", "k", "1"}, {"PRIMARY", "id", "0"}})
}

// charset: SET NAMES latin1 and a latin1 handshake collation, end to end on
// both shards.
func (pr protocol) charset(t *testing.T) {
	pr.restore(t)
	db := open(t, pr.tg.addr, "customer")
	c := conn(t, db)
	mustExec(t, c, "SET NAMES latin1")
	eq(t, "@@character_set_client after SET NAMES latin1", one(t, c, "SELECT @@character_set_client"), "latin1")
	eq(t, "@@character_set_results after SET NAMES latin1", one(t, c, "SELECT @@character_set_results"), "latin1")
	for i, id := range []int64{pr.idA, pr.idB} {
		// 'é' in latin1 is the byte E9; the column is utf8mb4 (C3 A9).
		exec1(t, c, fmt.Sprintf("UPDATE ps_t SET v = 'caf\xe9' WHERE id = %d", id))
		eq(t, fmt.Sprintf("SET NAMES latin1: stored bytes on shard %s", shardNames[i]), one(t, c, fmt.Sprintf("SELECT HEX(v) FROM ps_t WHERE id = %d", id)), "636166C3A9")
		eq(t, fmt.Sprintf("SET NAMES latin1: value read back on shard %s", shardNames[i]), one(t, c, fmt.Sprintf("SELECT v FROM ps_t WHERE id = %d", id)), "caf\xe9")
		eq(t, fmt.Sprintf("SET NAMES latin1: WHERE on a latin1 literal, shard %s", shardNames[i]), one(t, c, fmt.Sprintf("SELECT COUNT(*) FROM ps_t WHERE id = %d AND v = 'caf\xe9'", id)), "1")
	}
	eq(t, "SET NAMES latin1: CHAR_LENGTH of a latin1 literal", one(t, c, "SELECT CHAR_LENGTH('\xe9')"), "1")
	mustExec(t, c, "SET NAMES utf8mb4")
	eq(t, "SET NAMES utf8mb4: value read back", one(t, c, fmt.Sprintf("SELECT v FROM ps_t WHERE id = %d", pr.idB)), "café")

	// The handshake's collation (latin1_swedish_ci, no SET NAMES).
	rc := pr.raw(t, "app", "secret", "customer", collLatin1)
	eq(t, "handshake latin1: @@character_set_client", rc.Value("SELECT @@character_set_client"), "latin1")
	eq(t, "handshake latin1: @@collation_connection", rc.Value("SELECT @@collation_connection"), "latin1_swedish_ci")
	for i, id := range []int64{pr.idA, pr.idB} {
		eq(t, fmt.Sprintf("handshake latin1: value on shard %s", shardNames[i]), rc.Value(fmt.Sprintf("SELECT v FROM ps_t WHERE id = %d", id)), "caf\xe9")
		if _, err := rc.Query(fmt.Sprintf("UPDATE ps_t SET v = 'd\xe9j\xe0' WHERE id = %d", id)); err != nil {
			t.Errorf("handshake latin1: UPDATE: %v", err)
		}
		eq(t, fmt.Sprintf("handshake latin1: stored bytes on shard %s", shardNames[i]), rc.Value(fmt.Sprintf("SELECT HEX(v) FROM ps_t WHERE id = %d", id)), "64C3A96AC3A0")
	}
	// go-sql-driver's collation parameter sends it in the handshake too.
	ld := open(t, pr.tg.addr, "customer", "collation=latin1_swedish_ci")
	eq(t, "DSN collation=latin1_swedish_ci: value", one(t, ld, fmt.Sprintf("SELECT v FROM ps_t WHERE id = %d", pr.idA)), "d\xe9j\xe0")
}

// TestRefused: what shardgate refuses on purpose is refused cleanly, with
// error 1235 (or 1047 for a command) naming the construct, and the session
// goes on. (Proxy only: a plain MariaDB accepts all of these.)
func TestRefused(t *testing.T) {
	p := start(t)
	db := open(t, p.Addr, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS rf_t", "CREATE TABLE rf_t (id BIGINT NOT NULL PRIMARY KEY, v INT)")
	c := conn(t, db)
	for _, tc := range []struct{ sql, mention string }{
		{"LOCK TABLES rf_t READ", "LOCK TABLES"},
		{"UNLOCK TABLES", "LOCK TABLES"},
		{"LOAD DATA INFILE '/etc/hostname' INTO TABLE rf_t", "LOAD DATA"},
		{"CREATE DATABASE rf_db", "CREATE DATABASE"},
		{"DROP DATABASE customer", "DROP DATABASE"},
	} {
		_, err := c.ExecContext(context.Background(), tc.sql)
		me := mysqlErr(err)
		if me == nil || me.Number != 1235 || !strings.Contains(me.Message, tc.mention) {
			t.Errorf("%s: %v, want error 1235 mentioning %s", tc.sql, err, tc.mention)
		}
		eq(t, "session after "+tc.sql, one(t, c, "SELECT 1"), "1")
	}
	// Savepoints: SAVEPOINT is accepted or refused, ROLLBACK TO SAVEPOINT is
	// refused; either way the transaction can still be rolled back.
	mustExec(t, c, "BEGIN")
	exec1(t, c, "INSERT INTO rf_t (id, v) VALUES (1, 1)")
	_, _ = c.ExecContext(context.Background(), "SAVEPOINT s1")
	_, err := c.ExecContext(context.Background(), "ROLLBACK TO SAVEPOINT s1")
	if me := mysqlErr(err); me == nil || me.Number != 1235 {
		t.Errorf("ROLLBACK TO SAVEPOINT: %v, want error 1235", err)
	}
	mustExec(t, c, "ROLLBACK")
	eq(t, "rows after ROLLBACK", one(t, c, "SELECT COUNT(*) FROM rf_t"), "0")

	// Commands of replicas and administrators.
	rc, err := rawclient.Dial(p.Addr, "app", "secret", "customer", collUTF8MB4)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, cmd := range []struct {
		name string
		b    byte
	}{{"COM_STMT_FETCH", mysql.COM_STMT_FETCH}, {"COM_SHUTDOWN", mysql.COM_SHUTDOWN}, {"COM_DEBUG", mysql.COM_DEBUG}, {"COM_PROCESS_INFO", mysql.COM_PROCESS_INFO},
		{"COM_BINLOG_DUMP", mysql.COM_BINLOG_DUMP}, {"COM_REGISTER_SLAVE", mysql.COM_REGISTER_SLAVE}} {
		_, err := rc.Simple(cmd.b, make([]byte, 8))
		var re *rawclient.Error
		if !errors.As(err, &re) || re.Code != 1047 || !strings.Contains(re.Msg, cmd.name) {
			t.Errorf("%s: %v, want error 1047 naming it", cmd.name, err)
		}
		eq(t, "session after "+cmd.name, rc.Value("SELECT 2"), "2")
	}
}
