// Package admin is shardgate's HTTP side: Prometheus /metrics, /healthz
// (the process answers), /readyz (not draining and every shard answers a
// ping), /debug/status (keyspaces, shards and their health, pools, top
// queries, the configuration in force without passwords), the console's
// JSON under /api/ (its pages are the console package's), and, behind an
// admin login (HTTP basic auth of a user with admin: true, auth.go), pprof
// and every endpoint that changes state.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/proxy"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Server serves the HTTP endpoints of one proxy.
type Server struct {
	proxy   *proxy.Server
	router  *router.Router
	metrics *metrics.Metrics
	log     *zap.Logger
	version string
	started time.Time

	// PingTimeout bounds one shard's ping (default 2s).
	PingTimeout time.Duration

	mu      sync.Mutex
	checked time.Time
	health  []ShardHealth

	ha        HA        // nil: no HA layer (ha.go)
	workflows Workflows // nil: no online workflows (workflow.go)
	authFails authFailures
	proxies   func(ctx context.Context) ([]topo.ProxyInfo, error) // nil: this proxy only (api.go)
}

// New returns the admin server of a proxy.
func New(p *proxy.Server, r *router.Router, m *metrics.Metrics, log *zap.Logger, version string) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	a := &Server{proxy: p, router: r, metrics: m, log: log, version: version, started: time.Now(), PingTimeout: 2 * time.Second}
	m.Registry.MustRegister(&healthCollector{a})
	return a
}

// healthCollector exports the shards' health (the pings behind /readyz).
// The /metrics handler pings before it gathers (metricsHandler), so the
// collector reads that result: prometheus runs collectors concurrently,
// and pings made during the gather would show in the pools' in_use
// gauges as connections the scrape itself holds.
type healthCollector struct{ a *Server }

var (
	shardUpDesc = prometheus.NewDesc(metrics.Namespace+"_shard_up", "1 when the shard answers a ping through its pool (as /readyz checks), else 0.",
		[]string{"keyspace", "shard"}, nil)
	shardPingDesc = prometheus.NewDesc(metrics.Namespace+"_shard_ping_seconds", "Time to get a pooled connection and ping the shard.",
		[]string{"keyspace", "shard"}, nil)
)

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- shardUpDesc
	ch <- shardPingDesc
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range c.a.lastHealth() {
		ks, shard, _ := strings.Cut(h.Shard, "/")
		up := 0.0
		if h.OK {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(shardUpDesc, prometheus.GaugeValue, up, ks, shard)
		ch <- prometheus.MustNewConstMetric(shardPingDesc, prometheus.GaugeValue, h.Latency.Seconds(), ks, shard)
	}
}

// Handler returns the HTTP handler of every endpoint: the pages and JSON
// that read, and, behind an admin login, pprof and what changes state.
func (a *Server) Handler() http.Handler { return secure(a.mux()) }

// ReadOnlyHandler is Handler without pprof and without any request that
// changes state: what listen.http serves when listen.admin is set.
func (a *Server) ReadOnlyHandler() http.Handler { return secure(readOnly(a.mux())) }

func (a *Server) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.metricsHandler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", a.readyz)
	mux.HandleFunc("/debug/status", a.status)
	a.haHandlers(mux)       // ha.go: /api/shards, /api/recoveries, /api/reparent
	a.workflowHandlers(mux) // workflow.go: /api/workflows
	a.consoleHandlers(mux)  // api.go: the console's pages at / and its JSON under /api/
	mux.HandleFunc("/debug/pprof/", a.adminOnly(pprof.Index))
	mux.HandleFunc("/debug/pprof/cmdline", a.adminOnly(pprof.Cmdline))
	mux.HandleFunc("/debug/pprof/profile", a.adminOnly(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", a.adminOnly(pprof.Symbol))
	mux.HandleFunc("/debug/pprof/trace", a.adminOnly(pprof.Trace))
	return mux
}

// metricsHandler serves the registry after the shards' pings are done
// (see healthCollector).
func (a *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{Registry: a.metrics.Registry})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.Health(r.Context())
		h.ServeHTTP(w, r)
	})
}

