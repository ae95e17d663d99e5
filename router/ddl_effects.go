package router

import (
	"context"
	"fmt"
	"strings"

	"github.com/shardgate/shardgate/router/engine"
	"go.uber.org/zap"
)

// SchemaChanged implements VCursor: after a DDL the plans built on the old
// schema are forgotten and, once it succeeded on every shard, sequences are
// dropped or created and schema tracking refreshed.
func (vc *vcursor) SchemaChanged(ctx context.Context, d *engine.DDL, succeeded bool) (uint16, error) {
	defer vc.st.cache.clear()
	if !succeeded {
		return 0, nil
	}
	if err := vc.afterDDL(ctx, d); err != nil {
		return 0, err
	}
	if len(d.CheckIDs) == 0 {
		return 0, nil
	}
	return vc.ddlIDWarnings(ctx, d.Keyspace, d.CheckIDs), nil
}

// afterwards creates or drops sequences and refreshes schema tracking.
func (vc *vcursor) afterDDL(ctx context.Context, d *engine.DDL) error {
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
			vc.Log().Warn("schema tracking after DDL", zap.String("keyspace", d.Keyspace.Name), zap.Error(err))
		}
		// AUTO_INCREMENT may also come from CREATE TABLE ... LIKE or ALTER
		// TABLE: every derived auto-increment table gets its sequence.
		if err := vc.r.ensureSequences(ctx, vc.st, d.Keyspace); err != nil {
			return fmt.Errorf("DDL succeeded on keyspace %s, but: %w", d.Keyspace.Name, err)
		}
	}
	return nil
}
