// Package metrics keeps shardgate's statistics: the Prometheus collectors
// behind /metrics (statements, latency, errors, shards, pools, clients,
// plan cache, transactions, limits, 2PC resolver), the top queries by total
// time shown on /debug/status, and the slow-query log. Everything hangs off
// one Metrics value with its own registry; there is no global state.
package metrics

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/proxy"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/wire"
)

// Namespace prefixes every metric name.
const Namespace = "shardgate"

// Metrics implements router.Observer, proxy.Hooks and deadlock.Observer.
type Metrics struct {
	// Registry holds every collector, including the process and Go runtime
	// ones; serve it with promhttp.HandlerFor.
	Registry *prometheus.Registry

	log    *zap.Logger
	router *router.Router

	queries      *prometheus.CounterVec   // keyspace, statement, plan
	latency      *prometheus.HistogramVec // keyspace, statement
	errs         *prometheus.CounterVec   // code
	shardStmts   *prometheus.CounterVec   // keyspace, shard
	transactions *prometheus.CounterVec   // mode, outcome
	clients      prometheus.Gauge
	accepted     prometheus.Counter
	refused      *prometheus.CounterVec // reason
	logins       *prometheus.CounterVec // result, plugin, tls
	limits       *prometheus.CounterVec // limit
	slow         prometheus.Counter
	reloads      *prometheus.CounterVec // result
	draining     prometheus.Gauge

	shardLatency *prometheus.HistogramVec // keyspace, shard
	shardErrs    *prometheus.CounterVec   // keyspace, shard, code
	rowsReturned *prometheus.CounterVec   // keyspace
	rowsAffected *prometheus.CounterVec   // keyspace
	tableQueries *prometheus.CounterVec   // keyspace, table
	userQueries  *prometheus.CounterVec   // user

	// Resolver counts the 2PC resolver's actions (label action: commit,
	// abort, rollback, error), for the resolver to increment. It is
	// exported only while two-phase commit is in use (txn.Coordinator.InUse).
	Resolver *prometheus.CounterVec

	deadlocks *deadlockMetrics

	top    *TopQueries
	shards sync.Map // "keyspace/shard" -> *shardEntry
	plans  sync.Map // planKey -> *planEntry
	nplan  atomic.Int64
	users  sync.Map // *config.User -> prometheus.Counter
	nusers atomic.Int64

	tablesMu sync.Mutex
	tables   map[string]bool // "keyspace.table" that have their own label

	total, totalErrs atomic.Uint64 // statements and failed ones (the console's rates)

	slowThreshold atomic.Int64 // ns; 0 = off
}

