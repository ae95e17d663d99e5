package txn

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/wire"
)

// DecisionTable is the table, in the global keyspace, where twopc records
// the outcome of a distributed transaction once every branch is prepared.
// The proxy creates it on first use.
const DecisionTable = "shardgate_2pc_decisions"

const createDecisionTable = "CREATE TABLE IF NOT EXISTS " + DecisionTable + ` (
  dtid VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  decision ENUM('commit','abort') NOT NULL,
  created TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  shards VARCHAR(2048) CHARACTER SET ascii NOT NULL DEFAULT ''
) ENGINE=InnoDB COMMENT='shardgate two-phase commit decisions; rows are removed once every branch is finished'`

// Decisions recorded in DecisionTable.
const (
	DecisionCommit = "commit"
	DecisionAbort  = "abort"
)

// Config tunes two-phase commit and its resolver. Every proxy of one
// deployment should use the same values.
type Config struct {
	// ResolveInterval is how often the resolver scans XA RECOVER and the
	// decision table (default 1s).
	ResolveInterval time.Duration
	// AbortTimeout is how long a prepared branch without a decision may stay
	// in doubt before the resolver aborts it (default 5s). A coordinator that
	// took more than half of it between PREPARE and its decision aborts
	// itself, so it never races a resolver that is about to abort.
	AbortTimeout time.Duration
	// AbortRetention is how long abort decisions are kept after their
	// branches are gone, so a coordinator that wakes up late still finds
	// its transaction aborted (default 10m).
	AbortRetention time.Duration
	// Always: two-phase commit is the proxy's default transaction_mode, so
	// the resolver scans at every interval; otherwise it scans once at
	// start and then only while two-phase commit is in use (InUse).
	Always bool
	// CommitTimeout bounds the second phase (XA COMMIT of every branch);
	// branches not confirmed by then are left to the resolver (default 10s).
	CommitTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultResolveInterval = time.Second
	DefaultAbortTimeout    = 5 * time.Second
	DefaultAbortRetention  = 10 * time.Minute
	DefaultCommitTimeout   = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.ResolveInterval <= 0 {
		c.ResolveInterval = DefaultResolveInterval
	}
	if c.AbortTimeout <= 0 {
		c.AbortTimeout = DefaultAbortTimeout
	}
	if c.AbortRetention <= 0 {
		c.AbortRetention = DefaultAbortRetention
	}
	if c.AbortRetention < 2*c.AbortTimeout {
		c.AbortRetention = 2 * c.AbortTimeout
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	return c
}

// Stats counts what two-phase commit and the resolver did since the process
// started. Read it with Coordinator.Stats.
type Stats struct {
	// Coordinator (COMMIT of twopc sessions).
	OnePhaseCommits   int64 // twopc transactions on one shard: XA COMMIT ... ONE PHASE
	TwoPhaseCommits   int64 // decision commit recorded (client told: committed)
	IncompleteCommits int64 // of those, some branch did not confirm XA COMMIT (resolver finishes)
	PrepareFailures   int64 // PREPARE failed somewhere: rolled back
	LostToResolver    int64 // the resolver had recorded abort first: rolled back
	UnknownOutcomes   int64 // the decision could not be written or read: left to the resolver
	Rollbacks         int64 // XA transactions rolled back by ROLLBACK or disconnect
	// Resolver.
	Scans            int64 // completed scans
	ScanErrors       int64 // scans or server scans that failed
	InDoubt          int64 // prepared branches seen by the last scan (gauge)
	ResolvedCommits  int64 // branches the resolver committed
	ResolvedAborts   int64 // branches the resolver rolled back
	AbortDecisions   int64 // abort decisions the resolver recorded (timeouts)
	DecisionsCleaned int64 // decision rows deleted by the resolver
}

type counters struct {
	onePhase, twoPhase, incomplete, prepareFail, lost, unknown, rollbacks      atomic.Int64
	scans, scanErrors, inDoubt, resCommits, resAborts, abortDecisions, cleaned atomic.Int64
}

// Coordinator owns the decision table of one deployment (the global
// keyspace's shard) and the state shared by the sessions' commits and the
// resolver: configuration, counters, first-seen times of in-doubt branches.
// Make one with NewCoordinator and share it; it is safe for concurrent use.
type Coordinator struct {
	global   *backend.Pool
	database string
	tag      string
	instance string        // <proxy> part of this coordinator's dtids
	seq      atomic.Uint64 // last dtid number

	cfg atomic.Pointer[Config]
	log atomic.Pointer[zap.Logger]
	n   counters

	mu       sync.Mutex
	pending  []string // committed dtids whose decision rows are to be deleted
	deleting bool

	seenMu    sync.Mutex
	firstSeen map[string]time.Time // server|gtrid|bqual -> first scan that saw it prepared

	observer atomic.Pointer[func(action string)]

	found   atomic.Bool // a scan found prepared branches or decision rows
	history history     // the resolver's last actions (history.go)
}

// Resolver actions passed to the observer (SetObserver).
const (
	ActionCommit   = "commit"   // a prepared branch committed
	ActionAbort    = "abort"    // an abort decision recorded (timeout)
	ActionRollback = "rollback" // a prepared branch rolled back
	ActionError    = "error"    // a scan, decision or branch that failed
)

// SetObserver registers fn, called on every resolver action (for metrics,
// e.g. a counter by action); nil removes it. fn must be cheap and safe for
// concurrent use.
func (c *Coordinator) SetObserver(fn func(action string)) {
	if fn == nil {
		c.observer.Store(nil)
		return
	}
	c.observer.Store(&fn)
}

func (c *Coordinator) observe(action string) {
	if fn := c.observer.Load(); fn != nil {
		(*fn)(action)
	}
}

// NewCoordinator returns the coordinator whose decision table lives on
// global (the global keyspace's shard, whose database is database). Every
// session and the resolver of one proxy must share one (the router keeps
// it with the topology).
func NewCoordinator(global *backend.Pool, database string) *Coordinator {
	c := &Coordinator{global: global, database: database, tag: clusterTag(global.ID(), database), instance: newInstanceID(), firstSeen: map[string]time.Time{}}
	cfg := Config{}.withDefaults()
	c.cfg.Store(&cfg)
	c.log.Store(zap.NewNop())
	return c
}

// Configure sets the timeouts and the logger (nil keeps the current one).
func (c *Coordinator) Configure(cfg Config, log *zap.Logger) {
	cfg = cfg.withDefaults()
	c.cfg.Store(&cfg)
	if log != nil {
		c.log.Store(log)
	}
}

// Config returns the configuration in force.
func (c *Coordinator) Config() Config { return *c.cfg.Load() }

func (c *Coordinator) logger() *zap.Logger { return c.log.Load() }

// Global is the pool of the shard holding the decision table.
func (c *Coordinator) Global() *backend.Pool { return c.global }

// Stats returns the counters.
func (c *Coordinator) Stats() Stats {
	n := &c.n
	return Stats{
		OnePhaseCommits: n.onePhase.Load(), TwoPhaseCommits: n.twoPhase.Load(), IncompleteCommits: n.incomplete.Load(),
		PrepareFailures: n.prepareFail.Load(), LostToResolver: n.lost.Load(), UnknownOutcomes: n.unknown.Load(),
		Rollbacks: n.rollbacks.Load(),
		Scans:     n.scans.Load(), ScanErrors: n.scanErrors.Load(), InDoubt: n.inDoubt.Load(),
		ResolvedCommits: n.resCommits.Load(), ResolvedAborts: n.resAborts.Load(), AbortDecisions: n.abortDecisions.Load(),
		DecisionsCleaned: n.cleaned.Load(),
	}
}

func (c *Coordinator) newDTID() string { return formatDTID(c.tag, c.instance, c.seq.Add(1)) }

// NewDTID returns a new distributed transaction id of this deployment, for
// tools and tests that start XA branches by hand: XA START 'dtid',
// 'keyspace/shard', FormatID.
func (c *Coordinator) NewDTID() string { return c.newDTID() }

// errUnknown marks a decision whose fate is not known (the global shard did
// not answer): it may or may not have been recorded.
var errUnknown = errors.New("decision outcome unknown")

// decide records decision for dtid unless one is recorded already (first
// wins: the dtid is the primary key) and returns the decision in force and
// whether it is this call's. An error wrapping errUnknown means the insert
// may have happened; any other error means it did not.
func (c *Coordinator) decide(ctx context.Context, dtid, decision string, shards []string) (string, bool, error) {
	list := strings.Join(shards, ",")
	if len(list) > 2048 {
		list = "" // unknown: the resolver then waits for every server before deleting it
	}
	insert := "INSERT INTO " + DecisionTable + " (dtid, decision, shards) VALUES ('" + dtid + "','" + decision + "','" + list + "')"
	uncertain := false
	var lastErr error
	created := false
	for attempt := 0; attempt < 3; attempt++ {
		conn, err := c.global.GetPlain(ctx)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		_, err = conn.Exec(ctx, insert)
		if err == nil {
			conn.Release()
			return decision, true, nil
		}
		if conn.Broken() {
			conn.Release()
			uncertain = true
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		switch wire.AsError(err).Code {
		case mysql.ER_DUP_ENTRY:
			d, rerr := readDecision(ctx, conn, dtid)
			conn.Release()
			if rerr == nil && d != "" {
				return d, d == decision && uncertain, nil
			}
			lastErr = rerr
			if rerr == nil { // deleted in between: only commit rows are deleted
				lastErr = errors.New("decision row vanished")
			}
			uncertain = true
			continue
		case mysql.ER_NO_SUCH_TABLE:
			if !created {
				created = true
				_, cerr := conn.Exec(ctx, createDecisionTable)
				conn.Release()
				if cerr != nil {
					return "", false, cerr
				}
				attempt--
				continue
			}
		}
		conn.Release()
		if uncertain {
			return "", false, errors.Join(errUnknown, err)
		}
		return "", false, err
	}
	if uncertain || lastErr == nil {
		return "", false, errors.Join(errUnknown, lastErr)
	}
	return "", false, lastErr
}

func readDecision(ctx context.Context, conn *backend.Conn, dtid string) (string, error) {
	rows, err := conn.QueryStrings(ctx, "SELECT decision FROM "+DecisionTable+" WHERE dtid = '"+dtid+"'")
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return rows[0][0], nil
}

// forget deletes the commit decision of a finished transaction, batched in
// the background: the client has its answer already, and a row left behind
// (crash) is removed by the resolver.
func (c *Coordinator) forget(dtid string) {
	c.mu.Lock()
	c.pending = append(c.pending, dtid)
	start := !c.deleting
	c.deleting = true
	c.mu.Unlock()
	if start {
		go c.deleteLoop()
	}
}

func (c *Coordinator) deleteLoop() {
	for {
		c.mu.Lock()
		batch := c.pending
		if len(batch) > 500 {
			batch = batch[:500:500]
			c.pending = c.pending[500:]
		} else {
			c.pending = nil
		}
		if len(batch) == 0 {
			c.deleting = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.deleteDecisions(ctx, batch, DecisionCommit); err != nil {
			c.logger().Debug("twopc: deleting decisions failed; the resolver will", zap.Int("rows", len(batch)), zap.Error(err))
		}
		cancel()
	}
}

func (c *Coordinator) deleteDecisions(ctx context.Context, dtids []string, decision string) (uint64, error) {
	var b strings.Builder
	b.WriteString("DELETE FROM " + DecisionTable + " WHERE decision = '" + decision + "' AND dtid IN (")
	for i, d := range dtids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("'" + d + "'")
	}
	b.WriteByte(')')
	conn, err := c.global.GetPlain(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	ok, err := conn.Exec(ctx, b.String())
	return ok.AffectedRows, err
}
