package metrics

import "github.com/prometheus/client_golang/prometheus"

// TopologyWatcher is what the topology metrics read: the etcd watcher of
// topology.source etcd.
type TopologyWatcher interface {
	Updates() uint64  // topologies applied after the first
	Rejected() uint64 // documents refused (the last good version stays)
	Connected() bool  // etcd answers
	Revision() int64  // etcd revision of the topology in force
}

var (
	topoUpdatesDesc   = prometheus.NewDesc(Namespace+"_topology_updates_total", "Topology changes read from etcd and applied.", nil, nil)
	topoRejectedDesc  = prometheus.NewDesc(Namespace+"_topology_rejected_total", "Topology documents in etcd refused as invalid; the last good version of the keyspace stays in force.", nil, nil)
	topoConnectedDesc = prometheus.NewDesc(Namespace+"_topology_etcd_connected", "1 while etcd answers, 0 while the proxy serves its last topology without it.", nil, nil)
	topoRevisionDesc  = prometheus.NewDesc(Namespace+"_topology_revision", "etcd revision of the topology in force.", nil, nil)
)

// WatchTopology exports w's counters (call it once, with topology.source etcd).
func (m *Metrics) WatchTopology(w TopologyWatcher) {
	m.Registry.MustRegister(topologyCollector{w})
}

type topologyCollector struct{ w TopologyWatcher }

func (c topologyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- topoUpdatesDesc
	ch <- topoRejectedDesc
	ch <- topoConnectedDesc
	ch <- topoRevisionDesc
}

func (c topologyCollector) Collect(ch chan<- prometheus.Metric) {
	connected := 0.0
	if c.w.Connected() {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(topoUpdatesDesc, prometheus.CounterValue, float64(c.w.Updates()))
	ch <- prometheus.MustNewConstMetric(topoRejectedDesc, prometheus.CounterValue, float64(c.w.Rejected()))
	ch <- prometheus.MustNewConstMetric(topoConnectedDesc, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(topoRevisionDesc, prometheus.GaugeValue, float64(c.w.Revision()))
}
