package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardgate/shardgate/admin"
)

func reparentCmd() *cobra.Command {
	var server, keyspace, shard, newPrimary, user string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "reparent --server HOST:PORT --keyspace KS --shard SHARD [--new-primary HOST:PORT]",
		Short: "Move a shard's primary role to a replica (a planned switch) through a running proxy",
		Long: `Asks a running proxy (--server: its listen.http address) to move the primary role of a
shard to one of its replicas: requests for the shard wait in the proxy's buffer while the old
primary is made read-only, the new one catches up and is promoted, and the old one becomes a
replica of it. Without --new-primary the most up-to-date healthy replica is chosen.

Needs a user with admin: true in the proxy's users: (HTTP basic auth): --user, and the password
in the SHARDGATE_PASSWORD environment variable (or typed when asked).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, ok := os.LookupEnv("SHARDGATE_PASSWORD")
			if !ok {
				var err error
				if pw, err = readPassword(cmd, "password for "+user+": "); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			rec, err := admin.Reparent(ctx, server, user, pw, admin.ReparentRequest{Keyspace: keyspace, Shard: shard, NewPrimary: newPrimary})
			if rec != nil {
				out, _ := json.MarshalIndent(rec, "", "  ")
				fmt.Fprintln(cmd.OutOrStdout(), string(out))
			}
			if err != nil {
				return fmt.Errorf("reparent %s/%s: %w", keyspace, shard, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s/%s: primary %s -> %s (term %d) in %.0f ms\n", keyspace, shard, rec.OldPrimary, rec.NewPrimary, rec.Term, rec.DurationMS)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "127.0.0.1:15000", "the proxy's HTTP address (listen.http)")
	f.StringVar(&keyspace, "keyspace", "", "keyspace of the shard")
	f.StringVar(&shard, "shard", "", "shard name (e.g. -80)")
	f.StringVar(&newPrimary, "new-primary", "", "HOST:PORT of the replica to promote (default: the most up-to-date healthy replica)")
	f.StringVar(&user, "user", "admin", "a user with admin: true in the proxy's configuration")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	_ = cmd.MarkFlagRequired("keyspace")
	_ = cmd.MarkFlagRequired("shard")
	return cmd
}

// readPassword asks for a password on the terminal, without echo.
func readPassword(cmd *cobra.Command, prompt string) (string, error) {
	fmt.Fprint(cmd.ErrOrStderr(), prompt)
	restore := noEcho()
	var pw string
	_, err := fmt.Fscanln(cmd.InOrStdin(), &pw)
	restore()
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", fmt.Errorf("no password given (set SHARDGATE_PASSWORD): %w", err)
	}
	return pw, nil
}
