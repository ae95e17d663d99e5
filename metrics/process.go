package metrics

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardgate/shardgate/router"
)

// SetBuildInfo exports shardgate_build_info (always 1) with the binary's
// version, commit, build date and Go version as labels.
func (m *Metrics) SetBuildInfo(version, commit, date string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help: "Always 1; the labels say which build runs."}, []string{"version", "revision", "build_date", "goversion"})
	g.WithLabelValues(version, commit, date, runtime.Version()).Set(1)
	m.Registry.MustRegister(g)
}

// SessionLister lists the client sessions (*proxy.Server).
type SessionLister interface {
	List() []router.ProcessInfo
}

var (
	openTxDesc = prometheus.NewDesc(Namespace+"_open_transactions", "Client sessions with an open transaction.", nil, nil)
	oldestDesc = prometheus.NewDesc(Namespace+"_oldest_transaction_age_seconds",
		"Age of the oldest open transaction (from the start of the statement that opened it); 0 when none is open.", nil, nil)
)

// WatchSessions exports the open transactions of l's sessions at scrape
// time (call it once).
func (m *Metrics) WatchSessions(l SessionLister) {
	m.Registry.MustRegister(sessionCollector{l})
}

type sessionCollector struct{ l SessionLister }

func (c sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- openTxDesc
	ch <- oldestDesc
}

func (c sessionCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	open, oldest := 0, time.Duration(0)
	for _, p := range c.l.List() {
		if p.TransactionStart.IsZero() {
			continue
		}
		open++
		oldest = max(oldest, now.Sub(p.TransactionStart))
	}
	ch <- prometheus.MustNewConstMetric(openTxDesc, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, oldest.Seconds())
}
