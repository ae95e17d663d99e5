package ha

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// counters are the manager's Prometheus collectors; Collectors exposes them.
type counters struct {
	once sync.Once

	primaryChanges *prometheus.CounterVec   // keyspace, shard, reason
	recoveries     *prometheus.CounterVec   // keyspace, shard, kind, outcome
	recoveryTime   *prometheus.HistogramVec // kind, outcome
	running        prometheus.Gauge
	buffered       *prometheus.CounterVec // outcome
	bufferWait     prometheus.Histogram
	lag            *prometheus.GaugeVec // keyspace, shard, server
	roles          *prometheus.GaugeVec // keyspace, shard, role
	primaryUp      *prometheus.GaugeVec // keyspace, shard
	semiSync       *prometheus.GaugeVec // keyspace, shard
}

const namespace = "shardgate"

func (c *counters) init() {
	c.once.Do(func() {
		c.primaryChanges = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "ha_primary_changes_total",
			Help: "Times this proxy started routing a shard's writes to another server (reason: failover, reparent, discovered, etcd)."},
			[]string{"keyspace", "shard", "reason"})
		c.recoveries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "ha_recoveries_total",
			Help: "Recoveries this proxy ran (kind: failover, reparent; outcome: success, failed, skipped, abandoned)."},
			[]string{"keyspace", "shard", "kind", "outcome"})
		c.recoveryTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "ha_recovery_duration_seconds",
			Help: "Duration of recoveries from the decision to the new primary published.", Buckets: []float64{.1, .25, .5, 1, 2, 3, 5, 10, 20, 60}},
			[]string{"kind", "outcome"})
		c.running = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "ha_recoveries_running", Help: "Recoveries in progress on this proxy."})
		c.buffered = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "ha_buffered_requests_total",
			Help: "Requests that waited for a shard's primary (outcome: ok = new roles came, retry = tried again after a probe, window = buffer_window passed, full = buffer_size reached, canceled)."},
			[]string{"outcome"})
		c.bufferWait = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "ha_buffer_wait_seconds",
			Help: "How long requests waited in the failover buffer.", Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 3, 5, 10, 20}})
		c.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "ha_replica_lag_seconds",
			Help: "How far each replica is behind its primary, measured from GTID progress."}, []string{"keyspace", "shard", "server"})
		c.roles = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "ha_servers",
			Help: "Servers of each shard by role (primary, replica, drained, down)."}, []string{"keyspace", "shard", "role"})
		c.primaryUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "ha_primary_up",
			Help: "1 when the shard has a reachable, writable primary."}, []string{"keyspace", "shard"})
		c.semiSync = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "ha_semi_sync_primary",
			Help: "1 when the shard's primary has semi-synchronous replication active (Rpl_semi_sync_master_status ON)."}, []string{"keyspace", "shard"})
	})
}

// Collectors returns the manager's Prometheus collectors, to register.
func (m *Manager) Collectors() []prometheus.Collector {
	c := &m.stats
	c.init()
	return []prometheus.Collector{c.primaryChanges, c.recoveries, c.recoveryTime, c.running, c.buffered, c.bufferWait, c.lag, c.roles, c.primaryUp, c.semiSync}
}

func split(key string) (string, string) {
	ks, shard, _ := strings.Cut(key, "/")
	return ks, shard
}

func (c *counters) primaryChange(key, reason string) {
	c.init()
	ks, sh := split(key)
	c.primaryChanges.WithLabelValues(ks, sh, reason).Inc()
}

func (c *counters) recoveryStarted() {
	c.init()
	c.running.Inc()
}

func (c *counters) recoveryDone(key, kind, outcome string, d time.Duration) {
	c.init()
	c.running.Dec()
	ks, sh := split(key)
	c.recoveries.WithLabelValues(ks, sh, kind, outcome).Inc()
	c.recoveryTime.WithLabelValues(kind, outcome).Observe(d.Seconds())
}

func (c *counters) buffer(outcome string, wait time.Duration) {
	c.init()
	c.buffered.WithLabelValues(outcome).Inc()
	c.bufferWait.Observe(wait.Seconds())
}

func (c *counters) observe(key string, roles map[string]string, lags map[string]time.Duration, primary *ServerState, primaryUp bool) {
	c.init()
	ks, sh := split(key)
	n := map[string]int{}
	for _, r := range roles {
		n[r]++
	}
	for _, r := range []string{RolePrimary, RoleReplica, RoleDrained, RoleDown} {
		c.roles.WithLabelValues(ks, sh, r).Set(float64(n[r]))
	}
	for a, r := range roles {
		if r == RoleReplica {
			c.lag.WithLabelValues(ks, sh, a).Set(lags[a].Seconds())
		} else {
			c.lag.DeleteLabelValues(ks, sh, a)
		}
	}
	up, semi := 0.0, 0.0
	if primaryUp {
		up = 1
		if primary.SemiSyncPrimaryActive {
			semi = 1
		}
	}
	c.primaryUp.WithLabelValues(ks, sh).Set(up)
	c.semiSync.WithLabelValues(ks, sh).Set(semi)
}
