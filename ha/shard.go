package ha

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/topo"
)

// Roles a server is reported in.
const (
	RolePrimary = "primary"
	RoleReplica = "replica"
	RoleDrained = "drained" // up, but neither the primary nor a replica of it: never used
	RoleDown    = "down"
)

// downAfter: a primary is taken for dead after this many failed probes in
// a row (the second comes at once after a refused connection; a hung
// server costs a probe timeout each).
const downAfter = 2

// failedRetry: after a failover that did not complete, the next attempt
// waits this long.
const failedRetry = 10 * time.Second

// shardWatch probes one shard's servers and keeps its roles published.
type shardWatch struct {
	m       *Manager
	ks      string
	name    string
	key     string // keyspace/shard
	shard   *topo.Shard
	cell    *topo.RoleCell
	servers []string
	conns   map[string]*conn

	kick chan struct{}
	reqs chan *reparentReq
	stop chan struct{} // closed by retire (the shard left the topology)

	// Owned by the run goroutine.
	fails        map[string]int
	samples      []sample // the primary's position over time (lag)
	primary      string   // published primary ("" none)
	term         uint64
	lastFailover time.Time
	failedAt     time.Time
	// semiSync: whether the primary's semi-synchronous replication was on
	// at its last successful probe (writes it acknowledged are on a
	// replica); semiUnknown until this proxy has probed the primary.
	semiSync semiState
	// switching: etcd's record says another proxy is moving the primary
	// role (a planned switch): hold statements in the buffer meanwhile.
	switching bool

	mu         sync.Mutex
	states     map[string]*ServerState
	roles      map[string]string
	lags       map[string]time.Duration
	rec        *topo.PrimaryRecord // etcd's, as last seen
	noRecovery string              // why no failover will come now ("" = it may)
	recovering bool
	why        string
	probed     chan struct{} // closed after each probe round
}

type semiState uint8

const (
	semiUnknown semiState = iota
	semiOn
	semiOff
)

type sample struct {
	at  time.Time
	seq uint64
}

type reparentReq struct {
	newPrimary string
	rec        *Recovery
	err        error
	done       chan struct{}
}

func newShardWatch(m *Manager, ks string, sh *topo.Shard) *shardWatch {
	w := &shardWatch{
		m: m, ks: ks, name: sh.Name, key: ks + "/" + sh.Name, shard: sh, cell: sh.Roles, servers: sh.Servers,
		conns: map[string]*conn{}, kick: make(chan struct{}, 1), reqs: make(chan *reparentReq), stop: make(chan struct{}),
		fails: map[string]int{}, states: map[string]*ServerState{}, roles: map[string]string{}, lags: map[string]time.Duration{},
		probed: make(chan struct{}),
	}
	user, pass := sh.User, sh.Password
	if m.cfg.HA.AdminUser != "" {
		user, pass = m.cfg.HA.AdminUser, m.cfg.HA.AdminPassword
	}
	for _, a := range sh.Servers {
		w.conns[a] = &conn{addr: a, user: user, pass: pass, timeout: m.cfg.HA.ProbeTimeout}
	}
	if w.cell == nil {
		w.cell = new(topo.RoleCell)
	}
	return w
}

func (w *shardWatch) retire() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
}

func (w *shardWatch) closeConns() {
	for _, c := range w.conns {
		c.mu.Lock()
		c.close()
		c.mu.Unlock()
	}
}

func (w *shardWatch) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *shardWatch) setRecord(r topo.PrimaryRecord) {
	w.mu.Lock()
	if w.rec == nil || r.Term >= w.rec.Term {
		rr := r
		w.rec = &rr
	}
	// Another proxy announces a planned switch of the primary this proxy
	// routes to: hold the shard's statements now, not after the next probe
	// round (which a loaded machine may take long to finish), so that none
	// reaches the old primary once it is fenced. publish keeps the hold.
	if cur := w.cell.Load(); r.Switching != "" && cur != nil && cur.Primary == r.Primary && cur.Term == r.Term {
		w.recovering = true
		w.cell.Publish(&topo.ShardRoles{Replicas: cur.Replicas, Term: cur.Term, Recovering: true, Why: whySwitching})
	}
	w.mu.Unlock()
	w.poke()
}

// whySwitching is why a shard has no primary while another proxy moves it.
const whySwitching = "planned switch in progress (another proxy)"

