package router

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// DDL runs a schema change on every shard of a keyspace, in parallel. When
// some shards fail, the error names those that failed and those that
// succeeded, so the operator knows what to repair.
type DDL struct {
	Keyspace *topo.Keyspace
	Query    template
	Rewrite  bool
	// Global, when set, also runs the DDL on the global keyspace's shard
	// (reference tables keep a copy there).
	Global *topo.Shard
	// DropSeqs are auto-vschema sequence tables to drop in the global
	// keyspace after the DDL succeeded (ensureSequences creates them).
	DropSeqs []string
	// CheckIDs are the tables of a sharded keyspace a CREATE, ALTER or
	// RENAME TABLE made or changed: an AUTO_INCREMENT column without a
	// sequence is a warning (ddlIDWarnings).
	CheckIDs []string
}

func (p *planner) planDDL(stmt ast.StmtNode) (*Plan, error) {
	var tables []*ast.TableName
	walk(stmt, func(x ast.Node) ast.Node {
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
			name = p.vc.s.Keyspace
		} else {
			rewrite = true
		}
		if name == "" {
			return nil, wire.Errorf(1046, "No database selected (USE a keyspace, or qualify %s with one)", tn.Name.O)
		}
		k, ok := p.st.snap.Keyspace(name)
		if !ok {
			return nil, wire.Errorf(1049, "Unknown database '%s' (no such keyspace)", name)
		}
		if to := k.RoutedTo(tn.Name.O); to != "" { // moved by MoveTables (switch.go)
			if k2, ok := p.st.snap.Keyspace(to); ok {
				k = k2
			}
		}
		if err := checkMovingDDL(k, tn.Name.O); err != nil {
			return nil, err
		}
		if ks != nil && ks != k {
			return nil, unsupported("DDL across keyspaces (%s and %s)", ks.Name, k.Name)
		}
		ks = k
		if tn.Schema.O != "" {
			tn.Schema = ast.NewCIStr(phSchema)
		}
	}
	if ks == nil {
		return nil, unsupported("%s without a table", stmtName(stmt))
	}
	names = append(names, ks.Name)
	temporary := isTemporary(stmt)
	if temporary && ks.Sharded {
		return nil, unsupported("temporary tables in sharded keyspace %s (they are allowed in unsharded keyspaces, where shardgate keeps the session on the shard connection that holds them)", ks.Name)
	}
	d := &DDL{Keyspace: ks, Rewrite: rewrite}
	p.ddlSideEffects(d, stmt, tables)
	tmpl, err := p.templateOf(stmt)
	if err != nil {
		return nil, err
	}
	d.Query = tmpl
	plan := &Plan{Kind: "ddl", Prim: d, write: true,
		keyspaces: names, cacheable: true, meta: ks.Shards[0], tx: txCommitFirst}
	if temporary {
		plan.reserve, plan.tx = true, txNone // MySQL does not commit on temporary-table DDL
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

// Execute implements Primitive.
func (d *DDL) Execute(ctx context.Context, vc *vcursor) error {
	defer vc.st.cache.clear() // plans may depend on the old schema
	ok, err := d.run(ctx, vc)
	if err != nil {
		return err
	}
	if err := d.afterwards(ctx, vc); err != nil {
		return err
	}
	if len(d.CheckIDs) > 0 {
		ok.Warnings += vc.ddlIDWarnings(ctx, d.Keyspace, d.CheckIDs)
	}
	return vc.writeOK(ok)
}

// ddlSideEffects works out what a DDL implies beyond its keyspace: a copy in
// the global keyspace for reference tables, sequences for auto-vschema tables.
func (p *planner) ddlSideEffects(d *DDL, stmt ast.StmtNode, tables []*ast.TableName) {
	ks := d.Keyspace
	global, _ := p.st.snap.Keyspace(p.vc.r.cfg.GlobalKeyspace)
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
			if t, ok := p.vc.r.schema.table(ks.Name, tn.Name.O); ok && t.AutoIncrement != nil {
				d.DropSeqs = append(d.DropSeqs, tn.Name.L+"_seq")
			}
		}
	}
}

