package router

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

type panicky struct{}

func (panicky) Execute(ctx context.Context, vc engine.VCursor) error { panic("boom") }
func (panicky) Describe() string                                     { return "Panicky" }

// A panic while executing a statement becomes an error for that statement;
// the session and the router stay usable.
func TestPanicIsRecovered(t *testing.T) {
	cfg := &config.Config{Keyspaces: &topo.Snapshot{Keyspaces: map[string]*topo.Keyspace{}}}
	r := New(cfg, zap.NewNop())
	a, b := net.Pipe()
	defer a.Close()
	go io.Copy(io.Discard, b)
	s := NewSession(1, nil, "", txn.Multi)
	vc := vcursor{r: r, st: r.state.Load(), s: s, out: wire.NewConn(a), sql: "SELECT boom()"}
	err := vc.run(context.Background(), &planner.Plan{Kind: planner.KindSelect, Prim: panicky{}})
	if err == nil || !strings.Contains(err.Error(), "internal error") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("run = %v, want an internal error naming the panic", err)
	}
	if e := wire.AsError(err); e.Code != 1105 {
		t.Fatalf("code = %d, want 1105", e.Code)
	}
	// The session still plans and answers.
	if err := vc.run(context.Background(), &planner.Plan{Kind: planner.KindBegin, Prim: &beginPrim{begin: "START TRANSACTION"}}); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
	if !s.Tx.Active() {
		t.Fatal("BEGIN after the panic did not open a transaction")
	}
}
