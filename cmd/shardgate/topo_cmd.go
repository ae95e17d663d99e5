package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/topo"
)

// addEtcdCommands adds `topo put|get|watch` and `vschema apply`.
func addEtcdCommands(root *cobra.Command) {
	root.AddCommand(topoCmd())
	for _, c := range root.Commands() {
		if c.Name() == "vschema" {
			c.AddCommand(vschemaApplyCmd())
		}
	}
}

// etcdFlags are the flags every etcd command takes.
type etcdFlags struct {
	fs          *pflag.FlagSet
	config      string // --config: topology.etcd of that file, unless flags say otherwise
	endpoints   string
	prefix      string
	dialTimeout time.Duration
	ca          string
	cert        string
	key         string
}

func (f *etcdFlags) register(fs *pflag.FlagSet) {
	def := os.Getenv("SHARDGATE_ETCD")
	if def == "" {
		def = "127.0.0.1:2379"
	}
	fs.StringVar(&f.endpoints, "etcd", def, "etcd endpoints, comma-separated host:port or http(s)://host:port ($SHARDGATE_ETCD sets the default)")
	fs.StringVar(&f.prefix, "prefix", topo.DefaultEtcdPrefix, "key prefix of the shardgate cluster in etcd (topology.etcd.prefix of the proxies)")
	fs.DurationVar(&f.dialTimeout, "dial-timeout", topo.DefaultEtcdDialTimeout, "how long to wait for etcd to answer")
	fs.StringVar(&f.ca, "etcd-ca", "", "CA certificate that signed etcd's server certificate (TLS)")
	fs.StringVar(&f.cert, "etcd-cert", "", "client certificate for etcd (TLS, with --etcd-key)")
	fs.StringVar(&f.key, "etcd-key", "", "client key for etcd (TLS, with --etcd-cert)")
	fs.StringVarP(&f.config, "config", "c", os.Getenv("SHARDGATE_CONFIG"),
		"a proxy's configuration file: its topology.etcd (endpoints, prefix, TLS) is used where the flags above are not given ($SHARDGATE_CONFIG sets the default)")
	f.fs = fs
}

func (f *etcdFlags) dial() (*topo.Etcd, error) {
	c := topo.EtcdConfig{Prefix: f.prefix, DialTimeout: f.dialTimeout}
	for _, ep := range strings.Split(f.endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			c.Endpoints = append(c.Endpoints, ep)
		}
	}
	if f.config != "" {
		cfg, err := config.Load(f.config)
		if err != nil {
			return nil, configError{err}
		}
		fe := cfg.Topology.Etcd
		if !f.fs.Changed("etcd") && os.Getenv("SHARDGATE_ETCD") == "" && len(fe.Endpoints) > 0 {
			c.Endpoints = fe.Endpoints
		}
		if !f.fs.Changed("prefix") && fe.Prefix != "" {
			c.Prefix = fe.Prefix
		}
		if !f.fs.Changed("dial-timeout") && fe.DialTimeout > 0 {
			c.DialTimeout = fe.DialTimeout
		}
		if f.ca == "" && f.cert == "" && f.key == "" && fe.TLS != nil {
			c.TLS = fe.TLS
		}
	}
	if f.ca != "" || f.cert != "" || f.key != "" {
		if (f.cert == "") != (f.key == "") {
			return nil, fmt.Errorf("--etcd-cert and --etcd-key go together")
		}
		c.TLS = &topo.EtcdTLS{CA: f.ca, Cert: f.cert, Key: f.key}
	}
	return topo.DialEtcd(c, nil)
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func topoCmd() *cobra.Command {
	var ef etcdFlags
	cmd := &cobra.Command{
		Use:   "topo",
		Short: "Read and write the topology shared through etcd (keyspaces, shards, vschemas, live proxies)",
		Long: `Proxies configured with "topology: {source: etcd}" read their keyspaces from etcd and
follow every change within a second, without dropping client connections.

Layout under the prefix P (default /shardgate):
  P/keyspaces/<name>   one JSON document per keyspace, with the keys of a keyspace in the
                       YAML config: sharded, auto_vschema, shards, vschema
  P/proxies/<id>       one key per live proxy (on a lease: it vanishes when the proxy stops)
  P/schema/<name>      written after DDL on an auto_vschema keyspace: the others re-read it

A document that does not load is refused by every proxy, which logs it, counts it, and keeps
the keyspace's last good version. Write with "topo put" and "vschema apply": they check first.`,
	}
	ef.register(cmd.PersistentFlags())
	cmd.AddCommand(topoPutCmd(&ef), topoGetCmd(&ef), topoWatchCmd(&ef))
	return cmd
}