// switchAnnounced: etcd's record says another proxy is moving the primary
// role away from the primary this proxy follows. Called with w.mu held, on
// the run goroutine (it reads term and primary).
func (w *shardWatch) switchAnnounced() bool {
	return w.switching || (w.rec != nil && w.rec.Switching != "" && w.rec.Term == w.term && w.rec.Primary == w.primary)
}

func (w *shardWatch) record() *topo.PrimaryRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rec
}

// run probes until ctx ends or the shard leaves the topology.
func (w *shardWatch) run(ctx context.Context) {
	defer w.closeConns()
	t := time.NewTimer(w.m.cfg.HA.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case <-t.C:
		case <-w.kick:
		case req := <-w.reqs:
			req.rec, req.err = w.reparent(ctx, req.newPrimary)
			close(req.done)
		}
		next := w.round(ctx)
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(next)
	}
}

// round probes every server, decides, and publishes; it returns when the
// next round is due.
func (w *shardWatch) round(ctx context.Context) time.Duration {
	states := w.probeAll(ctx)
	next := w.m.cfg.HA.ProbeInterval
	for _, a := range w.servers {
		if states[a].Up {
			w.fails[a] = 0
		} else {
			w.fails[a]++
		}
	}
	if w.shard.HA() {
		w.decide(ctx, states)
		if p := w.primary; p != "" && !states[p].Up && w.fails[p] < downAfter && states[p].Refused {
			next = 30 * time.Millisecond // confirm a refused primary at once
		}
	} else {
		w.mu.Lock()
		w.states = states
		w.roles = map[string]string{}
		for a, st := range states {
			w.roles[a] = RolePrimary
			if !st.Up {
				w.roles[a] = RoleDown
			}
		}
		w.mu.Unlock()
	}
	w.mu.Lock()
	close(w.probed)
	w.probed = make(chan struct{})
	w.mu.Unlock()
	return next
}

