package proxy

import (
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/deadlock"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// deadlockSessions is the server's session registry as the deadlock
// detector reads it. A session's commands are numbered (clientConn.seq,
// counted in begin under the lock begin takes anyway), so the detector
// names the command it saw waiting and an abort never reaches a later one.
type deadlockSessions struct{ s *Server }

func (d deadlockSessions) Running(dst []deadlock.Statement) []deadlock.Statement {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	for id, c := range d.s.sessions {
		c.mu.Lock()
		if c.busy {
			dst = append(dst, deadlock.Statement{Session: id, Seq: c.seq})
		}
		c.mu.Unlock()
	}
	return dst
}

func (d deadlockSessions) conn(id uint32) *clientConn {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	return d.s.sessions[id]
}

func (d deadlockSessions) Transaction(st deadlock.Statement, dst []txn.Branch) (deadlock.Transaction, bool) {
	c := d.conn(st.Session)
	if c == nil {
		return deadlock.Transaction{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.busy || c.seq != st.Seq {
		return deadlock.Transaction{}, false
	}
	id, branches, ok := c.sess.Tx.Branches(dst)
	return deadlock.Transaction{ID: id, User: c.user, Branches: branches}, ok
}

// Abort holds the session's lock while it marks and interrupts the
// command, so the command cannot end (and the next one begin) in between.
func (d deadlockSessions) Abort(st deadlock.Statement, tx uint64, e *wire.Error) bool {
	c := d.conn(st.Session)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.busy || c.seq != st.Seq || !c.sess.AbortDeadlocked(tx, e) {
		return false
	}
	c.victim = true
	return true
}

// SetDeadlockObserver installs the receiver of the deadlock detector's
// events (metrics); call it before Serve.
func (s *Server) SetDeadlockObserver(o deadlock.Observer) { s.detector.SetObserver(o) }

// DeadlockSessions returns the session registry as the deadlock detector
// sees it (for tests of its guards).
func (s *Server) DeadlockSessions() deadlock.Sessions { return deadlockSessions{s} }

// DeadlockStats returns the deadlock detector's counters.
func (s *Server) DeadlockStats() deadlock.Stats { return s.detector.Stats() }

func userName(u *config.User) string {
	if u == nil {
		return ""
	}
	return u.Name
}
