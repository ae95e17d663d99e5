package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/proxy"
	"github.com/shardgate/shardgate/router"
	"github.com/shardgate/shardgate/workflow"
)

// newServeLogger builds the logger of `serve` from the log section of the
// configuration: JSON lines (log.json) or console text, at log.level
// (--debug forces debug).
func newServeLogger(cfg *config.Config, debug bool) (*zap.Logger, error) {
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
func startOps(ctx context.Context, cfg *config.Config, r *router.Router, srv *proxy.Server, et *etcdTopology, hm *ha.Manager, wm *workflow.Manager, log *zap.Logger) (func(), error) {
	m := metrics.New(r, log.Named("slowlog"))
	m.Registry.MustRegister(hm.Collectors()...)
	if wm != nil {
		m.Registry.MustRegister(wm.Collectors()...)
	}
	if et != nil {
		m.WatchTopology(et.w)
	}
	m.SetSlowQueryThreshold(cfg.SlowQueryLog.Threshold)
	m.SetBuildInfo(version, commit, buildDate)
	m.WatchSessions(srv)
	r.SetObserver(m)
	srv.SetHooks(m)
	srv.SetDeadlockObserver(m)

	a := admin.New(srv, r, m, log, version)
	a.SetHA(hm)
	if wm != nil {
		a.SetWorkflows(wm)
	}
	if et != nil {
		a.SetProxies(et.etcd.Proxies)
	}
	// listen.http serves everything, or with listen.admin set only what
	// reads; listen.admin then serves everything (actions, pprof).
	type listener struct {
		key, addr string
		h         http.Handler
	}
	ls := []listener{{"listen.http", cfg.Listen.HTTP, a.Handler()}}
	if cfg.Listen.Admin != "" {
		ls = []listener{{"listen.http", cfg.Listen.HTTP, a.ReadOnlyHandler()}, {"listen.admin", cfg.Listen.Admin, a.Handler()}}
	}
	actx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, l := range ls {
		ln, err := listenHTTP(l.addr, cfg.Listen.HTTPTLS)
		if err != nil {
			cancel()
			wg.Wait()
			return nil, fmt.Errorf("listen on %s (%s): %w", l.addr, l.key, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := admin.ServeHTTP(actx, ln, l.h); err != nil {
				log.Error("admin HTTP server", zap.String("listener", l.key), zap.Error(err))
			}
		}()
		field := "http"
		if l.key == "listen.admin" {
			field = "admin"
		}
		log.Info("admin listening", zap.String(field, ln.Addr().String()), zap.Bool("tls", cfg.Listen.HTTPTLS != nil))
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	stopWatchdog := startWatchdog(actx, log) // notify.go: WATCHDOG=1 for WatchdogSec

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
		stopWatchdog()
		<-done
	}, nil
}

// reload reads the configuration file again and puts what can change
// without a restart in force: users, limits, the TLS certificate, the
// slow-query threshold and, with topology.source file, the keyspaces (etcd
// topologies are followed live instead). Listen addresses, pool sizes and
// the log format need a restart.
func reload(path string, r *router.Router, srv *proxy.Server, m *metrics.Metrics) error {
	cfg, err := config.Load(path)
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