func topoPutCmd(ef *etcdFlags) *cobra.Command {
	var only []string
	var prune, dryRun bool
	cmd := &cobra.Command{
		Use:   "put --config FILE [--etcd ENDPOINTS] [--prefix P]",
		Short: "Upload the keyspaces of a YAML config to etcd (checked first; all or nothing)",
		Long: `Loads the config file as "shardgate serve" would (vschema_file is inlined), checks the
topology its keyspaces make together with those already in etcd, and writes one document per
keyspace in a single transaction. Every proxy following the prefix applies it within a second.
The file's topology.etcd says where etcd is, unless --etcd and --prefix are given.

Examples:
  shardgate topo put --etcd 10.0.0.5:2379 --config shardgate.yaml
  shardgate topo put --config shardgate.yaml --keyspace customer     # only that keyspace
  shardgate topo put --config shardgate.yaml --prune                 # also delete the others`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			configPath := ef.config
			if configPath == "" {
				configPath = "shardgate.yaml"
				ef.config = configPath // and its topology.etcd
			}
			docs, cfg, err := config.ExportKeyspaces(configPath)
			if err != nil {
				return configError{err}
			}
			if len(only) > 0 {
				sel := map[string]*topo.KeyspaceDoc{}
				for _, name := range only {
					d, ok := docs[name]
					if !ok {
						return fmt.Errorf("keyspace %q is not in %s", name, configPath)
					}
					sel[name] = d
				}
				docs = sel
			}
			if len(docs) == 0 {
				return fmt.Errorf("%s defines no keyspace to upload", configPath)
			}
			e, err := ef.dial()
			if err != nil {
				return err
			}
			defer e.Close()
			ctx, cancel := signalContext()
			defer cancel()
			names := make([]string, 0, len(docs))
			for n := range docs {
				names = append(names, n)
			}
			sort.Strings(names)
			opts := topo.SnapshotOptions{Source: e.Source(), GlobalKeyspace: cfg.GlobalKeyspace}
			if dryRun {
				have, _, err := e.Keyspaces(ctx)
				if err != nil {
					return err
				}
				if prune {
					have = map[string][]byte{}
				}
				for n, d := range docs {
					have[n] = d.Marshal()
				}
				if _, err := topo.BuildSnapshot(have, opts); err != nil {
					return fmt.Errorf("refused, the topology would not load:\n%w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "OK (dry run): would write keyspaces %s under %s\n", strings.Join(names, ", "), e.Prefix())
				return nil
			}
			if err := topo.PutKeyspaceDocs(ctx, e, docs, opts, prune); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote keyspaces %s to etcd %s under %s\n", strings.Join(names, ", "), e.Endpoints(), e.Prefix())
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&only, "keyspace", nil, "upload only these keyspaces (repeatable or comma-separated)")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete keyspaces in etcd that the config does not define")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check only; write nothing")
	return cmd
}

func topoGetCmd(ef *etcdFlags) *cobra.Command {
	var asJSON bool
	var global string
	cmd := &cobra.Command{
		Use:   "get [KEYSPACE]",
		Short: "Show the keyspaces in etcd and the live proxies (or one keyspace's document)",
		Long: `Without argument: a summary of every keyspace (shards and their servers, tables), whether
the topology loads, and the proxies registered (live) under the prefix. With a keyspace name:
its JSON document, as stored (a starting point for editing). --json prints everything as JSON.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := ef.dial()
			if err != nil {
				return err
			}
			defer e.Close()
			ctx, cancel := signalContext()
			defer cancel()
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				doc, _, err := e.Keyspace(ctx, args[0])
				if err != nil {
					return err
				}
				if doc == nil {
					return fmt.Errorf("keyspace %q is not in etcd under %s", args[0], e.Prefix())
				}
				_, err = out.Write(doc)
				return err
			}
			docs, rev, err := e.Keyspaces(ctx)
			if err != nil {
				return err
			}
			proxies, err := e.Proxies(ctx)
			if err != nil {
				return err
			}
			_, loadErr := topo.BuildSnapshot(docs, topo.SnapshotOptions{Source: e.Source(), GlobalKeyspace: global})
			if asJSON {
				v := struct {
					Revision  int64                      `json:"revision"`
					Keyspaces map[string]json.RawMessage `json:"keyspaces"`
					Proxies   []topo.ProxyInfo           `json:"proxies"`
					Error     string                     `json:"error,omitempty"`
				}{Revision: rev, Keyspaces: map[string]json.RawMessage{}, Proxies: proxies}
				for n, d := range docs {
					if json.Valid(d) {
						v.Keyspaces[n] = d
					} else {
						v.Keyspaces[n], _ = json.Marshal(string(d))
					}
				}
				if v.Proxies == nil {
					v.Proxies = []topo.ProxyInfo{}
				}
				if loadErr != nil {
					v.Error = loadErr.Error()
				}
				b, _ := json.MarshalIndent(v, "", "  ")
				_, err := fmt.Fprintln(out, string(b))
				return err
			}
			printTopology(out, e, rev, docs, proxies, loadErr)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print keyspaces, proxies and revision as one JSON object")
	cmd.Flags().StringVar(&global, "global-keyspace", "", "global_keyspace of the proxies, to check sequences named without keyspace")
	return cmd
}

func printTopology(out io.Writer, e *topo.Etcd, rev int64, docs map[string][]byte, proxies []topo.ProxyInfo, loadErr error) {
	fmt.Fprintf(out, "etcd %s, prefix %s, revision %d\n", e.Endpoints(), e.Prefix(), rev)
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(out, "keyspaces (%d):\n", len(names))
	for _, n := range names {
		d, err := topo.ParseKeyspaceDoc(docs[n])
		if err != nil {
			fmt.Fprintf(out, "  %-16s INVALID: %v\n", n, err)
			continue
		}
		kind := "unsharded"
		if d.Sharded != nil && *d.Sharded || d.Sharded == nil && d.VSchema != nil && d.VSchema.Sharded != nil && *d.VSchema.Sharded {
			kind = "sharded"
		}
		if d.AutoVSchema {
			kind += ", auto_vschema"
		}
		tables := 0
		if d.VSchema != nil {
			tables = len(d.VSchema.Tables)
		}
		fmt.Fprintf(out, "  %-16s %s, %d vschema tables\n", n, kind, tables)
		snames := make([]string, 0, len(d.Shards))
		for s := range d.Shards {
			snames = append(snames, s)
		}
		sort.Strings(snames)
		for _, s := range snames {
			sh := d.Shards[s]
			if sh == nil {
				fmt.Fprintf(out, "    %-8s (empty)\n", s)
				continue
			}
			addr := sh.Socket
			if len(sh.Servers) > 0 {
				addr = "servers " + strings.Join(sh.Servers, ", ")
			} else if addr == "" {
				port := sh.Port
				if port == 0 {
					port = topo.DefaultShardPort
				}
				addr = fmt.Sprintf("%s:%d", sh.Host, port)
			}
			db := sh.Database
			if db == "" {
				db = n
			}
			fmt.Fprintf(out, "    %-8s %s user %s database %s\n", s, addr, sh.User, db)
		}
	}
	if loadErr != nil {
		fmt.Fprintf(out, "the topology does NOT load (proxies keep their last good version):\n  %s\n",
			strings.ReplaceAll(loadErr.Error(), "\n", "\n  "))
	} else {
		fmt.Fprintln(out, "the topology loads")
	}
	fmt.Fprintf(out, "live proxies (%d):\n", len(proxies))
	for _, p := range proxies {
		up := ""
		if !p.Started.IsZero() {
			up = ", up " + time.Since(p.Started).Round(time.Second).String()
		}
		fmt.Fprintf(out, "  %-32s mysql %s, host %s, pid %d, version %s%s\n", p.ID, p.MySQL, p.Host, p.PID, p.Version, up)
	}
}

func topoWatchCmd(ef *etcdFlags) *cobra.Command {
	var events int
	var global string
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print changes under the prefix as they happen (Ctrl-C stops)",
		Long: `Prints one line per change: keyspace documents written or deleted (with whether the
topology still loads, as the proxies will judge it), proxies starting and stopping, schema
notices after DDL. --events N exits after N changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := ef.dial()
			if err != nil {
				return err
			}
			defer e.Close()
			ctx, cancel := signalContext()
			defer cancel()
			docs, rev, err := e.Keyspaces(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "watching etcd %s under %s from revision %d\n", e.Endpoints(), e.Prefix(), rev)
			n := 0
			wch := e.Client().Watch(ctx, e.Prefix()+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1))
			for resp := range wch {
				if err := resp.Err(); err != nil {
					return fmt.Errorf("watch: %w", err)
				}
				for _, ev := range resp.Events {
					key := strings.TrimPrefix(string(ev.Kv.Key), e.Prefix()+"/")
					kind, name, _ := strings.Cut(key, "/")
					del := ev.Type == clientv3.EventTypeDelete
					ts := time.Now().Format("15:04:05.000")
					switch kind {
					case "keyspaces":
						what := "written"
						if del {
							delete(docs, name)
							what = "deleted"
						} else {
							docs[name] = ev.Kv.Value
						}
						verdict := "the topology loads"
						if _, err := topo.BuildSnapshot(docs, topo.SnapshotOptions{Source: e.Source(), GlobalKeyspace: global}); err != nil {
							verdict = "REFUSED by the proxies: " + strings.ReplaceAll(err.Error(), "\n", "; ")
						}
						fmt.Fprintf(out, "%s rev %d keyspace %s %s: %s\n", ts, ev.Kv.ModRevision, name, what, verdict)
					case "proxies":
						if del {
							fmt.Fprintf(out, "%s rev %d proxy %s left\n", ts, ev.Kv.ModRevision, name)
						} else {
							var p topo.ProxyInfo
							_ = json.Unmarshal(ev.Kv.Value, &p)
							fmt.Fprintf(out, "%s rev %d proxy %s live (mysql %s, pid %d)\n", ts, ev.Kv.ModRevision, name, p.MySQL, p.PID)
						}
					case "schema":
						var sn topo.SchemaNotice
						_ = json.Unmarshal(ev.Kv.Value, &sn)
						fmt.Fprintf(out, "%s rev %d keyspace %s: DDL on proxy %s, the others re-read its tables\n", ts, ev.Kv.ModRevision, name, sn.Proxy)
					default:
						fmt.Fprintf(out, "%s rev %d %s %s\n", ts, ev.Kv.ModRevision, key, map[bool]string{true: "deleted", false: "written"}[del])
					}
					n++
					if events > 0 && n >= events {
						return nil
					}
				}
			}
			return ctx.Err()
		},
	}
	cmd.Flags().IntVar(&events, "events", 0, "exit after this many changes (0: until Ctrl-C)")
	cmd.Flags().StringVar(&global, "global-keyspace", "", "global_keyspace of the proxies, to check sequences named without keyspace")
	return cmd
}

