package engine

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/vindex"
)

// Server layout (TestMain starts 6 mariadbd):
//
//	servers[0]     the reference: one plain MariaDB holding every row, databases customer + commerce
//	servers[1]     global keyspace `commerce` of both topologies: databases commerce2 and commerce4
//	servers[2..5]  shard servers: the 2-shard topology uses database customer2 on servers[2..3],
//	               the 4-shard topology database customer4 on servers[2..5]
//
// Both topologies live side by side, so one package run loads the data once
// and runs the corpus through both.
const nServers = 6

func refServer() *mariadbd.Server    { return servers[0] }
func globalServer() *mariadbd.Server { return servers[1] }
func shardServers(n int) []*mariadbd.Server {
	return servers[2 : 2+n]
}
func shardDB(n int) string  { return fmt.Sprintf("customer%d", n) }
func globalDB(n int) string { return fmt.Sprintf("commerce%d", n) }

// topologies are the shard counts the corpus runs on.
var topologies = []int{2, 4}

// configYAML is the proxy configuration of the n-shard topology.
func configYAML(n int, extra string) string {
	var b strings.Builder
	b.WriteString("listen:\n  mysql: 127.0.0.1:0\n  http: 127.0.0.1:0\n")
	b.WriteString("users:\n  - name: app\n    password: secret\n")
	b.WriteString("default_keyspace: customer\nglobal_keyspace: commerce\n")
	b.WriteString(extra)
	b.WriteString("\nkeyspaces:\n  commerce:\n    sharded: false\n    shards:\n")
	fmt.Fprintf(&b, "      \"0\": {host: 127.0.0.1, port: %d, user: root, password: \"\", database: %s}\n", globalServer().Port, globalDB(n))
	b.WriteString("  customer:\n    sharded: true\n    auto_vschema: true\n    shards:\n")
	for i, name := range testenv.ShardNames(n) {
		fmt.Fprintf(&b, "      %q: {host: 127.0.0.1, port: %d, user: root, password: \"\", database: %s}\n", name, shardServers(n)[i].Port, shardDB(n))
	}
	b.WriteString("    vschema:\n")
	for _, line := range strings.Split(strings.TrimRight(engineVSchema, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

// runProxy starts an in-process proxy on the n-shard topology (not stopped
// by itself: the caller stops it).
func runProxy(n int, extra string) (*testenv.Proxy, error) {
	dir, err := os.MkdirTemp("", "sg-engine-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, fmt.Sprintf("shardgate-%d.yaml", n))
	cfg, err := config.Parse(path, []byte(configYAML(n, extra)))
	if err != nil {
		return nil, err
	}
	return testenv.RunProxy(cfg)
}

// startProxy starts a proxy on the n-shard topology (data loaded) for the
// test; it stops when the test ends.
func startProxy(t testing.TB, n int, extra string) *testenv.Proxy {
	t.Helper()
	loadOnce(t)
	p, err := runProxy(n, extra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

var (
	loadMu   sync.Mutex
	loadDone bool
	loadErr  error
	data     *dataset
)

// loadOnce creates the schema and loads the data set on both topologies
// (through a proxy, so rows land on their shards and the reference table on
// every shard) and on the reference MariaDB, once per package run.
func loadOnce(t testing.TB) {
	t.Helper()
	testenv.RequireMariaDB(t)
	loadMu.Lock()
	defer loadMu.Unlock()
	if !loadDone {
		loadDone = true
		start := time.Now()
		data = generate()
		loadErr = load(data)
		if loadErr == nil {
			t.Logf("schema and data (%d customers, %d orders, %d payments, %d products, %d countries) loaded on the reference and on 2 and 4 shards in %v",
				len(data.customers), len(data.orders), len(data.payments), len(data.products), len(data.countries), time.Since(start).Round(time.Millisecond))
		}
	}
	if loadErr != nil {
		t.Fatalf("loading the test data: %v", loadErr)
	}
}

func load(d *dataset) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := refServer().Exec(ctx, "CREATE DATABASE customer", "CREATE DATABASE commerce"); err != nil {
		return err
	}
	for _, n := range topologies {
		if err := globalServer().Exec(ctx, "CREATE DATABASE "+globalDB(n)); err != nil {
			return err
		}
		for _, s := range shardServers(n) {
			if err := s.Exec(ctx, "CREATE DATABASE "+shardDB(n)); err != nil {
				return err
			}
		}
	}
	stmts := append(append([]string{}, schemaDDL...), d.loadStatements()...)

	// The reference: plain MariaDB, database customer (commerce.product qualified).
	ref, err := sql.Open("mysql", "root@tcp("+refServer().Addr()+")/customer")
	if err != nil {
		return err
	}
	defer ref.Close()
	if err := execAll(ctx, ref, stmts); err != nil {
		return fmt.Errorf("reference: %w", err)
	}

	errc := make(chan error, len(topologies))
	for _, n := range topologies {
		go func() {
			p, err := runProxy(n, "")
			if err != nil {
				errc <- err
				return
			}
			defer p.Stop()
			db, err := sql.Open("mysql", p.DSN("customer"))
			if err != nil {
				errc <- err
				return
			}
			defer db.Close()
			if err := execAll(ctx, db, stmts); err != nil {
				errc <- fmt.Errorf("through the %d-shard proxy: %w", n, err)
				return
			}
			errc <- checkPlacement(ctx, n, d)
		}()
	}
	for range topologies {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	return err
}

func execAll(ctx context.Context, db *sql.DB, stmts []string) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, q := range stmts {
		if _, err := c.ExecContext(ctx, q); err != nil {
			if len(q) > 300 {
				q = q[:300] + "..."
			}
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// checkPlacement reads every shard directly: each sharded row must be on the
// shard its vindex value maps to, every row must be somewhere, and every
// shard (and the global keyspace) must hold the whole reference table.
func checkPlacement(ctx context.Context, n int, d *dataset) error {
	h, err := vindex.New("hash", nil)
	if err != nil {
		return err
	}
	names := testenv.ShardNames(n)
	total := map[string]int{}
	for i, s := range shardServers(n) {
		kr, err := vindex.ParseKeyRange(names[i])
		if err != nil {
			return err
		}
		db, err := s.DB(shardDB(n))
		if err != nil {
			return err
		}
		defer db.Close()
		for _, tc := range []struct{ table, col string }{{"customer", "customer_id"}, {"corder", "customer_id"}, {"payment", "payment_id"}} {
			rows, err := db.QueryContext(ctx, "SELECT "+tc.col+" FROM "+tc.table)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ksid, err := h.Map(id)
				if err != nil {
					rows.Close()
					return err
				}
				if !kr.Contains(ksid) {
					rows.Close()
					return fmt.Errorf("%d shards: %s row with %s=%d is on shard %s, its keyspace id %x is not", n, tc.table, tc.col, id, names[i], ksid)
				}
				total[tc.table]++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		var nc int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM country").Scan(&nc); err != nil {
			return fmt.Errorf("%d shards: reference table on shard %s: %w", n, names[i], err)
		}
		if nc != len(d.countries) {
			return fmt.Errorf("%d shards: reference table country has %d rows on shard %s, want %d", n, nc, names[i], len(d.countries))
		}
	}
	for table, want := range map[string]int{"customer": len(d.customers), "corder": len(d.orders), "payment": len(d.payments)} {
		if total[table] != want {
			return fmt.Errorf("%d shards: %d rows of %s on the shards, want %d", n, total[table], table, want)
		}
	}
	return nil
}
