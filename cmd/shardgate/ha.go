package main

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/ha"
	"github.com/shardgate/shardgate/router"
)

// startHA starts the HA layer of a proxy: it probes every shard's servers
// (once before returning, so the shards' primaries are known before clients
// come), fails over dead primaries when ha.failover is auto, and is the
// buffer the router's pools wait on. With an etcd topology, primaries,
// terms, the recovery lock and recovery records live in etcd.
func startHA(ctx context.Context, cfg *config.Config, r *router.Router, et *etcdTopology, mysqlAddr string, log *zap.Logger) *ha.Manager {
	hc := ha.Config{HA: cfg.HA, Snapshot: r.Snapshot, Pools: r.Pools, Log: log}
	if et != nil {
		hc.Etcd, hc.ProxyID = et.etcd, et.info.ID
	} else {
		host, _ := os.Hostname()
		hc.ProxyID = host + "-" + mysqlAddr
	}
	hc.ResolvePrepared = func(ctx context.Context, q ha.Querier) (string, error) {
		if c := r.Coordinator(); c != nil {
			return c.ResolveOn(ctx, q)
		}
		return "no two-phase-commit coordinator (no global keyspace)", nil
	}
	hm := ha.New(hc)
	r.SetHA(hm)
	r.SetHolder(hm) // statements held by a traffic switch wait in the same buffer
	hm.Start(ctx)
	return hm
}
