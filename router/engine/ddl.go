package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// DDL runs a schema change on every shard of a keyspace, in parallel. When
// some shards fail, the error names those that failed and those that
// succeeded, so the operator knows what to repair.
type DDL struct {
	Keyspace *topo.Keyspace
	Query    Template
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
func (d *DDL) Execute(ctx context.Context, vc VCursor) error {
	ok, err := d.run(ctx, vc)
	warnings, err2 := vc.SchemaChanged(ctx, d, err == nil) // also when it failed: plans may depend on the old schema
	if err != nil {
		return err
	}
	if err2 != nil {
		return err2
	}
	ok.Warnings += warnings
	return vc.WriteOK(ok)
}

// run executes the DDL on every shard in parallel and returns the combined
// OK, or an error naming the shards where it failed and succeeded.
func (d *DDL) run(ctx context.Context, vc VCursor) (wire.OK, error) {
	shards := d.Keyspace.Shards
	if d.Global != nil {
		shards = append(shards[:len(shards):len(shards)], d.Global)
	}
	errs := make([]error, len(shards))
	oks := make([]wire.OK, len(shards))
	var wg sync.WaitGroup
	for i, sh := range shards {
		c, err := vc.Conn(ctx, sh)
		if err != nil {
			errs[i] = err
			continue
		}
		sql := vc.SQL()
		if d.Rewrite || vc.Prepared() {
			env := vc.RenderEnv(sh)
			sql = string(d.Query.Append(nil, &env))
		}
		vc.Trace(c.Shard(), []byte(sql))
		wg.Add(1)
		go func() { // the session waits for all of them below
			defer wg.Done()
			oks[i], errs[i] = c.Exec(ctx, sql)
		}()
		defer vc.Done(c)
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
