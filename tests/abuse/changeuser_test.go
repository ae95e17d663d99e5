package abuse

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/internal/rawclient"
)

// TestChangeUserFailureEndsSession: a COM_CHANGE_USER that fails (wrong
// password, unknown database, a database the new user may not use) answers
// its error and ends the session, as MySQL closes the connection. Before,
// the session went on as the old user after a wrong password, and as the
// new user without a keyspace after a refused database; and the changing
// user's transaction stays rolled back either way.
func TestChangeUserFailureEndsSession(t *testing.T) {
	p := startProxy(t, "")
	bigData(t, 10)
	byShard := idsByShard(t)
	for _, tc := range []struct {
		name, user, pw, db string
		code               uint16
		state, msg         string
	}{
		{"wrong password", "app", "wrong", "customer", mysql.ER_ACCESS_DENIED_ERROR, "28000", "Access denied for user 'app'"},
		{"unknown user", "nobody", "x", "customer", mysql.ER_ACCESS_DENIED_ERROR, "28000", "Access denied for user 'nobody'"},
		{"unknown database", "app", "secret", "nosuch", mysql.ER_BAD_DB_ERROR, "42000", "Unknown database 'nosuch'"},
		{"database the new user may not use", "cust", "custpw", "commerce", mysql.ER_DBACCESS_DENIED_ERROR, "42000", "Access denied for user 'cust' to database 'commerce'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialAbuse(t, p)
			defer c.Close()
			id := byShard[0][0]
			if _, err := c.Query("BEGIN"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Query(fmt.Sprintf("UPDATE kv SET v = 'cu' WHERE id = %d", id)); err != nil {
				t.Fatal(err)
			}
			err := c.ChangeUser(tc.user, tc.pw, tc.db, 45)
			wantMySQLError(t, "COM_CHANGE_USER", err, tc.code, tc.state, tc.msg)
			// The session is over: the next command finds the connection closed.
			_ = c.NetConn().SetDeadline(time.Now().Add(5 * time.Second))
			if r, err := c.Query("SELECT CURRENT_USER(), DATABASE()"); err == nil {
				t.Fatalf("after a failed COM_CHANGE_USER the session still answers: %v", r)
			} else if _, isServer := err.(*rawclient.Error); isServer {
				t.Fatalf("after a failed COM_CHANGE_USER the session still answers, with an error: %v", err)
			}
			// Its transaction was rolled back: the row is unchanged and unlocked.
			db := openDB(t, dsn(p.Addr, "app", "secret", "customer", "timeout=5s", "readTimeout=10s"))
			mustRows(t, db, "SET SESSION innodb_lock_wait_timeout = 3")
			got := mustRows(t, db, fmt.Sprintf("SELECT v FROM kv WHERE id = %d", id))
			sameRows(t, "the changing session's update", got, [][]string{{fmt.Sprintf("v%d", id)}})
			if _, err := db.Exec(fmt.Sprintf("UPDATE kv SET v = v WHERE id = %d", id)); err != nil {
				t.Fatalf("the row is still locked: %v", err)
			}
			db.Close()
			eventually(t, 10*time.Second, "the session to end and its connections to return", func() bool {
				return p.Server.Sessions() == 0 && inUse(p) == 0
			})
		})
	}
	t.Run("success", func(t *testing.T) {
		c := dialAbuse(t, p)
		defer c.Close()
		if err := c.ChangeUser("cust", "custpw", "customer", 45); err != nil {
			t.Fatalf("COM_CHANGE_USER to cust: %v", err)
		}
		if got := c.Value("SELECT DATABASE()"); got != "customer" {
			t.Errorf("DATABASE() = %q, want customer", got)
		}
		if got := c.Value("SELECT v FROM kv WHERE id = 3"); got != "v3" {
			t.Errorf("a query as cust: %q", got)
		}
		_, err := c.Query("USE commerce")
		wantMySQLError(t, "USE commerce as cust", err, mysql.ER_DBACCESS_DENIED_ERROR, "42000", "Access denied for user 'cust'")
	})
}
