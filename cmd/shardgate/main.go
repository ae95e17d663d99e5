// Command shardgate is a MySQL-protocol sharding proxy.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/proxy"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/txn"
)

// Set at build time by the Makefile: -ldflags "-X main.version=… -X
// main.commit=… -X main.buildDate=…".
var (
	version   = "dev"
	commit    = "unknown"
	buildDate = "unknown"
)

// exitConfig is the exit status for a configuration that does not load
// (sysexits' EX_CONFIG): the unit's RestartPreventExitStatus=78 keeps
// systemd from restarting a proxy that cannot start until someone fixes it.
const exitConfig = 78

// configError marks an error of the configuration file.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

func main() {
	if err := rootCmd().Execute(); err != nil {
		if errors.As(err, new(configError)) {
			os.Exit(exitConfig)
		}
		os.Exit(1)
	}
}

// versionLine is what --version and `shardgate version` print.
func versionLine() string {
	return fmt.Sprintf("shardgate %s (commit %s, built %s, %s %s/%s; MySQL protocol, announces %s)",
		version, commit, buildDate, runtime.Version(), runtime.GOOS, runtime.GOARCH, proxy.ServerVersion)
}

// defaultConfig is --config's default: $SHARDGATE_CONFIG, else
// shardgate.yaml.
func defaultConfig() string {
	if p := os.Getenv("SHARDGATE_CONFIG"); p != "" {
		return p
	}
	return "shardgate.yaml"
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "shardgate",
		Short:         "MySQL-protocol sharding proxy",
		Long:          "shardgate serves tables spread over several MySQL/MariaDB servers as one database to ordinary MySQL clients.",
		SilenceUsage:  true,
		SilenceErrors: false,
		Version:       version,
	}
	root.SetVersionTemplate(versionLine() + "\n")
	root.AddCommand(serveCmd(), versionCmd(), demoCmd(), vschemaCmd(), reparentCmd())
	root.AddCommand(reshardCmd(), movetablesCmd()) // workflow.go
	addEtcdCommands(root)                          // topo_cmd.go: topo put|get|watch, vschema apply
	return root
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Println(versionLine())
		},
	}
}

func serveCmd() *cobra.Command {
	var configPath string
	var drain time.Duration
	var debug bool
	var twopc txn.Config // two-phase commit and its resolver
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the proxy in the foreground (SIGTERM or Ctrl-C drains and stops it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(configPath)
			if err != nil {
				return configError{err}
			}
			log, err := newServeLogger(cfg, debug) // ops.go: log.json, log.level
			if err != nil {
				return configError{err}
			}
			twopc.Always = cfg.TransactionMode == "twopc"
			defer log.Sync()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, log, drain, twopc, nil)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", defaultConfig(), "configuration file (YAML; $SHARDGATE_CONFIG sets the default)")
	cmd.Flags().DurationVar(&drain, "drain-timeout", 30*time.Second, "on shutdown, how long sessions may finish their work")
	cmd.Flags().BoolVar(&debug, "debug", false, "log at debug level")
	cmd.Flags().DurationVar(&twopc.ResolveInterval, "twopc-resolve-interval", txn.DefaultResolveInterval, "how often the two-phase-commit resolver scans XA RECOVER and the decision table")
	cmd.Flags().DurationVar(&twopc.AbortTimeout, "twopc-abort-timeout", txn.DefaultAbortTimeout, "a transaction prepared without a commit decision for this long is rolled back by the resolver (use the same value on every proxy)")
	return cmd
}

func newLogger(debug bool) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	zc.Encoding = "console"
	zc.EncoderConfig.EncodeTime = zapISOTime
	if debug {
		zc.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
	}
	return zc.Build()
}

