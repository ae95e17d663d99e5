package router

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
)

// schemaTracker learns the tables of auto_vschema keyspaces from their first
// shard's information_schema, at startup and after every DDL the proxy runs,
// so a table without a vschema entry is routable (sharded by its first
// primary-key column with the keyspace's hash vindex) and a restart changes
// nothing. An AUTO_INCREMENT column of a sharded table gets a sequence in
// the global keyspace, also when the vschema lists the table without
// auto_increment (the vschema's own auto_increment wins): each shard would
// otherwise number it on its own, and ids would collide across shards.
// Readers get immutable maps; a reload swaps them.
type schemaTracker struct {
	mu sync.Mutex
	// tables: keyspace -> lower-case table -> derived entry: tables the
	// vschema does not list, and listed ones given a sequence.
	tables map[string]map[string]*topo.Table
	// seqs: keyspace -> the sequences its tables need (ensureSequences).
	seqs map[string][]seqNeed
}

// seqNeed is a sequence a table of the keyspace takes its ids from.
type seqNeed struct {
	sequence string // keyspace.table
	table    string // the sharded table
	column   string // its AUTO_INCREMENT column
}

func newSchemaTracker() *schemaTracker {
	return &schemaTracker{tables: map[string]map[string]*topo.Table{}, seqs: map[string][]seqNeed{}}
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

// loaded reports whether the keyspace's tables have been read.
func (t *schemaTracker) loaded(ks string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.tables[ks]
	return ok
}

// knowsAutoIncrement reports whether every sharded table of ks with an
// AUTO_INCREMENT column has a sequence in its vschema entry, so a table
// without one has no such column (as of the last schema read).
func (r *Router) knowsAutoIncrement(ks *topo.Keyspace) bool {
	return ks.AutoVSchema && r.cfg.GlobalKeyspace != "" && r.schema.loaded(ks.Name)
}

// LoadSchema reads the tables of every auto_vschema keyspace and creates the
// sequences they lack. A keyspace whose shard is down is logged and skipped:
// it is read again after DDL.
func (r *Router) LoadSchema(ctx context.Context) {
	st := r.state.Load()
	for _, name := range st.snap.Names() {
		ks, _ := st.snap.Keyspace(name)
		if ks.AutoVSchema {
			if err := r.reloadKeyspace(ctx, st, ks); err != nil {
				r.log.Warn("schema tracking: cannot read tables", zap.String("keyspace", name), zap.Error(err))
				continue
			}
			if err := r.ensureSequences(ctx, st, ks); err != nil {
				r.log.Warn("schema tracking: cannot create sequences", zap.String("keyspace", name), zap.Error(err))
			}
		}
	}
}

// reloadKeyspace derives vschema entries for the keyspace's tables that the
// configured vschema does not list, and sequences for AUTO_INCREMENT columns
// of listed sharded tables without auto_increment.
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
	db := string(sqlval.AppendQuoted(nil, sh.Database))
	rows, err := c.QueryStrings(ctx, "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.EXTRA FROM information_schema.STATISTICS s "+
		"JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME "+
		"WHERE s.TABLE_SCHEMA = "+db+" AND s.INDEX_NAME = 'PRIMARY' AND s.SEQ_IN_INDEX = 1")
	if err != nil {
		return fmt.Errorf("keyspace %s: %w", ks.Name, err)
	}
	aiCol, err := autoIncrementColumns(ctx, c, sh.Database)
	if err != nil {
		return fmt.Errorf("keyspace %s: %w", ks.Name, err)
	}
	vdx := ks.Vindexes[ks.DefaultVindex]
	derived := map[string]*topo.Table{}
	for _, row := range rows {
		name := strings.ToLower(row[0])
		if _, ok := ks.Table(name); ok || strings.HasPrefix(name, "_sg_") {
			continue // _sg_: an online workflow's fenced copy, not a table of the keyspace
		}
		t := &topo.Table{Name: row[0], Type: topo.TableSharded, Column: strings.ToLower(row[1]), VindexName: ks.DefaultVindex, Vindex: vdx}
		if col, ok := aiCol[name]; ok && r.cfg.GlobalKeyspace != "" {
			t.AutoIncrement = &topo.AutoIncrement{Column: col, Sequence: r.cfg.GlobalKeyspace + "." + name + "_seq"}
		}
		derived[name] = t
	}
	present := map[string]bool{}
	for _, row := range rows {
		present[strings.ToLower(row[0])] = true
	}
	var seqs []seqNeed
	for _, t := range ks.Tables {
		name := strings.ToLower(t.Name)
		col, ai := aiCol[name]
		switch {
		case t.Type != topo.TableSharded:
		case t.AutoIncrement != nil && (ai || present[name]):
			seqs = append(seqs, seqNeed{sequence: t.AutoIncrement.Sequence, table: t.Name, column: t.AutoIncrement.Column})
		case ai && r.cfg.GlobalKeyspace != "":
			o := *t
			o.AutoIncrement = &topo.AutoIncrement{Column: col, Sequence: r.cfg.GlobalKeyspace + "." + name + "_seq"}
			derived[name] = &o
		}
	}
	for _, t := range derived {
		if t.AutoIncrement != nil {
			seqs = append(seqs, seqNeed{sequence: t.AutoIncrement.Sequence, table: t.Name, column: t.AutoIncrement.Column})
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i].sequence < seqs[j].sequence })
	r.schema.mu.Lock()
	r.schema.tables[ks.Name] = derived
	r.schema.seqs[ks.Name] = seqs
	r.schema.mu.Unlock()
	return nil
}

