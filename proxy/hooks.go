package proxy

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

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

// maxExecRe matches SET [SESSION] max_execution_time = <ms> | DEFAULT, the
// MySQL session variable that bounds a statement's time. The proxy keeps it
// itself (MariaDB has no such variable) and kills the shard query when it
// is exceeded.
var maxExecRe = regexp.MustCompile(`(?is)^\s*set\s+(?:session\s+|local\s+|@@session\.|@@local\.|@@)?max_execution_time\s*:?=\s*(\d+|default)\s*;?\s*$`)

// parseMaxExecutionTime recognizes the statement; def reports DEFAULT.
func parseMaxExecutionTime(sql string) (d time.Duration, def, ok bool) {
	t := strings.TrimLeft(sql, " \t\r\n")
	if len(t) < 22 || len(t) > 200 || !strings.EqualFold(t[:3], "set") {
		return 0, false, false
	}
	m := maxExecRe.FindStringSubmatch(sql)
	if m == nil {
		return 0, false, false
	}
	if strings.EqualFold(m[1], "default") {
		return 0, true, true
	}
	ms, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || ms > int64(365*24*time.Hour/time.Millisecond) {
		return 0, false, false
	}
	return time.Duration(ms) * time.Millisecond, false, true
}

// endsTransaction reports whether sql is COMMIT or ROLLBACK (not ROLLBACK TO
// SAVEPOINT, which a timeout may interrupt like any statement).
func endsTransaction(sql string) bool {
	t := strings.TrimLeft(sql, " \t\r\n(")
	for _, w := range []string{"commit", "rollback"} {
		if len(t) >= len(w) && strings.EqualFold(t[:len(w)], w) && (len(t) == len(w) || !isIdentByte(t[len(w)])) {
			return w == "commit" || !strings.Contains(strings.ToLower(t), " to ")
		}
	}
	return false
}

func isIdentByte(b byte) bool {
	return b == '_' || b == '$' || (b >= '0' && b <= '9') || (b|0x20 >= 'a' && b|0x20 <= 'z') || b >= 0x80
}