// New builds the collectors for a router (its pools and plan cache are read
// at scrape time) and registers them with a fresh registry.
func New(r *router.Router, log *zap.Logger) *Metrics {
	if log == nil {
		log = zap.NewNop()
	}
	m := &Metrics{Registry: prometheus.NewRegistry(), log: log, router: r, top: NewTopQueries(5000)}
	m.queries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "queries_total",
		Help: "Statements run, by keyspace, statement type and plan kind."}, []string{"keyspace", "statement", "plan"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "query_duration_seconds",
		Help:    "Time from receiving a statement to the end of its response, by keyspace and statement type.",
		Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"keyspace", "statement"})
	m.errs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "query_errors_total",
		Help: "Statements that ended in an error, by MySQL error code (1205 = lock wait timeout, also across shards)."}, []string{"code"})
	m.shardStmts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "shard_queries_total",
		Help: "Statements that sent commands to a shard, by keyspace and shard."}, []string{"keyspace", "shard"})
	m.transactions = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "transactions_total",
		Help: "Transactions ended by COMMIT or ROLLBACK, by transaction mode and outcome."}, []string{"mode", "outcome"})
	m.clients = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "client_connections",
		Help: "Open client connections (logged in or not)."})
	m.accepted = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "client_connections_accepted_total",
		Help: "Client connections accepted."})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "client_connections_refused_total",
		Help: "Client connections turned away before login, by reason."}, []string{"reason"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "logins_total",
		Help: "Authentications, by result (ok, denied), plugin and TLS."}, []string{"result", "plugin", "tls"})
	m.limits = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "limit_hits_total",
		Help: "Sessions or statements stopped by a limit (max_packet_size, idle_timeout, query_timeout, max_memory_rows, max_prepared_stmts_per_session)."}, []string{"limit"})
	m.slow = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "slow_queries_total",
		Help: "Statements slower than slow_query_log.threshold."})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "config_reloads_total",
		Help: "Configuration reloads (SIGHUP), by result."}, []string{"result"})
	m.draining = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "draining",
		Help: "1 while the proxy drains sessions before it stops."})
	m.Resolver = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "twopc_resolver_actions_total",
		Help: "Actions of the 2PC resolver on in-doubt branches (commit, abort, rollback, error); only while two-phase commit is in use."}, []string{"action"})
	m.deadlocks = newDeadlockMetrics()
	m.Registry.MustRegister(m.deadlocks.collectors()...)
	m.shardLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "shard_query_duration_seconds",
		Help:    "Time of statements that sent commands to a shard, by keyspace and shard (a statement over several shards counts its whole time for each).",
		Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"keyspace", "shard"})
	m.shardErrs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "shard_query_errors_total",
		Help: "Statements that sent commands to a shard and failed, by keyspace, shard and MySQL error code."}, []string{"keyspace", "shard", "code"})
	m.rowsReturned = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "rows_returned_total",
		Help: "Result rows sent to clients, by keyspace."}, []string{"keyspace"})
	m.rowsAffected = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "rows_affected_total",
		Help: "Rows inserted, updated or deleted, by keyspace (as the OK packets to clients count them)."}, []string{"keyspace"})
	m.tableQueries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "table_queries_total",
		Help: "Statements by table they name (a join counts for each table); past 500 tables the others count as table=\"_other\"."}, []string{"keyspace", "table"})
	m.userQueries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "user_queries_total",
		Help: "Statements by client account (users: of the configuration)."}, []string{"user"})
	for _, l := range []string{"max_packet_size", "idle_timeout", "query_timeout"} {
		m.limits.WithLabelValues(l)
	}
	for _, r := range []string{"max_connections", "login_rate_limit", "require_secure_transport", "bad_handshake", "shutdown"} {
		m.refused.WithLabelValues(r)
	}
	// Error series exist from the start, so increase(...) > 0 sees the first.
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	for _, code := range []string{"1040", "1062", "1064", "1105", "1205", "1213", "1317"} {
		m.errs.WithLabelValues(code)
	}
	for _, a := range []string{"commit", "abort", "rollback", "error"} {
		m.Resolver.WithLabelValues(a)
	}
	m.Registry.MustRegister(m.queries, m.latency, m.errs, m.shardStmts, m.transactions, m.clients, m.accepted,
		m.refused, m.logins, m.limits, m.slow, m.reloads, m.draining,
		m.shardLatency, m.shardErrs, m.rowsReturned, m.rowsAffected, m.tableQueries, m.userQueries,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		&routerCollector{r: r, m: m})
	if r != nil {
		if c := r.Coordinator(); c != nil {
			c.SetObserver(func(action string) { m.Resolver.WithLabelValues(action).Inc() })
		}
	}
	return m
}

// SetSlowQueryThreshold turns the slow-query log on (d > 0) or off.
func (m *Metrics) SetSlowQueryThreshold(d time.Duration) { m.slowThreshold.Store(int64(d)) }

// Top returns the statements with the largest total time.
func (m *Metrics) Top(n int) []QueryStat { return m.top.Top(n) }

// Reloaded counts a configuration reload.
func (m *Metrics) Reloaded(err error) {
	if err != nil {
		m.reloads.WithLabelValues("error").Inc()
	} else {
		m.reloads.WithLabelValues("ok").Inc()
	}
}

