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
	r, s, out := newBareSession(t)
	vc := vcursor{r: r, st: r.state.Load(), s: s, out: out, sql: "SELECT boom()"}
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

// newBareSession is a router without keyspaces and a session on it whose
// client output is thrown away: for statements that reach no shard.
func newBareSession(t *testing.T) (*Router, *Session, *wire.Conn) {
	cfg := &config.Config{Keyspaces: &topo.Snapshot{Keyspaces: map[string]*topo.Keyspace{}}}
	r := New(cfg, zap.NewNop())
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close() })
	go io.Copy(io.Discard, b)
	return r, NewSession(1, nil, "", txn.Multi), wire.NewConn(a)
}
