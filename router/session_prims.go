package router

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shardgate/shardgate/internal/sqllex"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/router/policy"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// Session statements change the session and answer OK themselves.

func sessionPlan(kind planner.Kind, prim engine.Primitive) *planner.Plan {
	return &planner.Plan{Kind: kind, Prim: prim, Cacheable: true, Tx: planner.TxNone}
}

// assignment is one part of a SET statement.
type assignment struct {
	key    string // session var key; "" for proxy-level variables
	sql    string // replayed on shards
	apply  func(s *Session) error
	check  func(s *Session) error // run before a replayed assignment is recorded
	reveal string                 // description
	// sqlMode: the value is read back from a shard and checked (its
	// expression may be CONCAT(@@sql_mode, …)).
	sqlMode bool
}

// setPrim is SET: proxy variables (autocommit, transaction_mode) change the
// session; the others are recorded and replayed on every shard connection.
type setPrim struct{ assigns []assignment }

func (vc *vcursor) planSet(n *ast.SetStmt) (*planner.Plan, error) {
	sp := &setPrim{}
	for _, v := range n.Variables {
		if v.IsGlobal || v.IsInstance {
			return nil, wire.Errorf(mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, "Access denied; SET GLOBAL %s is for the shard servers' administrators (set global variables on each shard's server)", v.Name)
		}
		if hasSubquery(v.Value) {
			return nil, engine.Unsupported("a subquery in SET (it would be run on every shard connection the session uses)")
		}
		a, err := vc.planAssignment(v)
		if err != nil {
			return nil, err
		}
		sp.assigns = append(sp.assigns, a)
	}
	return sessionPlan(planner.KindSet, sp), nil
}

// planAssignment plans one variable of a SET.
func (vc *vcursor) planAssignment(v *ast.VariableAssignment) (assignment, error) {
	name := strings.ToLower(v.Name)
	switch {
	case strings.EqualFold(v.Name, ast.SetNames) || strings.EqualFold(v.Name, ast.SetCharset):
		cs := planner.ValueText(v.Value)
		if err := checkClientCharset(cs); err != nil {
			return assignment{}, err
		}
		sql := "NAMES " + quoteIfNeeded(cs)
		if v.ExtendValue != nil {
			if coll := planner.ValueText(v.ExtendValue); coll != "" {
				sql += " COLLATE " + quoteIfNeeded(coll)
			}
		}
		if strings.EqualFold(cs, "default") || cs == "" {
			sql = "NAMES utf8mb4"
		}
		return assignment{key: namesKey, sql: sql}, nil
	case !v.IsSystem:
		expr, err := planner.Restore(v.Value)
		if err != nil {
			return assignment{}, err
		}
		return assignment{key: "@" + name, sql: "@`" + strings.ReplaceAll(v.Name, "`", "``") + "` = " + expr}, nil
	case name == "autocommit":
		on, err := boolValue(v.Value, "autocommit")
		if err != nil {
			return assignment{}, err
		}
		return assignment{apply: func(s *Session) error { return s.setAutocommit(on) }}, nil
	case name == "transaction_mode":
		mode, err := txn.ParseMode(planner.ValueText(v.Value))
		if err != nil {
			return assignment{}, err
		}
		return assignment{apply: func(s *Session) error {
			if s.Tx.Active() {
				return wire.Errorf(mysql.ER_CANT_CHANGE_TX_CHARACTERISTICS, "Transaction characteristics can't be changed while a transaction is in progress (transaction_mode)")
			}
			s.Tx.Mode = mode
			return nil
		}}, nil
	case name == "max_execution_time":
		return maxExecutionAssignment(v)
	case name == "tx_isolation_one_shot" || name == "transaction_isolation_one_shot":
		// The level goes into SQL the shard runs: only the four there are.
		level := strings.ToUpper(strings.ReplaceAll(planner.ValueText(v.Value), "-", " "))
		switch level {
		case "READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE":
		default:
			return assignment{}, wire.Errorf(mysql.ER_WRONG_VALUE_FOR_VAR, "Variable 'tx_isolation' can't be set to the value of '%s'", planner.ValueText(v.Value))
		}
		return assignment{apply: func(s *Session) error { s.nextIsolation = level; return nil }}, nil
	}
	expr, err := planner.Restore(v.Value)
	if err != nil {
		return assignment{}, err
	}
	switch {
	case name == "tx_isolation" || name == "transaction_isolation":
		// MariaDB 10.11 knows tx_isolation only.
		return assignment{key: "@@tx_isolation", sql: "@@session.tx_isolation = " + expr}, nil
	case name == "tx_read_only" || name == "transaction_read_only":
		on, _ := boolValue(v.Value, name)
		return assignment{key: readOnlyKey, sql: "@@session.tx_read_only = " + expr, check: func(s *Session) error {
			if !on && s.User != nil && s.User.ReadOnly {
				return wire.Errorf(mysql.ER_OPTION_PREVENTS_STATEMENT, "user %s is read-only in shardgate: its transactions stay READ ONLY", s.User.Name)
			}
			return nil
		}}, nil
	case name == "character_set_client":
		if err := checkClientCharset(planner.ValueText(v.Value)); err != nil {
			return assignment{}, err
		}
	case name == "sql_mode":
		return assignment{key: "@@sql_mode", sql: "@@session.sql_mode = " + expr, sqlMode: true}, nil
	case name == "default_storage_engine" || name == "storage_engine" || name == "default_tmp_storage_engine":
		if e := strings.ToLower(planner.ValueText(v.Value)); !policy.AllowedEngines[e] && e != "default" {
			return assignment{}, engine.Unsupported("%s = %s (shardgate allows InnoDB, Aria, MyISAM and MEMORY tables)", name, planner.ValueText(v.Value))
		}
	case !sessionVariables[name] && !vc.allowedSessionVariable(name):
		return assignment{}, wire.Errorf(mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, "Access denied; shardgate does not let clients set %s on the shards (it is not one of the session settings the proxy replays; an administrator may allow it with security.allow_session_variables)", v.Name)
	}
	return assignment{key: "@@" + name, sql: "@@session.`" + name + "` = " + expr}, nil
}