// SetDraining sets the draining gauge.
func (m *Metrics) SetDraining(on bool) {
	if on {
		m.draining.Set(1)
	} else {
		m.draining.Set(0)
	}
}

// planKey identifies the labels of a plan run from a keyspace. The plan is
// held weakly: the router's cache decides how long a plan lives (it is
// bounded in bytes), and a 1 MB statement's plan kept here would outlive it.
type planKey struct {
	plan     weak.Pointer[router.Plan]
	keyspace string
}

// planEntry caches, per plan, what labels it gets and their collectors, so
// a statement does not format labels.
type planEntry struct {
	keyspace     string
	kind         string
	queries      prometheus.Counter
	latency      prometheus.Observer
	rowsReturned prometheus.Counter
	rowsAffected prometheus.Counter
	tables       []prometheus.Counter
	top          topSlot
}

// maxTableLabels bounds the series of shardgate_table_queries_total: a
// client naming random tables must not create series without end.
const maxTableLabels = 500

func (m *Metrics) tableCounter(name string) prometheus.Counter {
	ks, table, _ := strings.Cut(name, ".")
	m.tablesMu.Lock()
	defer m.tablesMu.Unlock()
	if m.tables == nil {
		m.tables = map[string]bool{}
	}
	if !m.tables[name] {
		if len(m.tables) >= maxTableLabels {
			table = "_other"
		} else {
			m.tables[name] = true
		}
	}
	return m.tableQueries.WithLabelValues(ks, table)
}

// userCounter returns the statements counter of a client account.
func (m *Metrics) userCounter(u *config.User) prometheus.Counter {
	if c, ok := m.users.Load(u); ok {
		return c.(prometheus.Counter)
	}
	c := m.userQueries.WithLabelValues(u.Name)
	if m.nusers.Add(1) > 10000 { // accounts replaced by reloads: start over
		m.users.Clear()
		m.nusers.Store(1)
	}
	m.users.Store(u, c)
	return c
}

const maxPlanEntries = 50000

func (m *Metrics) entry(plan *router.Plan, keyspace string) *planEntry {
	if plan != nil {
		if e, ok := plan.Observed.Load().(*planEntry); ok && e.keyspace == keyspace {
			return e
		}
	}
	k := planKey{weak.Make(plan), keyspace}
	if e, ok := m.plans.Load(k); ok {
		if plan != nil {
			plan.Observed.Store(e)
		}
		return e.(*planEntry)
	}
	stmt, kind := "unplanned", "none"
	if plan != nil {
		stmt, kind = plan.Kind.String(), PlanKind(plan)
	}
	e := &planEntry{keyspace: keyspace, kind: kind, queries: m.queries.WithLabelValues(keyspace, stmt, kind), latency: m.latency.WithLabelValues(keyspace, stmt),
		rowsReturned: m.rowsReturned.WithLabelValues(keyspace), rowsAffected: m.rowsAffected.WithLabelValues(keyspace)}
	if plan != nil {
		for _, t := range plan.Tables {
			e.tables = append(e.tables, m.tableCounter(t))
		}
	}
	if m.nplan.Add(1) > maxPlanEntries { // plans evicted from the router's cache: start over
		m.plans.Clear()
		m.nplan.Store(1)
	}
	m.plans.Store(k, e)
	if plan != nil {
		plan.Observed.Store(e)
	}
	return e
}

// shardEntry holds a shard's collectors and counts.
type shardEntry struct {
	keyspace, shard string
	queries         prometheus.Counter
	latency         prometheus.Observer
	n, errs         atomic.Uint64
}

func (m *Metrics) shardEntry(name string) *shardEntry {
	if e, ok := m.shards.Load(name); ok {
		return e.(*shardEntry)
	}
	ks, shard, _ := strings.Cut(name, "/")
	e := &shardEntry{keyspace: ks, shard: shard, queries: m.shardStmts.WithLabelValues(ks, shard), latency: m.shardLatency.WithLabelValues(ks, shard)}
	v, _ := m.shards.LoadOrStore(name, e)
	return v.(*shardEntry)
}

