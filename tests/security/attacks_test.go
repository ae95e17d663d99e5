package security

import (
	"strings"
	"testing"
)

// attack is one statement an ordinary client tries; it must be refused
// with want (0: any error) and leave the servers as they were.
type attack struct {
	user, pw, db string
	sql          string
	want         uint16
}

func runAttacks(t *testing.T, addr string, attacks []attack) {
	t.Helper()
	before := readState(t)
	for _, a := range attacks {
		db := open(t, addr, a.user, a.pw, a.db)
		rs, err := db.Query(a.sql)
		if err == nil {
			got, _ := scanAll(rs)
			rs.Close()
			t.Errorf("%s as %s: accepted (rows %v), want error %d", a.sql, a.user, got, a.want)
			continue
		}
		if a.want != 0 && code(err) != a.want {
			t.Errorf("%s as %s: %v, want error %d", a.sql, a.user, err, a.want)
		}
		// The session is still usable: a refusal is one statement's error.
		if v := scalar(t, db, "SELECT 41 + 1"); v != "42" {
			t.Errorf("after %s: SELECT 41 + 1 = %s", a.sql, v)
		}
	}
	after := readState(t)
	for _, d := range before.diff(after) {
		t.Errorf("the servers changed: %s", d)
	}
}

// TestExecutableCommentAttacks: MariaDB runs /*M! … */ and /*! … */ and
// skips TiDB's /*T! … */; the parser reads them the other way round. A
// statement hidden in one must not run, whoever asks, whatever it is.
func TestExecutableCommentAttacks(t *testing.T) {
	p := startProxy(t, options{})
	ro := func(sql string, want uint16) attack { return attack{"reader", "reader", "customer", sql, want} }
	app := func(db, sql string, want uint16) attack { return attack{"app", "secret", db, sql, want} }
	runAttacks(t, p.Addr, []attack{
		// The two: a read-only user changed rows, and shut a shard down.
		ro("/*M!UPDATE customer SET name='x' WHERE customer_id IN */ (SELECT 1 UNION SELECT 2)", 0),
		ro("/*M!SHUTDOWN*/ /*T![clustered_index] SELECT name FROM customer WHERE customer_id=4 */", 0),
		ro("SELECT name FROM customer WHERE customer_id = 4 /*!50000 ; SHUTDOWN */", 0),
		// Administrative statements behind comments, for any user.
		app("customer", "/*M!CREATE USER evil@'%' IDENTIFIED BY 'x'*/ /*T![x] SELECT 1 */", 0),
		app("customer", "/*!GRANT ALL ON *.* TO evil@'%' IDENTIFIED BY 'x' WITH GRANT OPTION*/", 0),
		app("customer", "/*M!SET GLOBAL max_connections = 7*/ /*T![x] SELECT 1 */", 0),
		app("commerce", "/*M!INSTALL SONAME 'ha_blackhole'*/ /*T![x] SELECT 1*/", 0),
		ro("/*M!DROP TABLE customer*/ /*T![x] SELECT 1 FROM customer */", 0),
		app("customer", "/*M!KILL 1*/ /*T![x] SELECT 1 */", 0),
		app("customer", "/*M!SET GLOBAL read_only = 1*/", 1227),
		// A keyspace-limited user reads another keyspace's table.
		attack{"comm", "commpw", "commerce", "SELECT v FROM g_t WHERE id = 1 /*M! UNION SELECT secret FROM vault.secrets */", 0},
		attack{"comm", "commpw", "commerce", "SELECT g.v, s.secret FROM g_t g JOIN vault.secrets s ON s.id = g.id", 1044},
		// Tables named where the planner does not route: SET lists, INSERT
		// ... SELECT, SHOW ... WHERE. Every table counts for the user's
		// keyspaces, and a qualifier that is no keyspace (a database of
		// the same server) is unknown.
		attack{"comm", "commpw", "commerce", "INSERT INTO g_t SELECT id + 100, secret FROM vault.secrets", 1044},
		attack{"comm", "commpw", "commerce", "UPDATE g_t SET v = (SELECT secret FROM vault.secrets LIMIT 1) WHERE id = 1", 1044},
		attack{"comm", "commpw", "commerce", "SHOW VARIABLES WHERE Value = (SELECT secret FROM vault.secrets)", 1044},
		attack{"comm", "commpw", "commerce", "DELETE FROM g_t WHERE id IN (SELECT id FROM vault.secrets)", 0},
		app("commerce", "UPDATE g_t SET v = (SELECT h FROM hidden.h LIMIT 1) WHERE id = 1", 1049),
		app("commerce", "INSERT INTO g_t SELECT 100, h FROM hidden.h", 1049),
		app("customer", "INSERT INTO customer (customer_id, name) VALUES (1, (SELECT h FROM hidden.h LIMIT 1))", 1049),
		app("commerce", "SELECT * FROM hidden.h", 1049),
		// Comments MariaDB and the parser could end in different places.
		app("customer", "SELECT 1 -- x\x00 ; DROP TABLE customer", 1235),
		app("customer", "SELECT 1 /*! , 2 /* nested */ ; SHUTDOWN */", 1235),
		app("customer", "SELECT 1 --\xa0 ; SHUTDOWN", 1235),
	})
}