func (vc *vcursor) allowedSessionVariable(name string) bool {
	for _, v := range vc.r.cfg.Security.AllowSessionVariables {
		if v == name {
			return true
		}
	}
	return false
}

// sessionVariables are the variables clients may SET: each changes only
// how the session's own statements run. Not sql_log_bin, pseudo_thread_id,
// gtid_*, insert_id, completion_type (it would end the shard connection at
// COMMIT) and the like. autocommit, transaction_mode, the isolation level,
// tx_read_only, names and character sets, sql_mode and the storage engine
// are handled apart.
var sessionVariables = map[string]bool{
	"character_set_connection": true, "character_set_results": true, "collation_connection": true,
	"character_set_database": true, "collation_database": true,
	"time_zone": true, "sql_select_limit": true, "max_statement_time": true, "lock_wait_timeout": true,
	"innodb_lock_wait_timeout": true, "innodb_strict_mode": true, "net_read_timeout": true,
	"net_write_timeout": true, "wait_timeout": true, "interactive_timeout": true,
	"group_concat_max_len": true, "div_precision_increment": true, "foreign_key_checks": true,
	"unique_checks": true, "sql_safe_updates": true, "sql_auto_is_null": true, "sql_big_selects": true,
	"sql_buffer_result": true, "sql_quote_show_create": true, "sql_notes": true, "sql_warnings": true,
	"big_tables": true, "max_join_size": true, "optimizer_switch": true, "optimizer_search_depth": true,
	"optimizer_prune_level": true, "optimizer_use_condition_selectivity": true, "join_buffer_size": true,
	"join_cache_level": true, "sort_buffer_size": true, "tmp_table_size": true, "tmp_memory_table_size": true,
	"max_heap_table_size": true, "lc_time_names": true, "lc_messages": true, "default_week_format": true,
	"auto_increment_increment": true, "auto_increment_offset": true, "timestamp": true,
	"session_track_schema": true, "session_track_state_change": true, "session_track_system_variables": true,
	"session_track_transaction_info": true, "check_constraint_checks": true,
	"explicit_defaults_for_timestamp": true, "in_predicate_conversion_threshold": true,
	"eq_range_index_dive_limit": true, "max_length_for_sort_data": true, "max_sort_length": true,
	"max_seeks_for_key": true, "read_buffer_size": true, "read_rnd_buffer_size": true,
	"query_cache_type": true, "max_error_count": true, "long_query_time": true, "max_recursive_iterations": true,
	"system_versioning_asof": true, "default_regex_flags": true, "updatable_views_with_limit": true,
	"transaction_prealloc_size": true, "transaction_alloc_block_size": true, "query_prealloc_size": true,
	"range_alloc_block_size": true, "sql_if_exists": true, "old_mode": true, "net_buffer_length": true,
}