func vschemaApplyCmd() *cobra.Command {
	var ef etcdFlags
	var global string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply KEYSPACE FILE",
		Short: "Replace a keyspace's vschema in etcd with a Vitess VSchema JSON file (checked first)",
		Long: `Reads FILE (a Vitess VSchema JSON document: vindexes, tables...), checks it alone and then
with the rest of the topology in etcd (vindex types, sequences and their keyspaces), and writes
the keyspace's document with the new vschema, unless it changed meanwhile (then it reads again).
What would not load is refused and nothing is written. Every proxy applies it within a second.

Example:
  shardgate vschema apply customer vschema-customer.json --etcd 10.0.0.5:2379 --global-keyspace commerce`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			if _, err := topo.LoadVSchemaJSON(data); err != nil {
				return fmt.Errorf("%s: refused, the vschema does not load:\n%w", args[1], err)
			}
			e, err := ef.dial()
			if err != nil {
				return err
			}
			defer e.Close()
			ctx, cancel := signalContext()
			defer cancel()
			opts := topo.SnapshotOptions{Source: e.Source(), GlobalKeyspace: global}
			if dryRun {
				return vschemaDryRun(ctx, cmd.OutOrStdout(), e, args[0], data, opts)
			}
			if err := topo.ApplyVSchema(ctx, e, args[0], data, opts); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "vschema of keyspace %s applied (etcd %s, %s)\n", args[0], e.Endpoints(), e.KeyspaceKey(args[0]))
			return nil
		},
	}
	ef.register(cmd.Flags())
	cmd.Flags().StringVar(&global, "global-keyspace", "", "global_keyspace of the proxies: the keyspace of sequences named without one")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check only; write nothing")
	return cmd
}

