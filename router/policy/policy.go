// Package policy decides what no client may do on a shard, whatever the
// user: it walks each parsed statement before it is planned.
package policy

import (
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// The proxy reaches the shards with an account far more powerful than any
// client's (it creates tables, runs XA, kills queries), so whatever a client
// gets past the proxy runs with that account's rights. Every parsed
// statement therefore passes Check before it is planned, deny by
// default: what it does not know to be harmless never reaches a shard. The
// statement kinds themselves are allowed by planner.plan's switch, SHOW
// kinds by planShow, SET variables by planSet; the trust model is in
// docs/operations.md.

// Env is what the policy reads: the keyspaces, the session's, and the
// configured security settings.
type Env interface {
	Keyspace(name string) (*topo.Keyspace, bool)
	SessionKeyspace() string
	Security() *config.Security
}

// Findings is what the policy found a statement names and does: what
// checkAccess needs per user, and the tables for metrics.
type Findings struct {
	// Locks: a locking read (FOR UPDATE, LOCK IN SHARE MODE), refused to
	// read-only users at run time (plans are shared by all users).
	Locks bool
	// Keyspaces are those the statement's tables name anywhere (subqueries
	// in SET lists, INSERT ... SELECT, SHOW ... WHERE included): the user's
	// keyspace list is checked against all of them (checkAccess).
	Keyspaces []string
	// Tables are "keyspace.table" of every table named (metrics by table).
	Tables []string
}

// policyChecker walks one statement.
type policyChecker struct {
	env Env
	err error
	Findings
}

// Check refuses what a statement may not do on a shard whatever the
// user: system schemas, databases that are not keyspaces, file access,
// functions that are not MariaDB's built-ins, state that would stay on a
// pooled shard connection. It returns what checkAccess needs per user.
func Check(env Env, stmt ast.StmtNode) (*Findings, error) {
	pc := &policyChecker{env: env}
	stmt.Accept(pc)
	return &pc.Findings, pc.err
}

// noteKeyspace records the keyspace a table names: its qualifier, or the
// session's. A qualifier that is no keyspace would reach whatever database
// of that name the shard's server holds: refused.
func (pc *policyChecker) noteKeyspace(tn *ast.TableName) error {
	name := tn.Schema.O
	if name == "" {
		name = pc.env.SessionKeyspace()
	} else if strings.EqualFold(name, "information_schema") {
		return nil
	}
	if name == "" {
		return nil // no keyspace at all: planning says "No database selected"
	}
	ks, ok := pc.env.Keyspace(name)
	if !ok {
		return wire.Errorf(mysql.ER_BAD_DB_ERROR, "Unknown database '%s' (no such keyspace)", name)
	}
	if !contains(pc.Keyspaces, ks.Name) {
		pc.Keyspaces = append(pc.Keyspaces, ks.Name)
	}
	if t := ks.Name + "." + tn.Name.L; !contains(pc.Tables, t) {
		pc.Tables = append(pc.Tables, t)
	}
	return nil
}

func (pc *policyChecker) Enter(n ast.Node) (ast.Node, bool) {
	if pc.err != nil {
		return n, true
	}
	switch x := n.(type) {
	case *ast.TableName:
		if pc.err = CheckTableName(x); pc.err == nil {
			pc.err = pc.noteKeyspace(x)
		}
	case *ast.FuncCallExpr:
		pc.err = pc.checkFunction(x)
	case *ast.VariableExpr:
		if x.Value != nil {
			pc.err = engine.Unsupported("assigning a user variable inside a statement (@%s := …): it would stay on a pooled shard connection; use SET @%s = …", x.Name, x.Name)
		}
	case *ast.SelectStmt:
		pc.err = pc.checkSelect(x)
	case *ast.CreateTableStmt:
		pc.err = checkTableOptions(x.Options, x.Partition)
	case *ast.AlterTableStmt:
		pc.err = checkAlterTable(x)
	case *ast.ExplainStmt:
		if x.Analyze {
			pc.err = engine.Unsupported("EXPLAIN ANALYZE (it runs the statement)")
		}
	}
	return n, pc.err != nil
}

func (pc *policyChecker) Leave(n ast.Node) (ast.Node, bool) { return n, pc.err == nil }

func (pc *policyChecker) checkSelect(sel *ast.SelectStmt) error {
	if into := sel.SelectIntoOpt; into != nil {
		if into.Tp == ast.SelectIntoVars {
			return engine.Unsupported("SELECT … INTO @variable: the variable would stay on a pooled shard connection; read the row and SET @variable = … instead")
		}
		return fileAccessDenied("SELECT … INTO OUTFILE/DUMPFILE")
	}
	if sel.SelectStmtOpts != nil && sel.SelectStmtOpts.CalcFoundRows {
		return engine.Unsupported("SQL_CALC_FOUND_ROWS (the count would stay on one pooled shard connection; run SELECT COUNT(*) instead)")
	}
	if sel.LockInfo != nil && sel.LockInfo.LockType != ast.SelectLockNone {
		pc.Locks = true
	}
	return nil
}

// systemSchemaDenied is the answer for the shards' own schemas.
func systemSchemaDenied(schema string) error {
	return wire.Errorf(mysql.ER_DBACCESS_DENIED_ERROR, "Access denied to database '%s': shardgate does not let clients reach the shard servers' system schemas", schema)
}

func fileAccessDenied(what string) error {
	return wire.Errorf(mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, "Access denied; shardgate does not allow file access on the database servers (%s)", what)
}

// CheckTableName refuses the system schemas, the information_schema tables
// that show other clients' sessions or the shard account's privileges, and
// the proxy's own tables.
func CheckTableName(tn *ast.TableName) error {
	switch tn.Schema.L {
	case "mysql", "performance_schema", "sys":
		return systemSchemaDenied(tn.Schema.O)
	case "information_schema":
		if !infoSchemaTables[tn.Name.L] {
			return wire.Errorf(mysql.ER_TABLEACCESS_DENIED_ERROR, "Access denied to information_schema.%s: shardgate lets clients read the schema tables that describe tables, columns, indexes and character sets only (SHOW PROCESSLIST lists the proxy's sessions)", tn.Name.O)
		}
	}
	if tn.Name.L == txn.DecisionTable {
		return wire.Errorf(mysql.ER_TABLEACCESS_DENIED_ERROR, "Access denied to table '%s': it is shardgate's own two-phase-commit log", tn.Name.O)
	}
	return nil
}

// infoSchemaTables are the information_schema tables clients may read:
// what drivers and tools ask about tables, columns and character sets. Not
// PROCESSLIST, INNODB_* (other sessions' statements), *_PRIVILEGES, PLUGINS,
// USER_VARIABLES (a pooled connection's) and the like.
var infoSchemaTables = map[string]bool{
	"tables": true, "columns": true, "statistics": true, "key_column_usage": true,
	"referential_constraints": true, "table_constraints": true, "check_constraints": true,
	"schemata": true, "views": true, "routines": true, "parameters": true, "triggers": true,
	"partitions": true, "character_sets": true, "collations": true,
	"collation_character_set_applicability": true, "engines": true, "keywords": true,
	"sql_functions": true, "session_variables": true, "session_status": true,
	"global_variables": true, "global_status": true, "spatial_ref_sys": true, "geometry_columns": true,
	"columns_extensions": true, "tables_extensions": true,
}

// Functions MariaDB knows that clients may not call through the proxy, with
// the reason they get.
var deniedFunctions = map[string]func(name string) error{
	"load_file":         func(string) error { return fileAccessDenied("LOAD_FILE()") },
	"get_lock":          namedLocks,
	"release_lock":      namedLocks,
	"release_all_locks": namedLocks,
	"is_free_lock":      namedLocks,
	"is_used_lock":      namedLocks,
	"found_rows": func(string) error {
		return engine.Unsupported("FOUND_ROWS() (it reads the state of one pooled shard connection; run SELECT COUNT(*) instead)")
	},
	"master_pos_wait":  replicationFunction,
	"master_gtid_wait": replicationFunction,
	"binlog_gtid_pos":  replicationFunction,
	"lastval":          mariadbSequence,
	"nextval":          mariadbSequence,
	"setval":           mariadbSequence,
}

func namedLocks(name string) error {
	return engine.Unsupported("%s() (named locks would stay on a pooled shard connection after the statement)", strings.ToUpper(name))
}

func replicationFunction(name string) error {
	return wire.Errorf(mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, "Access denied; %s() is for the shard servers' administrators, not for clients of shardgate", strings.ToUpper(name))
}

func mariadbSequence(name string) error {
	return engine.Unsupported("%s() of a MariaDB SEQUENCE (shardgate sequences are tables: SELECT NEXT VALUE FOR seq, or NEXTVAL(seq) as a whole statement)", strings.ToUpper(name))
}

// parserFunctions are names the tidb parser gives MariaDB syntax that is
// not a plain call (CHAR(65), INSERT(s, …), DEFAULT(c), DATE '2024-01-01').
var parserFunctions = map[string]bool{
	ast.CharFunc: true, ast.InsertFunc: true, ast.DefaultFunc: true,
	ast.DateLiteral: true, ast.TimeLiteral: true, ast.TimestampLiteral: true,
}

// checkFunction allows MariaDB's built-in functions and what
// security.allow_functions names; stored functions and UDFs run SQL or
// native code with the shard account's rights.
func (pc *policyChecker) checkFunction(f *ast.FuncCallExpr) error {
	name := f.FnName.L
	if f.Schema.L != "" {
		if f.Schema.L == "mysql" || f.Schema.L == "sys" || f.Schema.L == "performance_schema" {
			return systemSchemaDenied(f.Schema.O)
		}
		if allowedFunction(pc.env, f.Schema.L+"."+name) {
			return nil
		}
		return engine.Unsupported("stored function %s.%s() (stored functions and UDFs run with the shard account's rights; allow one with security.allow_functions)", f.Schema.O, f.FnName.O)
	}
	if deny, ok := deniedFunctions[name]; ok {
		return deny(name)
	}
	if builtinFunctions[name] || parserFunctions[name] || allowedFunction(pc.env, name) {
		return nil
	}
	return engine.Unsupported("function %s() (not a MariaDB built-in function: stored functions and UDFs run with the shard account's rights; allow one with security.allow_functions)", f.FnName.O)
}

func allowedFunction(env Env, name string) bool {
	for _, f := range env.Security().AllowFunctions {
		if f == name {
			return true
		}
	}
	return false
}

// checkTableOptions refuses table options that reach the file system or
// another server: DATA/INDEX DIRECTORY, CONNECTION (FEDERATED, SPIDER,
// CONNECT), engines other than MariaDB's local ones, MERGE's UNION.
func checkTableOptions(opts []*ast.TableOption, part *ast.PartitionOptions) error {
	for _, o := range opts {
		if err := checkTableOption(o); err != nil {
			return err
		}
	}
	if part == nil {
		return nil
	}
	for _, d := range part.Definitions {
		for _, o := range d.Options {
			if err := checkTableOption(o); err != nil {
				return err
			}
		}
		for _, sub := range d.Sub {
			for _, o := range sub.Options {
				if err := checkTableOption(o); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func checkTableOption(o *ast.TableOption) error {
	switch o.Tp {
	case ast.TableOptionDataDirectory, ast.TableOptionIndexDirectory:
		return fileAccessDenied("DATA DIRECTORY / INDEX DIRECTORY")
	case ast.TableOptionConnection:
		return engine.Unsupported("the CONNECTION table option (a table on another server)")
	case ast.TableOptionUnion, ast.TableOptionInsertMethod:
		return engine.Unsupported("MERGE tables (UNION, INSERT_METHOD)")
	case ast.TableOptionEngine:
		if !AllowedEngines[strings.ToLower(o.StrValue)] && o.StrValue != "" {
			return engine.Unsupported("ENGINE=%s (shardgate allows InnoDB, Aria, MyISAM and MEMORY tables)", o.StrValue)
		}
	}
	return nil
}

var AllowedEngines = map[string]bool{"innodb": true, "aria": true, "myisam": true, "memory": true, "heap": true}

func checkAlterTable(a *ast.AlterTableStmt) error {
	for _, spec := range a.Specs {
		switch spec.Tp {
		case ast.AlterTableDiscardTablespace, ast.AlterTableImportTablespace,
			ast.AlterTableDiscardPartitionTablespace, ast.AlterTableImportPartitionTablespace:
			return fileAccessDenied("ALTER TABLE … DISCARD/IMPORT TABLESPACE")
		}
		if err := checkTableOptions(spec.Options, spec.Partition); err != nil {
			return err
		}
		for _, d := range spec.PartDefinitions {
			if err := checkTableOptions(d.Options, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
