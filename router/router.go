// Package router is the proxy's entry for SQL: a Router holds the topology
// and the backend pools, a Session the client's state (keyspace, variables,
// transaction, prepared statements). A statement is normalized, its plan
// found in the cache or built (shardgate's own statements and the session
// statements here, everything else by package planner), checked against the
// user's rights, and run by package engine's primitives over the session's
// cursor (vcursor.go).
package router

import (
	"context"
	"errors"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions for the parser
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/sqllex"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// Router plans and executes statements for all sessions. It is safe for
// concurrent use; each session is used by one goroutine at a time.
type Router struct {
	state  atomic.Pointer[state]
	log    *zap.Logger
	cfg    *config.Config
	schema *schemaTracker
	seqs   *sequences
	obs    Observer // nil = none; set before serving
	// sessions answers SHOW PROCESSLIST and KILL (set by the front end).
	sessions atomic.Pointer[Sessions]
	applyMu  sync.Mutex                // serializes Apply
	ha       atomic.Pointer[haRef]     // the HA layer pools wait on (target.go)
	holder   atomic.Pointer[holderRef] // where statements held by a traffic switch wait (switch.go)
	probes   engine.ProbeCounters
	// evictions counts plans the plan cache dropped to make room.
	evictions atomic.Uint64

	// Background work (schema re-reads, announcements to etcd): Close
	// cancels bgCtx and waits for it.
	bgMu   sync.Mutex
	bgCtx  context.Context
	bgStop context.CancelFunc
	bg     sync.WaitGroup
}

// background runs f on a goroutine the router owns; f's context ends when
// the router closes. After Close it does nothing.
func (r *Router) background(f func(ctx context.Context)) {
	r.bgMu.Lock()
	defer r.bgMu.Unlock()
	if r.bgCtx.Err() != nil {
		return
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		f(r.bgCtx)
	}()
}

// Observer is told about every statement run by Execute or ExecuteStmt once
// it has finished (metrics, slow-query log). plan is nil when the statement
// could not be planned; keyspace is the first keyspace the plan touches,
// else the session's. It runs on the session's goroutine and must be safe
// for concurrent use.
type Observer interface {
	StatementDone(ctx context.Context, s *Session, plan *planner.Plan, sql, keyspace string, d time.Duration, err error)
}

// SetObserver installs o; call it before serving.
func (r *Router) SetObserver(o Observer) { r.obs = o }

func (r *Router) observe(ctx context.Context, vc *vcursor, plan *planner.Plan, start time.Time, err error) {
	ks := vc.s.Keyspace
	if plan != nil && len(plan.Keyspaces) > 0 {
		ks = plan.Keyspaces[0]
	}
	r.obs.StatementDone(ctx, vc.s, plan, vc.sql, ks, time.Since(start), err)
}

// state is everything derived from one topology: swapped as a whole.
type state struct {
	snap  *topo.Snapshot
	pools map[*topo.Shard]*backend.Pool
	cache *planCache
	coord *txn.Coordinator // two-phase commit; nil without a global keyspace
	// changed is closed when another state replaces this one (statements
	// held by a traffic switch wait for it: switch.go).
	changed chan struct{}
}

// New builds a router over cfg's keyspaces.
func New(cfg *config.Config, log *zap.Logger) *Router {
	r := &Router{log: log, cfg: cfg, schema: newSchemaTracker(), seqs: newSequences()}
	r.bgCtx, r.bgStop = context.WithCancel(context.Background())
	st := &state{snap: cfg.Keyspaces, pools: map[*topo.Shard]*backend.Pool{}, cache: newPlanCache(10000, cfg.Limits.PlanCacheBytes), changed: make(chan struct{})}
	for name, ks := range cfg.Keyspaces.Keyspaces {
		for _, sh := range ks.Shards {
			st.pools[sh] = backend.NewPool(name, sh, cfg.Pool)
		}
	}
	st.coord = st.newCoordinator(cfg, nil)
	st.cache.evictions = &r.evictions
	r.state.Store(st)
	return r
}

// Close stops the router's background work and closes every backend pool.
func (r *Router) Close() {
	r.bgMu.Lock()
	r.bgStop()
	r.bgMu.Unlock()
	r.bg.Wait()
	for _, p := range r.state.Load().pools {
		p.Close()
	}
}

// Snapshot returns the topology in force.
func (r *Router) Snapshot() *topo.Snapshot { return r.state.Load().snap }

// Pools lists the backend pools, sorted by name.
func (r *Router) Pools() []*backend.Pool {
	st := r.state.Load()
	ps := make([]*backend.Pool, 0, len(st.pools))
	for _, p := range st.pools {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name() < ps[j].Name() })
	return ps
}

