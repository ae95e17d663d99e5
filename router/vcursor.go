package router

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// vcursor is the context of one statement's execution: the session, the
// client connection the response goes to, and the bound values.
type vcursor struct {
	r     *Router
	st    *state
	s     *Session
	out   *wire.Conn
	sql   string  // the client's text (COM_QUERY) or prepared SQL
	ps    *psExec // set for COM_STMT_EXECUTE
	binds []sqlval.Value
	plan  *planner.Plan
	// trace, when set, records every query sent to a shard (VEXPLAIN QUERIES).
	trace *[]tracedQuery

	// ids decides the OK packet's insert id and LAST_INSERT_ID() of a
	// statement that may generate or set ids (lastid.go).
	ids engine.IDState

	more bool // statements of a multi-statement query follow this one

	// Scratch space reused by each statement of the session.
	callBuf [2]engine.ShardCall
	scratch [64]byte

	// deferOK keeps the OK in okLater instead of sending it (runAtomic
	// sends it after the commit).
	deferOK bool
	okLater wire.OK

	sent   bool // a response has been (partly) written
	broken bool
	rows   int64 // result rows sent to the client (metrics)
}

// psExec is the client's COM_STMT_EXECUTE, forwarded to shards as their own
// prepared statement when the plan sends the statement unchanged.
type psExec struct {
	stmt   *PreparedStmt
	params []byte // null bitmap, and the values, as the client sent them
}

// finish sends err to the client if the primitive did not respond, then
// flushes. It returns only client I/O errors.
func (vc *vcursor) finish(err error) error {
	if err != nil {
		vc.r.noteLimit(err)
		var ce engine.ClientError
		if errors.As(err, &ce) {
			return ce.Err
		}
		err = vc.movedTable(err) // switch.go
		if e := vc.writeError(err); e != nil {
			return e
		}
	}
	return vc.out.Flush()
}

func (vc *vcursor) Write(p []byte) error {
	vc.sent = true
	if err := vc.out.WritePacket(p); err != nil {
		return engine.ClientError{Err: err}
	}
	return nil
}

func (vc *vcursor) writeError(err error) error {
	e := wire.AsError(err)
	if errors.Is(err, context.DeadlineExceeded) {
		e = wire.Errorf(mysql.ER_QUERY_INTERRUPTED, "Query execution was interrupted (timeout)")
	}
	buf := wire.AppendError(make([]byte, 0, 64+len(e.Message)), e)
	if err := vc.out.WritePacket(buf); err != nil {
		return err
	}
	return nil
}

// status is the session's status, with MORE_RESULTS while statements of a
// multi-statement query remain.
func (vc *vcursor) status() uint16 {
	st := vc.s.Status()
	if vc.more {
		st |= mysql.SERVER_MORE_RESULTS_EXISTS
	}
	return st
}

func (vc *vcursor) WriteOK(ok wire.OK) error {
	if vc.deferOK {
		vc.okLater = ok
		return nil
	}
	vc.s.RowCount = int64(ok.AffectedRows)
	ok.Status = vc.status()
	vc.s.Warnings = ok.Warnings
	// Statements that cannot generate or set ids pass the shards' insert
	// id on and leave LAST_INSERT_ID() alone; the others decided both.
	if vc.ids.Decided {
		ok.LastInsertID = vc.ids.OKID
	}
	vc.ApplyIDs()
	return vc.Write(wire.AppendOK(vc.scratch[:0], &ok))
}

// applyIDs makes the statement's generated or set id the session's
// LAST_INSERT_ID(), once the statement has succeeded.
func (vc *vcursor) ApplyIDs() {
	if vc.ids.Changed {
		vc.s.LastInsertID = vc.ids.SessionID
	}
}

func (vc *vcursor) WriteEOF(warnings uint16) error {
	vc.s.RowCount = -1 // a result set: ROW_COUNT() is -1
	return vc.Write(wire.AppendEOF(vc.scratch[:0], warnings, vc.status()))
}

// pool returns the backend pool of a shard.
func (vc *vcursor) pool(sh *topo.Shard) *backend.Pool { return vc.st.pools[sh] }

// conn takes the connection for shard sh (pinned in a transaction) with the
// session's variables applied.
func (vc *vcursor) Conn(ctx context.Context, sh *topo.Shard) (*backend.Conn, error) {
	p := vc.pool(sh)
	if p == nil {
		return nil, fmt.Errorf("no pool for shard %s", sh.Name)
	}
	p = vc.targetPool(p) // @replica sessions read from replicas (target.go)
	c, err := vc.s.Tx.Conn(ctx, p, vc.s.FoundRows, vc.plan != nil && vc.plan.Kind == planner.KindSelect)
	if err != nil {
		return nil, err
	}
	if vc.plan != nil && vc.plan.Reserve {
		vc.s.Tx.Reserve(c)
	}
	if c.Settings != vc.s.settingsSQL {
		if err := vc.applySettings(ctx, c); err != nil {
			vc.s.Tx.Done(c)
			return nil, err
		}
	}
	vc.s.track(c)
	return c, nil
}

