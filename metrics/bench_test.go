package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/txn"
)

// BenchmarkStatementDone is the per-statement cost of the metrics observer
// (counters, histogram, top queries) on the hot path.
func BenchmarkStatementDone(b *testing.B) {
	m := New(nil, nil)
	plan := &router.Plan{Kind: planner.KindSelect}
	s := router.NewSession(1, nil, "customer", txn.Multi)
	ctx := context.Background()
	sql := "SELECT v FROM ops_t WHERE id = 5"
	b.ReportAllocs()
	for b.Loop() {
		m.StatementDone(ctx, s, plan, sql, "customer", 150*time.Microsecond, nil)
	}
}

// BenchmarkStatementDoneUser is BenchmarkStatementDone for a logged-in
// account (the per-user counter) touching a shard (per-shard collectors).
func BenchmarkStatementDoneUser(b *testing.B) {
	m := New(nil, nil)
	plan := &router.Plan{Kind: planner.KindSelect}
	s := router.NewSession(1, &config.User{Name: "app"}, "customer", txn.Multi)
	ctx := context.Background()
	sql := "SELECT v FROM ops_t WHERE id = 5"
	b.ReportAllocs()
	for b.Loop() {
		m.StatementDone(ctx, s, plan, sql, "customer", 150*time.Microsecond, nil)
	}
}