// CacheStats returns plan-cache hits, misses and size.
func (r *Router) CacheStats() (hits, misses uint64, size int) {
	return r.state.Load().cache.stats()
}

// ProbeCounts counts the scatter ORDER BY/DISTINCT probes (probe.go).
type ProbeCounts struct {
	Sorted uint64 // sorted at the proxy
	Large  uint64 // too many rows: the shards sorted
	// Collation: a key's collation is one the proxy does not weigh; the
	// shards sorted, and the plan's next probes carry the shards' weights.
	Collation uint64
}

// ProbeStats returns the probe counters.
func (r *Router) ProbeStats() ProbeCounts {
	return ProbeCounts{Sorted: r.probes.Sorted.Load(), Large: r.probes.Large.Load(), Collation: r.probes.Collation.Load()}
}

// Execute runs one COM_QUERY and writes the complete response to out. The
// returned error is only for a broken client connection; SQL errors are sent
// to the client.
func (r *Router) Execute(ctx context.Context, s *Session, sql string, out *wire.Conn) error {
	var start time.Time
	if r.obs != nil {
		start = time.Now()
	}
	vc := s.cursor(r, out, sql)
	var plan *planner.Plan
	var binds []sqlval.Value
	sql, err := resolveComments(sql, s.lexMode)
	if err == nil {
		vc.sql = sql
		plan, binds, err = vc.planTextHeld(ctx, sql)
	}
	if err == nil {
		vc.binds = binds
		err = vc.run(ctx, plan)
	}
	if r.obs != nil {
		r.observe(ctx, vc, plan, start, err)
	}
	return vc.finish(err)
}

