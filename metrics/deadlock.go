package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardgate/shardgate/deadlock"
)

// deadlockMetrics count what the deadlock detector finds (package deadlock).
type deadlockMetrics struct {
	found     prometheus.Counter
	victims   prometheus.Counter
	detection prometheus.Histogram
	checks    *prometheus.CounterVec // result
}

func newDeadlockMetrics() *deadlockMetrics {
	m := &deadlockMetrics{
		found: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "deadlocks_total",
			Help: "Deadlocks across shards found by the proxy (cycles of lock waits no single shard sees)."}),
		victims: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "deadlock_victims_total",
			Help: "Transactions rolled back (error 1213) to break a deadlock across shards."}),
		detection: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "deadlock_detection_seconds",
			Help:    "How long a deadlock across shards had lasted when its victim was chosen (from the start of its latest waiting statement).",
			Buckets: []float64{.1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10}}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "deadlock_checks_total",
			Help: "Rounds in which the deadlock detector read the shards' lock waits, by result (error: a server could not be read, e.g. the shard account lacks PROCESS)."}, []string{"result"}),
	}
	m.checks.WithLabelValues("ok")
	m.checks.WithLabelValues("error")
	return m
}

func (m *deadlockMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.found, m.victims, m.detection, m.checks}
}

// DeadlockCheck implements deadlock.Observer.
func (m *Metrics) DeadlockCheck(took time.Duration, err error) {
	if err != nil {
		m.deadlocks.checks.WithLabelValues("error").Inc()
		return
	}
	m.deadlocks.checks.WithLabelValues("ok").Inc()
}

// DeadlockFound implements deadlock.Observer.
func (m *Metrics) DeadlockFound(d deadlock.Deadlock) {
	m.deadlocks.found.Inc()
	if d.Victim >= 0 {
		m.deadlocks.victims.Inc()
		m.deadlocks.detection.Observe(d.Age.Seconds())
	}
}
