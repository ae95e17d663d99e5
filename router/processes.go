package router

import (
	"context"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/wire"
)

// Sessions is what the router asks the front end about client sessions,
// for SHOW PROCESSLIST and KILL.
type Sessions interface {
	List() []ProcessInfo
	// Kill ends session id's running statement (query) or the session.
	Kill(id uint32, query bool, by *Session) error
}

// ProcessInfo is one row of SHOW PROCESSLIST.
type ProcessInfo struct {
	ID          uint32
	User, Host  string
	DB, Command string
	Time        time.Duration
	State, Info string
	// TransactionStart is when the session's open transaction began (the
	// start of the command that opened it); zero outside a transaction.
	TransactionStart time.Time
}

// SetSessions connects the router to the session registry.
func (r *Router) SetSessions(s Sessions) { r.sessions.Store(&s) }

func (r *Router) sessionRegistry() Sessions {
	if p := r.sessions.Load(); p != nil {
		return *p
	}
	return nil
}

// track records a shard connection in use by the session's statement, so
// KILL QUERY can interrupt it.
func (s *Session) track(c *backend.Conn) {
	s.mu.Lock()
	s.active[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Session) untrack(c *backend.Conn) {
	s.mu.Lock()
	delete(s.active, c)
	s.mu.Unlock()
}

// Interrupt stops the statement the session is running: every shard read
// it waits on times out at once, which sends KILL QUERY to that shard (see
// backend's killConn), so the shard answers "Query execution was
// interrupted". Safe to call from another goroutine.
func (s *Session) Interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.active {
		_ = c.NetConn().SetReadDeadline(time.Now())
	}
}

type showProcesslist struct{}

func (showProcesslist) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	reg := vc.r.sessionRegistry()
	var rows [][]string
	if reg != nil {
		for _, p := range reg.List() {
			if u := vc.s.User; u != nil && !u.Admin && p.User != u.Name {
				continue // like MySQL without the PROCESS privilege; an admin sees all
			}
			rows = append(rows, []string{strconv.FormatUint(uint64(p.ID), 10), p.User, p.Host, p.DB, p.Command,
				strconv.FormatInt(int64(p.Time/time.Second), 10), p.State, p.Info})
		}
	}
	fields := stringFields("Id", "User", "Host", "db", "Command", "Time", "State", "Info")
	fields[0].Type, fields[0].Charset = mysql.MYSQL_TYPE_LONGLONG, 63
	fields[5].Type, fields[5].Charset = mysql.MYSQL_TYPE_LONG, 63
	return vc.writeRows(fields, rows)
}

func (showProcesslist) Describe() string { return "ShowProcesslist (proxy sessions)" }

type killPrim struct {
	id    uint64
	query bool
}

func (vc *vcursor) planKill(n *ast.KillStmt) (*planner.Plan, error) {
	return &planner.Plan{Kind: planner.KindKill, Prim: &killPrim{id: n.ConnectionID, query: n.Query}}, nil
}

func (k *killPrim) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	reg := vc.r.sessionRegistry()
	if reg == nil {
		return wire.Errorf(mysql.ER_NO_SUCH_THREAD, "Unknown thread id: %d", k.id)
	}
	if err := reg.Kill(uint32(k.id), k.query, vc.s); err != nil {
		return err
	}
	return vc.WriteOK(wire.OK{})
}

func (k *killPrim) Describe() string {
	if k.query {
		return "Kill query of session " + strconv.FormatUint(k.id, 10)
	}
	return "Kill session " + strconv.FormatUint(k.id, 10)
}
