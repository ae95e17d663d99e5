package planner

import (
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// planShow plans SHOW statements answered by one shard of the keyspace
// concerned.
func (p *planner) planShow(n *ast.ShowStmt) (*Plan, error) {
	switch n.Tp {
	case ast.ShowTables, ast.ShowTableStatus:
		ks, err := p.keyspaceNamed(n.DBName)
		if err != nil {
			return nil, err
		}
		n.DBName = ""
		tmpl, err := p.templateOf(n)
		if err != nil {
			return nil, err
		}
		r := &engine.Route{Opcode: engine.RouteAnyShard, Keyspace: ks, Query: tmpl, Rewrite: true}
		if n.Tp == ast.ShowTables {
			name := "Tables_in_" + ks.Name
			if n.Pattern != nil {
				name += " (" + ValueText(n.Pattern.Pattern) + ")" // as MariaDB names it
			}
			r.Rename = &engine.ColumnRename{Index: 0, Name: name}
		}
		return &Plan{Kind: KindShow, Prim: r, Keyspaces: []string{ks.Name}, Cacheable: true, Meta: ks.Shards[0]}, nil
	case ast.ShowCreateTable, ast.ShowCreateView, ast.ShowColumns, ast.ShowIndex:
		if n.Table == nil {
			break
		}
		if n.DBName != "" && n.Table.Schema.L == "" {
			n.Table.Schema = ast.NewCIStr(n.DBName)
			n.DBName = ""
		}
		ks, err := p.keyspaceNamed(n.Table.Schema.O)
		if err != nil {
			return nil, err
		}
		if n.Table.Schema.L != "" {
			n.Table.Schema = ast.NewCIStr(engine.PhSchema)
		}
		tmpl, err := p.templateOf(n)
		if err != nil {
			return nil, err
		}
		return &Plan{Kind: KindShow, Prim: &engine.Route{Opcode: engine.RouteAnyShard, Keyspace: ks, Query: tmpl, Rewrite: true},
			Keyspaces: []string{ks.Name}, Cacheable: true, Meta: ks.Shards[0]}, nil
	case ast.ShowCreateDatabase:
		return nil, engine.Unsupported("SHOW CREATE DATABASE")
	case ast.ShowVariables, ast.ShowStatus, ast.ShowCollation, ast.ShowCharset, ast.ShowEngines, ast.ShowPrivileges:
	default:
		// Grants, users, replication, plugins, routines, events, open
		// tables, profiles: the shard account's or another client's.
		return nil, engine.Unsupported("this SHOW statement (shardgate answers SHOW DATABASES, TABLES, TABLE STATUS, COLUMNS, INDEX, CREATE TABLE, CREATE VIEW, VARIABLES, STATUS, COLLATION, CHARACTER SET, ENGINES, PRIVILEGES, GRANTS, PROCESSLIST, WARNINGS and ERRORS)")
	}
	// Variables, status, collations, engines: any shard.
	ks, err := p.defaultKeyspace()
	if err != nil {
		return nil, err
	}
	return &Plan{Kind: KindShow, Prim: &engine.Route{Opcode: engine.RouteAnyShard, Keyspace: ks}, Cacheable: true, Meta: ks.Shards[0]}, nil
}

func (p *planner) keyspaceNamed(name string) (*topo.Keyspace, error) {
	if name == "" {
		name = p.env.SessionKeyspace()
	}
	if name == "" {
		return nil, wire.Errorf(mysql.ER_NO_DB_ERROR, "No database selected")
	}
	ks, ok := p.env.Keyspace(name)
	if !ok {
		return nil, wire.Errorf(mysql.ER_BAD_DB_ERROR, "Unknown database '%s' (no such keyspace)", name)
	}
	return ks, nil
}

func (p *planner) planExplain(n *ast.ExplainStmt) (*Plan, error) {
	if show, ok := n.Stmt.(*ast.ShowStmt); ok { // DESCRIBE t
		return p.planShow(show)
	}
	refs, err := p.collectTables(n.Stmt)
	if err != nil {
		return nil, err
	}
	if anySharded(refs) {
		return nil, engine.Unsupported("EXPLAIN of a statement on a sharded keyspace")
	}
	return p.planRoute(n, refs, nil, routeOptions{kind: KindExplain})
}