// Serve serves every endpoint on ln until ctx ends.
func (a *Server) Serve(ctx context.Context, ln net.Listener) error {
	return ServeHTTP(ctx, ln, a.Handler())
}

// ServeHTTP serves h on ln until ctx ends, then shuts down (2s for
// requests in flight).
func ServeHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: stdlog.New(io.Discard, "", 0)} // TLS handshake noise from scanners
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	})
	defer stop()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ShardHealth is the outcome of pinging one shard.
type ShardHealth struct {
	Shard   string        `json:"shard"` // keyspace/shard
	Addr    string        `json:"addr"`
	OK      bool          `json:"ok"`
	Error   string        `json:"error,omitempty"`
	Latency time.Duration `json:"latency_ns"`
	InUse   int           `json:"in_use"`
	Idle    int           `json:"idle"`
}

// Health pings every shard (in parallel, through its pool) and returns the
// results sorted by shard; results are reused for a second, so probes
// cannot flood the shards. a.mu is held across the pings on purpose:
// concurrent probes wait for one round of pings rather than each send
// their own (a ping is bounded by PingTimeout).
func (a *Server) Health(ctx context.Context) []ShardHealth {
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.checked) < time.Second && a.health != nil {
		return a.health
	}
	pools := a.router.Pools()
	out := make([]ShardHealth, len(pools))
	var wg sync.WaitGroup
	for i, p := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = a.ping(ctx, p)
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	a.health, a.checked = out, time.Now()
	return out
}

// lastHealth returns the last pings' results without pinging, or pings
// when there are none yet (a gather outside /metrics).
func (a *Server) lastHealth() []ShardHealth {
	a.mu.Lock()
	h := a.health
	a.mu.Unlock()
	if h == nil {
		return a.Health(context.Background())
	}
	return h
}

func (a *Server) ping(ctx context.Context, p *backend.Pool) ShardHealth {
	h := ShardHealth{Shard: p.Name(), Addr: p.Addr()}
	ctx, cancel := context.WithTimeout(ctx, a.PingTimeout)
	defer cancel()
	if p.Full() {
		// A ping would wait for a statement's connection, delaying the
		// scrape or probe by up to pool.wait_timeout and counting as a
		// pool wait: connections in use are the shard at work.
		h.Idle, h.InUse = p.Stats()
		h.OK, h.Error = true, fmt.Sprintf("pool busy: all %d connections in use", p.Capacity())
		return h
	}
	start := time.Now()
	c, err := p.GetPlain(ctx)
	if err == nil {
		if err = c.WriteCommand(ctx, mysql.COM_PING, nil); err == nil {
			_, err = c.ReadResultDiscard()
		}
		if err != nil {
			c.MarkBroken()
		}
		c.Release()
	}
	h.Latency = time.Since(start)
	h.Idle, h.InUse = p.Stats()
	var e *wire.Error
	switch {
	case err == nil:
		h.OK = true
	case errors.As(err, &e) && e.Code == mysql.ER_CON_COUNT_ERROR && strings.Contains(e.Message, "no free backend connection"):
		// Every connection is busy: the shard works, the pool is full.
		h.OK, h.Error = true, "pool busy: "+e.Message
	default:
		h.Error = err.Error()
	}
	return h
}

func (a *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if a.proxy.Draining() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready: draining (shutting down)")
		return
	}
	hs := a.Health(r.Context())
	var bad []string
	for _, h := range hs {
		if !h.OK {
			bad = append(bad, h.Shard+": "+h.Error)
		}
	}
	if len(bad) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %d of %d shards unreachable\n%s\n", len(bad), len(hs), strings.Join(bad, "\n"))
		return
	}
	fmt.Fprintf(w, "ready: %d shards reachable\n", len(hs))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
