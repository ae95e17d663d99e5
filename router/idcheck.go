package router

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
)

// IDProblem is a sharded table whose ids may collide across shards: its
// AUTO_INCREMENT column has no sequence, so every shard numbers it on its
// own; or a sequence its vschema names does not exist.
type IDProblem struct {
	Keyspace, Table, Column string
	Message                 string
}

func (p IDProblem) String() string { return p.Message }

// autoIncrementProblems reads the AUTO_INCREMENT columns of the tables of
// sharded keyspace ks from its first shard and returns those without a
// sequence. only, when given, limits the check to these tables.
func (r *Router) autoIncrementProblems(ctx context.Context, st *state, ks *topo.Keyspace, only ...string) ([]IDProblem, error) {
	sh := ks.Shards[0]
	c, err := st.pools[sh].GetPlain(ctx)
	if err != nil {
		return nil, err
	}
	aiCol, err := autoIncrementColumns(ctx, c, sh.Database, only...)
	c.Release()
	if err != nil {
		return nil, fmt.Errorf("keyspace %s: %w", ks.Name, err)
	}
	var out []IDProblem
	for table, col := range aiCol {
		if msg := r.autoIncrementProblem(ks, table, col); msg != "" {
			out = append(out, IDProblem{Keyspace: ks.Name, Table: table, Column: col, Message: msg})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out, nil
}

// autoIncrementProblem says what is wrong with table (AUTO_INCREMENT column
// col on the shards of sharded keyspace ks), or "".
func (r *Router) autoIncrementProblem(ks *topo.Keyspace, table, col string) string {
	t, listed := ks.Table(table)
	if d, ok := r.schema.table(ks.Name, table); ok && ks.AutoVSchema && (!listed || t.AutoIncrement == nil) {
		t, listed = d, true
	}
	ai := r.autoIncrementEntry(table, col)
	create := " and create that sequence table (or set auto_vschema: true, which does both)"
	if ks.AutoVSchema { // without global_keyspace
		create = " (or set global_keyspace: auto_vschema then gives it one)"
	}
	switch {
	case !listed && ks.AutoVSchema:
		return "" // without a primary key it is not routable: no ids are handed out through the proxy
	case !listed:
		return fmt.Sprintf("table %s.%s has AUTO_INCREMENT column %s but no vschema entry: when you add one, give it %s and create that sequence table, else each shard numbers %s on its own and ids collide across shards",
			ks.Name, table, col, ai, col)
	case t.Type != topo.TableSharded:
		return "" // a reference table: every shard holds every row
	case t.AutoIncrement == nil:
		return fmt.Sprintf("sharded table %s.%s: AUTO_INCREMENT column %s has no sequence, so each shard numbers it on its own and ids collide across shards; add %s to its vschema entry%s",
			ks.Name, table, col, ai, create)
	case t.AutoIncrement.Column != col:
		return fmt.Sprintf("sharded table %s.%s: its vschema auto_increment fills column %s, but the shards number AUTO_INCREMENT column %s themselves, so those ids collide across shards; give %s a sequence, or drop its AUTO_INCREMENT",
			ks.Name, table, t.AutoIncrement.Column, col, col)
	}
	return ""
}

// autoIncrementEntry is the vschema auto_increment that gives table's
// column col a sequence in the global keyspace.
func (r *Router) autoIncrementEntry(table, col string) string {
	global := r.cfg.GlobalKeyspace
	if global == "" {
		global = "<unsharded keyspace>"
	}
	return fmt.Sprintf("auto_increment: {column: %s, sequence: %s.%s_seq}", col, global, table)
}

// ddlIDWarnings checks the tables a CREATE/ALTER/RENAME TABLE made or
// changed in sharded keyspace ks: each AUTO_INCREMENT column without a
// sequence becomes a warning of the statement (SHOW WARNINGS) and a line in
// the log. It returns the number of warnings added.
func (vc *vcursor) ddlIDWarnings(ctx context.Context, ks *topo.Keyspace, tables []string) uint16 {
	ps, err := vc.r.autoIncrementProblems(ctx, vc.st, ks, tables...)
	if err != nil {
		vc.r.log.Warn("cannot check the AUTO_INCREMENT columns after DDL", zap.String("keyspace", ks.Name), zap.Error(err))
		return 0
	}
	for _, p := range ps {
		vc.r.log.Warn("AUTO_INCREMENT column without a sequence: ids will collide across shards", zap.String("keyspace", p.Keyspace),
			zap.String("table", p.Table), zap.String("column", p.Column), zap.Uint32("session", vc.s.ID), zap.String("problem", p.Message))
		if len(vc.s.warnings) < maxWarnings {
			vc.s.warnings = append(vc.s.warnings, []string{"Warning", fmt.Sprint(mysql.ER_UNKNOWN_ERROR), "shardgate: " + p.Message})
		}
	}
	return uint16(len(ps))
}

// CheckIDs reports, for every sharded keyspace, the tables whose ids may
// collide across shards (IDProblem). It reads each keyspace's first shard
// and the sequences' keyspaces, and writes nothing (`shardgate vschema
// check`).
func (r *Router) CheckIDs(ctx context.Context) ([]IDProblem, error) {
	st := r.state.Load()
	var out []IDProblem
	for _, name := range st.snap.Names() {
		ks, _ := st.snap.Keyspace(name)
		if !ks.Sharded {
			continue
		}
		if ks.AutoVSchema {
			if err := r.reloadKeyspace(ctx, st, ks); err != nil {
				return nil, err
			}
		}
		ps, err := r.autoIncrementProblems(ctx, st, ks)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
		if !ks.AutoVSchema { // auto_vschema creates the sequences it needs
			ps, err := r.missingSequences(ctx, st, ks)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
	}
	return out, nil
}

// missingSequences reports the sequences the vschema of ks names that do
// not exist in their keyspace.
func (r *Router) missingSequences(ctx context.Context, st *state, ks *topo.Keyspace) ([]IDProblem, error) {
	var out []IDProblem
	for _, name := range sortedTableNames(ks) {
		t := ks.Tables[name]
		if t.AutoIncrement == nil {
			continue
		}
		seqKS, seq, _ := strings.Cut(t.AutoIncrement.Sequence, ".")
		sk, ok := st.snap.Keyspace(seqKS)
		if !ok || sk.Sharded {
			continue // the configuration check reports these
		}
		sh := sk.Shards[0]
		c, err := st.pools[sh].GetPlain(ctx)
		if err != nil {
			return nil, err
		}
		q := sqlval.AppendQuoted([]byte("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "), sh.Database)
		q = append(q, " AND TABLE_NAME = "...)
		q = sqlval.AppendQuoted(q, seq)
		rows, err := c.QueryStrings(ctx, string(q))
		c.Release()
		if err != nil {
			return nil, fmt.Errorf("keyspace %s: %w", sk.Name, err)
		}
		if len(rows) == 1 && rows[0][0] == "0" {
			next, err := r.nextFreeID(ctx, st, ks, seqNeed{table: t.Name, column: t.AutoIncrement.Column})
			if err != nil {
				next = 1 // the table is not on the shards yet
			}
			out = append(out, IDProblem{Keyspace: ks.Name, Table: name, Column: t.AutoIncrement.Column,
				Message: fmt.Sprintf("sharded table %s.%s takes its ids from sequence %s, which does not exist: create it in keyspace %s with %s",
					ks.Name, t.Name, t.AutoIncrement.Sequence, sk.Name, strings.Join(createSequenceSQL(seq, next), "; "))})
		}
	}
	return out, nil
}

func sortedTableNames(ks *topo.Keyspace) []string {
	names := make([]string, 0, len(ks.Tables))
	for n := range ks.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
