package router

import (
	"context"
	"fmt"
	"strings"
	"sync"

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
