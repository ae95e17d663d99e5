package txn

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/wire"
)

// Resolver finishes distributed transactions that a crash (of a proxy, a
// shard, or the network between them) left prepared. Every proxy runs one;
// several may run at once against the same shards. Each scan:
//
//  1. reads the decision table (before XA RECOVER: a decision it sees was
//     recorded after all of its branches were prepared, so a branch missing
//     from the XA RECOVER that follows is finished, not yet to come);
//  2. runs XA RECOVER once per server and keeps shardgate's own branches of
//     this deployment;
//  3. commits a branch whose dtid has the commit decision, rolls back one
//     with the abort decision, and for a branch without a decision that has
//     been prepared for longer than AbortTimeout records abort first-wins
//     (so a late coordinator cannot commit it any more) and rolls it back;
//  4. deletes commit decisions whose branches are all gone, and abort
//     decisions after AbortRetention.
type Resolver struct {
	c     *Coordinator
	pools func() []*backend.Pool
}

// NewResolver returns a resolver for coordinator c, scanning the servers of
// the pools that pools returns (every shard of every keyspace). It applies
// cfg and log to c.
func NewResolver(c *Coordinator, pools func() []*backend.Pool, cfg Config, log *zap.Logger) *Resolver {
	c.Configure(cfg, log)
	return &Resolver{c: c, pools: pools}
}

// Coordinator returns the resolver's coordinator.
func (r *Resolver) Coordinator() *Coordinator { return r.c }

// Run scans every ResolveInterval until ctx ends.
func (r *Resolver) Run(ctx context.Context) {
	cfg := r.c.Config()
	r.c.logger().Info("twopc resolver started", zap.Duration("interval", cfg.ResolveInterval), zap.Duration("abort_timeout", cfg.AbortTimeout),
		zap.Bool("always", cfg.Always))
	t := time.NewTicker(cfg.ResolveInterval)
	defer t.Stop()
	var warn warnLimiter
	scanned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Once at start (what a crashed proxy left prepared), then only
		// while two-phase commit is in use: a proxy in multi mode whose
		// global shard is down has nothing to resolve and nothing to say.
		if scanned && !r.c.InUse() {
			continue
		}
		scanned = true
		if err := r.ResolveOnce(ctx); err != nil && ctx.Err() == nil {
			if n, ok := warn.allow(time.Now()); ok {
				r.c.logger().Warn("twopc resolver: scan failed", zap.Error(err), zap.Int("failures_since_last_warning", n))
			}
		}
	}
}

// testHookBeforeAbort, when set by a test, runs before the resolver records
// an abort decision.
var testHookBeforeAbort func(dtid string)

// branch is one prepared XA branch found by XA RECOVER.
type branch struct {
	x      xid
	server string // address
	pool   *backend.Pool
}

func (b branch) key() string { return b.server + "|" + b.x.gtrid + "|" + b.x.bqual }

type decisionRow struct {
	decision string
	age      time.Duration
	shards   []string // bquals of the branches (commit decisions)
}

// scan is one look at the decision table and the servers.
type scan struct {
	decisions map[string]decisionRow
	branches  []branch
	failed    map[string]error  // server address -> XA RECOVER error
	servers   map[string]string // bqual of a known shard -> server address
	nservers  int
}

// scan reads the decisions, then XA RECOVER on every server.
func (c *Coordinator) scan(ctx context.Context, pools []*backend.Pool) (*scan, error) {
	s := &scan{decisions: map[string]decisionRow{}, failed: map[string]error{}, servers: map[string]string{}}
	if err := c.readDecisions(ctx, s); err != nil {
		return nil, err
	}
	byServer := map[string]*backend.Pool{}
	var order []string
	for _, p := range pools {
		s.servers[bqualOf(p.Name())] = p.Addr()
		if _, ok := byServer[p.Addr()]; !ok {
			byServer[p.Addr()] = p
			order = append(order, p.Addr())
		}
	}
	s.nservers = len(order)
	found := make([][]branch, len(order))
	errs := make([]error, len(order))
	parallel(len(order), func(i int) {
		p := byServer[order[i]]
		conn, err := p.GetPlain(ctx)
		if err != nil {
			errs[i] = err
			return
		}
		rows, err := conn.QueryStrings(ctx, "XA RECOVER")
		conn.Release()
		if err != nil {
			errs[i] = err
			return
		}
		for _, row := range rows {
			if x, ok := parseRecoverRow(row, c.tag); ok {
				found[i] = append(found[i], branch{x: x, server: order[i], pool: p})
			}
		}
	})
	for i := range order {
		if errs[i] != nil {
			s.failed[order[i]] = errs[i]
			continue
		}
		s.branches = append(s.branches, found[i]...)
	}
	return s, nil
}

