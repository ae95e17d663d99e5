package router

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/topo"
)

// schemaTracker learns the tables of auto_vschema keyspaces from their first
// shard's information_schema, at startup and after every DDL the proxy runs,
// so a table without a vschema entry is routable (sharded by its first
// primary-key column with the keyspace's hash vindex) and a restart changes
// nothing. Readers get an immutable map; a reload swaps it.
type schemaTracker struct {
	mu     sync.Mutex
	tables map[string]map[string]*topo.Table // keyspace -> lower-case table -> derived entry
}

func newSchemaTracker() *schemaTracker {
	return &schemaTracker{tables: map[string]map[string]*topo.Table{}}
}

// table returns the derived entry of a table, if any.
func (t *schemaTracker) table(ks, name string) (*topo.Table, bool) {
	t.mu.Lock()
	m := t.tables[ks]
	t.mu.Unlock()
	tbl, ok := m[strings.ToLower(name)]
	return tbl, ok
}

// all returns a keyspace's derived tables.
func (t *schemaTracker) all(ks string) map[string]*topo.Table {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tables[ks]
}

// LoadSchema reads the tables of every auto_vschema keyspace. A keyspace
// whose shard is down is logged and skipped: it is read again after DDL.
func (r *Router) LoadSchema(ctx context.Context) {
	st := r.state.Load()
	for _, name := range st.snap.Names() {
		ks, _ := st.snap.Keyspace(name)
		if ks.AutoVSchema {
			if err := r.reloadKeyspace(ctx, st, ks); err != nil {
				r.log.Warn("schema tracking: cannot read tables", zap.String("keyspace", name), zap.Error(err))
			}
		}
	}
}

// reloadKeyspace derives vschema entries for the keyspace's tables that the
// configured vschema does not list.
func (r *Router) reloadKeyspace(ctx context.Context, st *state, ks *topo.Keyspace) error {
	if !ks.AutoVSchema || !ks.Sharded {
		return nil
	}
	sh := ks.Shards[0]
	c, err := st.pools[sh].GetPlain(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	db := string(appendQuoted(nil, sh.Database))
	rows, err := c.QueryStrings(ctx, "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.EXTRA FROM information_schema.STATISTICS s "+
		"JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME "+
		"WHERE s.TABLE_SCHEMA = "+db+" AND s.INDEX_NAME = 'PRIMARY' AND s.SEQ_IN_INDEX = 1")
	if err != nil {
		return fmt.Errorf("keyspace %s: %w", ks.Name, err)
	}
	autoInc, err := c.QueryStrings(ctx, "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "+db+" AND EXTRA LIKE '%auto_increment%'")
	if err != nil {
		return fmt.Errorf("keyspace %s: %w", ks.Name, err)
	}
	aiCol := map[string]string{}
	for _, row := range autoInc {
		aiCol[strings.ToLower(row[0])] = strings.ToLower(row[1])
	}
	vdx := ks.Vindexes[ks.DefaultVindex]
	derived := map[string]*topo.Table{}
	for _, row := range rows {
		name := strings.ToLower(row[0])
		if _, ok := ks.Table(name); ok {
			continue
		}
		t := &topo.Table{Name: row[0], Type: topo.TableSharded, Column: strings.ToLower(row[1]), VindexName: ks.DefaultVindex, Vindex: vdx}
		if col, ok := aiCol[name]; ok && r.cfg.GlobalKeyspace != "" {
			t.AutoIncrement = &topo.AutoIncrement{Column: col, Sequence: r.cfg.GlobalKeyspace + "." + name + "_seq"}
		}
		derived[name] = t
	}
	r.schema.mu.Lock()
	r.schema.tables[ks.Name] = derived
	r.schema.mu.Unlock()
	return nil
}

// effectiveTables lists a keyspace's vschema tables: configured and derived.
func (r *Router) effectiveTables(ks *topo.Keyspace) []tableInfo {
	var out []tableInfo
	for _, t := range ks.Tables {
		out = append(out, tableInfo{t, "vschema"})
	}
	for _, t := range r.schema.all(ks.Name) {
		out = append(out, tableInfo{t, "auto"})
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

type tableInfo struct {
	*topo.Table
	source string
}

// ensureSequences creates (if missing) and seeds the sequence of every
// auto-vschema table with an AUTO_INCREMENT column.
func (r *Router) ensureSequences(ctx context.Context, st *state, ks *topo.Keyspace) error {
	global, ok := st.snap.Keyspace(r.cfg.GlobalKeyspace)
	if !ok {
		return nil
	}
	var seqs []string
	for _, t := range r.schema.all(ks.Name) {
		if t.AutoIncrement != nil {
			_, name, _ := strings.Cut(t.AutoIncrement.Sequence, ".")
			seqs = append(seqs, name)
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	c, err := st.pools[global.Shards[0]].GetPlain(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	for _, seq := range seqs {
		for _, q := range createSequenceSQL(seq) {
			if _, err := c.Exec(ctx, q); err != nil {
				return fmt.Errorf("sequence %s.%s: %w", global.Name, seq, err)
			}
		}
	}
	return nil
}
