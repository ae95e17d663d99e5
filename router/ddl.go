package router

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser/ast"

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
	tmpl, err := p.templateOf(stmt)
	if err != nil {
		return nil, err
	}
	return &Plan{Kind: "ddl", Prim: &DDL{Keyspace: ks, Query: tmpl, Rewrite: rewrite}, write: true,
		keyspaces: names, cacheable: true, meta: ks.Shards[0], tx: txCommitFirst}, nil
}

// Execute implements Primitive.
func (d *DDL) Execute(ctx context.Context, vc *vcursor) error {
	defer vc.st.cache.clear() // plans may depend on the old schema
	shards := d.Keyspace.Shards
	if len(shards) == 1 {
		calls := []shardCall{{shard: shards[0]}}
		if d.Rewrite || vc.ps != nil {
			env := vc.renderEnv(shards[0])
			calls[0].sql = d.Query.append(nil, &env)
		}
		return vc.relayCalls(ctx, calls, combineConcat)
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
		if errs[i] != nil {
			failed = append(failed, fmt.Sprintf("%s (%s)", sh.Name, wire.AsError(errs[i]).Message))
			if first == nil {
				first = errs[i]
			}
		} else {
			done = append(done, sh.Name)
		}
	}
	if first != nil {
		e := wire.AsError(first)
		succeeded := "none"
		if len(done) > 0 {
			succeeded = strings.Join(done, ", ")
		}
		return wire.Errorf(e.Code, "DDL failed on shards %s of keyspace %s; succeeded on: %s", strings.Join(failed, "; "), d.Keyspace.Name, succeeded)
	}
	var total wire.OK
	total.AffectedRows = oks[0].AffectedRows
	for _, ok := range oks {
		total.Warnings += ok.Warnings
	}
	return vc.writeOK(total)
}

// Describe implements Primitive.
func (d *DDL) Describe() string {
	names := make([]string, len(d.Keyspace.Shards))
	for i, s := range d.Keyspace.Shards {
		names[i] = s.Name
	}
	return fmt.Sprintf("DDL keyspace=%s shards=[%s] query=%q", d.Keyspace.Name, strings.Join(names, ","), d.Query.String())
}
