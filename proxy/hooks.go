package proxy

import (
	"context"
	"sync"

	"github.com/shardgate/shardgate/backend"
)

// Hooks receives the front end's events (metrics). Methods are called from
// many goroutines at once.
type Hooks interface {
	ClientConnected()
	ClientDisconnected()
	// ClientRefused: a connection was turned away before login; reason is
	// max_connections, login_rate_limit, require_secure_transport,
	// bad_handshake or shutdown.
	ClientRefused(reason string)
	// Login is the outcome of an authentication; plugin is the plugin
	// that decided it.
	Login(ok bool, plugin string, secure bool)
	// LimitHit: a limit stopped a session or statement: max_packet_size,
	// idle_timeout or query_timeout.
	LimitHit(limit string)
}

type nopHooks struct{}

func (nopHooks) ClientConnected()         {}
func (nopHooks) ClientDisconnected()      {}
func (nopHooks) ClientRefused(string)     {}
func (nopHooks) Login(bool, string, bool) {}
func (nopHooks) LimitHit(string)          {}

// shardSet records the shards one statement sent commands to; it is the
// session's backend.ShardTracker, reset at each command.
type shardSet struct {
	mu     sync.Mutex
	shards []string
}

func (t *shardSet) ShardUsed(c *backend.Conn) {
	name := c.Shard()
	t.mu.Lock()
	for _, s := range t.shards {
		if s == name {
			t.mu.Unlock()
			return
		}
	}
	t.shards = append(t.shards, name)
	t.mu.Unlock()
}

func (t *shardSet) reset() {
	t.mu.Lock()
	t.shards = t.shards[:0]
	t.mu.Unlock()
}

type shardSetKey struct{}

// StatementShards returns the shards ("keyspace/shard") the statement
// running with ctx has sent commands to so far; nil outside a session.
func StatementShards(ctx context.Context) []string {
	t, ok := ctx.Value(shardSetKey{}).(*shardSet)
	if !ok {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.shards) == 0 {
		return nil
	}
	return append([]string(nil), t.shards...)
}

// EachStatementShard calls fn for each shard StatementShards would return,
// without copying them.
func EachStatementShard(ctx context.Context, fn func(shard string)) {
	t, ok := ctx.Value(shardSetKey{}).(*shardSet)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.shards {
		fn(s)
	}
}

func withShardSet(ctx context.Context, t *shardSet) context.Context {
	return backend.WithShardTracker(context.WithValue(ctx, shardSetKey{}, t), t)
}