func (w *shardWatch) probeAll(ctx context.Context) map[string]*ServerState {
	out := make(map[string]*ServerState, len(w.servers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range w.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := w.conns[a].probeFull(ctx, w.shard.HA())
			mu.Lock()
			out[a] = st
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// domain is the shard's GTID domain: its primary's, else the first up
// server's.
func (w *shardWatch) domain(states map[string]*ServerState) uint32 {
	if st := states[w.primary]; st != nil && st.Up {
		return st.Domain
	}
	for _, a := range w.servers {
		if st := states[a]; st.Up {
			return st.Domain
		}
	}
	return 0
}

// decide is the analyzer: from the probes (and etcd's record) it picks the
// primary, starts a failover when it is dead, computes lag and roles, and
// publishes.
func (w *shardWatch) decide(ctx context.Context, states map[string]*ServerState) {
	rec := w.record()
	if rec != nil && (rec.Term > w.term || (rec.Term == w.term && rec.Primary != w.primary)) && rec.Primary != "" {
		if w.primary != rec.Primary {
			w.m.log.Info("ha: following the primary recorded in etcd", zap.String("shard", w.key),
				zap.String("primary", rec.Primary), zap.Uint64("term", rec.Term), zap.String("by", rec.By))
			w.m.stats.primaryChange(w.key, "etcd")
		}
		w.primary, w.term = rec.Primary, rec.Term
		w.samples, w.semiSync = nil, semiUnknown
		w.switching = false
		w.mu.Lock()
		w.recovering = false
		w.mu.Unlock()
	}
	if sw := rec != nil && rec.Term == w.term && rec.Primary == w.primary && rec.Switching != ""; sw != w.switching {
		w.switching = sw
		w.mu.Lock()
		w.recovering = sw
		w.mu.Unlock()
		if sw {
			w.m.log.Info("ha: another proxy is moving the primary role: holding statements", zap.String("shard", w.key),
				zap.String("from", rec.Primary), zap.String("to", rec.Switching), zap.String("by", rec.By))
		}
	}
	if w.primary != "" && !slices.Contains(w.servers, w.primary) {
		w.primary = "" // no longer a server of the shard
	}
	why := ""
	if w.primary == "" {
		why = w.discover(ctx, states, rec)
	}
	if p := w.primary; p != "" {
		ps := states[p]
		switch {
		case ps.Up && ps.Replicating:
			// The primary now replicates from another server: an operator
			// moved the role by hand. Follow a single writable server.
			if c := writable(states, w.servers); len(c) == 1 && rec == nil {
				w.adopt(ctx, c[0], "adopted (the former primary replicates from it)")
			} else {
				why = "primary " + p + " replicates from " + ps.MasterAddr
			}
		case !ps.Up && w.fails[p] >= downAfter:
			w.primaryDown(ctx, states, p)
			if w.primary == p {
				why = "primary " + p + " is down: " + ps.Err
			} else {
				states = w.probeAll(ctx) // failed over: publish what is true now
			}
		}
	}
	w.publish(states, why)
}

// writable lists the servers that are up, writable and replicate from no one.
func writable(states map[string]*ServerState, servers []string) []string {
	var c []string
	for _, a := range servers {
		if states[a].Writable() {
			c = append(c, a)
		}
	}
	return c
}

// discover looks for the primary of a shard that has none published: the
// one writable server that replicates from no one (etcd's record when there
// is one). It returns why there is none, or "".
func (w *shardWatch) discover(ctx context.Context, states map[string]*ServerState, rec *topo.PrimaryRecord) string {
	if rec != nil && rec.Primary != "" {
		// Only a recovery changes a recorded primary.
		w.primary, w.term = rec.Primary, rec.Term
		return ""
	}
	cands := writable(states, w.servers)
	if len(cands) > 1 {
		// Prefer the one the replicas replicate from.
		var fed []string
		for _, c := range cands {
			for _, a := range w.servers {
				if st := states[a]; st.Up && st.Replicating && st.MasterAddr == c {
					fed = append(fed, c)
					break
				}
			}
		}
		if len(fed) != 1 {
			return "several writable servers replicate from no one (" + strings.Join(cands, ", ") + "): set read_only=1 on all but the primary"
		}
		cands = fed
	}
	if len(cands) == 1 {
		w.adopt(ctx, cands[0], "discovered")
		return ""
	}
	// No writable server: is there a dead primary the replicas point to?
	masters := map[string]bool{}
	for _, a := range w.servers {
		if st := states[a]; st.Up && st.Replicating {
			masters[st.MasterAddr] = true
		}
	}
	if len(masters) == 1 {
		for m := range masters {
			if slices.Contains(w.servers, m) && !states[m].Up && w.fails[m] >= downAfter {
				w.primary, w.term = m, max(w.term, 1)
				return ""
			}
		}
	}
	return "no server is writable and replicates from no one"
}

// adopt makes addr the published primary without a promotion (discovered at
// start, or moved by an operator), recording it in etcd.
func (w *shardWatch) adopt(ctx context.Context, addr, reason string) {
	term := w.term + 1
	if e := w.m.cfg.Etcd; e != nil {
		rec, rev, err := e.PrimaryRecord(ctx, w.ks, w.name)
		if err != nil {
			w.m.log.Warn("ha: etcd unreachable; not publishing a primary it has not recorded", zap.String("shard", w.key), zap.Error(err))
			return
		}
		if rec != nil {
			// etcd's record wins: only a recovery, under the shard's lock,
			// changes it (a server that looks like a primary may be one a
			// recovery in progress just promoted).
			w.setRecord(*rec)
			w.primary, w.term = rec.Primary, rec.Term
			return
		}
		nr := topo.PrimaryRecord{Primary: addr, Term: term, At: time.Now().UTC(), By: w.m.cfg.ProxyID, Reason: reason}
		ok, err := e.PutPrimaryIf(ctx, w.ks, w.name, nr, rev, nil)
		if err != nil || !ok {
			return // another proxy wrote first: its record arrives through the watch
		}
		w.setRecord(nr)
	}
	w.m.log.Info("ha: primary", zap.String("shard", w.key), zap.String("primary", addr), zap.Uint64("term", term), zap.String("reason", reason))
	w.m.stats.primaryChange(w.key, "discovered")
	w.primary, w.term = addr, term
	w.samples, w.semiSync = nil, semiUnknown
}

// primaryDown runs a failover, or says why not.
func (w *shardWatch) primaryDown(ctx context.Context, states map[string]*ServerState, old string) {
	cfg := w.m.cfg.HA
	switch {
	case !cfg.Auto():
		w.setNoRecovery("primary " + old + " is down and ha.failover is off: promote a replica (shardgate reparent) or bring it back")
		return
	case !w.lastFailover.IsZero() && time.Since(w.lastFailover) < cfg.RecoveryBlockPeriod:
		w.setNoRecovery("primary " + old + " is down, but the shard failed over " + time.Since(w.lastFailover).Round(time.Second).String() +
			" ago (ha.recovery_block_period " + cfg.RecoveryBlockPeriod.String() + "): an operator must act (shardgate reparent)")
		return
	case !w.failedAt.IsZero() && time.Since(w.failedAt) < failedRetry:
		return
	case cfg.RequireSemiSync && w.semiSync == semiOff:
		w.setNoRecovery("primary " + old + " is down, but its semi-synchronous replication was off at its last probe, so writes it acknowledged may exist only on it: no automatic failover (ha.require_semi_sync); bring it back, or promote the most up-to-date replica with shardgate reparent (without --new-primary), accepting the loss")
		return
	}
	if rec := w.record(); rec != nil && rec.Reason == "failover" && rec.Primary != old && time.Since(rec.At) < cfg.RecoveryBlockPeriod {
		// Another proxy failed the shard over recently: its record is newer.
		return
	}
	w.setNoRecovery("")
	_, _ = w.failover(ctx, states, old, "failover")
}

func (w *shardWatch) setNoRecovery(why string) {
	w.mu.Lock()
	w.noRecovery = why
	w.mu.Unlock()
}

// publish computes lag and roles and publishes the shard's roles if they
// changed.
func (w *shardWatch) publish(states map[string]*ServerState, why string) {
	cfg := w.m.cfg.HA
	now := time.Now()
	dom := w.domain(states)
	w.mu.Lock()
	announced := w.switchAnnounced()
	w.mu.Unlock()
	roles := map[string]string{}
	lags := map[string]time.Duration{}
	var healthy []string
	p := w.primary
	ps := states[p]
	pUp := p != "" && ps != nil && ps.Up && !ps.Replicating
	if pUp {
		w.semiSync = semiOff
		if ps.SemiSyncPrimaryActive {
			w.semiSync = semiOn
		}
		seq := ps.BinlogPos.Seq(dom)
		if n := len(w.samples); n == 0 || w.samples[n-1].seq != seq {
			w.samples = append(w.samples, sample{at: now, seq: seq})
		}
		// Keep what lag needs: samples newer than 4× the max lag (and one older).
		keep := now.Add(-4*cfg.ReplicaMaxLag - 10*time.Second)
		i := sort.Search(len(w.samples), func(i int) bool { return w.samples[i].at.After(keep) })
		if i > 1 {
			w.samples = append(w.samples[:0], w.samples[i-1:]...)
		}
	}
	for _, a := range w.servers {
		st := states[a]
		switch {
		case !st.Up:
			roles[a] = RoleDown
		case a == p:
			roles[a] = RolePrimary
		case st.Replicating && st.MasterAddr == p && st.LastIOErrno != 1236 && !errant(st.BinlogPos, st.SlavePos, st.ServerID, dom):
			roles[a] = RoleReplica
			if pUp {
				lags[a] = w.lag(st.CurrentPos.Seq(dom), now)
				if st.SQLRunning && st.IORunning != "No" && lags[a] <= cfg.ReplicaMaxLag {
					healthy = append(healthy, a)
				}
			}
		default:
			roles[a] = RoleDrained
			// A writable stranger is fenced, except while another proxy
			// moves the primary role: it is the primary being promoted.
			if st.Writable() && pUp && !announced {
				w.fence(a)
			}
		}
	}
	sort.SliceStable(healthy, func(i, j int) bool { return lags[healthy[i]] < lags[healthy[j]] })

	// Published under w.mu, as setRecord's hold is: a round computed
	// before etcd's record arrived cannot overwrite the hold.
	w.mu.Lock()
	switching := w.switchAnnounced()
	if pUp && !switching {
		w.recovering = false
	}
	w.states, w.roles, w.lags, w.why = states, roles, lags, why
	next := &topo.ShardRoles{Primary: p, Replicas: healthy, Term: w.term, Recovering: w.recovering, Why: why}
	if switching {
		next.Primary, next.Why = "", whySwitching
	} else if !pUp && p != "" && w.fails[p] < downAfter {
		next.Why = "" // not yet confirmed down: keep routing to it
	} else if !pUp {
		next.Primary = ""
		if next.Why == "" {
			next.Why = w.noRecovery
		}
	}
	if cur := w.cell.Load(); cur == nil || !sameRoles(cur, next) {
		w.cell.Publish(next)
	}
	w.mu.Unlock()
	if pUp {
		w.setNoRecovery("")
	}
	w.m.stats.observe(w.key, roles, lags, ps, pUp)
}

func sameRoles(a, b *topo.ShardRoles) bool {
	return a.Primary == b.Primary && a.Term == b.Term && a.Recovering == b.Recovering && a.Why == b.Why && slices.Equal(a.Replicas, b.Replicas)
}

// lag is how long ago the primary first had a transaction the replica at
// applied sequence seq has not applied (0 when it has everything).
func (w *shardWatch) lag(seq uint64, now time.Time) time.Duration {
	n := len(w.samples)
	if n == 0 || seq >= w.samples[n-1].seq {
		return 0
	}
	for _, s := range w.samples {
		if s.seq > seq {
			return now.Sub(s.at)
		}
	}
	return now.Sub(w.samples[0].at)
}

// fence makes a drained writable server read-only (a returning old primary
// must take no write), in the background.
func (w *shardWatch) fence(addr string) {
	c := w.conns[addr]
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), w.m.cfg.HA.ProbeTimeout)
		defer cancel()
		c.mu.Lock()
		_, err := c.exec(ctx, w.m.cfg.HA.ProbeTimeout, "SET GLOBAL read_only=1")
		c.mu.Unlock()
		if err != nil {
			w.m.log.Warn("ha: could not make a drained server read-only", zap.String("shard", w.key), zap.String("server", addr), zap.Error(err))
			return
		}
		w.m.log.Warn("ha: a writable server that is not the primary was made read-only (drained until an operator rejoins it)",
			zap.String("shard", w.key), zap.String("server", addr), zap.String("primary", w.primary))
	}()
}

