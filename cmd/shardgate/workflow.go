package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/workflow"
)

// newWorkflows makes the proxy's part in the online workflows (they need
// an etcd topology; nil without one). Start it once the router follows
// etcd.
func newWorkflows(cfg *config.Config, r *router.Router, et *etcdTopology, hm *ha.Manager, log *zap.Logger) *workflow.Manager {
	if et == nil {
		return nil
	}
	return workflow.New(workflow.Config{
		Etcd: et.etcd, Watcher: et.w, ProxyID: et.info.ID,
		Snapshot: r.Snapshot, Pools: r.Pools, HA: hm,
		Settings: cfg.Workflow, Pool: cfg.Pool, GlobalKeyspace: cfg.GlobalKeyspace, Log: log,
	})
}

// workflowFlags are the flags every reshard/movetables command shares.
type workflowFlags struct {
	server, keyspace, name, user string
	timeout                      time.Duration
	jsonOut                      bool
}

func reshardCmd() *cobra.Command {
	return workflowCmd(workflow.TypeReshard, "keyspace", `Reshard a sharded keyspace online: copy its tables from a set of serving shards to another set
covering the same key range (split -80,80- into -40,40-80,80-c0,c0-, or merge), follow every change
from the sources' binary logs, compare both sides, and switch traffic in well under a second, and back.

Declare the target shards first in the keyspace with serving: false and upload the configuration
(shardgate topo put). Then, against a running proxy (--server: its listen.http address):

  shardgate reshard --server S --keyspace customer --workflow split4 create --source-shards -80,80- --target-shards -40,40-80,80-c0,c0-
  shardgate reshard --server S --keyspace customer --workflow split4 show
  shardgate reshard --server S --keyspace customer --workflow split4 vdiff
  shardgate reshard --server S --keyspace customer --workflow split4 switchtraffic
  shardgate reshard --server S --keyspace customer --workflow split4 reversetraffic   (back, if needed)
  shardgate reshard --server S --keyspace customer --workflow split4 complete

Commands that change state need a user with admin: true (--user; password in SHARDGATE_PASSWORD or
asked). See docs/workflows.md.`)
}

func movetablesCmd() *cobra.Command {
	return workflowCmd(workflow.TypeMoveTables, "target-keyspace", `Move tables online from one keyspace to another (from the global keyspace into a sharded one, or
back): copy them, follow every change from the sources' binary logs, compare both sides, and switch
traffic in well under a second, and back.

  shardgate movetables --server S --target-keyspace customer --workflow mv1 create --source-keyspace commerce --tables t1,t2
  shardgate movetables --server S --target-keyspace customer --workflow mv1 show | vdiff | switchtraffic | reversetraffic | complete | cancel

Commands that change state need a user with admin: true (--user; password in SHARDGATE_PASSWORD or
asked). See docs/workflows.md.`)
}

