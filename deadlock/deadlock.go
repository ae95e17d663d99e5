// Package deadlock finds deadlocks that span shards and breaks them.
//
// Each shard's InnoDB detects the deadlocks it can see whole. A cycle of
// lock waits whose edges lie on different shards (transaction A waits for B
// on one shard, B waits for A on another) is invisible to every one of
// them: both transactions, and every transaction queued behind their locks,
// would wait for innodb_lock_wait_timeout (50 s by default). The proxy sees
// every session's branches, so it can close the loop:
//
//  1. A Detector wakes every threshold/4 (at least 50 ms; every threshold
//     while nothing runs) and asks the front end
//     which sessions are running a command (Sessions.Running: the session
//     registry's busy flag and a per-command sequence number, nothing on the
//     path of a statement). Only when at least two commands have run for
//     longer than the threshold does it go further.
//  2. It asks those sessions for their open transactions' branches (shard,
//     server, the server's thread id of the connection), and each server
//     concerned who waits for whom: information_schema.INNODB_TRX joined
//     with INNODB_LOCK_WAITS for those threads (this needs the PROCESS
//     privilege).
//  3. It maps the waits back to sessions and looks for cycles among the
//     waits it saw in two consecutive rounds (at least 120 ms apart, as
//     MariaDB's information_schema cache wants): a wait seen twice (same
//     transactions, same lock request, same commands) lasted the whole time
//     between, so all the edges of a cycle seen twice held at one instant,
//     and a deadlock, once there, stays.
//  4. It picks one victim per cycle: the transaction that did the least
//     work (InnoDB's trx_weight, rows locked and changed, summed over its
//     branches), on a tie the one whose waiting command started last. A
//     transaction that is committing (in twopc: preparing or past PREPARE)
//     shows no branches and is never one. Sessions.Abort interrupts the
//     victim's waiting command (KILL QUERY on its shard) provided it is
//     still the command found waiting, and the router rolls the victim's
//     transaction back on every shard and answers 1213 (ER_LOCK_DEADLOCK,
//     SQLSTATE 40001). The other transactions' waits end with the rollback.
//
// Waits that form no cycle are left alone, however long: the client's own
// innodb_lock_wait_timeout still applies to them.
package deadlock

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/internal/sqllex"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// Statement identifies a command a session runs: Seq grows with every
// command of the session, so a Statement never names a later command.
type Statement struct {
	Session uint32
	Seq     uint64
}

// Transaction is a session's open transaction as the detector sees it.
type Transaction struct {
	ID       uint64 // txn.Tx.ID: which of the session's transactions
	User     string
	Branches []txn.Branch
}

// Sessions is the front end's session registry, as the detector uses it.
// Its methods are called from the detector's goroutine while sessions run.
type Sessions interface {
	// Running appends to dst the commands sessions are running now.
	Running(dst []Statement) []Statement
	// Transaction returns the open transaction of st's session, its
	// branches appended to dst, while the session still runs st. ok is
	// false when st has ended, or the session has no open transaction, or
	// is committing or rolling it back.
	Transaction(st Statement, dst []txn.Branch) (tx Transaction, ok bool)
	// Abort makes st fail with e and transaction tx roll back on every
	// shard, provided the session still runs st inside tx and tx is not
	// ending; it reports whether it did.
	Abort(st Statement, tx uint64, e *wire.Error) bool
}

// Observer is told what the detector does (metrics). Calls come from the
// detector's goroutine.
type Observer interface {
	// DeadlockCheck: one round that asked the servers, how long it took,
	// and the first server error (nil when every server answered).
	DeadlockCheck(took time.Duration, err error)
	// DeadlockFound: a cycle was confirmed and (unless Victim is -1) its
	// victim rolled back.
	DeadlockFound(d Deadlock)
}

// Deadlock is one cycle of waits across shards.
type Deadlock struct {
	// Members in the order of the cycle: each waits for the next, the last
	// for the first.
	Members []Member
	// Victim is the index in Members of the transaction rolled back; -1
	// when its waiting command had ended before it could be stopped (the
	// cycle broke by itself).
	Victim int
	// Age is how long the cycle had existed when the victim was chosen, as
	// the detector saw it: since the start of the members' latest command.
	Age time.Duration
}

// Member is one transaction of a deadlock.
type Member struct {
	Session   uint32
	User      string
	WaitShard string // the shard where it waits for the next member
	// Statement is the waiting statement as that shard runs it, normalized
	// (literals replaced by ?: no values reach logs).
	Statement string
	Weight    int64    // InnoDB trx_weight summed over its branches
	Shards    []string // every shard of its transaction
}

