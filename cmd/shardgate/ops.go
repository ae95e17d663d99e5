package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/proxy"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/workflow"
)

// newServeLogger builds the logger of `serve` from the log section of the
// configuration: JSON lines (log.json) or console text, at log.level
// (--debug forces debug).
func newServeLogger(cfg *topo.Config, debug bool) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	zc.Encoding = "console"
	if cfg.Log.JSON {
		zc.Encoding = "json"
	}
	zc.EncoderConfig.EncodeTime = zapISOTime
	zc.EncoderConfig.TimeKey = "time"
	if cfg.Log.Level != "" {
		lvl, err := zapcore.ParseLevel(cfg.Log.Level)
		if err != nil {
			return nil, fmt.Errorf("log.level: %w", err)
		}
		zc.Level = zap.NewAtomicLevelAt(lvl)
	}
	if debug {
		zc.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
	}
	zc.Sampling = nil // a log line per event: the slow-query log must not be sampled
	return zc.Build()
}

// startOps wires the operations side of a running proxy: Prometheus
// metrics (the router's observer, the front end's hooks), the HTTP server
// on listen.http, SIGHUP reloads of users and limits, and systemd
// notifications. The returned function stops the HTTP server; it keeps
// serving while the proxy drains, so /readyz reports the drain.
func startOps(ctx context.Context, cfg *topo.Config, r *router.Router, srv *proxy.Server, et *etcdTopology, hm *ha.Manager, wm *workflow.Manager, log *zap.Logger) (func(), error) {
	m := metrics.New(r, log.Named("slowlog"))
	m.Registry.MustRegister(hm.Collectors()...)
	if wm != nil {
		m.Registry.MustRegister(wm.Collectors()...)
	}
	if et != nil {
		m.WatchTopology(et.w)
	}
	m.SetSlowQueryThreshold(cfg.SlowQueryLog.Threshold)
	r.SetObserver(m)
	srv.SetHooks(m)

	ln, err := net.Listen("tcp", cfg.Listen.HTTP)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (listen.http): %w", cfg.Listen.HTTP, err)
	}
	a := admin.New(srv, r, m, log, version)
	a.SetHA(hm)
	if wm != nil {
		a.SetWorkflows(wm)
	}
	actx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Serve(actx, ln); err != nil {
			log.Error("admin HTTP server", zap.Error(err))
		}
	}()
	log.Info("admin listening", zap.String("http", ln.Addr().String()))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-actx.Done():
				return
			case <-hup:
				sdNotify("RELOADING=1")
				err := reload(cfg.Path, r, srv, m)
				m.Reloaded(err)
				if err != nil {
					log.Error("configuration reload failed; the previous configuration stays in force", zap.String("config", cfg.Path), zap.Error(err))
				} else {
					log.Info("configuration reloaded (users, limits, TLS certificate, slow-query log, file topology)", zap.String("config", cfg.Path))
				}
				sdNotify("READY=1")
			}
		}
	}()
	// draining is said once, as soon as ctx ends; the stop function says it
	// too (Once waits for a run in progress), so it is never lost when the
	// process exits before AfterFunc's goroutine has written it.
	var drainOnce sync.Once
	draining := func() {
		drainOnce.Do(func() {
			m.SetDraining(true)
			sdNotify("STOPPING=1")
		})
	}
	stopDrain := context.AfterFunc(ctx, draining)
	sdNotify("READY=1")
	return func() {
		stopDrain()
		if ctx.Err() != nil {
			draining()
		}
		signal.Stop(hup)
		cancel()
		<-done
	}, nil
}

// reload reads the configuration file again and puts what can change
// without a restart in force: users, limits, the TLS certificate, the
// slow-query threshold and, with topology.source file, the keyspaces (etcd
// topologies are followed live instead). Listen addresses, pool sizes and
// the log format need a restart.
func reload(path string, r *router.Router, srv *proxy.Server, m *metrics.Metrics) error {
	cfg, err := topo.Load(path)
	if err != nil {
		return err
	}
	if err := srv.Reload(cfg); err != nil {
		return err
	}
	m.SetSlowQueryThreshold(cfg.SlowQueryLog.Threshold)
	if cfg.Topology.Source == "file" && cfg.Keyspaces != nil && len(cfg.Keyspaces.Keyspaces) > 0 {
		r.Apply(cfg.Keyspaces)
	}
	return nil
}

// sdNotify sends a state line to systemd when run with Type=notify
// (NOTIFY_SOCKET set); otherwise it does nothing.
func sdNotify(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' { // abstract socket
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}
