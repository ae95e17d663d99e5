package planner

import (
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// The tables a statement names: each resolved to its keyspace and vschema
// entry (MoveTables routes and auto_vschema included), and the keyspace a
// statement runs on.

// tableRef is one table named by a statement.
type tableRef struct {
	name  *ast.TableName
	alias string // as written in the statement (alias or table name), lower case
	ks    *topo.Keyspace
	tbl   *topo.Table // vschema entry; nil in unsharded keyspaces
	sys   bool        // information_schema, mysql, performance_schema, sys
}

func (t *tableRef) sharded() bool {
	return t.ks != nil && t.ks.Sharded && t.tbl != nil && t.tbl.Type == topo.TableSharded
}

func isSystemSchema(s string) bool {
	switch strings.ToLower(s) {
	case "information_schema", "mysql", "performance_schema", "sys":
		return true
	}
	return false
}

// resolve finds the keyspace and vschema entry of a table name.
func (p *planner) resolve(tn *ast.TableName) (*tableRef, error) {
	ref := &tableRef{name: tn, alias: tn.Name.L}
	ksName := tn.Schema.O
	if ksName != "" && isSystemSchema(ksName) {
		ref.sys = true
		return ref, nil
	}
	if ksName == "" {
		ksName = p.env.SessionKeyspace()
		if ksName == "" {
			return nil, wire.Errorf(mysql.ER_NO_DB_ERROR, "No database selected (USE a keyspace, or qualify %s with one)", tn.Name.O)
		}
	}
	ks, ok := p.env.Keyspace(ksName)
	if !ok {
		return nil, wire.Errorf(mysql.ER_BAD_DB_ERROR, "Unknown database '%s' (no such keyspace)", ksName)
	}
	ks = p.routeTable(ks, tn.Name.O) // switch.go: MoveTables routes, switch holds
	ref.ks = ks
	if !ks.Sharded {
		return ref, nil
	}
	t, ok := ks.Table(tn.Name.O)
	if ks.AutoVSchema {
		// Derived from the shards: the table, or the sequence of a listed
		// table's AUTO_INCREMENT column. A derived entry never overrides how
		// the vschema routes a table: it may date from before the vschema
		// listed it (then it routes by the primary key).
		if d, found := p.env.DerivedTable(ks.Name, tn.Name.O); found {
			switch {
			case !ok:
				t, ok = d, true
			case t.Type == topo.TableSharded && t.AutoIncrement == nil && d.AutoIncrement != nil && d.Column == t.Column && d.VindexName == t.VindexName:
				t = d
			}
		}
	}
	if !ok {
		return nil, wire.Errorf(mysql.ER_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist in the vschema of sharded keyspace %s", ks.Name, tn.Name.O, ks.Name)
	}
	ref.tbl = t
	return ref, nil
}

// collectTables resolves every table a statement names, with aliases from
// FROM clauses, and marks keyspace qualifiers for rewriting to each shard's
// database name.
func (p *planner) collectTables(n ast.Node) ([]*tableRef, error) {
	var refs []*tableRef
	aliases := map[*ast.TableName]string{}
	ctes := map[string]bool{}
	targets := multiDeleteTargets(n)
	Walk(n, func(x ast.Node) ast.Node {
		switch t := x.(type) {
		case *ast.TableSource:
			if tn, ok := t.Source.(*ast.TableName); ok && t.AsName.L != "" {
				aliases[tn] = t.AsName.L
			}
		case *ast.CommonTableExpression:
			ctes[t.Name.L] = true
		}
		return x
	})
	var err error
	Walk(n, func(x ast.Node) ast.Node {
		tn, ok := x.(*ast.TableName)
		if !ok || err != nil {
			return x
		}
		if tn.Schema.L == "" && ctes[tn.Name.L] || targets[tn] {
			return x
		}
		var ref *tableRef
		if ref, err = p.resolve(tn); err != nil {
			return x
		}
		if a, ok := aliases[tn]; ok {
			ref.alias = a
		}
		refs = append(refs, ref)
		return x
	})
	return refs, err
}

// qualifyForShards replaces keyspace qualifiers by a placeholder rendered as
// each target shard's database.
func qualifyForShards(refs []*tableRef) bool {
	changed := false
	for _, r := range refs {
		if r.ks != nil && r.name.Schema.L != "" {
			r.name.Schema = ast.NewCIStr(engine.PhSchema)
			changed = true
		}
	}
	return changed
}

// keyspaceOf checks that refs live in one keyspace and returns it (nil when
// there are no user tables).
func keyspaceOf(refs []*tableRef) (*topo.Keyspace, error) {
	var ks *topo.Keyspace
	for _, r := range refs {
		if r.ks == nil {
			continue
		}
		if ks != nil && ks != r.ks {
			return nil, engine.Unsupported("a statement across keyspaces (%s and %s)", ks.Name, r.ks.Name)
		}
		ks = r.ks
	}
	return ks, nil
}

// defaultKeyspace is where statements without tables go.
func (p *planner) defaultKeyspace() (*topo.Keyspace, error) {
	if ks := p.sessionKeyspace(); ks != nil {
		return ks, nil
	}
	if ks, ok := p.env.Keyspace(p.env.GlobalKeyspace()); ok {
		return ks, nil
	}
	for _, name := range p.env.KeyspaceNames() {
		ks, _ := p.env.Keyspace(name)
		return ks, nil
	}
	return nil, wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shardgate has no keyspace")
}

// outerRefs returns the tables of the statement itself, not of its
// subqueries (they are checked by checkSubqueries); derived tables count as
// the statement's own.
func outerRefs(stmt ast.Node, refs []*tableRef) []*tableRef {
	inner := map[*ast.TableName]bool{}
	Walk(stmt, func(x ast.Node) ast.Node {
		if s, ok := x.(*ast.SubqueryExpr); ok {
			Walk(s.Query, func(y ast.Node) ast.Node {
				if tn, ok := y.(*ast.TableName); ok {
					inner[tn] = true
				}
				return y
			})
		}
		return x
	})
	var out []*tableRef
	for _, r := range refs {
		if !inner[r.name] {
			out = append(out, r)
		}
	}
	return out
}

func keyspaceNames(refs []*tableRef) []string {
	var names []string
	for _, r := range refs {
		if r.ks != nil && !containsString(names, r.ks.Name) {
			names = append(names, r.ks.Name)
		}
	}
	return names
}

// sessionKeyspace is the session's keyspace, nil when none is selected.
func (p *planner) sessionKeyspace() *topo.Keyspace {
	ks, _ := p.env.Keyspace(p.env.SessionKeyspace())
	return ks
}

// multiDeleteTargets are the unqualified target names of a multi-table
// DELETE (`DELETE o FROM corder o JOIN …`): they name tables of its FROM
// by alias or name, and are no tables of their own. The policy still sees
// them (package policy); a qualified target is resolved as a table.
func multiDeleteTargets(n ast.Node) map[*ast.TableName]bool {
	d, ok := n.(*ast.DeleteStmt)
	if !ok || !d.IsMultiTable || d.Tables == nil {
		return nil
	}
	targets := map[*ast.TableName]bool{}
	for _, tn := range d.Tables.Tables {
		if tn.Schema.L == "" {
			targets[tn] = true
		}
	}
	return targets
}
