package router

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// SET max_execution_time is kept by the proxy (MariaDB has no such
// variable): it overrides limits.query_timeout for the session until
// DEFAULT or a reset, and bad values are refused.
func TestMaxExecutionTime(t *testing.T) {
	cfg := &config.Config{Keyspaces: &topo.Snapshot{Keyspaces: map[string]*topo.Keyspace{}}}
	r := New(cfg, zap.NewNop())
	a, b := net.Pipe()
	defer a.Close()
	go io.Copy(io.Discard, b)
	s := NewSession(1, nil, "", txn.Multi)
	s.Limits.QueryTimeout = 7 * time.Second
	run := func(sql string) error {
		vc := s.cursor(r, wire.NewConn(a), sql)
		plan, _, err := vc.planText(context.Background(), sql)
		if err != nil {
			return err
		}
		return vc.run(context.Background(), plan)
	}
	for _, tc := range []struct {
		sql  string
		want time.Duration
	}{
		{"SET max_execution_time = 300", 300 * time.Millisecond},
		{"SET SESSION max_execution_time = 20", 20 * time.Millisecond},
		{"SET @@max_execution_time := 1500", 1500 * time.Millisecond},
		{"SET @@session.max_execution_time = 0, autocommit = 1", 0},
		{"SET max_execution_time = DEFAULT", 7 * time.Second},
		{"set local max_execution_time=5", 5 * time.Millisecond},
	} {
		if err := run(tc.sql); err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if got := s.StatementTimeout(); got != tc.want {
			t.Errorf("%s: statement timeout %v, want %v", tc.sql, got, tc.want)
		}
	}
	for _, sql := range []string{"SET max_execution_time = -1", "SET max_execution_time = 'soon'", "SET max_execution_time = 99999999999999"} {
		if err := run(sql); err == nil || wire.AsError(err).Code != 1231 {
			t.Errorf("%s: %v, want error 1231", sql, err)
		}
	}
	s.ResetState()
	if got := s.StatementTimeout(); got != 7*time.Second {
		t.Errorf("after a reset: %v, want the configured 7s", got)
	}
}
