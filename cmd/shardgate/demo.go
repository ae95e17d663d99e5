package main

import (
	"github.com/spf13/cobra"
)

func demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Start local MariaDB shards (each a primary and a replica) in a temporary folder plus the proxy, and print how to connect",
		RunE:  runDemo,
	}
}
