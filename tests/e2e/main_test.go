// Package e2e drives shardgate end to end: real mariadbd servers started by
// the test, the proxy in-process, real clients.
//
// Files: placement (rows on the shard the Vitess hash names, read directly
// on each shard), differential (testdata/skeleton_corpus.sql through the
// proxy and against one plain MariaDB; add statements there), unsupported
// (scatter merges refused with 1235 or answered right), driver
// (go-sql-driver with and without interpolateParams, prepared statements,
// types), cli (mariadb, mariadb-admin), session (USE, SHOW, status flags,
// charsets), txn (multi-mode transactions, isolation), badinput (errors,
// huge packets, auth, a killed shard), ddl (broadcast, partial failure),
// concurrency. Each test uses its own tables (listed in testVSchema); tests
// that kill servers start their own cluster.
package e2e

import (
	"os"
	"testing"

	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
)

// servers: 0 = global keyspace, 1-2 = customer shards, 3 = one plain MariaDB
// holding all rows, the reference for differential tests.
var servers []*mariadbd.Server

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, 4, &servers)) }

const testVSchema = `vindexes:
  hash: {type: hash}
tables:
  customer:
    column_vindexes: [{column: customer_id, name: hash}]
  corder:
    column_vindexes: [{column: customer_id, name: hash}]
  country: {type: reference}
  place_t:
    column_vindexes: [{column: customer_id, name: hash}]
  unsup_t:
    column_vindexes: [{column: customer_id, name: hash}]
  drv_t:
    column_vindexes: [{column: id, name: hash}]
  types_t:
    column_vindexes: [{column: id, name: hash}]
  sess_t:
    column_vindexes: [{column: customer_id, name: hash}]
  txn_t:
    column_vindexes: [{column: customer_id, name: hash}]
  bad_t:
    column_vindexes: [{column: customer_id, name: hash}]
  ddl_t:
    column_vindexes: [{column: customer_id, name: hash}]
  ddl_fail_t:
    column_vindexes: [{column: customer_id, name: hash}]
  cli_t:
    column_vindexes: [{column: customer_id, name: hash}]
`

func TestSmoke(t *testing.T) {
	testenv.RequireMariaDB(t)
	p := testenv.StartProxy(t, testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: testVSchema})
	db := p.DB(t, "customer")
	for _, q := range []string{
		"DROP TABLE IF EXISTS smoke",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var v string
	if err := db.QueryRow("SELECT DATABASE()").Scan(&v); err != nil || v != "customer" {
		t.Fatalf("DATABASE() = %q, %v", v, err)
	}
}