// Count is a number of statements and how many of them failed.
type Count struct {
	Queries uint64 `json:"queries"`
	Errors  uint64 `json:"errors"`
}

// Totals counts every statement since start.
func (m *Metrics) Totals() Count { return Count{m.total.Load(), m.totalErrs.Load()} }

// ShardCounts returns, by "keyspace/shard", the statements that sent
// commands to the shard and the failed ones, since start.
func (m *Metrics) ShardCounts() map[string]Count {
	out := map[string]Count{}
	m.shards.Range(func(k, v any) bool {
		e := v.(*shardEntry)
		out[k.(string)] = Count{e.n.Load(), e.errs.Load()}
		return true
	})
	return out
}

// ResetTop empties the top-queries table.
func (m *Metrics) ResetTop() { m.top.Reset() }

// PlanKind names a plan's root primitive for labels: the first word of its
// description, with the route opcode for routes ("Route(EqualUnique)").
func PlanKind(plan *router.Plan) (kind string) {
	if plan == nil || plan.Prim == nil {
		return "none"
	}
	defer func() {
		if recover() != nil {
			kind = "unknown"
		}
	}()
	d := plan.Prim.Describe()
	f := strings.Fields(d)
	switch {
	case len(f) == 0:
		return "unknown"
	case f[0] == "Route" && len(f) > 1 && !strings.Contains(f[1], "="):
		return "Route(" + f[1] + ")"
	}
	return strings.TrimRight(f[0], ":")
}

// StatementDone implements router.Observer.
func (m *Metrics) StatementDone(ctx context.Context, s *router.Session, plan *router.Plan, sql, keyspace string, d time.Duration, err error) {
	e := m.entry(plan, keyspace)
	secs := d.Seconds()
	e.queries.Inc()
	e.latency.Observe(secs)
	for _, c := range e.tables {
		c.Inc()
	}
	m.total.Add(1)
	code := uint16(0)
	codeText := ""
	if err != nil {
		code = errorCode(err)
		codeText = strconv.Itoa(int(code))
		m.errs.WithLabelValues(codeText).Inc()
		m.totalErrs.Add(1)
	}
	nshards := 0
	proxy.EachStatementShard(ctx, func(sh string) {
		se := m.shardEntry(sh)
		se.queries.Inc()
		se.latency.Observe(secs)
		se.n.Add(1)
		if err != nil {
			se.errs.Add(1)
			m.shardErrs.WithLabelValues(se.keyspace, se.shard, codeText).Inc()
		}
		nshards++
	})
	var rows, affected int64
	if s != nil {
		if s.User != nil {
			m.userCounter(s.User).Inc()
		}
		rows, affected = s.StatementRows()
		if rows > 0 {
			e.rowsReturned.Add(float64(rows))
		}
		if affected > 0 {
			e.rowsAffected.Add(float64(affected))
		}
	}
	if plan != nil && (plan.Kind == planner.KindCommit || plan.Kind == planner.KindRollback) && s != nil {
		outcome := plan.Kind.String()
		if err != nil {
			outcome += "_failed"
		}
		m.transactions.WithLabelValues(string(s.Tx.Mode), outcome).Inc()
	}
	var slot *topSlot
	if plan != nil {
		slot = &e.top
	}
	m.top.Add(slot, sql, d, err != nil, int(rows+affected), nshards)
	if t := m.slowThreshold.Load(); t > 0 && int64(d) >= t {
		m.slow.Inc()
		shards := proxy.StatementShards(ctx)
		fields := []zap.Field{
			zap.Duration("duration", d),
			zap.String("sql", Normalize(sql)),
			zap.String("keyspace", keyspace),
			zap.Strings("shards", shards),
			zap.String("plan", e.kind),
		}
		if s != nil {
			fields = append(fields, zap.Uint32("session", s.ID))
			if s.User != nil {
				fields = append(fields, zap.String("user", s.User.Name))
			}
			if s.InTransaction() {
				fields = append(fields, zap.Strings("transaction_shards", s.Tx.Shards()))
			}
		}
		if err != nil {
			fields = append(fields, zap.Uint16("error", code))
		}
		m.log.Warn("slow query", fields...)
	}
}

