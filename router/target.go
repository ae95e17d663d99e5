package router

import (
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Targets: a client chooses where its reads go with the database name, as in
// Vitess: "customer@replica" reads from the shards' healthy replicas (and
// writes nothing), "customer@primary" or "customer" uses the primaries.
const (
	targetReplica = "@replica"
	targetPrimary = "@primary"
)

// splitTarget splits "keyspace@replica" / "keyspace@primary" into the
// keyspace name and whether reads go to replicas. Any other "@" is part of
// the name (and then names no keyspace).
func splitTarget(name string) (keyspace string, replica bool) {
	i := strings.LastIndexByte(name, '@')
	if i < 0 {
		return name, false
	}
	switch strings.ToLower(name[i:]) {
	case targetReplica:
		return name[:i], true
	case targetPrimary:
		return name[:i], false
	}
	return name, false
}

// KeyspaceOf is the keyspace a database name (maybe "ks@replica") names.
func KeyspaceOf(db string) string {
	ks, _ := splitTarget(db)
	return ks
}

// useTarget resolves the database name of USE / COM_INIT_DB / the
// handshake: the keyspace (access checks are on its name, never on the
// suffixed one) and the session's target.
func (vc *vcursor) useTarget(name string) (*topo.Keyspace, bool, error) {
	ksName, replica := splitTarget(name)
	ks, ok := vc.st.snap.Keyspace(ksName)
	if !ok || ksName == "" {
		return nil, false, wire.Errorf(mysql.ER_BAD_DB_ERROR, "Unknown database '%s' (no such keyspace; a keyspace may be suffixed with @replica or @primary)", name)
	}
	return ks, replica, nil
}

func (vc *vcursor) planUseTarget(sql string) *planner.Plan {
	if m := reUseTarget.FindStringSubmatch(sql); m != nil {
		plan, _ := vc.planUse(m[1])
		return plan
	}
	return nil
}

// checkTarget refuses what a customer@replica session may not do: replicas
// are read-only, and Vitess refuses writes there too.
func (vc *vcursor) checkTarget(plan *planner.Plan) error {
	if vc.s.Replica && plan.Write {
		return wire.Errorf(mysql.ER_OPTION_PREVENTS_STATEMENT,
			"shardgate: this session reads from replicas (database %s@replica), where %s statements are refused; USE %s (or %s@primary) to write",
			vc.s.Keyspace, plan.Kind, vc.s.Keyspace, vc.s.Keyspace)
	}
	return nil
}

// targetPool is the pool a statement of this session takes its shard
// connection from: the shard's replica handle in a @replica session.
func (vc *vcursor) targetPool(p *backend.Pool) *backend.Pool {
	if vc.s.Replica {
		return p.Replica()
	}
	return p
}

// SetHA installs the HA layer every shard pool waits on while its shard has
// no reachable primary (buffering during a failover); call it before
// serving. Pools made later by Apply get it too.
func (r *Router) SetHA(h backend.HA) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.ha.Store(&haRef{h})
	for _, p := range r.state.Load().pools {
		p.SetHA(h)
	}
}

type haRef struct{ h backend.HA }

// newPool makes the pool of a shard, with the HA layer installed.
func (r *Router) newPool(ks string, sh *topo.Shard) *backend.Pool {
	p := backend.NewPool(ks, sh, r.cfg.Pool)
	if h := r.ha.Load(); h != nil {
		p.SetHA(h.h)
	}
	return p
}
