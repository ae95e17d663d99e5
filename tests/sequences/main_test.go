// Package sequences tests issue 6 end to end: ids from sequence tables in the
// global keyspace, auto-vschema (tables sharded without a vschema entry, their
// sequences created by CREATE TABLE), schema tracking across restarts,
// reference tables, LAST_INSERT_ID and the SHOW VSCHEMA/SHARDS statements.
// Real mariadbd servers are started by the test, the proxy runs in-process.
package sequences

import (
	"os"
	"testing"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// servers: 0 = global keyspace (commerce), 1-2 = customer shards -80 and
// 80-, 3 = one plain MariaDB, the reference for differential checks.
var servers []*mariadbd.Server

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, 4, &servers)) }

// testVSchema is the customer keyspace's vschema. Every other table of these
// tests has no entry: auto_vschema derives it. iq_ov and iq_old are listed without
// auto_increment, as the issue 26 demo's corder: auto_vschema gives its
// AUTO_INCREMENT column a sequence all the same.
const testVSchema = `vindexes:
  hash: {type: hash}
tables:
  my_t:
    column_vindexes: [{column: id, name: hash}]
    auto_increment: {column: id, sequence: commerce.my_seq}
  ref_t: {type: reference}
  iq_ov:
    column_vindexes: [{column: c, name: hash}]
  iq_old:
    column_vindexes: [{column: c, name: hash}]
`
