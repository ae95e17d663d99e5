package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/mariadbd"
	"github.com/shardgate/shardgate/txn"
)

// runDemo starts a global server and two shards of a primary and a replica
// each (GTID replication, semi-sync) under a temporary folder, writes a
// config with automatic failover, and serves until Ctrl-C, then removes
// everything.
func runDemo(cmd *cobra.Command, args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "shardgate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Println("starting 5 MariaDB servers under", dir, "(a global server, and two shards of a primary and a replica) ...")
	var global *mariadbd.Server
	var groups []*mariadbd.Group
	var gerr, serr error
	var wg sync.WaitGroup
	wg.Go(func() { global, gerr = mariadbd.Start(ctx, filepath.Join(dir, "global")) })
	wg.Go(func() { groups, serr = mariadbd.StartGroups(ctx, dir, 2, 1, 2) })
	wg.Wait()
	if global != nil {
		defer global.Stop()
	}
	for _, g := range groups {
		defer g.Stop()
	}
	if err := errors.Join(gerr, serr); err != nil {
		return err
	}
	// The proxy logs in with a least-privilege account, as in production
	// (docs/operations.md): its databases' DML and DDL, nothing more (on the
	// groups, mariadbd.AppUser: no READ_ONLY ADMIN, so read_only fences it).
	if err := global.CreateProxyAccount(ctx, mariadbd.AppUser, "", "commerce"); err != nil {
		return err
	}
	for _, g := range groups {
		if err := g.Primary().Exec(ctx, "CREATE DATABASE IF NOT EXISTS customer"); err != nil {
			return err
		}
	}
	cfgText := fmt.Sprintf(demoConfig, global.Port, mariadbd.AppUser, groups[0].Servers[0].Addr(), groups[0].Servers[1].Addr(), mariadbd.AppUser,
		groups[1].Servers[0].Addr(), groups[1].Servers[1].Addr(), mariadbd.AppUser)
	path := filepath.Join(dir, "shardgate.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	log, err := newLogger(false)
	if err != nil {
		return err
	}
	ready := make(chan string, 1)
	go func() {
		addr := <-ready
		host, port := splitHostPort(addr)
		p := groups[0].Primary()
		fmt.Printf(`
shardgate is running (config %s).
Connect with:

  mariadb -h %s -P %s -u app -psecret customer            # reads and writes on the primaries
  mariadb -h %s -P %s -u app -psecret customer@replica    # reads from the replicas

Try: CREATE TABLE customer (customer_id BIGINT PRIMARY KEY, name VARCHAR(100));
     INSERT INTO customer VALUES (1,'ada'),(2,'bob'),(3,'cy'),(4,'dee');
     SELECT * FROM customer WHERE customer_id = 1;
     CREATE TABLE corder (order_id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id BIGINT NOT NULL, sku VARCHAR(20));
     INSERT INTO corder (customer_id, sku) VALUES (1,'pen'),(4,'ink');  -- order_id from sequence commerce.corder_seq
     SELECT LAST_INSERT_ID(); SELECT * FROM corder ORDER BY order_id;

Watch it heal: kill the primary of shard -80 and keep querying (a statement waits for
the replica to be promoted, a few hundred milliseconds):

  kill -9 %d                                  # mariadbd of %s
  curl -s http://127.0.0.1:15000/api/shards   # roles, lag
  curl -s http://127.0.0.1:15000/api/recoveries

The console: http://127.0.0.1:15000/ (actions log in as ops, password ops).
Planned switch (user ops, password ops): SHARDGATE_PASSWORD=ops shardgate reparent --user ops --keyspace customer --shard 80-
Ctrl-C stops everything and removes %s.

`, path, host, port, host, port, p.Pid(), p.Addr(), dir)
	}()
	return serve(ctx, cfg, log, 5*time.Second, txn.Config{}, ready) // default two-phase-commit timeouts
}

const demoConfig = `listen:
  mysql: 127.0.0.1:15306
  http: 127.0.0.1:15000
users:
  - name: app
    password: secret
  - name: ops
    password: ops
    admin: true
default_keyspace: customer
global_keyspace: commerce
ha:
  failover: auto
  replication: {user: repl, password: repl}
  admin: {user: root, password: ""}
  probe_interval: 200ms
  probe_timeout: 500ms
  replica_max_lag: 5s
  recovery_block_period: 1m
keyspaces:
  commerce:
    sharded: false
    shards:
      "0": {host: 127.0.0.1, port: %d, user: %s, password: "", database: commerce}
  customer:
    sharded: true
    auto_vschema: true
    shards:
      "-80": {servers: ["%s", "%s"], user: %s, password: "", database: customer}
      "80-": {servers: ["%s", "%s"], user: %s, password: "", database: customer}
    vschema:
      vindexes: {hash: {type: hash}}
      tables:
        customer:
          column_vindexes: [{column: customer_id, name: hash}]
        corder:
          column_vindexes: [{column: customer_id, name: hash}]
          auto_increment: {column: order_id, sequence: commerce.corder_seq}
        country: {type: reference}
`