// checkClientCharset refuses the client character sets in which a byte of
// a multi-byte character can be a backslash or a quote (big5, cp932, gbk,
// sjis): the proxy reads statements byte by byte, MariaDB by character, so
// a string could end at a different place for each.
func checkClientCharset(cs string) error {
	switch strings.ToLower(cs) {
	case "big5", "cp932", "gbk", "sjis", "gb18030":
		return engine.Unsupported("the client character set %s (a quote or backslash can hide inside its multi-byte characters; use utf8mb4)", cs)
	}
	return nil
}

// ClientCharsetAllowed reports whether a handshake's character set may be
// the session's (see checkClientCharset).
func ClientCharsetAllowed(cs string) bool { return checkClientCharset(cs) == nil }

// hasSubquery reports a subquery in e.
func hasSubquery(e ast.Node) bool {
	found := false
	if e == nil {
		return false
	}
	planner.Walk(e, func(x ast.Node) ast.Node {
		if _, ok := x.(*ast.SubqueryExpr); ok {
			found = true
		}
		return x
	})
	return found
}

// deniedSQLModes are the sql_mode flags that change how a statement is read
// (backslashes, ||, NOT, spaces before '(') or the whole grammar: the
// proxy's parser would read statements otherwise than the shards, and the
// values it renders into SQL (backslash escapes) would mean something else.
// ANSI_QUOTES is followed instead (sqllex.ANSIQuotes).
var deniedSQLModes = []string{"NO_BACKSLASH_ESCAPES", "PIPES_AS_CONCAT", "IGNORE_SPACE",
	"HIGH_NOT_PRECEDENCE", "ORACLE", "MSSQL", "DB2", "MAXDB", "POSTGRESQL"}

// checkSQLMode checks the sql_mode a shard read back and returns how the
// session's statements are to be read.
func checkSQLMode(sqlMode string) (sqllex.Mode, error) {
	var mode sqllex.Mode
	for _, f := range strings.Split(sqlMode, ",") {
		if strings.EqualFold(f, "ANSI_QUOTES") {
			mode |= sqllex.ANSIQuotes
		}
		for _, d := range deniedSQLModes {
			if strings.EqualFold(f, d) {
				return 0, engine.Unsupported("sql_mode %s (it changes how statements are read, and shardgate would read them otherwise than the shards)", d)
			}
		}
	}
	return mode, nil
}