// ShardStatus is one shard in GET /api/shards.
type ShardStatus struct {
	Keyspace   string         `json:"keyspace"`
	Shard      string         `json:"shard"`
	Primary    string         `json:"primary"`
	Term       uint64         `json:"term"`
	Recovering bool           `json:"recovering"`
	Problem    string         `json:"problem,omitempty"`
	Servers    []ServerStatus `json:"servers"`
}

// ServerStatus is one server in GET /api/shards.
type ServerStatus struct {
	Addr           string  `json:"addr"`
	Role           string  `json:"role"` // primary, replica, drained, down
	Serving        bool    `json:"serving"`
	LagSeconds     float64 `json:"lag_seconds"`
	ReadOnly       bool    `json:"read_only"`
	ReplicatesFrom string  `json:"replicates_from,omitempty"`
	IORunning      string  `json:"io_running,omitempty"`
	SQLRunning     bool    `json:"sql_running,omitempty"`
	GTIDCurrentPos string  `json:"gtid_current_pos,omitempty"`
	SemiSync       bool    `json:"semi_sync_primary,omitempty"`
	Error          string  `json:"error,omitempty"`
	ProbeMS        float64 `json:"probe_ms"`
}

func (w *shardWatch) status() ShardStatus {
	cur := w.cell.Load()
	w.mu.Lock()
	defer w.mu.Unlock()
	s := ShardStatus{Keyspace: w.ks, Shard: w.name, Recovering: w.recovering, Problem: w.why}
	if cur != nil && w.shard.HA() {
		s.Primary, s.Term = cur.Primary, cur.Term
		if s.Problem == "" {
			s.Problem = cur.Why
		}
	}
	for _, a := range w.servers {
		st := w.states[a]
		ss := ServerStatus{Addr: a, Role: w.roles[a]}
		if st != nil {
			ss.ReadOnly, ss.ReplicatesFrom, ss.IORunning, ss.SQLRunning = st.ReadOnly, st.MasterAddr, st.IORunning, st.SQLRunning
			ss.GTIDCurrentPos, ss.SemiSync, ss.Error, ss.ProbeMS = st.CurrentPos.String(), st.SemiSyncPrimaryActive, st.Err, ms(st.Latency)
			if st.LastIOError != "" {
				ss.Error = "replication IO: " + st.LastIOError
			} else if st.LastSQLError != "" {
				ss.Error = "replication SQL: " + st.LastSQLError
			}
		}
		ss.LagSeconds = w.lags[a].Seconds()
		switch {
		case !w.shard.HA():
			ss.Serving = ss.Role == RolePrimary
			s.Primary = a
		case cur != nil:
			ss.Serving = a == cur.Primary || slices.Contains(cur.Replicas, a)
		}
		s.Servers = append(s.Servers, ss)
	}
	return s
}