func errorCode(err error) uint16 {
	if errors.Is(err, context.DeadlineExceeded) {
		return mysql.ER_QUERY_INTERRUPTED
	}
	return wire.AsError(err).Code
}

// proxy.Hooks

func (m *Metrics) ClientConnected() {
	m.clients.Inc()
	m.accepted.Inc()
}

func (m *Metrics) ClientDisconnected()         { m.clients.Dec() }
func (m *Metrics) ClientRefused(reason string) { m.refused.WithLabelValues(reason).Inc() }
func (m *Metrics) LimitHit(limit string)       { m.limits.WithLabelValues(limit).Inc() }

func (m *Metrics) Login(ok bool, plugin string, secure bool) {
	result := "denied"
	if ok {
		result = "ok"
	}
	tls := "no"
	if secure {
		tls = "yes"
	}
	switch plugin {
	case "mysql_native_password", "caching_sha2_password":
	default:
		plugin = "other"
	}
	m.logins.WithLabelValues(result, plugin, tls).Inc()
}

// routerCollector reads the pools and the plan cache at scrape time.
type routerCollector struct {
	r *router.Router
	m *Metrics
}

var (
	poolConnsDesc = prometheus.NewDesc(Namespace+"_pool_connections", "Backend connections per shard by state (in_use, idle).",
		[]string{"keyspace", "shard", "state"}, nil)
	poolWaitsDesc = prometheus.NewDesc(Namespace+"_pool_waits_total", "Checkouts that found every backend connection of the shard in use and waited.",
		[]string{"keyspace", "shard"}, nil)
	poolWaitDesc = prometheus.NewDesc(Namespace+"_pool_wait_seconds_total", "Total time statements waited for a backend connection of the shard.",
		[]string{"keyspace", "shard"}, nil)
	cacheHitsDesc   = prometheus.NewDesc(Namespace+"_plan_cache_hits_total", "Plan-cache lookups that found a plan.", nil, nil)
	cacheMissesDesc = prometheus.NewDesc(Namespace+"_plan_cache_misses_total", "Plan-cache lookups that had to plan.", nil, nil)
	cacheSizeDesc   = prometheus.NewDesc(Namespace+"_plan_cache_entries", "Plans in the cache.", nil, nil)
	cacheBytesDesc  = prometheus.NewDesc(Namespace+"_plan_cache_bytes", "Estimated bytes of the plans in the cache (bounded by limits.plan_cache_bytes).", nil, nil)
	probesDesc      = prometheus.NewDesc(Namespace+"_merge_probes_total",
		"Scatter ORDER BY/DISTINCT probes: sorted at the proxy (result=small), past limits.proxy_sort_rows so the shards sorted (result=large), or on a collation the proxy does not weigh, so the shards sorted and the plan's later probes carry weights (result=collation).",
		[]string{"result"}, nil)

	twopcTxDesc = prometheus.NewDesc(Namespace+"_twopc_transactions_total",
		"Two-phase-commit transactions by outcome (one_phase_commit, two_phase_commit, incomplete_commit, prepare_failure, lost_to_resolver, unknown_outcome, rollback).",
		[]string{"outcome"}, nil)
	twopcScansDesc   = prometheus.NewDesc(Namespace+"_twopc_resolver_scans_total", "2PC resolver scans of XA RECOVER, by result.", []string{"result"}, nil)
	twopcInDoubtDesc = prometheus.NewDesc(Namespace+"_twopc_in_doubt_branches", "Prepared XA branches seen by the resolver's last scan.", nil, nil)

	poolCapacityDesc = prometheus.NewDesc(Namespace+"_pool_capacity", "Backend connections one server's pool of the shard may hold (pool.size).",
		[]string{"keyspace", "shard"}, nil)
	dialFailuresDesc = prometheus.NewDesc(Namespace+"_shard_dial_failures_total", "Connections to the shard's servers that could not be made (refused, timed out, handshake refused).",
		[]string{"keyspace", "shard"}, nil)
	cacheEvictionsDesc = prometheus.NewDesc(Namespace+"_plan_cache_evictions_total", "Plans dropped from the plan cache to make room (limits.plan_cache_bytes).", nil, nil)
)