// hasSQLMode reports whether the sql_mode list has flag.
func hasSQLMode(sqlMode, flag string) bool {
	for _, f := range strings.Split(sqlMode, ",") {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

func quoteIfNeeded(s string) string {
	if s == "" {
		return "''"
	}
	for i := 0; i < len(s); i++ {
		if !sqllex.IsIdentChar(s[i]) {
			return string(sqlval.AppendQuoted(nil, s))
		}
	}
	return s
}

func boolValue(e ast.ExprNode, name string) (bool, error) {
	switch strings.ToLower(planner.ValueText(e)) {
	case "1", "on", "true":
		return true, nil
	case "0", "off", "false":
		return false, nil
	case "default":
		return true, nil
	}
	return false, wire.Errorf(mysql.ER_WRONG_VALUE_FOR_VAR, "Variable '%s' can't be set to the value of '%s'", name, planner.ValueText(e))
}

// setAutocommit follows MySQL: turning autocommit on commits an open
// transaction.
func (s *Session) setAutocommit(on bool) error {
	if on && !s.Autocommit && s.Tx.Active() {
		s.Autocommit = true
		return s.Tx.Commit(context.Background())
	}
	s.Autocommit = on
	return nil
}

// Execute implements Primitive.
func (sp *setPrim) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	s := vc.s
	old := make(map[string]string, len(s.vars))
	for k, v := range s.vars {
		old[k] = v
	}
	changed := false
	prevMode := s.Tx.Mode
	sqlMode := false
	for _, a := range sp.assigns {
		if a.apply != nil {
			if err := a.apply(s); err != nil {
				return err
			}
			continue
		}
		if a.check != nil {
			if err := a.check(s); err != nil {
				s.vars = old
				return err
			}
		}
		s.vars[a.key] = a.sql
		sqlMode = sqlMode || a.sqlMode
		changed = true
	}
	vc.attachCoordinator()
	if s.Tx.Mode == txn.TwoPC && prevMode != txn.TwoPC && s.Tx.Coordinator == nil {
		s.Tx.Mode = prevMode
		return wire.Errorf(mysql.ER_WRONG_VALUE_FOR_VAR, "Variable 'transaction_mode' can't be set to the value of 'twopc': two-phase commit needs a global keyspace (global_keyspace in the configuration) for its decisions")
	}
	if changed {
		s.rebuildSettings()
		// Check the assignments now on one shard, so a bad value fails this
		// statement rather than a later one.
		if err := vc.checkSettings(ctx, sqlMode); err != nil {
			s.vars = old
			s.rebuildSettings()
			return err
		}
	}
	return vc.WriteOK(wire.OK{})
}

// checkSettings applies the session's settings on one shard, so a bad
// value fails the SET. With sqlMode it reads the resulting sql_mode back,
// checks it and records it as a literal.
func (vc *vcursor) checkSettings(ctx context.Context, sqlMode bool) error {
	ks, err := planner.DefaultKeyspace(planEnv{vc})
	if err != nil {
		return err
	}
	c, err := vc.Conn(ctx, ks.Shards[0])
	if err != nil {
		return err
	}
	defer vc.Done(c)
	if !sqlMode {
		return nil
	}
	rows, err := c.QueryStrings(ctx, "SELECT @@session.sql_mode")
	if err != nil {
		return err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		c.MarkBroken()
		return fmt.Errorf("shard %s: no sql_mode read back", c.Shard())
	}
	mode, err := checkSQLMode(rows[0][0])
	if err != nil {
		c.MarkBroken() // it holds the refused mode
		return err
	}
	vc.s.vars["@@sql_mode"] = "@@session.sql_mode = " + string(sqlval.AppendQuoted(nil, rows[0][0]))
	vc.s.rebuildSettings()
	vc.s.setLexMode(mode)
	vc.s.noAutoValueOnZero = hasSQLMode(rows[0][0], "NO_AUTO_VALUE_ON_ZERO")
	return nil
}

func (sp *setPrim) Describe() string {
	parts := make([]string, 0, len(sp.assigns))
	for _, a := range sp.assigns {
		if a.sql != "" {
			parts = append(parts, a.sql)
		} else {
			parts = append(parts, "(session)")
		}
	}
	return "Set " + strings.Join(parts, ", ")
}

// usePrim is USE keyspace / COM_INIT_DB.
type usePrim struct{ keyspace string }

func (vc *vcursor) planUse(name string) (*planner.Plan, error) {
	return sessionPlan(planner.KindUse, &usePrim{keyspace: name}), nil
}

// Use switches the session's keyspace (COM_INIT_DB).
func (r *Router) Use(ctx context.Context, s *Session, name string, out *wire.Conn) error {
	vc := vcursor{r: r, st: r.state.Load(), s: s, out: out}
	return vc.finish((&usePrim{keyspace: name}).Execute(ctx, &vc))
}

func (u *usePrim) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor)                         // a router primitive acts on the session itself
	ks, replica, err := vc.useTarget(u.keyspace) // keyspace@replica (target.go)
	if err != nil {
		return err
	}
	if !vc.s.User.MayUse(ks.Name) {
		return wire.Errorf(mysql.ER_DBACCESS_DENIED_ERROR, "Access denied for user '%s' to database '%s'", vc.s.User.Name, ks.Name)
	}
	vc.s.Keyspace, vc.s.Replica = ks.Name, replica
	return vc.WriteOK(wire.OK{})
}

