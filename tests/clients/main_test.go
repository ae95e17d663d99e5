// Package clients tests issue 5: every common MySQL client works through
// shardgate unchanged. Each suite drives a real client against the proxy
// (running in-process over real mariadbd servers started by TestMain):
//
//   - Connector/J (Debian's libmariadb-java), a Java program compiled by the
//     test (testdata/Main.java), with useServerPrepStmts true and false and
//     rewriteBatchedStatements;
//   - go-sql-driver/mysql, with and without interpolateParams;
//   - PyMySQL (testdata/pymysql_test.py);
//   - the mariadb command-line client;
//   - sysbench's OLTP workloads with --db-ps-mode=auto and disable;
//   - session and protocol features (COM_STATISTICS, COM_RESET_CONNECTION,
//     COM_CHANGE_USER, KILL, SHOW ..., information_schema) through
//     go-mysql's client and go-sql-driver.
//
// The Java and Python programs print one line per check, "ok <name>" or
// "FAIL <name>: <detail>"; the Go test turns every FAIL into a test error.
// They also run against a plain MariaDB server (servers[3]) holding the same
// tables: a check failing there is a mistake of the test, not of the proxy.
package clients

import (
	"os"
	"testing"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// servers: 0 = global keyspace (commerce), 1-2 = customer shards -80 and
// 80-, 3 = one plain MariaDB, the reference the client programs also run
// against.
var servers []*mariadbd.Server

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, 4, &servers)) }

// testVSchema is the customer keyspace's vschema: the hash vindex only. Every
// table of these tests gets its vschema from auto_vschema (hash on the first
// primary-key column; AUTO_INCREMENT columns get a sequence in commerce).
const testVSchema = `vindexes:
  hash: {type: hash}
tables: {}
`