// serve runs the proxy until ctx ends. ready, if not nil, gets the MySQL
// address once listening.
func serve(ctx context.Context, cfg *config.Config, log *zap.Logger, drain time.Duration, twopc txn.Config, ready chan<- string) error {
	ln, err := net.Listen("tcp", cfg.Listen.MySQL)
	if err != nil {
		return fmt.Errorf("listen on %s (listen.mysql): %w", cfg.Listen.MySQL, err)
	}
	var et *etcdTopology // topology.source etcd (topo_cmd.go)
	if cfg.Topology.Source == "etcd" {
		if et, err = openEtcdTopology(ctx, cfg, ln.Addr().String(), log); err != nil {
			ln.Close()
			return err
		}
		defer et.close()
	}
	r := router.New(cfg, log)
	defer r.Close()
	hm := startHA(ctx, cfg, r, et, ln.Addr().String(), log) // ha.go: prober, failover, buffer
	defer hm.Close()
	r.LoadSchema(ctx)
	r.CheckPrivilegesInBackground()
	if c := r.Coordinator(); c != nil {
		// The two-phase-commit resolver: finishes what crashes left prepared.
		res := txn.NewResolver(c, r.Pools, twopc, log)
		rctx, stopResolver := context.WithCancel(ctx)
		resolverDone := make(chan struct{})
		go func() {
			defer close(resolverDone)
			res.Run(rctx)
		}()
		defer func() {
			stopResolver()
			<-resolverDone
		}()
	}
	srv := proxy.New(cfg, r, log)
	wm := newWorkflows(cfg, r, et, hm, log)                     // workflow.go: online workflows (etcd only)
	stopOps, err := startOps(ctx, cfg, r, srv, et, hm, wm, log) // ops.go: metrics, HTTP admin, SIGHUP reload, systemd notify
	if err != nil {
		return err
	}
	defer stopOps()
	if et != nil {
		et.follow(ctx, r) // after startOps, whose observer its DDL hook wraps
		defer et.close()
		wm.Start(ctx)
		defer wm.Close()
	}
	log.Info("shardgate listening", zap.String("mysql", ln.Addr().String()), zap.String("config", cfg.Path),
		zap.Strings("keyspaces", cfg.Keyspaces.Names()))
	if ready != nil {
		ready <- ln.Addr().String()
	}
	err = srv.Serve(ctx, ln, drain)
	log.Info("shardgate stopped")
	return err
}

func vschemaCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "vschema", Short: "Work with vschemas"}
	var configPath string
	var offline bool
	var timeout time.Duration
	check := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Load a configuration and its vschemas, check the shards' AUTO_INCREMENT columns, report problems or OK",
		Long: `Loads a configuration and its vschemas as "shardgate serve" would and reports the first
problems, or a line per keyspace and OK.

Then, unless --offline is given, it connects to the first shard of every sharded keyspace
(with the account of the configuration; it only reads information_schema and MAX() of id
columns, and writes nothing) and reports every table whose ids can collide across shards:
an AUTO_INCREMENT column without a sequence, which every shard numbers on its own, and
sequence tables the vschema names that do not exist. With auto_vschema: true such
columns get a sequence in the global keyspace (created by the proxy), so only tables it
cannot cover are reported. The exit status is 1 when a problem is found or a shard cannot
be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(configPath)
			if err != nil {
				return configError{err}
			}
			for _, name := range cfg.Keyspaces.Names() {
				ks, _ := cfg.Keyspaces.Keyspace(name)
				fmt.Printf("keyspace %s: sharded=%v shards=%d tables=%d\n", name, ks.Sharded, len(ks.Shards), len(ks.Tables))
			}
			if !offline {
				if err := checkIDs(cmd.Context(), cfg, timeout); err != nil {
					return err
				}
			}
			fmt.Println("OK")
			return nil
		},
	}
	check.Flags().StringVarP(&configPath, "config", "c", defaultConfig(), "configuration file (YAML; $SHARDGATE_CONFIG sets the default)")
	check.Flags().BoolVar(&offline, "offline", false, "check the files only; do not connect to the shards")
	check.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long reading the shards may take")
	cmd.AddCommand(check)
	return cmd
}

// checkIDs reports the tables of cfg's sharded keyspaces whose ids can
// collide across shards (router.CheckIDs).
func checkIDs(ctx context.Context, cfg *config.Config, timeout time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := router.New(cfg, zap.NewNop())
	defer r.Close()
	problems, err := r.CheckIDs(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the shards to check their AUTO_INCREMENT columns (--offline checks the files only): %w", err)
	}
	for _, p := range problems {
		fmt.Println("PROBLEM:", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) with the ids of sharded tables", len(problems))
	}
	fmt.Println("ids: every AUTO_INCREMENT column of a sharded table has a sequence")
	return nil
}