func workflowCmd(typ, ksFlag, long string) *cobra.Command {
	f := &workflowFlags{}
	cmd := &cobra.Command{
		Use:   typ + " --server HOST:PORT --" + ksFlag + " KS --workflow NAME create|show|vdiff|switchtraffic|reversetraffic|complete|cancel",
		Short: map[string]string{workflow.TypeReshard: "Reshard a keyspace online (split or merge shards) through a running proxy", workflow.TypeMoveTables: "Move tables to another keyspace online through a running proxy"}[typ],
		Long:  long,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", "127.0.0.1:15000", "a proxy's HTTP address (its listen.http)")
	pf.StringVar(&f.keyspace, ksFlag, "", "the keyspace the workflow moves data into")
	pf.StringVar(&f.name, "workflow", "", "the workflow's name (letters, digits, _)")
	pf.StringVar(&f.user, "user", "admin", "a user with admin: true in the proxy's configuration (for create and the commands that change state)")
	pf.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up waiting after this long (the command goes on; show tells its end)")
	_ = cmd.MarkPersistentFlagRequired(ksFlag)
	_ = cmd.MarkPersistentFlagRequired("workflow")

	var srcShards, dstShards, srcKeyspace, tables string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the workflow: check the shards, create the tables on the targets, start the copy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := workflow.CreateRequest{Type: typ, Keyspace: f.keyspace, Workflow: f.name}
			if typ == workflow.TypeReshard {
				req.SourceShards, req.TargetShards = splitList(srcShards), splitList(dstShards)
			} else {
				req.SourceKeyspace, req.Tables = srcKeyspace, splitList(tables)
			}
			c, err := f.client(cmd, true)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
			defer cancel()
			st, err := c.Create(ctx, req)
			if err != nil {
				return fmt.Errorf("create %s/%s: %w", f.keyspace, f.name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "workflow %s/%s created (%s of %s): the copy starts; follow it with show\n", st.Keyspace, st.Name, st.Type, strings.Join(st.Tables, ", "))
			return nil
		},
	}
	if typ == workflow.TypeReshard {
		create.Flags().StringVar(&srcShards, "source-shards", "", "the serving shards to replace, e.g. -80,80-")
		create.Flags().StringVar(&dstShards, "target-shards", "", "the shards (declared serving: false) that replace them, e.g. -40,40-80,80-c0,c0-")
		_ = create.MarkFlagRequired("source-shards")
		_ = create.MarkFlagRequired("target-shards")
	} else {
		create.Flags().StringVar(&srcKeyspace, "source-keyspace", "", "the keyspace the tables are in now")
		create.Flags().StringVar(&tables, "tables", "", "the tables to move, comma-separated")
		_ = create.MarkFlagRequired("source-keyspace")
		_ = create.MarkFlagRequired("tables")
	}

	show := &cobra.Command{
		Use:   "show",
		Short: "Show the workflow: phase, copy progress, streams and their lag, switches, the last vdiff",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _ := f.client(cmd, false)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := c.Show(ctx, f.keyspace, f.name)
			if err != nil {
				return err
			}
			if f.jsonOut {
				return printJSON(cmd.OutOrStdout(), st)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	show.Flags().BoolVar(&f.jsonOut, "json", false, "print JSON")
	cmd.AddCommand(create, show)

	for _, verb := range workflow.Verbs {
		verb := verb
		short := map[string]string{
			"vdiff":          "Compare the moving tables on both sides at one consistent point, row by row",
			"switchtraffic":  "Switch the moving tables' traffic to the targets (statements held meanwhile; aborts cleanly past workflow.switch_timeout)",
			"reversetraffic": "Switch traffic back to the sources (the reverse streams kept them up to date)",
			"complete":       "After switchtraffic: stop the reverse streams and drop the old copies on the sources",
			"cancel":         "Before a switch: stop the workflow and drop what it made on the targets; the sources are untouched",
			"start":          "Start a workflow stopped on an error again, in the phase it stopped in (after fixing the cause)",
		}[verb]
		sub := &cobra.Command{
			Use:   verb,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := f.client(cmd, true)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
				defer cancel()
				ans, err := c.Do(ctx, f.keyspace, f.name, verb, nil)
				out := cmd.OutOrStdout()
				if verb == "vdiff" && ans != nil && ans.Status != nil && ans.Status.VDiff != nil {
					if f.jsonOut {
						_ = printJSON(out, ans.Status.VDiff)
					} else {
						printVDiff(out, ans.Status.VDiff)
					}
				}
				if err != nil {
					return fmt.Errorf("%s %s/%s: %w", verb, f.keyspace, f.name, err)
				}
				if verb == "vdiff" {
					v := ans.Status.VDiff
					if v != nil && v.Mismatched+v.ExtraSource+v.ExtraTarget+v.Misplaced > 0 {
						return fmt.Errorf("vdiff %s/%s found differences", f.keyspace, f.name)
					}
					return nil
				}
				if !f.jsonOut {
					fmt.Fprintln(out, ans.Result.Message)
				} else {
					_ = printJSON(out, ans)
				}
				return nil
			},
		}
		sub.Flags().BoolVar(&f.jsonOut, "json", false, "print JSON")
		cmd.AddCommand(sub)
	}
	return cmd
}

// client returns the HTTP client; withAuth asks for the admin password.
func (f *workflowFlags) client(cmd *cobra.Command, withAuth bool) (*admin.WorkflowClient, error) {
	c := &admin.WorkflowClient{Server: f.server}
	if !withAuth {
		return c, nil
	}
	pw, ok := os.LookupEnv("SHARDGATE_PASSWORD")
	if !ok {
		var err error
		if pw, err = readPassword(cmd, "password for "+f.user+": "); err != nil {
			return nil, err
		}
	}
	c.User, c.Password = f.user, pw
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatus(w io.Writer, st *workflow.Status) {
	fmt.Fprintf(w, "workflow %s/%s (%s): phase %s, traffic on the %s\n", st.Keyspace, st.Name, st.Type, st.Phase, st.TrafficOn)
	fmt.Fprintf(w, "  from %s [%s] to %s [%s]\n", st.SourceKeyspace, strings.Join(st.SourceShards, ","), st.Keyspace, strings.Join(st.TargetShards, ","))
	fmt.Fprintf(w, "  tables: %s\n", strings.Join(st.Tables, ", "))
	fmt.Fprintf(w, "  rows copied: %d, lag: %.3fs, run by %s\n", st.RowsCopied, st.LagSeconds, st.Runner)
	if st.Error != "" {
		fmt.Fprintf(w, "  ERROR: %s\n", st.Error)
	}
	if st.Request != nil {
		fmt.Fprintf(w, "  running: %s (asked %s by %s)\n", st.Request.Verb, st.Request.At.Format(time.RFC3339), st.Request.By)
	}
	if len(st.Streams) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  stream\tsource\tcopied\tposition\tlag\ttransactions\trows\tstate")
		for _, s := range st.Streams {
			copied := int64(0)
			for _, c := range s.Copy {
				copied += c.Rows
			}
			state := "stopped"
			if s.Running {
				state = "running"
			}
			if s.Error != "" {
				state += ": " + s.Error
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%.3fs\t%d\t%d\t%s\n", s.ID, s.Source, copied, s.Pos, s.LagSeconds, s.Transactions, s.Rows, state)
		}
		tw.Flush()
	}
	for _, sw := range st.Switches {
		outcome := "ok"
		if !sw.OK {
			outcome = "aborted: " + sw.Error
		}
		fmt.Fprintf(w, "  switch %s %s: held %.0f ms, %.0f ms in all, %s\n", sw.Direction, sw.Started.Format(time.RFC3339), sw.HeldMS, sw.DurationMS, outcome)
	}
	if st.VDiff != nil {
		printVDiff(w, st.VDiff)
	}
}

func printVDiff(w io.Writer, v *workflow.VDiffReport) {
	fmt.Fprintf(w, "vdiff %s: %d rows compared in %.1fs (%.0f rows/s): %d mismatched, %d only on the sources, %d only on the targets, %d on the wrong shard\n",
		v.Started.Format(time.RFC3339), v.RowsCompared, v.DurationMS/1000, v.RowsPerSec, v.Mismatched, v.ExtraSource, v.ExtraTarget, v.Misplaced)
	for _, t := range v.Tables {
		for _, k := range t.Keys {
			fmt.Fprintf(w, "  %s %s pk=%s %s %s\n", t.Table, k.Kind, strings.Join(k.PK, ","), k.Shard, k.Info)
		}
	}
}
