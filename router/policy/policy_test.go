package policy

import (
	"testing"

	"github.com/pingcap/tidb/pkg/parser"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

type env struct{ sec config.Security }

func (e *env) Keyspace(name string) (*topo.Keyspace, bool) {
	if name == "customer" || name == "commerce" {
		return &topo.Keyspace{Name: name}, true
	}
	return nil, false
}
func (e *env) SessionKeyspace() string    { return "customer" }
func (e *env) Security() *config.Security { return &e.sec }

// Check refuses by default what a client may not do on a shard and reports
// the keyspaces, tables and locking a user's rights are checked against.
func TestCheck(t *testing.T) {
	e := &env{sec: config.Security{AllowFunctions: []string{"shop.refresh_stats"}}}
	p := parser.New()
	for _, tc := range []struct {
		sql       string
		code      uint16 // 0: allowed
		keyspaces []string
		tables    []string
		locks     bool
	}{
		{sql: "SELECT * FROM corder o JOIN commerce.product p ON p.sku = o.sku", keyspaces: []string{"customer", "commerce"}, tables: []string{"customer.corder", "commerce.product"}},
		{sql: "SELECT * FROM customer FOR UPDATE", keyspaces: []string{"customer"}, tables: []string{"customer.customer"}, locks: true},
		{sql: "SELECT * FROM mysql.user", code: 1044},
		{sql: "SELECT * FROM other.t", code: 1049},
		{sql: "SELECT LOAD_FILE('/etc/passwd')", code: 1227},
		{sql: "SELECT my_udf(1)", code: 1235},
		{sql: "SELECT shop.refresh_stats()", keyspaces: nil},
		{sql: "SELECT @a := 1", code: 1235},
		{sql: "SELECT * FROM t INTO OUTFILE '/tmp/x'", code: 1227},
		{sql: "CREATE TABLE t (a INT) ENGINE=CONNECT", code: 1235},
	} {
		stmt, err := p.ParseOneStmt(tc.sql, "", "")
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		f, err := Check(e, stmt)
		if tc.code != 0 {
			if err == nil || wire.AsError(err).Code != tc.code {
				t.Errorf("%s: %v, want error %d", tc.sql, err, tc.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.sql, err)
			continue
		}
		if !equal(f.Keyspaces, tc.keyspaces) || !equal(f.Tables, tc.tables) || f.Locks != tc.locks {
			t.Errorf("%s: found %+v, want keyspaces %v tables %v locks %v", tc.sql, *f, tc.keyspaces, tc.tables, tc.locks)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