func (u *usePrim) Describe() string { return "Use keyspace=" + u.keyspace }

type beginPrim struct{ begin string }

func (vc *vcursor) planBegin(n *ast.BeginStmt) (*planner.Plan, error) {
	begin := "START TRANSACTION"
	switch {
	case n.ReadOnly:
		begin += " READ ONLY"
	case strings.Contains(strings.ToUpper(vc.sql), "CONSISTENT SNAPSHOT"):
		begin += " WITH CONSISTENT SNAPSHOT"
	}
	return sessionPlan(planner.KindBegin, &beginPrim{begin: begin}), nil
}

func (b *beginPrim) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	s := vc.s
	vc.attachCoordinator()
	var ok wire.OK
	if s.Tx.Active() {
		if err := s.Tx.Commit(ctx); err != nil { // implicit commit, as MySQL
			return err
		}
		ok = commitOK(s)
	}
	s.Tx.Begin(s.beginStatement(b.begin))
	return vc.WriteOK(ok)
}

func (b *beginPrim) Describe() string { return "Begin " + b.begin }

type commitPrim struct{}

func (commitPrim) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	vc.attachCoordinator()
	if err := vc.s.Tx.Commit(ctx); err != nil {
		return err
	}
	return vc.WriteOK(commitOK(vc.s))
}

// commitOK is the OK of a successful COMMIT: a twopc commit whose branches
// were not all confirmed carries a warning (count and info text; SHOW
// WARNINGS does not list it).
func commitOK(s *Session) wire.OK {
	if w := s.Tx.Warning(); w != "" {
		return wire.OK{Warnings: 1, Info: w}
	}
	return wire.OK{}
}

func (commitPrim) Describe() string { return "Commit (multi: shard by shard; twopc: two-phase on XA)" }

type rollbackPrim struct{}

func (rollbackPrim) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	if err := vc.s.Tx.Rollback(ctx); err != nil {
		return err
	}
	return vc.WriteOK(wire.OK{})
}

func (rollbackPrim) Describe() string { return "Rollback" }

// maxExecutionAssignment plans SET max_execution_time = <ms> | DEFAULT,
// MySQL's bound on a statement's time, which the proxy keeps itself.
func maxExecutionAssignment(v *ast.VariableAssignment) (assignment, error) {
	if _, ok := v.Value.(*ast.DefaultExpr); ok || strings.EqualFold(planner.ValueText(v.Value), "default") {
		return assignment{apply: func(s *Session) error { s.maxExecution, s.maxExecutionSet = 0, false; return nil }}, nil
	}
	text := planner.ValueText(v.Value)
	ms, err := strconv.ParseUint(text, 10, 64)
	if err != nil || ms > uint64(365*24*time.Hour/time.Millisecond) {
		return assignment{}, wire.Errorf(mysql.ER_WRONG_VALUE_FOR_VAR, "Variable 'max_execution_time' can't be set to the value of '%s' (milliseconds, at most one year)", text)
	}
	d := time.Duration(ms) * time.Millisecond
	return assignment{apply: func(s *Session) error { s.maxExecution, s.maxExecutionSet = d, true; return nil }}, nil
}