// afterwards creates or drops sequences and refreshes schema tracking.
func (d *DDL) afterwards(ctx context.Context, vc *vcursor) error {
	if len(d.DropSeqs) > 0 {
		global, _ := vc.st.snap.Keyspace(vc.r.cfg.GlobalKeyspace)
		c, err := vc.pool(global.Shards[0]).GetPlain(ctx)
		if err != nil {
			return fmt.Errorf("DDL succeeded on keyspace %s, but its sequences could not be dropped: %w", d.Keyspace.Name, err)
		}
		defer c.Release()
		for _, seq := range d.DropSeqs {
			if _, err := c.Exec(ctx, "DROP TABLE IF EXISTS `"+strings.ReplaceAll(seq, "`", "``")+"`"); err != nil {
				return fmt.Errorf("DDL succeeded on keyspace %s, but sequence %s.%s could not be dropped: %w", d.Keyspace.Name, global.Name, seq, err)
			}
			vc.r.seqs.forget(global.Name + "." + seq)
		}
	}
	if d.Keyspace.AutoVSchema {
		if err := vc.r.reloadKeyspace(ctx, vc.st, d.Keyspace); err != nil {
			vc.r.log.Warn("schema tracking after DDL", zap.String("keyspace", d.Keyspace.Name), zap.Error(err))
		}
		// AUTO_INCREMENT may also come from CREATE TABLE ... LIKE or ALTER
		// TABLE: every derived auto-increment table gets its sequence.
		if err := vc.r.ensureSequences(ctx, vc.st, d.Keyspace); err != nil {
			return fmt.Errorf("DDL succeeded on keyspace %s, but: %w", d.Keyspace.Name, err)
		}
	}
	return nil
}

// run executes the DDL on every shard in parallel and returns the combined
// OK, or an error naming the shards where it failed and succeeded.
func (d *DDL) run(ctx context.Context, vc *vcursor) (wire.OK, error) {
	shards := d.Keyspace.Shards
	if d.Global != nil {
		shards = append(shards[:len(shards):len(shards)], d.Global)
	}
	errs := make([]error, len(shards))
	oks := make([]wire.OK, len(shards))
	var wg sync.WaitGroup
	for i, sh := range shards {
		c, err := vc.conn(ctx, sh)
		if err != nil {
			errs[i] = err
			continue
		}
		sql := vc.sql
		if d.Rewrite || vc.ps != nil {
			env := vc.renderEnv(sh)
			sql = string(d.Query.append(nil, &env))
		}
		vc.traceQuery(c.Shard(), []byte(sql))
		wg.Add(1)
		go func() { // the session waits for all of them below
			defer wg.Done()
			oks[i], errs[i] = c.Exec(ctx, sql)
		}()
		defer vc.done(c)
	}
	wg.Wait()
	var failed, done []string
	var first error
	for i, sh := range shards {
		name := sh.Name
		if sh == d.Global {
			name = "global keyspace"
		}
		if errs[i] != nil {
			failed = append(failed, fmt.Sprintf("%s (%s)", name, wire.AsError(errs[i]).Message))
			if first == nil {
				first = errs[i]
			}
		} else {
			done = append(done, name)
		}
	}
	if first != nil {
		if len(shards) == 1 {
			return wire.OK{}, first
		}
		e := wire.AsError(first)
		succeeded := "none"
		if len(done) > 0 {
			succeeded = strings.Join(done, ", ")
		}
		return wire.OK{}, wire.Errorf(e.Code, "DDL failed on shards %s of keyspace %s; succeeded on: %s", strings.Join(failed, "; "), d.Keyspace.Name, succeeded)
	}
	total := wire.OK{AffectedRows: oks[0].AffectedRows}
	for _, ok := range oks {
		total.Warnings += ok.Warnings
	}
	return total, nil
}

// Describe implements Primitive.
func (d *DDL) Describe() string {
	names := make([]string, len(d.Keyspace.Shards))
	for i, s := range d.Keyspace.Shards {
		names[i] = s.Name
	}
	return fmt.Sprintf("DDL keyspace=%s shards=[%s] query=%q", d.Keyspace.Name, strings.Join(names, ","), d.Query.String())
}