// run executes plan, turning a panic into an error for this statement only.
func (vc *vcursor) run(ctx context.Context, plan *planner.Plan) (err error) {
	if vc.ps != nil && vc.r.obs != nil { // Execute observes text statements itself
		defer func(start time.Time) { vc.r.observe(ctx, vc, plan, start, err) }(time.Now())
	}
	defer func() {
		if p := recover(); p != nil {
			vc.r.log.Error("panic while executing statement", zap.Uint32("session", vc.s.ID),
				zap.String("sql", vc.sql), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			vc.broken = true
			err = wire.Errorf(mysql.ER_UNKNOWN_ERROR, "internal error in shardgate while executing this statement (logged as session %d): %v", vc.s.ID, p)
		}
	}()
	vc.plan = plan
	if err := vc.checkAccess(plan); err != nil {
		return err
	}
	if err := vc.checkTarget(plan); err != nil { // target.go
		return err
	}
	s := vc.s
	if plan.Kind != planner.KindShowWarnings && plan.Kind != planner.KindMulti {
		s.warnings = s.warnings[:0]
	}
	ctx, cancel := vc.statementContext(ctx, plan)
	if cancel != nil {
		defer func() {
			s.timedOut = deadlinePassed(ctx)
			cancel()
		}()
	}
	switch plan.Tx {
	case planner.TxJoin:
		if !s.Autocommit && !s.Tx.Active() {
			vc.attachCoordinator()
			s.Tx.Begin(s.beginStatement("START TRANSACTION"))
		} else if !s.Tx.Active() && plan.MultiShardWrite && s.Tx.Mode == txn.TwoPC {
			return vc.runAtomic(ctx, plan)
		}
	case planner.TxCommitFirst:
		if s.Tx.Active() {
			if err := s.Tx.Commit(ctx); err != nil {
				return err
			}
		}
	}
	if err := plan.Prim.Execute(ctx, vc); err != nil {
		if plan.Tx == planner.TxJoin {
			return vc.deadlockVictim(ctx, err)
		}
		return err
	}
	return nil
}

// planText finds or builds the plan of a text statement and its bind values.
func (vc *vcursor) planText(ctx context.Context, sql string) (*planner.Plan, []sqlval.Value, error) {
	s := vc.s
	norm, vals, ok := normalize(sql, s.vals[:0], s.lexMode)
	s.vals = vals[:0]
	cache := vc.st.cache
	if ok {
		key := cacheKey{s.Keyspace, norm, s.lexMode}
		if e := cache.get(key); e != nil {
			if !e.fallback {
				return e.plan, vals, nil
			}
		} else {
			plan, err := vc.buildPlan(ctx, norm, len(vals))
			if err == nil {
				cache.put(key, &cacheEntry{plan: plan})
				return plan, vals, nil
			}
			cache.put(key, &cacheEntry{fallback: true})
		}
	}
	key := cacheKey{s.Keyspace, sql, s.lexMode}
	if e := cache.get(key); e != nil && !e.fallback {
		return e.plan, nil, nil
	}
	plan, err := vc.buildPlan(ctx, sql, 0)
	if err != nil {
		return nil, nil, err
	}
	if plan.Cacheable {
		cache.put(key, &cacheEntry{plan: plan})
	}
	return plan, nil, nil
}

func (vc *vcursor) sessionKeyspace() *topo.Keyspace {
	if vc.s.Keyspace == "" {
		return nil
	}
	ks, _ := vc.st.snap.Keyspace(vc.s.Keyspace)
	return ks
}

// checkAccess enforces the user's keyspace list and read-only flag.
func (vc *vcursor) checkAccess(plan *planner.Plan) error {
	u := vc.s.User
	if u == nil {
		return nil
	}
	if u.ReadOnly && plan.Write {
		return wire.Errorf(mysql.ER_OPTION_PREVENTS_STATEMENT, "user %s is read-only in shardgate: %s statements are refused", u.Name, plan.Kind)
	}
	if u.ReadOnly && plan.Locks {
		return wire.Errorf(mysql.ER_OPTION_PREVENTS_STATEMENT, "user %s is read-only in shardgate: locking reads (FOR UPDATE, LOCK IN SHARE MODE) are refused", u.Name)
	}
	return vc.checkKeyspaces(plan)
}

// checkKeyspaces refuses a plan that reaches a keyspace the user may not
// use (VEXPLAIN PLAN checks this alone: a plan shows tables and vindexes).
func (vc *vcursor) checkKeyspaces(plan *planner.Plan) error {
	u := vc.s.User
	if u == nil {
		return nil
	}
	for _, ks := range plan.Keyspaces {
		if !u.MayUse(ks) {
			return wire.Errorf(mysql.ER_DBACCESS_DENIED_ERROR, "Access denied for user '%s' to keyspace '%s'", u.Name, ks)
		}
	}
	return nil
}

// resolveComments makes sql what MariaDB reads, with no comment left
// (sqllex.ResolveComments), or refuses it.
func resolveComments(sql string, mode sqllex.Mode) (string, error) {
	out, err := sqllex.ResolveComments(sql, mode)
	if err != nil {
		return "", engine.Unsupported("a comment that MariaDB and shardgate could read differently: %v", err)
	}
	return out, nil
}

func parseErrorMessage(err error) string {
	msg := err.Error()
	// tidb prefixes "[parser:1064]"; clients expect MySQL's wording.
	if i := len("[parser:1064]"); len(msg) > i && msg[0] == '[' {
		if j := indexByte(msg, ']'); j > 0 {
			msg = msg[j+1:]
		}
	}
	return msg
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// runAtomic runs an autocommit statement that may write on several shards
// as one two-phase transaction; the client's OK is sent after the commit.
func (vc *vcursor) runAtomic(ctx context.Context, plan *planner.Plan) error {
	s := vc.s
	vc.attachCoordinator() // a session in twopc mode by configuration may not have run BEGIN yet
	s.Tx.Begin(s.beginStatement("START TRANSACTION"))
	vc.deferOK = true
	err := plan.Prim.Execute(ctx, vc)
	vc.deferOK = false
	if err != nil {
		_ = s.Tx.Rollback(ctx)
		return vc.deadlockVictim(ctx, err)
	}
	if err := s.Tx.Commit(ctx); err != nil {
		return err
	}
	return vc.WriteOK(vc.okLater)
}

// Plan is the plan of one statement (package planner): what the Observer
// and the console see of it.
type Plan = planner.Plan

// statementContext bounds a statement by the session's StatementTimeout.
// COMMIT and ROLLBACK get none: a commit killed half way over several
// shards would be worse than a slow one.
func (vc *vcursor) statementContext(ctx context.Context, plan *planner.Plan) (context.Context, context.CancelFunc) {
	vc.s.timedOut = false
	d := vc.s.StatementTimeout()
	if d <= 0 || plan.Kind == planner.KindCommit || plan.Kind == planner.KindRollback {
		return ctx, nil
	}
	return context.WithTimeout(ctx, d)
}

// deadlinePassed tells whether ctx's deadline has passed. ctx.Err() alone
// can lag it: the shard socket's deadline is the same instant, and on a busy
// machine KILL QUERY can run and the shard answer 1317 before the goroutine
// of the context's own timer has been scheduled.
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