// applySettings brings c's session variables to the session's: a pooled
// connection is reset first, a pinned one gets the assignments again.
func (vc *vcursor) applySettings(ctx context.Context, c *backend.Conn) error {
	return vc.s.applySettings(ctx, c, !vc.s.Tx.Active())
}

// applySettings is applySettings for a connection not yet pinned (reset
// allowed) or pinned (reset would end its transaction).
func (s *Session) applySettings(ctx context.Context, c *backend.Conn, mayReset bool) error {
	if c.Settings == s.settingsSQL {
		return nil
	}
	if c.Settings != "" && mayReset && !c.Reserved {
		if err := c.Reset(ctx); err != nil {
			return err
		}
	}
	if s.settingsSQL != "" {
		if _, err := c.Exec(ctx, s.settingsSQL); err != nil {
			return err
		}
	}
	c.Settings = s.settingsSQL
	return nil
}

// done gives back a connection taken with conn.
func (vc *vcursor) Done(c *backend.Conn) {
	vc.s.untrack(c)
	vc.s.Tx.Done(c)
}

// send writes the statement for one shard: the client's own text or
// prepared execution when q is nil, else the rendered SQL.
func (vc *vcursor) Send(ctx context.Context, c *backend.Conn, q []byte) error {
	vc.Trace(c.Shard(), q)
	if q != nil {
		return c.WriteCommand(ctx, mysql.COM_QUERY, q)
	}
	if vc.ps == nil {
		return c.WriteQuery(ctx, vc.sql)
	}
	st, err := c.Prepared(ctx, vc.ps.stmt.SQL)
	if err != nil {
		return err
	}
	// Sends are sequential, so one session buffer serves every shard.
	pkt := vc.ps.stmt.executePacket(vc.s.execBuf[:0], st.ID, vc.ps.params, vc.ps.stmt.types)
	vc.s.execBuf = keepBuffer(pkt)
	return c.WriteCommand(ctx, mysql.COM_STMT_EXECUTE, pkt)
}

// RenderEnv returns the values a template needs for shard sh.
func (vc *vcursor) RenderEnv(sh *topo.Shard) engine.RenderEnv {
	env := engine.RenderEnv{Binds: vc.binds, Keyspace: vc.s.Keyspace, ShardDB: sh.Database, ConnID: vc.s.ID, LastID: vc.s.LastInsertID,
		Autocommit: vc.s.Autocommit, RowCount: vc.s.RowCount, Host: vc.s.Host}
	if vc.s.User != nil {
		env.User = vc.s.User.Name
	}
	return env
}

func (vc *vcursor) Trace(shard string, q []byte) {
	if vc.trace == nil {
		return
	}
	sql := string(q)
	if q == nil {
		sql = vc.sql
	}
	*vc.trace = append(*vc.trace, tracedQuery{shard: shard, sql: sql})
}

// The rest of VCursor, for the engine's primitives.

func (vc *vcursor) Binds() []sqlval.Value         { return vc.binds }
func (vc *vcursor) SetBinds(b []sqlval.Value)     { vc.binds = b }
func (vc *vcursor) SQL() string                   { return vc.sql }
func (vc *vcursor) Prepared() bool                { return vc.ps != nil }
func (vc *vcursor) AddRows(n int64)               { vc.rows += n }
func (vc *vcursor) SetWarnings(n uint16)          { vc.s.Warnings = n }
func (vc *vcursor) IDs() *engine.IDState          { return &vc.ids }
func (vc *vcursor) MaxMemoryRows() int            { return vc.r.cfg.Limits.MaxMemoryRows }
func (vc *vcursor) Probes() *engine.ProbeCounters { return &vc.r.probes }
func (vc *vcursor) Log() *zap.Logger              { return vc.r.log }

func (vc *vcursor) Facts() engine.SessionFacts {
	s := vc.s
	return engine.SessionFacts{ID: s.ID, FoundRows: s.FoundRows, NoAutoValueOnZero: s.noAutoValueOnZero,
		LastInsertID: s.LastInsertID, InTransaction: s.Tx.Active()}
}

// Calls returns the session's scratch calls when n fits.
func (vc *vcursor) Calls(n int) []engine.ShardCall {
	if n <= len(vc.callBuf) {
		calls := vc.callBuf[:n]
		clear(calls)
		return calls
	}
	return make([]engine.ShardCall, n)
}

// ReserveIDs takes n ids from the global keyspace's sequence seq.
func (vc *vcursor) ReserveIDs(ctx context.Context, seq string, n int) ([]uint64, error) {
	sq, err := vc.r.seqs.get(vc.st.snap, seq)
	if err != nil {
		return nil, err
	}
	return sq.reserve(ctx, vc.pool(sq.ks.Shards[0]), n, make([]uint64, 0, n), false)
}
