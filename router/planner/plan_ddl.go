package planner

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

func (p *planner) planDDL(stmt ast.StmtNode) (*Plan, error) {
	var tables []*ast.TableName
	Walk(stmt, func(x ast.Node) ast.Node {
		if tn, ok := x.(*ast.TableName); ok {
			tables = append(tables, tn)
		}
		return x
	})
	var ks *topo.Keyspace
	var names []string
	rewrite := false
	for _, tn := range tables {
		name := tn.Schema.O
		if name == "" {
			name = p.env.SessionKeyspace()
		} else {
			rewrite = true
		}
		if name == "" {
			return nil, wire.Errorf(1046, "No database selected (USE a keyspace, or qualify %s with one)", tn.Name.O)
		}
		k, ok := p.env.Keyspace(name)
		if !ok {
			return nil, wire.Errorf(1049, "Unknown database '%s' (no such keyspace)", name)
		}
		if to := k.RoutedTo(tn.Name.O); to != "" { // moved by MoveTables (switch.go)
			if k2, ok := p.env.Keyspace(to); ok {
				k = k2
			}
		}
		if err := checkMovingDDL(k, tn.Name.O); err != nil {
			return nil, err
		}
		if ks != nil && ks != k {
			return nil, engine.Unsupported("DDL across keyspaces (%s and %s)", ks.Name, k.Name)
		}
		ks = k
		if tn.Schema.O != "" {
			tn.Schema = ast.NewCIStr(engine.PhSchema)
		}
	}
	if ks == nil {
		return nil, engine.Unsupported("%s without a table", stmtName(stmt))
	}
	names = append(names, ks.Name)
	temporary := isTemporary(stmt)
	if temporary && ks.Sharded {
		return nil, engine.Unsupported("temporary tables in sharded keyspace %s (they are allowed in unsharded keyspaces, where shardgate keeps the session on the shard connection that holds them)", ks.Name)
	}
	d := &engine.DDL{Keyspace: ks, Rewrite: rewrite}
	p.ddlSideEffects(d, stmt, tables)
	tmpl, err := p.templateOf(stmt)
	if err != nil {
		return nil, err
	}
	d.Query = tmpl
	plan := &Plan{Kind: KindDDL, Prim: d, Write: true,
		Keyspaces: names, Cacheable: true, Meta: ks.Shards[0], Tx: TxCommitFirst}
	if temporary {
		plan.Reserve, plan.Tx = true, TxNone // MySQL does not commit on temporary-table DDL
	}
	return plan, nil
}

// isTemporary reports CREATE/DROP TEMPORARY TABLE.
func isTemporary(stmt ast.StmtNode) bool {
	switch n := stmt.(type) {
	case *ast.CreateTableStmt:
		return n.TemporaryKeyword != ast.TemporaryNone
	case *ast.DropTableStmt:
		return n.TemporaryKeyword != ast.TemporaryNone
	}
	return false
}

// ddlSideEffects works out what a DDL implies beyond its keyspace: a copy in
// the global keyspace for reference tables, sequences for auto-vschema tables.
func (p *planner) ddlSideEffects(d *engine.DDL, stmt ast.StmtNode, tables []*ast.TableName) {
	ks := d.Keyspace
	global, _ := p.env.Keyspace(p.env.GlobalKeyspace())
	if global != nil && global != ks && ks.Sharded && len(tables) > 0 {
		allRef := true
		for _, tn := range tables {
			t, ok := ks.Table(tn.Name.O)
			if !ok || t.Type != topo.TableReference {
				allRef = false
			}
		}
		if allRef {
			d.Global = global.Shards[0]
		}
	}
	if ks.Sharded {
		switch n := stmt.(type) {
		case *ast.CreateTableStmt:
			d.CheckIDs = append(d.CheckIDs, n.Table.Name.O)
		case *ast.AlterTableStmt:
			d.CheckIDs = append(d.CheckIDs, n.Table.Name.O)
		case *ast.RenameTableStmt:
			for _, tt := range n.TableToTables {
				d.CheckIDs = append(d.CheckIDs, tt.NewTable.Name.O)
			}
		}
	}
	if !ks.AutoVSchema || global == nil {
		return
	}
	switch n := stmt.(type) {
	case *ast.DropTableStmt:
		for _, tn := range n.Tables {
			if t, ok := p.env.DerivedTable(ks.Name, tn.Name.O); ok && t.AutoIncrement != nil {
				d.DropSeqs = append(d.DropSeqs, tn.Name.L+"_seq")
			}
		}
	}
}
