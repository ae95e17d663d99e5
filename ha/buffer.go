package ha

import (
	"context"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Wait implements backend.HA: the per-shard buffer. A request that needs a
// shard's primary while the shard has none (a failover or a planned switch
// is running), or while its primary cannot be reached and may be failing,
// waits here until new roles are published, then tries again. It waits at
// most ha.buffer_window in all (since), and at most ha.buffer_size requests
// of this proxy wait at once; one that cannot wait gets an error saying why.
// Nothing was sent to a server for a request that waits, so running it
// later cannot apply it twice.
func (m *Manager) Wait(ctx context.Context, shard string, cell *topo.RoleCell, seen *topo.ShardRoles, since time.Time, cause error) error {
	cfg := m.cfg.HA
	w := m.watch(shard)
	if cell == nil || w == nil {
		return m.giveUp(shard, seen, cause, "the shard is not watched by the HA prober")
	}
	if cur := cell.Load(); cur != seen {
		return nil // changed already: look again
	}
	if why := w.noRecoveryReason(); why != "" {
		return m.giveUp(shard, seen, cause, why)
	}
	if !cfg.Auto() || cfg.BufferWindow <= 0 || cfg.BufferSize <= 0 {
		return m.giveUp(shard, seen, cause, "")
	}
	deadline := since.Add(cfg.BufferWindow)
	left := time.Until(deadline)
	if left <= 0 {
		m.stats.buffer("window", 0)
		return m.windowPassed(shard, seen, cause)
	}
	if m.buffered.Add(1) > int64(cfg.BufferSize) {
		m.buffered.Add(-1)
		m.stats.buffer("full", 0)
		return wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shard %s unavailable: %s; the failover buffer is full (ha.buffer_size %d requests): the statement was not run, retry it",
			shard, reason(seen, cause), cfg.BufferSize)
	}
	defer m.buffered.Add(-1)
	start := time.Now()
	var probed <-chan struct{}
	if cause != nil && seen != nil && seen.Primary != "" {
		// The primary is published but could not be reached: try again
		// after the next probe, which declares it down or not.
		probed = w.nextProbe()
	}
	t := time.NewTimer(left)
	defer t.Stop()
	// Look again at least this often, whatever wakes us.
	tick := time.NewTicker(max(cfg.ProbeInterval, 50*time.Millisecond))
	defer tick.Stop()
	for {
		changed := cell.Changed()
		if cell.Load() != seen {
			m.stats.buffer("ok", time.Since(start))
			return nil
		}
		select {
		case <-changed:
			m.stats.buffer("ok", time.Since(start))
			return nil
		case <-probed:
			m.stats.buffer("retry", time.Since(start))
			return nil
		case <-tick.C:
		case <-t.C:
			m.stats.buffer("window", time.Since(start))
			return m.windowPassed(shard, seen, cause)
		case <-ctx.Done():
			m.stats.buffer("canceled", time.Since(start))
			return ctx.Err()
		}
	}
}

func reason(seen *topo.ShardRoles, cause error) string {
	switch {
	case cause != nil:
		return wire.AsError(cause).Message
	case seen != nil && seen.Why != "":
		return "it has no primary (" + seen.Why + ")"
	case seen != nil && seen.Recovering:
		return "it has no primary (a recovery is running)"
	}
	return "it has no primary"
}

func (m *Manager) windowPassed(shard string, seen *topo.ShardRoles, cause error) error {
	return wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shard %s unavailable: %s, and no new primary came within ha.buffer_window (%s): the statement was not run, retry it",
		shard, reason(seen, cause), m.cfg.HA.BufferWindow)
}

func (m *Manager) giveUp(shard string, seen *topo.ShardRoles, cause error, why string) error {
	if cause != nil && why == "" {
		return cause
	}
	msg := reason(seen, cause)
	if why != "" {
		msg += "; " + why
	}
	return wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shard %s unavailable: %s", shard, msg)
}

func (w *shardWatch) noRecoveryReason() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.recovering {
		return ""
	}
	return w.noRecovery
}

func (w *shardWatch) nextProbe() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.probed
}

// Hold implements router.Holder: the same buffer holds a statement on
// tables that a traffic switch of an online workflow is moving (workflow
// package), until changed is closed (the topology changed: the switch
// flipped the routing or gave up), within ha.buffer_window since the
// statement first waited and ha.buffer_size requests at once, as during a
// failover. Nothing was sent for a held statement, so it runs once, after.
func (m *Manager) Hold(ctx context.Context, what string, changed <-chan struct{}, since time.Time) error {
	cfg := m.cfg.HA
	if cfg.BufferWindow <= 0 || cfg.BufferSize <= 0 {
		return wire.Errorf(mysql.ER_LOCK_DEADLOCK, "%s: a traffic switch holds them and buffering is off (ha.buffer_window or ha.buffer_size is 0): the statement was not run, retry it", what)
	}
	left := time.Until(since.Add(cfg.BufferWindow))
	if left <= 0 {
		m.stats.buffer("window", 0)
		return m.holdPassed(what)
	}
	if m.buffered.Add(1) > int64(cfg.BufferSize) {
		m.buffered.Add(-1)
		m.stats.buffer("full", 0)
		return wire.Errorf(mysql.ER_LOCK_DEADLOCK, "%s: a traffic switch holds them and the buffer is full (ha.buffer_size %d requests): the statement was not run, retry it", what, cfg.BufferSize)
	}
	defer m.buffered.Add(-1)
	start := time.Now()
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-changed:
		m.stats.buffer("ok", time.Since(start))
		return nil
	case <-t.C:
		m.stats.buffer("window", time.Since(start))
		return m.holdPassed(what)
	case <-ctx.Done():
		m.stats.buffer("canceled", time.Since(start))
		return ctx.Err()
	}
}

func (m *Manager) holdPassed(what string) error {
	return wire.Errorf(mysql.ER_LOCK_DEADLOCK, "%s: a traffic switch held them for longer than ha.buffer_window (%s): the statement was not run, retry it (shardgate reversetraffic or cancel ends a stuck switch)", what, m.cfg.HA.BufferWindow)
}