// TestShardAccountAttacks: what the shard account could do directly (read
// and write the servers' files, read the account tables and other
// sessions' SQL, load plugins, create routines, switch off the binlog) is
// refused with the right error.
func TestShardAccountAttacks(t *testing.T) {
	p := startProxy(t, options{})
	app := func(db, sql string, want uint16) attack { return attack{"app", "secret", db, sql, want} }
	ro := func(sql string, want uint16) attack { return attack{"reader", "reader", "customer", sql, want} }
	runAttacks(t, p.Addr, []attack{
		app("customer", "SELECT LOAD_FILE('/etc/passwd')", 1227),
		app("commerce", "SELECT v FROM g_t INTO OUTFILE '"+outfile+"'", 1227),
		app("commerce", "SELECT v FROM g_t LIMIT 1 INTO DUMPFILE '"+outfile+"'", 0),
		app("commerce", "SELECT v INTO @v FROM g_t LIMIT 1", 0), // the parser knows no INTO @var: refused as a syntax error
		app("commerce", "SELECT v FROM g_t LIMIT 1 INTO @v", 0),
		app("customer", "SELECT user, password FROM mysql.user", 1044),
		app("commerce", "SELECT * FROM mysql.global_priv", 1044),
		app("customer", "SELECT * FROM performance_schema.threads", 1044),
		app("customer", "SELECT info FROM information_schema.PROCESSLIST", 1142),
		app("customer", "SELECT * FROM information_schema.INNODB_TRX", 1142),
		app("customer", "SELECT * FROM information_schema.USER_PRIVILEGES", 1142),
		app("commerce", "SELECT * FROM shardgate_2pc_decisions", 1142),
		app("customer", "SHOW ENGINE INNODB STATUS", 0),
		app("customer", "SHOW MASTER STATUS", 1235),
		app("customer", "SHOW CREATE USER root", 1235),
		app("customer", "SHOW PROCEDURE STATUS", 1235),
		// Statements the parser cannot read are never passed through.
		app("commerce", "INSTALL SONAME 'ha_blackhole'", 0),
		app("commerce", "INSTALL PLUGIN blackhole SONAME 'ha_blackhole'", 0),
		app("commerce", "CREATE FUNCTION f_evil() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO g_t VALUES (99, 'evil'); RETURN 1; END", 0),
		app("commerce", "CREATE PROCEDURE p_evil() INSERT INTO g_t VALUES (98, 'evil')", 0),
		app("commerce", "XA START 'x'", 0),
		app("commerce", "SET STATEMENT max_statement_time = 1 FOR INSERT INTO g_t VALUES (97, 'x')", 0),
		app("commerce", "HANDLER g_t OPEN", 0),
		app("commerce", "FLUSH TABLES WITH READ LOCK", 0),
		app("commerce", "LOCK TABLES g_t WRITE", 1235),
		app("customer", "SET sql_log_bin = 0", 1227),
		// The one-shot isolation level is written into the shard's BEGIN.
		app("customer", "SET tx_isolation_one_shot = 'READ COMMITTED; SET GLOBAL max_connections = 7'", 1231),
		app("customer", "SET transaction_isolation_one_shot = 'x'", 1231),
		app("customer", "SET SESSION sql_log_bin = 0", 1227),
		app("customer", "SET GLOBAL max_connections = 7", 1227),
		app("customer", "SET pseudo_thread_id = 1", 1227),
		app("customer", "SET completion_type = 2", 1227),
		app("customer", "SET @x = (SELECT secret FROM vault.secrets LIMIT 1)", 1235),
		app("customer", "SET @x = LOAD_FILE('/etc/passwd')", 1227),
		app("commerce", "CREATE TABLE t_dir (id INT) DATA DIRECTORY = '/tmp'", 1227),
		app("commerce", "CREATE TABLE t_fed (id INT) ENGINE=FEDERATED CONNECTION='mysql://root@127.0.0.1:1/x/y'", 1235),
		app("commerce", "ALTER TABLE g_t DISCARD TABLESPACE", 1227),
		app("commerce", "SELECT sys_exec('id')", 1235),
		app("commerce", "SELECT mysql.no_such()", 1044),
		app("commerce", "SELECT MASTER_GTID_WAIT('0-1-1', 1)", 1227),
		// Read-only users: no locking reads, no named locks, no way out of
		// their read-only transactions.
		ro("SELECT name FROM customer WHERE customer_id = 1 FOR UPDATE", 1290),
		ro("SELECT name FROM customer WHERE customer_id = 1 LOCK IN SHARE MODE", 1290),
		ro("SELECT GET_LOCK('x', 0)", 1235),
		ro("SET SESSION TRANSACTION READ WRITE", 1290),
		ro("SET tx_read_only = 0", 1290),
		ro("SET SESSION transaction_read_only = OFF", 1290),
	})
	// SHOW GRANTS answers with the proxy account's rights, never the shard
	// account's (root's password hash).
	db := open(t, p.Addr, "reader", "reader", "customer")
	grants := strings.Join(rows(t, db, "SHOW GRANTS"), "\n")
	if strings.Contains(grants, "root") || strings.Contains(grants, "PASSWORD") || !strings.Contains(grants, "GRANT SELECT ON *.* TO 'reader'") {
		t.Errorf("SHOW GRANTS as reader: %q", grants)
	}
}