// Shards returns the shards on which the cycle's waits lie.
func (d Deadlock) Shards() []string {
	var out []string
	for _, m := range d.Members {
		if !contains(out, m.WaitShard) {
			out = append(out, m.WaitShard)
		}
	}
	sort.Strings(out)
	return out
}

// Stats are the detector's counters since it started.
type Stats struct {
	Checks      uint64 // rounds that asked the servers
	CheckErrors uint64 // rounds in which a server could not be read
	Deadlocks   uint64 // cycles confirmed
	Victims     uint64 // transactions rolled back to break them
	LastError   string // the last server error ("" if none)
}

// Servers returns the backend pools whose servers the detector may read
// (one pool per shard; shards on one server share it).
type Servers func() []*backend.Pool

// Options configure a Detector.
type Options struct {
	// Threshold: a command that has run this long counts as waiting
	// (deadlock.threshold; 0 = detection off).
	Threshold time.Duration
	Log       *zap.Logger
	// ReadTimeout bounds one server's answer (default 2s).
	ReadTimeout time.Duration
}

// minRoundGap spaces two reads of InnoDB's information_schema tables on a
// server (from the end of one to the start of the next). MariaDB serves
// INNODB_TRX, INNODB_LOCKS and INNODB_LOCK_WAITS from a cache refreshed
// only when it was last read more than 100 ms ago (measured on 10.11:
// polled every 50 ms it never changes), so rounds closer than that would
// confirm a cycle with the very data that found it.
const minRoundGap = 120 * time.Millisecond

// minTick is the shortest pause between two looks at the session
// registry while commands run (threshold/4 otherwise): how late the
// detector may notice that a command started, and then that it has run
// past the threshold. A look locks each session briefly and reads two
// fields.
const minTick = 50 * time.Millisecond

// maxBackoff is the longest pause between rounds while the same commands
// keep waiting without forming a cycle (a long lock held by a slow
// transaction): a cycle they form later, by a new wait inside the same
// command, is found within it.
const maxBackoff = 2 * time.Second

// maxCandidates bounds the commands one round looks at (the longest
// running first), and so the size of its queries.
const maxCandidates = 1000

// Detector finds and breaks deadlocks across shards. Run it on one
// goroutine; the other methods are safe for concurrent use.
type Detector struct {
	sessions Sessions
	servers  Servers
	log      *zap.Logger
	timeout  time.Duration

	threshold atomic.Int64 // ns; 0 = off
	wake      chan struct{}
	obs       atomic.Pointer[Observer]

	checks, checkErrors, deadlocks, victims atomic.Uint64
	lastErr                                 atomic.Pointer[string]

	// Run's own state.
	seen    map[uint32]seenStmt      // running commands, by session
	conns   map[string]*backend.Conn // one unpooled connection per server
	prev    map[edgeKey]bool         // waits seen by the last round
	quiet   string                   // the waiting set of the last round that found no cycle
	backoff time.Duration            // pause before looking at that set again
	next    time.Time                // no round before this
	warned  map[string]bool          // servers whose read failure was logged
	running []Statement              // scratch
	alive   map[uint32]bool          // scratch
}

type seenStmt struct {
	seq   uint64
	first time.Time // when the detector first saw the command running
}

// New returns a detector over the front end's sessions and the backends'
// servers.
func New(sessions Sessions, servers Servers, o Options) *Detector {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 2 * time.Second
	}
	d := &Detector{sessions: sessions, servers: servers, log: o.Log, timeout: o.ReadTimeout, wake: make(chan struct{}, 1),
		seen: map[uint32]seenStmt{}, alive: map[uint32]bool{}, conns: map[string]*backend.Conn{}, prev: map[edgeKey]bool{}, warned: map[string]bool{}}
	d.threshold.Store(int64(o.Threshold))
	return d
}