func (c *routerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConnsDesc
	ch <- poolWaitsDesc
	ch <- poolWaitDesc
	ch <- cacheHitsDesc
	ch <- cacheMissesDesc
	ch <- cacheSizeDesc
	ch <- cacheBytesDesc
	ch <- probesDesc
	ch <- twopcTxDesc
	ch <- twopcScansDesc
	ch <- twopcInDoubtDesc
	ch <- poolCapacityDesc
	ch <- dialFailuresDesc
	ch <- cacheEvictionsDesc
	c.m.Resolver.Describe(ch)
}

func (c *routerCollector) Collect(ch chan<- prometheus.Metric) {
	if c.r == nil {
		return
	}
	if co := c.r.Coordinator(); co != nil && co.InUse() {
		c.m.Resolver.Collect(ch)
		st := co.Stats()
		for outcome, v := range map[string]int64{
			"one_phase_commit": st.OnePhaseCommits, "two_phase_commit": st.TwoPhaseCommits, "incomplete_commit": st.IncompleteCommits,
			"prepare_failure": st.PrepareFailures, "lost_to_resolver": st.LostToResolver, "unknown_outcome": st.UnknownOutcomes,
			"rollback": st.Rollbacks,
		} {
			ch <- prometheus.MustNewConstMetric(twopcTxDesc, prometheus.CounterValue, float64(v), outcome)
		}
		ch <- prometheus.MustNewConstMetric(twopcScansDesc, prometheus.CounterValue, float64(st.Scans), "ok")
		ch <- prometheus.MustNewConstMetric(twopcScansDesc, prometheus.CounterValue, float64(st.ScanErrors), "error")
		ch <- prometheus.MustNewConstMetric(twopcInDoubtDesc, prometheus.GaugeValue, float64(st.InDoubt))
	}
	for _, p := range c.r.Pools() {
		idle, inUse := p.Stats()
		ks, shard, _ := strings.Cut(p.Name(), "/")
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(inUse), ks, shard, "in_use")
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(idle), ks, shard, "idle")
		ch <- prometheus.MustNewConstMetric(poolCapacityDesc, prometheus.GaugeValue, float64(p.Capacity()), ks, shard)
		ch <- prometheus.MustNewConstMetric(dialFailuresDesc, prometheus.CounterValue, float64(p.DialFailures()), ks, shard)
		waits, waited := p.WaitStats()
		ch <- prometheus.MustNewConstMetric(poolWaitsDesc, prometheus.CounterValue, float64(waits), ks, shard)
		ch <- prometheus.MustNewConstMetric(poolWaitDesc, prometheus.CounterValue, waited.Seconds(), ks, shard)
	}
	hits, misses, size := c.r.CacheStats()
	ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(hits))
	ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(misses))
	ch <- prometheus.MustNewConstMetric(cacheSizeDesc, prometheus.GaugeValue, float64(size))
	ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(c.r.CacheBytes()))
	ch <- prometheus.MustNewConstMetric(cacheEvictionsDesc, prometheus.CounterValue, float64(c.r.CacheEvictions()))
	probes := c.r.ProbeStats()
	ch <- prometheus.MustNewConstMetric(probesDesc, prometheus.CounterValue, float64(probes.Sorted), "small")
	ch <- prometheus.MustNewConstMetric(probesDesc, prometheus.CounterValue, float64(probes.Large), "large")
	ch <- prometheus.MustNewConstMetric(probesDesc, prometheus.CounterValue, float64(probes.Collation), "collation")
}
