package router

import (
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser"
	tidbmysql "github.com/pingcap/tidb/pkg/parser/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/internal/sqllex"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// Session is the state of one client connection that statements read and
// change: keyspace, autocommit, transaction, session variables, prepared
// statements.
type Session struct {
	ID       uint32
	User     *config.User
	Keyspace string // current keyspace ("" = none)
	// Replica: the session chose keyspace@replica; its statements read from
	// the shards' replicas and may not write (target.go).
	Replica    bool
	Autocommit bool
	FoundRows  bool // client negotiated CLIENT_FOUND_ROWS
	// MultiStatements: the client may send several statements in one
	// COM_QUERY (CLIENT_MULTI_STATEMENTS or COM_SET_OPTION).
	MultiStatements bool
	Tx              txn.Tx
	// Limits are the limits in force for the session (the front end sets
	// them at login and after a configuration reload): max_packet_size
	// bounds its long data, max_prepared_stmts_per_session its statements.
	Limits config.Limits
	// maxExecution is MySQL's max_execution_time (SET): MariaDB has no such
	// variable, so the proxy keeps it and times statements itself.
	maxExecution    time.Duration
	maxExecutionSet bool
	timedOut        bool // the last statement ran out of StatementTimeout

	LastInsertID uint64
	RowCount     int64  // ROW_COUNT(): affected rows of the last statement, -1 after a result set
	Host         string // the client's address, for USER()
	Warnings     uint16 // warnings of the last statement
	// warnings holds the last statement's warnings as the shards reported
	// them (Level, Code, Message), for SHOW WARNINGS.
	warnings [][]string

	// vars holds session-variable assignments as SQL ("@@session.x = 1",
	// "NAMES utf8mb4"), replayed on every shard connection the session uses.
	vars        map[string]string
	settingsSQL string // vars as one statement, "" when none

	// nextIsolation is SET TRANSACTION ISOLATION LEVEL without SESSION: it
	// applies to the next transaction only.
	nextIsolation string

	stmts  map[uint32]*PreparedStmt
	nextID uint32
	// longData is the bytes of COM_STMT_SEND_LONG_DATA the session's
	// statements hold, bounded by limits.max_packet_size.
	longData int

	parser *parser.Parser
	vals   []sqlval.Value // reused by normalize
	// lexMode is how the session's sql_mode makes the shards read quotes
	// (ANSI_QUOTES); the parser and the proxy's lexers read the same way.
	lexMode sqllex.Mode
	// noAutoValueOnZero: sql_mode has NO_AUTO_VALUE_ON_ZERO, so 0 given
	// for an AUTO_INCREMENT column is stored, not replaced by an id.
	noAutoValueOnZero bool

	// vc is the cursor of the running top-level statement, reused so a
	// statement allocates none; psx, psArgs and execBuf likewise for
	// COM_STMT_EXECUTE (its parameters as forwarded, the shard's packet).
	vc      vcursor
	psx     psExec
	psArgs  []byte
	execBuf []byte

	// active are the shard connections the running statement uses (for
	// KILL QUERY from another session).
	mu     sync.Mutex
	active map[*backend.Conn]struct{}
	// deadlock marks the transaction the deadlock detector chose as a
	// victim (deadlock.go); nil but for victims.
	deadlock atomic.Pointer[deadlockMark]
}

// NewSession returns a session in autocommit mode.
func NewSession(id uint32, user *config.User, keyspace string, mode txn.Mode) *Session {
	p := newParser()
	s := &Session{
		ID: id, User: user, Keyspace: keyspace, Autocommit: true,
		Tx:     txn.Tx{Mode: mode},
		vars:   map[string]string{},
		stmts:  map[uint32]*PreparedStmt{},
		parser: p,
		active: map[*backend.Conn]struct{}{},
	}
	s.Tx.Setup = func(ctx context.Context, c *backend.Conn) error { return s.applySettings(ctx, c, true) }
	s.rebuildSettings()
	return s
}

// SetUser makes u the session's user (COM_CHANGE_USER, a reloaded
// account), with the settings its account implies.
func (s *Session) SetUser(u *config.User) {
	if s.User != nil && s.User.ReadOnly && (u == nil || !u.ReadOnly) {
		delete(s.vars, readOnlyKey)
	}
	s.User = u
	s.rebuildSettings()
}

func newParser() *parser.Parser {
	p := parser.New()
	p.SetMariaDB(true)
	return p
}

// LargeStatement is the statement size past which Shrink is worth its
// cost: parsing a statement leaves the session's parser holding memory in
// proportion to it (32 MiB after a 1 MiB statement: its symbol stack), and
// the bind-value buffer keeps its capacity.
const LargeStatement = 64 << 10

// Shrink drops the buffers a large statement grew, so that a session does
// not keep, for its lifetime, the memory of its largest statement.
func (s *Session) Shrink() {
	s.parser = newParser()
	s.parser.SetSQLMode(parserMode(s.lexMode))
	if cap(s.vals) > 256 {
		s.vals = nil
	}
}

// Status returns the server status flags for OK and EOF packets.
func (s *Session) Status() uint16 {
	var st uint16
	if s.Autocommit {
		st |= mysql.SERVER_STATUS_AUTOCOMMIT
	}
	if s.Tx.Active() {
		st |= mysql.SERVER_STATUS_IN_TRANS
	}
	return st
}

// InTransaction reports whether statements run inside a transaction, either
// explicit or implied by autocommit=0.
func (s *Session) InTransaction() bool { return s.Tx.Active() }

// setVar records a session assignment. key identifies the variable (so a
// second SET replaces the first); assignment is the SQL after "SET ".
func (s *Session) setVar(key, assignment string) {
	s.vars[key] = assignment
	s.rebuildSettings()
}

func (s *Session) rebuildSettings() {
	if s.User != nil && s.User.ReadOnly {
		// Every shard statement of a read-only user runs in a read-only
		// transaction, so not even a function with side effects writes.
		s.vars[readOnlyKey] = "@@session.tx_read_only = 1"
	}
	if len(s.vars) == 0 {
		s.settingsSQL = ""
		return
	}
	keys := make([]string, 0, len(s.vars))
	for k := range s.vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// NAMES must come first: it resets character_set_* that a later
	// assignment may set explicitly.
	var b strings.Builder
	b.WriteString("SET ")
	first := true
	if v, ok := s.vars[namesKey]; ok {
		b.WriteString(v)
		first = false
	}
	for _, k := range keys {
		if k == namesKey {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(s.vars[k])
	}
	s.settingsSQL = b.String()
}

const (
	namesKey    = "\x00names"
	readOnlyKey = "@@tx_read_only"
)

// ResetState forgets session variables and prepared statements
// (COM_RESET_CONNECTION, COM_CHANGE_USER).
func (s *Session) ResetState() {
	clear(s.vars)
	s.rebuildSettings()
	s.setLexMode(0)
	s.noAutoValueOnZero = false
	s.nextIsolation = ""
	clear(s.stmts)
	s.longData = 0
	s.LastInsertID = 0
	s.Autocommit = true
	s.Replica = false
	s.maxExecution, s.maxExecutionSet = 0, false
}

// StatementTimeout bounds each statement's time: the session's SET
// max_execution_time, else limits.query_timeout (0: none).
func (s *Session) StatementTimeout() time.Duration {
	if s.maxExecutionSet {
		return s.maxExecution
	}
	return s.Limits.QueryTimeout
}

// TimedOut reports whether the session's last statement ran out of its
// StatementTimeout.
func (s *Session) TimedOut() bool { return s.timedOut }

// setLexMode makes the session's parser read quotes as mode says.
func (s *Session) setLexMode(mode sqllex.Mode) {
	if mode == s.lexMode {
		return
	}
	s.lexMode = mode
	s.parser.SetSQLMode(parserMode(mode))
}

// parserMode is the parser's sql_mode for a session's lexMode.
func parserMode(mode sqllex.Mode) tidbmysql.SQLMode {
	var m tidbmysql.SQLMode
	if mode&sqllex.ANSIQuotes != 0 {
		m |= tidbmysql.ModeANSIQuotes
	}
	return m
}

// beginStatement is what a shard runs to join a transaction: begin, preceded
// by a one-shot isolation level if one was set.
func (s *Session) beginStatement(begin string) string {
	// Replicas take no writes; read-only users neither: no XA branch in twopc
	// mode (txn.readOnly).
	if (s.Replica || s.User != nil && s.User.ReadOnly) && !strings.Contains(begin, "READ ONLY") {
		if strings.Contains(begin, "CONSISTENT SNAPSHOT") {
			begin += ", READ ONLY"
		} else {
			begin += " READ ONLY"
		}
	}
	if s.nextIsolation == "" {
		return begin
	}
	stmt := "SET TRANSACTION ISOLATION LEVEL " + s.nextIsolation + "; " + begin
	s.nextIsolation = ""
	return stmt
}

// SetNames records the connection character set from the handshake.
func (s *Session) SetNames(assignment string) { s.setVar(namesKey, assignment) }

// cursor returns the session's statement cursor, reset for a new statement.
func (s *Session) cursor(r *Router, out *wire.Conn, sql string) *vcursor {
	vc := &s.vc
	*vc = vcursor{r: r, st: r.state.Load(), s: s, out: out, sql: sql}
	return vc
}
