package txn

import (
	"sync"
	"time"
)

// Action is one thing the resolver did to a prepared branch.
type Action struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"` // ActionCommit, ActionAbort, ActionRollback, ActionError
	DTID   string    `json:"dtid"`
	Shard  string    `json:"shard"` // the branch qualifier: its shard
	Server string    `json:"server"`
	Why    string    `json:"why"`
}

// historySize is how many actions Actions keeps.
const historySize = 200

// history is a ring of the resolver's last actions.
type history struct {
	mu   sync.Mutex
	ring []Action
	next int
}

func (h *history) add(a Action) {
	a.Time = time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ring) < historySize {
		h.ring = append(h.ring, a)
		return
	}
	h.ring[h.next] = a
	h.next = (h.next + 1) % historySize
}

// Actions returns the resolver's last actions on this proxy, newest first.
func (c *Coordinator) Actions() []Action {
	h := &c.history
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Action, 0, len(h.ring))
	for i := len(h.ring) - 1; i >= 0; i-- {
		out = append(out, h.ring[(h.next+i)%len(h.ring)])
	}
	return out
}

// InUse reports whether two-phase commit is in use on this proxy: it is
// the default transaction_mode (Config.Always), a twopc transaction was
// started here, or a resolver scan found prepared branches or decisions.
// Only then does the resolver keep scanning, and do its metrics exist.
func (c *Coordinator) InUse() bool {
	return c.Config().Always || c.seq.Load() > 0 || c.found.Load()
}

// warnLimiter lets a repeated warning through at most once a minute.
type warnLimiter struct {
	last       time.Time
	suppressed int
}

// allow reports whether to log now, with how many were held back since
// the last one.
func (w *warnLimiter) allow(now time.Time) (int, bool) {
	if !w.last.IsZero() && now.Sub(w.last) < time.Minute {
		w.suppressed++
		return 0, false
	}
	n := w.suppressed
	w.last, w.suppressed = now, 0
	return n, true
}