// autoIncrementColumns returns the AUTO_INCREMENT column of the tables of
// database db (lower-case table -> lower-case column): of all, or of those
// named in only.
func autoIncrementColumns(ctx context.Context, c *backend.Conn, db string, only ...string) (map[string]string, error) {
	q := sqlval.AppendQuoted([]byte("SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "), db)
	if len(only) > 0 {
		q = append(q, " AND TABLE_NAME IN ("...)
		for i, t := range only {
			if i > 0 {
				q = append(q, ", "...)
			}
			q = sqlval.AppendQuoted(q, t)
		}
		q = append(q, ')')
	}
	q = append(q, " AND EXTRA LIKE '%auto_increment%'"...)
	rows, err := c.QueryStrings(ctx, string(q))
	if err != nil {
		return nil, err
	}
	cols := make(map[string]string, len(rows))
	for _, row := range rows {
		cols[strings.ToLower(row[0])] = strings.ToLower(row[1])
	}
	return cols, nil
}

// effectiveTables lists a keyspace's vschema tables: configured, derived,
// and configured with a derived sequence ("vschema+auto").
func (r *Router) effectiveTables(ks *topo.Keyspace) []tableInfo {
	var out []tableInfo
	derived := r.schema.all(ks.Name)
	for name, t := range ks.Tables {
		if d, ok := derived[name]; ok {
			out = append(out, tableInfo{d, "vschema+auto"})
			continue
		}
		out = append(out, tableInfo{t, "vschema"})
	}
	for name, t := range derived {
		if _, listed := ks.Tables[name]; !listed {
			out = append(out, tableInfo{t, "auto"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

type tableInfo struct {
	*topo.Table
	source string
}

// ensureSequences creates the missing sequences the keyspace's tables take
// their ids from (derived ones, and those its vschema names), in their
// unsharded keyspaces. A new sequence starts above the largest id the table
// already holds on any shard, so ids the shards numbered themselves before
// are not handed out again.
func (r *Router) ensureSequences(ctx context.Context, st *state, ks *topo.Keyspace) error {
	r.schema.mu.Lock()
	needs := r.schema.seqs[ks.Name]
	r.schema.mu.Unlock()
	byKeyspace := map[string][]seqNeed{}
	for _, n := range needs {
		seqKS, _, _ := strings.Cut(n.sequence, ".")
		byKeyspace[seqKS] = append(byKeyspace[seqKS], n)
	}
	for name, list := range byKeyspace {
		sk, ok := st.snap.Keyspace(name)
		if !ok || sk.Sharded {
			continue // topo checked the configured ones; nothing to create
		}
		if err := r.createSequences(ctx, st, ks, sk, list); err != nil {
			return err
		}
	}
	return nil
}

// createSequences creates those of needs (sequences in unsharded keyspace
// sk for tables of ks) that do not exist yet.
func (r *Router) createSequences(ctx context.Context, st *state, ks, sk *topo.Keyspace, needs []seqNeed) error {
	sh := sk.Shards[0]
	c, err := st.pools[sh].GetPlain(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	q := sqlval.AppendQuoted([]byte("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "), sh.Database)
	rows, err := c.QueryStrings(ctx, string(q))
	if err != nil {
		return fmt.Errorf("keyspace %s: %w", sk.Name, err)
	}
	exists := map[string]bool{}
	for _, row := range rows {
		exists[strings.ToLower(row[0])] = true
	}
	for _, n := range needs {
		_, seq, _ := strings.Cut(n.sequence, ".")
		if exists[strings.ToLower(seq)] {
			continue
		}
		next, err := r.nextFreeID(ctx, st, ks, n)
		if err != nil {
			return fmt.Errorf("sequence %s: %w", n.sequence, err)
		}
		for _, q := range createSequenceSQL(seq, next) {
			if _, err := c.Exec(ctx, q); err != nil {
				return fmt.Errorf("sequence %s: %w", n.sequence, err)
			}
		}
		r.log.Info("created sequence", zap.String("sequence", n.sequence), zap.String("table", ks.Name+"."+n.table),
			zap.String("column", n.column), zap.Uint64("next_id", next))
	}
	return nil
}

// nextFreeID returns 1 + the largest value of the table's id column on any
// shard of ks (1 for an empty table).
func (r *Router) nextFreeID(ctx context.Context, st *state, ks *topo.Keyspace, n seqNeed) (uint64, error) {
	var next uint64 = 1
	for _, sh := range ks.Shards {
		c, err := st.pools[sh].GetPlain(ctx)
		if err != nil {
			return 0, err
		}
		q := append([]byte("SELECT COALESCE(MAX("), sqlval.AppendIdent(nil, n.column)...)
		q = append(q, "), 0) FROM "...)
		q = sqlval.AppendIdent(q, sh.Database)
		q = append(q, '.')
		q = sqlval.AppendIdent(q, n.table)
		rows, err := c.QueryStrings(ctx, string(q))
		c.Release()
		if err != nil {
			return 0, fmt.Errorf("largest %s.%s on shard %s: %w", n.table, n.column, sh.Name, err)
		}
		if len(rows) == 1 && len(rows[0]) == 1 {
			if v, err := strconv.ParseUint(rows[0][0], 10, 64); err == nil && v >= next {
				next = v + 1
			}
		}
	}
	return next, nil
}