// SetThreshold changes the threshold (a configuration reload); 0 turns
// detection off.
func (d *Detector) SetThreshold(t time.Duration) {
	d.threshold.Store(int64(t))
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// SetObserver installs o (metrics).
func (d *Detector) SetObserver(o Observer) { d.obs.Store(&o) }

func (d *Detector) observer() Observer {
	if p := d.obs.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats returns the counters.
func (d *Detector) Stats() Stats {
	s := Stats{Checks: d.checks.Load(), CheckErrors: d.checkErrors.Load(), Deadlocks: d.deadlocks.Load(), Victims: d.victims.Load()}
	if p := d.lastErr.Load(); p != nil {
		s.LastError = *p
	}
	return s
}

// Run looks for deadlocks until ctx ends. With nothing running it wakes
// once per threshold and only reads the session registry.
func (d *Detector) Run(ctx context.Context) {
	defer d.closeConns()
	if th := time.Duration(d.threshold.Load()); th > 0 {
		d.log.Info("deadlock detection across shards", zap.Duration("threshold", th))
	} else {
		d.log.Info("deadlock detection across shards is off (deadlock.threshold: 0)")
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		th := time.Duration(d.threshold.Load())
		var wait <-chan time.Time
		if th > 0 {
			timer.Reset(d.tick(ctx, th))
			wait = timer.C
		} else {
			d.forget()
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
			timer.Stop()
		case <-wait:
		}
	}
}

// tick looks at the running commands once (and at the servers when they
// may hold a cycle) and returns the time until the next look.
func (d *Detector) tick(ctx context.Context, th time.Duration) time.Duration {
	now := time.Now()
	d.running = d.sessions.Running(d.running[:0])
	if len(d.running) == 0 {
		d.forget()
		return th
	}
	// Which commands have run for longer than the threshold.
	alive := d.alive
	clear(alive)
	var long []candidate
	for _, st := range d.running {
		alive[st.Session] = true
		s, ok := d.seen[st.Session]
		if !ok || s.seq != st.Seq {
			d.seen[st.Session] = seenStmt{seq: st.Seq, first: now}
			continue
		}
		if now.Sub(s.first) >= th {
			long = append(long, candidate{st: st, first: s.first})
		}
	}
	for id := range d.seen {
		if !alive[id] {
			delete(d.seen, id)
		}
	}
	gap := max(th/4, minTick)
	if len(long) < 2 { // a cycle needs two waiting transactions at least
		clear(d.prev)
		d.quiet = ""
		if len(long) == 0 {
			d.closeConns()
		}
		return gap
	}
	sort.Slice(long, func(i, j int) bool { return long[i].first.Before(long[j].first) })
	if len(long) > maxCandidates {
		long = long[:maxCandidates]
	}
	sig := signature(long)
	if now.Before(d.next) || (sig == d.quiet && now.Before(d.next.Add(d.backoff))) {
		return gap
	}
	cycle := d.round(ctx, long)
	d.log.Debug("deadlock detection round", zap.Int("waiting", len(long)), zap.Bool("cycle", cycle), zap.Duration("took", time.Since(now)))
	d.next = time.Now().Add(minRoundGap)
	switch {
	case cycle:
		d.quiet, d.backoff = "", 0
	case sig != d.quiet:
		d.quiet, d.backoff = sig, gap
	default:
		d.backoff = min(2*d.backoff, maxBackoff)
	}
	return gap
}

// forget drops what the detector knows of running commands, and its
// server connections.
func (d *Detector) forget() {
	clear(d.seen)
	clear(d.prev)
	d.quiet = ""
	d.closeConns()
}

func signature(long []candidate) string {
	keys := make([]string, len(long))
	for i, c := range long {
		keys[i] = strconv.FormatUint(uint64(c.st.Session), 10) + ":" + strconv.FormatUint(c.st.Seq, 10)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// candidate is a long-running command inside an open transaction.
type candidate struct {
	st     Statement
	first  time.Time
	tx     Transaction
	weight int64
}

// round reads the servers of the candidates' transactions, records their
// waits for the next round, and breaks every cycle of waits also seen by
// the last one. It reports whether it saw any cycle (confirmed or not).
func (d *Detector) round(ctx context.Context, long []candidate) bool {
	cands := long[:0]
	for _, c := range long {
		tx, ok := d.sessions.Transaction(c.st, nil)
		if !ok || len(tx.Branches) == 0 {
			continue
		}
		c.tx = tx
		cands = append(cands, c)
	}
	if len(cands) < 2 {
		clear(d.prev)
		return false
	}
	start := time.Now()
	rows, err := d.read(ctx, cands)
	d.checks.Add(1)
	if err != nil {
		d.checkErrors.Add(1)
		msg := err.Error()
		d.lastErr.Store(&msg)
	}
	if o := d.observer(); o != nil {
		o.DeadlockCheck(time.Since(start), err)
	}
	g := buildGraph(cands, rows)
	for i := range cands {
		cands[i].weight = g.weight[i]
	}
	confirmed := make([]edge, 0, len(g.edges))
	for _, e := range g.edges {
		if d.prev[e.key] {
			confirmed = append(confirmed, e)
		}
	}
	clear(d.prev)
	for _, e := range g.edges {
		d.prev[e.key] = true
	}
	seenCycle := findCycle(len(cands), g.edges, nil) != nil
	removed := make([]bool, len(cands))
	for {
		cyc := findCycle(len(cands), confirmed, removed)
		if cyc == nil {
			break
		}
		v := d.breakCycle(cands, cyc)
		for _, e := range cyc {
			removed[e.from] = true // one cycle through these members is enough for this round
		}
		if v >= 0 {
			for k := range d.prev {
				if k.from == cands[v].st || k.to == cands[v].st {
					delete(d.prev, k)
				}
			}
		}
	}
	return seenCycle
}

// breakCycle checks that the members of cyc still run the commands seen
// waiting, picks the victim and aborts it. It returns the victim's index in
// cands, or -1.
func (d *Detector) breakCycle(cands []candidate, cyc []edge) int {
	// Each member must still be in the command and transaction seen, with
	// the branches of the cycle's waits: a member that moved on makes the
	// cycle stale (its connection may serve another session by now).
	var buf []txn.Branch
	for _, e := range cyc {
		c := &cands[e.from]
		tx, ok := d.sessions.Transaction(c.st, buf[:0])
		if !ok || tx.ID != c.tx.ID || !hasThread(tx.Branches, e.key.server, e.fromThread) {
			return -1
		}
		buf = tx.Branches
	}
	members := make([]Member, len(cyc))
	victim, latest := 0, time.Time{}
	for i, e := range cyc {
		c := &cands[e.from]
		members[i] = Member{Session: c.st.Session, User: c.tx.User, WaitShard: e.shard, Statement: sqllex.Normalize(e.query),
			Weight: c.weight, Shards: branchShards(c.tx.Branches)}
		if c.first.After(latest) {
			latest = c.first
		}
		if i > 0 && worse(c, &cands[cyc[victim].from]) {
			victim = i
		}
	}
	dl := Deadlock{Members: members, Victim: victim, Age: time.Since(latest)}
	v := &cands[cyc[victim].from]
	d.deadlocks.Add(1)
	shards := dl.Shards()
	e := wire.Errorf(mysql.ER_LOCK_DEADLOCK,
		"Deadlock found when trying to get lock; try restarting transaction (shardgate: a cycle of lock waits across shards %s, which no shard sees whole; this transaction was chosen to break it and was rolled back on every shard)",
		strings.Join(shards, ", "))
	if d.sessions.Abort(v.st, v.tx.ID, e) {
		d.victims.Add(1)
	} else {
		dl.Victim = -1
	}
	d.logDeadlock(dl)
	if o := d.observer(); o != nil {
		o.DeadlockFound(dl)
	}
	if dl.Victim < 0 {
		return -1
	}
	return cyc[victim].from
}

// worse reports whether a is a better victim than b: less work done, then
// the command that started waiting last, then the newer session.
func worse(a, b *candidate) bool {
	if a.weight != b.weight {
		return a.weight < b.weight
	}
	if !a.first.Equal(b.first) {
		return a.first.After(b.first)
	}
	return a.st.Session > b.st.Session
}

func (d *Detector) logDeadlock(dl Deadlock) {
	cycle := make([]string, len(dl.Members))
	for i, m := range dl.Members {
		next := dl.Members[(i+1)%len(dl.Members)]
		cycle[i] = fmt.Sprintf("session %d (user %s, shards %s, weight %d) waits on %s for session %d: %s",
			m.Session, m.User, strings.Join(m.Shards, ","), m.Weight, m.WaitShard, next.Session, m.Statement)
	}
	if dl.Victim < 0 {
		d.log.Info("cross-shard deadlock broke by itself before its victim could be stopped",
			zap.Strings("shards", dl.Shards()), zap.Strings("cycle", cycle))
		return
	}
	v := dl.Members[dl.Victim]
	d.log.Warn("cross-shard deadlock: victim rolled back",
		zap.Uint32("victim_session", v.Session), zap.String("victim_user", v.User),
		zap.Strings("shards", dl.Shards()), zap.Duration("age", dl.Age), zap.Strings("cycle", cycle))
}

func hasThread(bs []txn.Branch, server string, thread uint32) bool {
	for _, b := range bs {
		if b.Server == server && b.ThreadID == thread {
			return true
		}
	}
	return false
}

func branchShards(bs []txn.Branch) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		if !contains(out, b.Shard) {
			out = append(out, b.Shard)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closeConns closes the detector's server connections (nothing runs long
// any more, or the detector stops).
func (d *Detector) closeConns() {
	for addr, c := range d.conns {
		c.Close()
		delete(d.conns, addr)
	}
}
