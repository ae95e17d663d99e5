package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

func rawConnect(t *testing.T, addr, db string) *client.Conn {
	t.Helper()
	c, err := client.Connect(addr, "app", "secret", db)
	if err != nil {
		t.Fatalf("connect to the proxy (db %q): %v", db, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func rawExec(t *testing.T, c *client.Conn, q string) *gmysql.Result {
	t.Helper()
	r, err := c.Execute(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

func resultStrings(t *testing.T, r *gmysql.Result) []string {
	t.Helper()
	var out []string
	if r.Resultset == nil {
		return nil
	}
	for i := 0; i < r.RowNumber(); i++ {
		var parts []string
		for j := 0; j < r.ColumnNumber(); j++ {
			v, err := r.GetValue(i, j)
			if err != nil {
				t.Fatal(err)
			}
			if v == nil {
				parts = append(parts, "NULL")
			} else {
				s, _ := r.GetString(i, j)
				parts = append(parts, fmt.Sprintf("%q", s))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

// TestSessionBasics: USE, COM_INIT_DB, SHOW, session functions, COM_PING,
// COM_FIELD_LIST, COM_QUIT.
func TestSessionBasics(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS sess_t")
	mustExec(t, db, "CREATE TABLE sess_t (customer_id BIGINT NOT NULL PRIMARY KEY, label VARCHAR(20) NOT NULL DEFAULT 'x', KEY by_label (label)) DEFAULT CHARSET=utf8mb4")
	mustExec(t, db, "DROP TABLE IF EXISTS commerce.sess_global")
	mustExec(t, db, "CREATE TABLE commerce.sess_global (id INT PRIMARY KEY)")

	// COM_PING.
	if err := db.Ping(); err != nil {
		t.Errorf("db.Ping: %v", err)
	}

	c := conn(t, db)
	// Database chosen in the DSN (handshake).
	wantRows(t, "DATABASE() from the DSN", mustQuery(t, c, "SELECT DATABASE()"), []string{`"customer"`}, true)
	// USE ks.
	mustExec(t, c, "USE commerce")
	wantRows(t, "DATABASE() after USE commerce", mustQuery(t, c, "SELECT DATABASE()"), []string{`"commerce"`}, true)
	cols, rows, err := query(c, "SHOW TABLES")
	if err != nil {
		t.Fatalf("SHOW TABLES in commerce: %v", err)
	}
	if len(cols) != 1 || cols[0] != "Tables_in_commerce" {
		t.Errorf("SHOW TABLES in commerce: columns %q, want [Tables_in_commerce]", cols)
	}
	if !containsLine(rows, `"sess_global"`) || containsLine(rows, `"sess_t"`) {
		t.Errorf("SHOW TABLES in commerce: %q, want sess_global and not sess_t", rows)
	}
	mustExec(t, c, "USE `customer`")
	wantRows(t, "DATABASE() after USE customer", mustQuery(t, c, "SELECT DATABASE()"), []string{`"customer"`}, true)

	// SHOW DATABASES: the keyspaces.
	cols, rows, err = query(c, "SHOW DATABASES")
	if err != nil {
		t.Fatalf("SHOW DATABASES: %v", err)
	}
	if len(cols) != 1 || cols[0] != "Database" {
		t.Errorf("SHOW DATABASES columns %q, want [Database]", cols)
	}
	for _, ks := range []string{`"commerce"`, `"customer"`} {
		if !containsLine(rows, ks) {
			t.Errorf("SHOW DATABASES: %q lacks %s", rows, ks)
		}
	}
	// SHOW TABLES in the sharded keyspace.
	cols, rows, err = query(c, "SHOW TABLES")
	if err != nil {
		t.Fatalf("SHOW TABLES: %v", err)
	}
	if len(cols) != 1 || cols[0] != "Tables_in_customer" {
		t.Errorf("SHOW TABLES columns %q, want [Tables_in_customer]", cols)
	}
	if !containsLine(rows, `"sess_t"`) {
		t.Errorf("SHOW TABLES: %q lacks sess_t", rows)
	}
	wantRows(t, "SHOW TABLES LIKE", mustQuery(t, c, "SHOW TABLES LIKE 'sess\\_%'"), []string{`"sess_t"`}, true)
	wantRows(t, "SHOW DATABASES LIKE", mustQuery(t, c, "SHOW DATABASES LIKE 'cust%'"), []string{`"customer"`}, true)
	if rows := mustQuery(t, c, "SHOW TABLES FROM commerce"); !containsLine(rows, `"sess_global"`) || containsLine(rows, `"sess_t"`) {
		t.Errorf("SHOW TABLES FROM commerce: %q", rows)
	}
	if cols, rows, err := query(c, "SHOW FULL TABLES LIKE 'sess_t'"); err != nil || strings.Join(cols, ",") != "Tables_in_customer (sess_t),Table_type" || len(rows) != 1 || rows[0] != `"sess_t"|"BASE TABLE"` {
		t.Errorf("SHOW FULL TABLES LIKE 'sess_t': %q %q %v", cols, rows, err)
	}
	if _, rows, err := query(c, "SHOW COLUMNS FROM sess_t"); err != nil || len(rows) != 2 || !strings.HasPrefix(rows[0], `"customer_id"|"bigint(20)"|"NO"|"PRI"`) {
		t.Errorf("SHOW COLUMNS FROM sess_t: %q %v", rows, err)
	}
	// SHOW CREATE TABLE.
	cols, rows, err = query(c, "SHOW CREATE TABLE sess_t")
	if err != nil {
		t.Fatalf("SHOW CREATE TABLE: %v", err)
	}
	if strings.Join(cols, ",") != "Table,Create Table" || len(rows) != 1 {
		t.Errorf("SHOW CREATE TABLE: columns %q, %d rows", cols, len(rows))
	} else {
		for _, s := range []string{`"sess_t"|`, "CREATE TABLE `sess_t`", "`customer_id` bigint(20) NOT NULL", "`label` varchar(20)", "KEY `by_label`"} {
			if !strings.Contains(rows[0], s) {
				t.Errorf("SHOW CREATE TABLE: %s lacks %q", rows[0], s)
			}
		}
	}
	// Keyspace-qualified SHOW CREATE TABLE from another keyspace.
	_, rows, err = query(c, "SHOW CREATE TABLE commerce.sess_global")
	if err != nil || len(rows) != 1 || !strings.Contains(rows[0], "CREATE TABLE `sess_global`") {
		t.Errorf("SHOW CREATE TABLE commerce.sess_global: %q, %v", rows, err)
	}

	// Session functions; CONNECTION_ID differs between connections.
	c2 := conn(t, db)
	var ver, comment, dbName string
	var id1, id2 uint64
	if err := c.QueryRowContext(ctx(t), "SELECT @@version, @@version_comment, DATABASE(), CONNECTION_ID()").Scan(&ver, &comment, &dbName, &id1); err != nil {
		t.Fatalf("SELECT @@version...: %v", err)
	}
	if ver == "" || comment == "" || dbName != "customer" || id1 == 0 {
		t.Errorf("SELECT @@version, @@version_comment, DATABASE(), CONNECTION_ID() = %q, %q, %q, %d", ver, comment, dbName, id1)
	}
	if err := c2.QueryRowContext(ctx(t), "SELECT CONNECTION_ID()").Scan(&id2); err != nil {
		t.Fatal(err)
	}
	if id1 == id2 {
		t.Errorf("two connections have the same CONNECTION_ID() %d", id1)
	}
	// With a table: still the proxy's answers, not the shard's.
	mustExec(t, c, "INSERT INTO sess_t (customer_id, label) VALUES (1, 'one')")
	var dbName2, label string
	var id3 uint64
	if err := c.QueryRowContext(ctx(t), "SELECT DATABASE(), CONNECTION_ID(), label FROM sess_t WHERE customer_id = 1").Scan(&dbName2, &id3, &label); err != nil {
		t.Errorf("DATABASE(), CONNECTION_ID() in a routed SELECT: %v", err)
	} else if dbName2 != "customer" || id3 != id1 || label != "one" {
		t.Errorf("DATABASE(), CONNECTION_ID(), label in a routed SELECT = %q, %d, %q; want customer, %d, one", dbName2, id3, label, id1)
	}

	// Raw client: the greeting's connection id is CONNECTION_ID(); COM_INIT_DB;
	// COM_FIELD_LIST; COM_PING; COM_QUIT.
	rc := rawConnect(t, p.Addr, "")
	r := rawExec(t, rc, "SELECT CONNECTION_ID()")
	if got, _ := r.GetUint(0, 0); uint32(got) != rc.GetConnectionID() {
		t.Errorf("CONNECTION_ID() = %d, greeting said %d", got, rc.GetConnectionID())
	}
	if err := rc.UseDB("commerce"); err != nil {
		t.Errorf("COM_INIT_DB commerce: %v", err)
	}
	wantRows(t, "DATABASE() after COM_INIT_DB commerce", resultStrings(t, rawExec(t, rc, "SELECT DATABASE()")), []string{`"commerce"`}, true)
	err = rc.UseDB("nope_ks")
	wantErrGoMySQL(t, "COM_INIT_DB nope_ks", err, 1049, "nope_ks")
	wantRows(t, "DATABASE() after a failed COM_INIT_DB", resultStrings(t, rawExec(t, rc, "SELECT DATABASE()")), []string{`"commerce"`}, true)
	if err := rc.UseDB("customer"); err != nil {
		t.Errorf("COM_INIT_DB customer: %v", err)
	}
	fields, err := rc.FieldList("sess_t", "")
	if err != nil {
		t.Errorf("COM_FIELD_LIST sess_t: %v", err)
	} else {
		var names []string
		for _, f := range fields {
			names = append(names, string(f.Name))
		}
		if strings.Join(names, ",") != "customer_id,label" {
			t.Errorf("COM_FIELD_LIST sess_t: %q, want customer_id,label", names)
		}
	}
	if err := rc.Ping(); err != nil {
		t.Errorf("COM_PING: %v", err)
	}
	if err := rc.Quit(); err != nil {
		t.Errorf("COM_QUIT: %v", err)
	}
	// The proxy is fine after a client quits.
	wantRows(t, "after another client's COM_QUIT", mustQuery(t, c2, "SELECT 7"), []string{`"7"`}, true)
}

// wantErrGoMySQL is wantErr for the go-mysql client's errors.
func wantErrGoMySQL(t *testing.T, what string, err error, code uint16, substr string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %d", what, code)
		return
	}
	me, ok := unwrapGoMySQL(err)
	if !ok {
		t.Errorf("%s: %v (%T), want MySQL error %d", what, err, err, code)
		return
	}
	if me.Code != code || !strings.Contains(me.Message, substr) {
		t.Errorf("%s: error %d %q, want %d mentioning %q", what, me.Code, me.Message, code, substr)
	}
}

func unwrapGoMySQL(err error) (*gmysql.MyError, bool) {
	for err != nil {
		if me, ok := err.(*gmysql.MyError); ok {
			return me, true
		}
		u, ok := err.(interface{ Cause() error })
		if !ok {
			if w, ok := err.(interface{ Unwrap() error }); ok {
				err = w.Unwrap()
				continue
			}
			return nil, false
		}
		if next := u.Cause(); next != err {
			err = next
		} else {
			return nil, false
		}
	}
	return nil, false
}

// TestStatusFlags: SERVER_STATUS_AUTOCOMMIT and SERVER_STATUS_IN_TRANS in the
// greeting and in every OK and EOF packet.
func TestStatusFlags(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS sess_t")
	mustExec(t, db, "CREATE TABLE sess_t (customer_id BIGINT NOT NULL PRIMARY KEY, label VARCHAR(20) NOT NULL DEFAULT 'x')")

	c := rawConnect(t, p.Addr, "customer")
	check := func(step string, autocommit, inTrans bool) {
		t.Helper()
		if c.IsAutoCommit() != autocommit || c.IsInTransaction() != inTrans {
			t.Errorf("%s: AUTOCOMMIT=%v IN_TRANS=%v, want AUTOCOMMIT=%v IN_TRANS=%v (status %s)",
				step, c.IsAutoCommit(), c.IsInTransaction(), autocommit, inTrans, c.StatusString())
		}
	}
	check("greeting", true, false)
	rawExec(t, c, "SELECT 1")
	check("after SELECT 1 (EOF)", true, false)
	rawExec(t, c, "BEGIN")
	check("after BEGIN", true, true)
	rawExec(t, c, "INSERT INTO sess_t (customer_id) VALUES (1), (100)")
	check("after INSERT in the transaction", true, true)
	rawExec(t, c, "SELECT * FROM sess_t WHERE customer_id = 1")
	check("after a routed SELECT in the transaction (EOF)", true, true)
	rawExec(t, c, "SELECT * FROM sess_t")
	check("after a scatter SELECT in the transaction (EOF)", true, true)
	rawExec(t, c, "COMMIT")
	check("after COMMIT", true, false)
	rawExec(t, c, "START TRANSACTION")
	check("after START TRANSACTION", true, true)
	rawExec(t, c, "ROLLBACK")
	check("after ROLLBACK", true, false)
	rawExec(t, c, "SET autocommit=0")
	check("after SET autocommit=0", false, false)
	// (MariaDB leaves IN_TRANS off after a SELECT that reads no table; the
	// proxy may start its transaction early: not checked.)
	if r := resultStrings(t, rawExec(t, c, "SELECT @@autocommit")); len(r) != 1 || r[0] != `"0"` {
		t.Errorf("SELECT @@autocommit with autocommit=0: %q", r)
	}
	rawExec(t, c, "UPDATE sess_t SET label = 'y' WHERE customer_id = 1")
	check("after UPDATE with autocommit=0", false, true)
	rawExec(t, c, "COMMIT")
	check("after COMMIT with autocommit=0", false, false)
	rawExec(t, c, "SET autocommit=1")
	check("after SET autocommit=1", true, false)
	rawExec(t, c, "SET @@session.autocommit = OFF")
	check("after SET @@session.autocommit = OFF", false, false)
	rawExec(t, c, "SET AUTOCOMMIT = ON")
	check("after SET AUTOCOMMIT = ON", true, false)
	if r := resultStrings(t, rawExec(t, c, "SELECT @@autocommit")); len(r) != 1 || r[0] != `"1"` {
		t.Errorf("SELECT @@autocommit with autocommit=1: %q", r)
	}
	// An error inside a transaction keeps it open.
	rawExec(t, c, "BEGIN")
	if _, err := c.Execute("SELECT * FROM no_such_table_flags"); err == nil {
		t.Error("SELECT from a missing table: no error")
	}
	check("after an error inside BEGIN", true, true)
	rawExec(t, c, "ROLLBACK")
	check("after ROLLBACK", true, false)
}

// TestReadOnlyUser: the read_only account reads but cannot write, on any
// path (text, prepared, DDL).
func TestReadOnlyUser(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS sess_t")
	mustExec(t, db, "CREATE TABLE sess_t (customer_id BIGINT NOT NULL PRIMARY KEY, label VARCHAR(20) NOT NULL DEFAULT 'x')")
	mustExec(t, db, "INSERT INTO sess_t VALUES (1, 'one'), (100, 'hundred')")
	mustExec(t, db, "CREATE TABLE IF NOT EXISTS commerce.sess_global (id INT PRIMARY KEY)")
	mustExec(t, db, "DELETE FROM commerce.sess_global")
	for _, params := range []string{"interpolateParams=true", "interpolateParams=false"} {
		rdb := directDB2(t, "reader:reader@tcp("+p.Addr+")/customer?"+params)
		wantRows(t, "reader: scatter SELECT", mustQuery(t, rdb, "SELECT customer_id, label FROM sess_t"), []string{`"1"|"one"`, `"100"|"hundred"`}, false)
		wantRows(t, "reader: routed SELECT", mustQuery(t, rdb, "SELECT label FROM sess_t WHERE customer_id = ?", 100), []string{`"hundred"`}, true)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{"INSERT INTO sess_t VALUES (2, 'two')", nil},
			{"INSERT INTO sess_t VALUES (?, ?)", []any{3, "three"}},
			{"UPDATE sess_t SET label = 'changed' WHERE customer_id = 1", nil},
			{"UPDATE sess_t SET label = ?", []any{"changed"}},
			{"DELETE FROM sess_t WHERE customer_id = ?", []any{100}},
			{"DELETE FROM sess_t", nil},
			{"CREATE TABLE ro_new (id INT PRIMARY KEY)", nil},
			{"DROP TABLE sess_t", nil},
			{"TRUNCATE TABLE sess_t", nil},
			{"INSERT INTO commerce.sess_global VALUES (42)", nil},
		} {
			_, err := rdb.ExecContext(ctx(t), q.sql, q.args...)
			if mysqlErr(err) == nil {
				t.Errorf("reader (%s): %s: %v, want a MySQL error", params, q.sql, err)
			}
		}
	}
	wantRows(t, "rows after the reader's attempts", mustQuery(t, db, "SELECT customer_id, label FROM sess_t"), []string{`"1"|"one"`, `"100"|"hundred"`}, false)
	wantRows(t, "global table after the reader's attempts", mustQuery(t, db, "SELECT id FROM commerce.sess_global"), nil, false)
	wantRows(t, "no table ro_new", columnsOn(t, 1, "customer", "ro_new"), nil, false)
}

// TestDefaultKeyspace: a client that connects without a database uses
// default_keyspace (customer) for unqualified tables.
func TestDefaultKeyspace(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS sess_t")
	mustExec(t, db, "CREATE TABLE sess_t (customer_id BIGINT NOT NULL PRIMARY KEY, label VARCHAR(20) NOT NULL DEFAULT 'x')")
	mustExec(t, db, "INSERT INTO sess_t VALUES (1, 'one'), (100, 'hundred')")
	nodb := conn(t, p.DB(t, ""))
	wantRows(t, "routed SELECT without a database", mustQuery(t, nodb, "SELECT label FROM sess_t WHERE customer_id = 100"), []string{`"hundred"`}, true)
	wantRows(t, "scatter SELECT without a database", mustQuery(t, nodb, "SELECT label FROM sess_t"), []string{`"one"`, `"hundred"`}, false)
	if n := mustExec(t, nodb, "INSERT INTO sess_t VALUES (2, 'two')"); n != 1 {
		t.Errorf("INSERT without a database: %d rows", n)
	}
	wantRows(t, "qualified SELECT without a database", mustQuery(t, nodb, "SELECT label FROM customer.sess_t WHERE customer_id = 2"), []string{`"two"`}, true)
}

// TestClientCharset: a client on latin1 (SET NAMES from the handshake and by
// statement) reads and writes through shard connections that use its
// character set: text is converted exactly as one MariaDB converts it.
func TestClientCharset(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS sess_t")
	mustExec(t, db, "CREATE TABLE sess_t (customer_id BIGINT NOT NULL PRIMARY KEY, label VARCHAR(20) NOT NULL) DEFAULT CHARSET=utf8mb4")
	a := idsOnShard(t, 0, 2, 1, shardNames2)
	b := idsOnShard(t, 1, 2, 1, shardNames2)
	// latin1 bytes: "é" = 0xE9, "ü" = 0xFC.
	latin := directDB2(t, "app:secret@tcp("+p.Addr+")/customer?charset=latin1&interpolateParams=true")
	lc := conn(t, latin)
	mustExec(t, lc, "INSERT INTO sess_t VALUES (?, ?), (?, ?)", a[0], "caf\xe9", b[0], "\xfcber")
	// Stored as UTF-8 on the shards.
	for i, id := range []int64{a[0], b[0]} {
		want := []string{`"café"`, `"über"`}[i]
		wantRows(t, "stored on the shard", mustQuery(t, directDB(t, shardOf(t, id, shardNames2)+1, "customer"), "SELECT label FROM sess_t WHERE customer_id = ?", id), []string{want}, true)
	}
	// Read back in latin1 through the proxy: routed and scattered.
	wantRows(t, "latin1 routed read", mustQuery(t, lc, "SELECT label FROM sess_t WHERE customer_id = ?", b[0]), []string{`"\xfcber"`}, true)
	wantRows(t, "latin1 scatter read", mustQuery(t, lc, "SELECT label FROM sess_t"), []string{`"caf\xe9"`, `"\xfcber"`}, false)
	// A utf8mb4 client at the same time sees UTF-8.
	wantRows(t, "utf8mb4 scatter read", mustQuery(t, db, "SELECT label FROM sess_t"), []string{`"café"`, `"über"`}, false)
	// SET NAMES switches the session's shard connections.
	mustExec(t, lc, "SET NAMES utf8mb4")
	mustExec(t, lc, "INSERT INTO sess_t VALUES (?, ?), (?, ?)", a[1], "naïve", b[1], "😀")
	wantRows(t, "after SET NAMES utf8mb4", mustQuery(t, lc, "SELECT label FROM sess_t"), []string{`"café"`, `"über"`, `"naïve"`, `"😀"`}, false)
	mustExec(t, lc, "SET NAMES latin1")
	wantRows(t, "after SET NAMES latin1", mustQuery(t, lc, "SELECT label FROM sess_t WHERE customer_id IN (?, ?)", a[0], a[1]), []string{`"caf\xe9"`, `"na\xefve"`}, false)
}