func (c *Coordinator) readDecisions(ctx context.Context, s *scan) error {
	conn, err := c.global.GetPlain(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	rows, err := conn.QueryStrings(ctx, "SELECT dtid, decision, TIMESTAMPDIFF(MICROSECOND, created, NOW(6)), shards FROM "+DecisionTable)
	if err != nil {
		if wire.AsError(err).Code == mysql.ER_NO_SUCH_TABLE {
			return nil // no decision was ever recorded
		}
		return err
	}
	for _, row := range rows {
		us, _ := strconv.ParseInt(row[2], 10, 64)
		d := decisionRow{decision: row[1], age: time.Duration(us) * time.Microsecond}
		if row[3] != "" {
			d.shards = strings.Split(row[3], ",")
		}
		s.decisions[row[0]] = d
	}
	return nil
}

// ResolveOnce runs one scan and acts on what it finds.
func (r *Resolver) ResolveOnce(ctx context.Context) error {
	c := r.c
	cfg := c.Config()
	ctx, cancel := context.WithTimeout(ctx, max(cfg.AbortTimeout, 5*time.Second))
	defer cancel()
	s, err := c.scan(ctx, r.pools())
	if err != nil {
		c.n.scanErrors.Add(1)
		c.observe(ActionError)
		return err
	}
	for addr, err := range s.failed {
		c.n.scanErrors.Add(1)
		c.observe(ActionError)
		c.logger().Debug("twopc resolver: XA RECOVER failed", zap.String("server", addr), zap.Error(err))
	}
	c.n.inDoubt.Store(int64(len(s.branches)))
	if len(s.branches) > 0 || len(s.decisions) > 0 {
		c.found.Store(true)
	}
	now := time.Now()
	seen := c.touchSeen(s, now)
	present := map[string]bool{}
	for _, b := range s.branches {
		present[b.x.gtrid] = true
		d, ok := s.decisions[b.x.gtrid]
		inDoubt := now.Sub(seen[b.key()])
		switch {
		case ok && d.decision == DecisionCommit:
			if d.age < cfg.ResolveInterval && inDoubt < cfg.ResolveInterval {
				continue // its coordinator is most likely committing it right now
			}
			r.finish(ctx, b, DecisionCommit, "commit decision recorded")
		case ok && d.decision == DecisionAbort:
			r.finish(ctx, b, DecisionAbort, "abort decision recorded")
		case inDoubt >= cfg.AbortTimeout:
			if testHookBeforeAbort != nil {
				testHookBeforeAbort(b.x.gtrid)
			}
			dec, won, err := c.decide(ctx, b.x.gtrid, DecisionAbort, nil)
			if err != nil {
				c.logger().Warn("twopc resolver: could not record an abort decision", zap.String("dtid", b.x.gtrid), zap.Error(err))
				c.observe(ActionError)
				continue
			}
			if won {
				c.n.abortDecisions.Add(1)
				c.observe(ActionAbort)
				c.history.add(Action{Action: ActionAbort, DTID: b.x.gtrid, Shard: b.x.bqual, Server: b.server, Why: "no decision after the abort timeout"})
				c.logger().Info("twopc resolver: aborting a transaction prepared without a decision", zap.String("dtid", b.x.gtrid),
					zap.Duration("in_doubt", inDoubt), zap.Duration("abort_timeout", cfg.AbortTimeout))
			}
			s.decisions[b.x.gtrid] = decisionRow{decision: dec}
			r.finish(ctx, b, dec, "no decision after the abort timeout")
		}
	}
	r.clean(ctx, s, present)
	c.n.scans.Add(1)
	return nil
}

// finish commits or rolls back one branch from a connection of its server.
func (r *Resolver) finish(ctx context.Context, b branch, decision, why string) {
	c := r.c
	verb := "XA COMMIT "
	if decision != DecisionCommit {
		verb = "XA ROLLBACK "
	}
	conn, err := b.pool.GetPlain(ctx)
	if err != nil {
		c.logger().Debug("twopc resolver: server unavailable", zap.String("server", b.server), zap.Error(err))
		return
	}
	_, err = conn.Exec(ctx, verb+b.x.String())
	conn.Release()
	code := uint16(0)
	if err != nil {
		code = wire.AsError(err).Code
	}
	switch {
	case err == nil || code == mysql.ER_XA_RBROLLBACK:
		// XA_RBROLLBACK: MariaDB dropped the (read-only) branch already.
		action := ActionCommit
		if decision == DecisionCommit {
			c.n.resCommits.Add(1)
		} else {
			c.n.resAborts.Add(1)
			action = ActionRollback
		}
		c.observe(action)
		c.history.add(Action{Action: action, DTID: b.x.gtrid, Shard: b.x.bqual, Server: b.server, Why: why})
		c.logger().Info("twopc resolver: finished a prepared branch", zap.String("dtid", b.x.gtrid), zap.String("shard", b.x.bqual),
			zap.String("server", b.server), zap.String("action", strings.TrimSpace(verb)), zap.String("why", why))
	case code == mysql.ER_XAER_NOTA:
		// Gone since the scan, or still attached to its coordinator's live
		// session (MariaDB then answers "unknown XID" too): look again next scan.
		c.logger().Debug("twopc resolver: branch not available (finished, or its coordinator is still connected)",
			zap.String("dtid", b.x.gtrid), zap.String("shard", b.x.bqual))
	default:
		c.observe(ActionError)
		c.history.add(Action{Action: ActionError, DTID: b.x.gtrid, Shard: b.x.bqual, Server: b.server, Why: strings.TrimSpace(verb) + ": " + err.Error()})
		c.logger().Warn("twopc resolver: could not finish a prepared branch", zap.String("dtid", b.x.gtrid), zap.String("shard", b.x.bqual),
			zap.String("action", strings.TrimSpace(verb)), zap.Error(err))
	}
}

// clean deletes decisions whose branches are all finished: commit decisions
// at once, abort decisions after AbortRetention.
func (r *Resolver) clean(ctx context.Context, s *scan, present map[string]bool) {
	c := r.c
	cfg := c.Config()
	var commits, aborts []string
	for dtid, d := range s.decisions {
		if present[dtid] || !s.complete(d) {
			continue
		}
		switch d.decision {
		case DecisionCommit:
			commits = append(commits, dtid)
		case DecisionAbort:
			if d.age >= cfg.AbortRetention {
				aborts = append(aborts, dtid)
			}
		}
	}
	for _, batch := range []struct {
		ids      []string
		decision string
	}{{commits, DecisionCommit}, {aborts, DecisionAbort}} {
		for len(batch.ids) > 0 {
			n := min(len(batch.ids), 500)
			deleted, err := c.deleteDecisions(ctx, batch.ids[:n], batch.decision)
			if err != nil {
				c.logger().Warn("twopc resolver: could not delete finished decisions", zap.Error(err))
				break
			}
			c.n.cleaned.Add(int64(deleted))
			if deleted > 0 {
				c.logger().Debug("twopc resolver: deleted finished decisions", zap.String("decision", batch.decision), zap.Uint64("rows", deleted))
			}
			batch.ids = batch.ids[n:]
		}
	}
}

// complete reports whether every server that may hold a branch of d was
// scanned.
func (s *scan) complete(d decisionRow) bool {
	if len(s.failed) == 0 {
		return true
	}
	if len(d.shards) == 0 {
		return false
	}
	for _, bq := range d.shards {
		if addr, ok := s.servers[bq]; ok && s.failed[addr] != nil {
			return false
		}
	}
	return true
}

// touchSeen records when each branch was first seen prepared and forgets
// branches no longer listed (keeping those of servers that failed to
// answer). It returns the first-seen times.
func (c *Coordinator) touchSeen(s *scan, now time.Time) map[string]time.Time {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	next := make(map[string]time.Time, len(s.branches))
	for _, b := range s.branches {
		k := b.key()
		if t, ok := c.firstSeen[k]; ok {
			next[k] = t
		} else {
			next[k] = now
		}
	}
	for k, t := range c.firstSeen {
		if addr, _, _ := strings.Cut(k, "|"); s.failed[addr] != nil {
			next[k] = t
		}
	}
	c.firstSeen = next
	out := make(map[string]time.Time, len(next))
	for k, t := range next {
		out[k] = t
	}
	return out
}

// InDoubt is a distributed transaction that is not finished: prepared
// branches, or a decision row not yet cleaned.
type InDoubt struct {
	DTID     string
	State    string
	Decision string   // commit, abort, or "" (none yet)
	Branches []string // prepared branches: shard@server
	Age      time.Duration
}

// InDoubt lists the unfinished distributed transactions of this deployment
// (a fresh scan; nothing is changed). A server that cannot be scanned is
// reported as a row with DTID "?".
func (c *Coordinator) InDoubt(ctx context.Context, pools []*backend.Pool) ([]InDoubt, error) {
	s, err := c.scan(ctx, pools)
	if err != nil {
		return nil, err
	}
	cfg := c.Config()
	now := time.Now()
	c.seenMu.Lock()
	seen := make(map[string]time.Time, len(c.firstSeen))
	for k, t := range c.firstSeen {
		seen[k] = t
	}
	c.seenMu.Unlock()
	byID := map[string]*InDoubt{}
	var out []*InDoubt
	get := func(dtid string) *InDoubt {
		if t, ok := byID[dtid]; ok {
			return t
		}
		t := &InDoubt{DTID: dtid}
		byID[dtid] = t
		out = append(out, t)
		return t
	}
	for _, b := range s.branches {
		t := get(b.x.gtrid)
		t.Branches = append(t.Branches, b.x.bqual+"@"+b.server)
		age := time.Duration(0)
		if first, ok := seen[b.key()]; ok {
			age = now.Sub(first)
		}
		t.Age = max(t.Age, age)
	}
	for dtid, d := range s.decisions {
		t, ok := byID[dtid]
		if !ok {
			if d.decision != DecisionCommit {
				continue // finished aborts, kept against late coordinators
			}
			t = get(dtid)
		}
		t.Decision = d.decision
		t.Age = max(t.Age, d.age)
	}
	for _, t := range out {
		n := len(t.Branches)
		switch {
		case t.Decision == DecisionCommit && n > 0:
			t.State = fmt.Sprintf("committing: decision commit recorded, %d branch(es) still prepared", n)
		case t.Decision == DecisionCommit:
			t.State = "committed: every branch finished, decision row not yet deleted"
		case t.Decision == DecisionAbort:
			t.State = fmt.Sprintf("rolling back: decision abort recorded, %d branch(es) still prepared", n)
		default:
			t.State = fmt.Sprintf("prepared, no decision: rolled back by a resolver once in doubt for %s unless its coordinator commits first", cfg.AbortTimeout)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DTID < out[j].DTID })
	res := make([]InDoubt, 0, len(out)+len(s.failed))
	for _, t := range out {
		sort.Strings(t.Branches)
		res = append(res, *t)
	}
	var failed []string
	for addr := range s.failed {
		failed = append(failed, addr)
	}
	sort.Strings(failed)
	for _, addr := range failed {
		res = append(res, InDoubt{DTID: "?", State: "server " + addr + " could not be scanned: " + wire.AsError(s.failed[addr]).Message})
	}
	return res, nil
}
