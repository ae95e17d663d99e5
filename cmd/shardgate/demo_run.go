package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardgate/shardgate/internal/localdb"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/txn"
)

// runDemo starts a global and two shard servers under a temporary folder,
// writes a config, and serves until Ctrl-C, then removes everything.
func runDemo(cmd *cobra.Command, args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "shardgate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Println("starting 3 MariaDB servers under", dir, "...")
	servers, err := localdb.StartCluster(ctx, dir, 3)
	if err != nil {
		return err
	}
	defer localdb.StopAll(servers)
	// The proxy logs in with a least-privilege account, as in production
	// (docs/operations.md): its databases' DML and DDL, nothing more.
	for i, db := range []string{"commerce", "customer", "customer"} {
		if err := servers[i].CreateProxyAccount(ctx, "shardgate", "shardgate-demo", db); err != nil {
			return err
		}
	}
	cfgText := fmt.Sprintf(demoConfig, servers[0].Port, servers[1].Port, servers[2].Port)
	path := filepath.Join(dir, "shardgate.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		return err
	}
	cfg, err := topo.Load(path)
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
		fmt.Printf("\nshardgate is running (config %s).\nConnect with:\n\n  mariadb -h %s -P %s -u app -psecret customer\n\nTry: CREATE TABLE customer (customer_id BIGINT PRIMARY KEY, name VARCHAR(100));\n     INSERT INTO customer VALUES (1,'ada'),(2,'bob'),(3,'cy'),(4,'dee');\n     SELECT * FROM customer WHERE customer_id = 1;\n     CREATE TABLE corder (order_id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id BIGINT NOT NULL, sku VARCHAR(20));\n     INSERT INTO corder (customer_id, sku) VALUES (1,'pen'),(4,'ink');  -- order_id from sequence commerce.corder_seq\n     SELECT LAST_INSERT_ID(); SELECT * FROM corder ORDER BY order_id;\nCtrl-C stops everything and removes %s.\n\n", path, host, port, dir)
	}()
	return serve(ctx, cfg, log, 5*time.Second, txn.Config{}, ready) // default two-phase-commit timeouts
}

const demoConfig = `listen:
  mysql: 127.0.0.1:15306
  http: 127.0.0.1:15000
users:
  - name: app
    password: secret
default_keyspace: customer
global_keyspace: commerce
keyspaces:
  commerce:
    sharded: false
    shards:
      "0": {host: 127.0.0.1, port: %d, user: shardgate, password: shardgate-demo, database: commerce}
  customer:
    sharded: true
    auto_vschema: true
    shards:
      "-80": {host: 127.0.0.1, port: %d, user: shardgate, password: shardgate-demo, database: customer}
      "80-": {host: 127.0.0.1, port: %d, user: shardgate, password: shardgate-demo, database: customer}
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
