// Package testenv gives tests real MariaDB servers (see internal/mariadbd).
//
// Tests that need MariaDB fail when mariadbd is missing, so CI never skips them silently; set
// SHARDGATE_SKIP_MARIADB=1 to skip them on purpose.
package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/mariadbd"
)

// SkipEnv is the environment variable that, set to "1", skips tests needing MariaDB.
const SkipEnv = "SHARDGATE_SKIP_MARIADB"

// StartTimeout bounds starting a cluster.
var StartTimeout = 2 * time.Minute

// Skipped reports whether SHARDGATE_SKIP_MARIADB=1.
func Skipped() bool { return os.Getenv(SkipEnv) == "1" }

// RequireMariaDB skips the test when SHARDGATE_SKIP_MARIADB=1 and otherwise fails it if
// mariadbd is not installed.
func RequireMariaDB(tb testing.TB) {
	tb.Helper()
	if Skipped() {
		tb.Skip(SkipEnv + "=1: skipping a test that needs a real MariaDB server")
	}
	if _, err := mariadbd.FindBinaries(); err != nil {
		tb.Fatalf("%v (or set %s=1 to skip tests that need MariaDB)", err, SkipEnv)
	}
}

// Cluster starts n throwaway MariaDB servers in a temporary folder and kills them (and removes
// the folder) when the test ends.
func Cluster(tb testing.TB, n int) []*mariadbd.Server {
	tb.Helper()
	RequireMariaDB(tb)
	dir := tb.TempDir() // registered first, so removed after the servers are killed
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	servers, err := mariadbd.StartCluster(ctx, dir, n)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mariadbd.KillAll(servers) })
	return servers
}

// Main is for TestMain: it starts one cluster of n servers for the whole package, stores it in
// *servers, runs the tests and kills the cluster. With SHARDGATE_SKIP_MARIADB=1 it starts
// nothing and leaves *servers nil (tests should call RequireMariaDB). Use as
//
//	var servers []*mariadbd.Server
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m, 4, &servers)) }
func Main(m *testing.M, n int, servers *[]*mariadbd.Server) int {
	return MainWithOptions(m, n, mariadbd.Options{}, servers)
}

// MainWithOptions is Main with servers started with opts (a binary log,
// for example).
func MainWithOptions(m *testing.M, n int, opts mariadbd.Options, servers *[]*mariadbd.Server) int {
	if Skipped() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "shardgate-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	s, err := mariadbd.StartClusterWithOptions(ctx, dir, n, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n(set %s=1 to skip tests that need MariaDB)\n", err, SkipEnv)
		return 1
	}
	defer mariadbd.KillAll(s)
	*servers = s
	return m.Run()
}