func vschemaDryRun(ctx context.Context, out io.Writer, e *topo.Etcd, ks string, data []byte, opts topo.SnapshotOptions) error {
	all, _, err := e.Keyspaces(ctx)
	if err != nil {
		return err
	}
	cur, ok := all[ks]
	if !ok {
		return fmt.Errorf("keyspace %q is not in etcd under %s: create it first (shardgate topo put)", ks, e.Prefix())
	}
	d, err := topo.ParseKeyspaceDoc(cur)
	if err != nil {
		return err
	}
	d.VSchema, _ = topo.LoadVSchemaJSON(data)
	all[ks] = d.Marshal()
	if _, err := topo.BuildSnapshot(all, opts); err != nil {
		return fmt.Errorf("refused, the topology would not load with this vschema:\n%w", err)
	}
	fmt.Fprintf(out, "OK (dry run): the vschema of keyspace %s loads\n", ks)
	return nil
}

// etcdTopology is serve's side of topology.source etcd: the client, the
// watcher that applies changes to the router, and this proxy's registration.
type etcdTopology struct {
	etcd   *topo.Etcd
	w      *topo.Watcher
	info   topo.ProxyInfo
	log    *zap.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// openEtcdTopology connects to etcd and reads the keyspaces into
// cfg.Keyspaces (or from topology.etcd.cache_file when etcd is down).
func openEtcdTopology(ctx context.Context, cfg *config.Config, mysqlAddr string, log *zap.Logger) (*etcdTopology, error) {
	e, err := topo.DialEtcd(cfg.Topology.Etcd, log)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	info := topo.ProxyInfo{ID: host + "-" + mysqlAddr, MySQL: mysqlAddr, HTTP: cfg.Listen.HTTP, Host: host,
		PID: os.Getpid(), Version: version, Started: time.Now().UTC()}
	w := topo.NewWatcher(e, cfg.GlobalKeyspace, info.ID, log)
	lctx, cancel := context.WithTimeout(ctx, cfg.Topology.Etcd.DialTimeout)
	defer cancel()
	snap, err := w.Load(lctx)
	if err != nil {
		e.Close()
		return nil, err
	}
	if len(cfg.Keyspaces.Keyspaces) > 0 {
		log.Warn("topology.source is etcd: the keyspaces of the config file are ignored", zap.Strings("file_keyspaces", cfg.Keyspaces.Names()))
	}
	cfg.Keyspaces = snap
	log.Info("topology read from etcd", zap.String("endpoints", e.Endpoints()), zap.String("prefix", e.Prefix()),
		zap.Int64("revision", w.Revision()), zap.Strings("keyspaces", snap.Names()))
	return &etcdTopology{etcd: e, w: w, info: info, log: log, cancel: func() {}}, nil
}

// follow applies etcd's changes to r, shares r's DDL on auto_vschema
// keyspaces, and registers the proxy, until close. Call it after
// r.SetObserver (its DDL hook wraps the observer).
func (t *etcdTopology) follow(ctx context.Context, r *router.Router) {
	ctx, t.cancel = context.WithCancel(ctx)
	wait := r.FollowEtcd(ctx, t.w)
	t.wg.Add(2)
	go func() { defer t.wg.Done(); wait() }()
	go func() { defer t.wg.Done(); t.etcd.Register(ctx, t.info, topo.DefaultProxyTTL, t.log) }()
}

// close stops following (revoking the registration) and closes the client.
func (t *etcdTopology) close() {
	t.once.Do(func() {
		t.cancel()
		t.wg.Wait()
		t.etcd.Close()
	})
}
