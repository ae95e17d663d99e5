package workflow

import (
	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "shardgate"

// metrics are the workflow's Prometheus collectors.
type metrics struct {
	rowsCopied   *prometheus.CounterVec   // workflow
	rowsApplied  *prometheus.CounterVec   // workflow, stream
	txApplied    *prometheus.CounterVec   // workflow, stream
	lag          *prometheus.GaugeVec     // workflow, stream
	switches     *prometheus.CounterVec   // workflow, direction, outcome
	switchTime   *prometheus.HistogramVec // direction
	held         *prometheus.HistogramVec // direction: how long statements were held
	diffRows     *prometheus.CounterVec   // workflow
	diffProblems *prometheus.GaugeVec     // workflow, kind
}

func newMetrics() *metrics {
	return &metrics{
		rowsCopied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "workflow_rows_copied_total",
			Help: "Rows the workflows' copiers wrote to the targets (a chunk copied again after a restart counts again)."}, []string{"workflow"}),
		rowsApplied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "workflow_rows_applied_total",
			Help: "Row changes the binlog streams applied."}, []string{"workflow", "stream"}),
		txApplied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "workflow_transactions_applied_total",
			Help: "Source transactions the binlog streams applied (those touching moving tables)."}, []string{"workflow", "stream"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "workflow_lag_seconds",
			Help: "How far a binlog stream is behind its source, from GTID progress (0 when caught up)."}, []string{"workflow", "stream"}),
		switches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "workflow_switches_total",
			Help: "Traffic switches (direction forward or reverse; outcome ok or aborted)."}, []string{"workflow", "direction", "outcome"}),
		switchTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "workflow_switch_duration_seconds",
			Help: "How long traffic switches took, from the hold to the flip.", Buckets: []float64{.025, .05, .1, .2, .3, .5, 1, 2, 5, 10}}, []string{"direction"}),
		held: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "workflow_switch_hold_seconds",
			Help: "How long statements on the moving tables were held during a switch.", Buckets: []float64{.025, .05, .1, .2, .3, .5, 1, 2, 5, 10}}, []string{"direction"}),
		diffRows: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "workflow_vdiff_rows_compared_total",
			Help: "Rows VDiff compared."}, []string{"workflow"}),
		diffProblems: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "workflow_vdiff_differences",
			Help: "Differences the last VDiff found (kind: mismatched, extra_source, extra_target, misplaced)."}, []string{"workflow", "kind"}),
	}
}

// Collectors returns the workflow metrics, for a registry.
func (m *Manager) Collectors() []prometheus.Collector {
	x := m.metrics
	return []prometheus.Collector{x.rowsCopied, x.rowsApplied, x.txApplied, x.lag, x.switches, x.switchTime, x.held, x.diffRows, x.diffProblems}
}
