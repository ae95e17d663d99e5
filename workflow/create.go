package workflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/topo"
)

// CreateRequest defines a workflow.
type CreateRequest struct {
	Type     string `json:"type"`     // reshard or movetables
	Keyspace string `json:"keyspace"` // the target keyspace (a reshard's keyspace)
	Workflow string `json:"workflow"`
	// Reshard: the serving shards to replace and the shards (declared
	// serving: false) that replace them, covering the same key range.
	SourceShards []string `json:"source_shards,omitempty"`
	TargetShards []string `json:"target_shards,omitempty"`
	// MoveTables: the keyspace the tables are in, and the tables.
	SourceKeyspace string   `json:"source_keyspace,omitempty"`
	Tables         []string `json:"tables,omitempty"`
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// Create checks a new workflow against the topology and the servers,
// creates its tables on the targets and records it in etcd with its marks
// in the keyspace documents; the proxy that takes its lock then copies.
func (m *Manager) Create(ctx context.Context, req CreateRequest) (*Status, error) {
	if !validName.MatchString(req.Workflow) {
		return nil, fmt.Errorf("workflow name %q: use 1 to 64 letters, digits or _", req.Workflow)
	}
	snap := m.cfg.Snapshot()
	ks, ok := snap.Keyspace(req.Keyspace)
	if !ok {
		return nil, fmt.Errorf("keyspace %q is not in the topology", req.Keyspace)
	}
	wf := &Workflow{Name: req.Workflow, Type: req.Type, Keyspace: ks.Name, Phase: PhaseCopying, Created: time.Now().UTC()}
	wf.Updated = wf.Created
	old, oldRev, err := m.get(ctx, ks.Name, req.Workflow)
	switch {
	case err == nil && !old.Phase.terminal():
		return nil, fmt.Errorf("%w: workflow %s/%s exists (phase %s): pick another name, or cancel or complete it first", ErrConflict, ks.Name, req.Workflow, old.Phase)
	case err != nil && !isNotFound(err):
		return nil, err
	}
	switch req.Type {
	case TypeReshard:
		err = m.checkReshard(req, ks, wf)
	case TypeMoveTables:
		err = m.checkMoveTables(req, snap, ks, wf)
	default:
		err = fmt.Errorf("workflow type %q: reshard or movetables", req.Type)
	}
	if err != nil {
		return nil, err
	}
	src, dst, err := m.endpoints(wf)
	if err != nil {
		return nil, err
	}
	// The sources: their binary logs, and the tables.
	var creates []string
	var infos []*tableInfo
	for i, e := range src {
		c, err := e.conn(ctx)
		if err != nil {
			return nil, err
		}
		err = checkBinlog(ctx, c, e)
		if err == nil && i == 0 {
			if wf.Type == TypeReshard {
				if wf.Tables, err = listTables(ctx, c, e.db()); err == nil && len(wf.Tables) == 0 {
					err = fmt.Errorf("%s: database %s has no table to move", e, e.db())
				}
			}
			for _, t := range wf.Tables {
				if err != nil {
					break
				}
				var info *tableInfo
				if info, err = loadTable(ctx, c, e.db(), t); err != nil {
					break
				}
				if len(t) > 60 {
					err = fmt.Errorf("table %s: names longer than 60 characters are not supported (the switch renames it %s…)", t, fencePrefix)
					break
				}
				var ddl string
				if ddl, err = showCreate(ctx, c, e.db(), t); err != nil {
					break
				}
				infos = append(infos, info)
				creates = append(creates, ddl)
			}
		}
		c.Release()
		if err != nil {
			return nil, err
		}
	}
	// How rows are placed on the targets; sequences of moved tables.
	docs := map[string]*topo.KeyspaceDoc{}
	revs := map[string]int64{}
	for _, n := range []string{wf.Keyspace, wf.SourceKeyspace} {
		data, rev, err := m.cfg.Etcd.Keyspace(ctx, n)
		if err != nil {
			return nil, err
		}
		if data == nil {
			return nil, fmt.Errorf("keyspace %s is not in etcd under %s: workflows need an etcd topology (shardgate topo put)", n, m.cfg.Etcd.Prefix())
		}
		d, err := topo.ParseKeyspaceDoc(data)
		if err != nil {
			return nil, fmt.Errorf("keyspace %s's document in etcd: %w", n, err)
		}
		docs[n], revs[n] = d, rev
		for other, mark := range d.Workflows {
			for _, t := range wf.Tables {
				if mark.Moves(t) {
					return nil, fmt.Errorf("%w: table %s of keyspace %s is already moved by workflow %s: complete or cancel it first", ErrConflict, t, n, other)
				}
			}
		}
	}
	var seqSQL []string
	var global *endpoint
	for _, info := range infos {
		vt := vschemaTable(ks, info)
		if vt == nil && ks.Sharded && wf.Type == TypeMoveTables {
			vt, err = m.addVSchemaEntry(ks, docs[ks.Name], info, wf)
			if err != nil {
				return nil, err
			}
		}
		if err := info.route(ks, vt); err != nil {
			return nil, err
		}
		if wf.Type == TypeMoveTables && ks.Sharded && info.AutoInc != "" && !info.Reference {
			seq, stmts, g, err := m.sequenceFor(snap, docs[ks.Name], info, vt, wf)
			if err != nil {
				return nil, err
			}
			if seq != "" {
				if wf.Sequences == nil {
					wf.Sequences = map[string]string{}
				}
				wf.Sequences[info.Name] = seq
				seqSQL = append(seqSQL, stmts...)
				global = g
			}
		}
	}
	// The targets: binary logs (for the reverse streams), empty tables.
	var made []string
	for _, e := range dst {
		c, err := e.conn(ctx)
		if err != nil {
			return nil, err
		}
		err = checkBinlog(ctx, c, e)
		for i, info := range infos {
			if err != nil {
				break
			}
			var exists bool
			if exists, err = tableExists(ctx, c, e.db(), info.Name); err != nil {
				break
			}
			if exists {
				var rows [][]string
				if rows, err = queryStrings(ctx, c, "SELECT 1 FROM "+quoteID(e.db())+"."+quoteID(info.Name)+" LIMIT 1"); err != nil {
					break
				}
				if len(rows) > 0 {
					err = fmt.Errorf("target %s is not empty: table %s has rows; the copy needs empty targets (drop or truncate it there, or pick other shards)", e, info.Name)
					break
				}
				var have *tableInfo
				if have, err = loadTable(ctx, c, e.db(), info.Name); err != nil {
					break
				}
				if !sameColumns(have, info) {
					err = fmt.Errorf("target %s: table %s exists with other columns than on the sources: drop it (it is empty) and create the workflow again", e, info.Name)
				}
				continue
			}
			if ok, _ := tableExists(ctx, c, e.db(), fenceName(info.Name)); ok {
				err = fmt.Errorf("target %s: table %s exists (left by an earlier workflow?): drop it first", e, fenceName(info.Name))
				break
			}
			if err = exec(ctx, c, creates[i]); err == nil {
				made = append(made, e.String()+"."+info.Name)
			}
		}
		c.Release()
		if err != nil {
			return nil, err
		}
	}
	if global != nil {
		c, err := global.conn(ctx)
		if err != nil {
			return nil, err
		}
		for _, q := range seqSQL {
			if err = exec(ctx, c, q); err != nil {
				break
			}
		}
		c.Release()
		if err != nil {
			return nil, fmt.Errorf("creating the sequences of the moved tables: %w", err)
		}
	}
	// The marks, and the record, in one transaction.
	mark := &topo.WorkflowMark{Type: wf.Type}
	if wf.Type == TypeMoveTables {
		for _, t := range wf.Tables {
			mark.Tables = append(mark.Tables, strings.ToLower(t))
		}
	}
	for _, n := range []string{wf.Keyspace, wf.SourceKeyspace} {
		d := docs[n]
		if d.Workflows == nil {
			d.Workflows = map[string]*topo.WorkflowMark{}
		}
		cp := *mark
		d.Workflows[wf.Name] = &cp
	}
	if wf.Type == TypeMoveTables {
		d := docs[wf.Keyspace]
		if d.RoutedTables == nil {
			d.RoutedTables = map[string]string{}
		}
		for _, t := range wf.Tables {
			d.RoutedTables[strings.ToLower(t)] = wf.SourceKeyspace
		}
	}
	// The topology must still load with them.
	all, _, err := m.cfg.Etcd.Keyspaces(ctx)
	if err != nil {
		return nil, err
	}
	var writes []topo.Write
	for n, d := range docs {
		all[n] = d.Marshal()
		writes = append(writes, m.cfg.Etcd.KeyspaceWrite(n, all[n], revs[n]))
	}
	if _, err := topo.BuildSnapshot(all, topo.SnapshotOptions{Source: m.cfg.Etcd.Source(), GlobalKeyspace: m.cfg.GlobalKeyspace}); err != nil {
		return nil, fmt.Errorf("the topology would not load with the workflow's marks: %w", err)
	}
	writes = append(writes, topo.Write{Key: m.cfg.Etcd.WorkflowKey(wf.Keyspace, wf.Name), Value: mustJSON(wf), ModRev: oldRev},
		topo.Write{Key: m.cfg.Etcd.StreamsPrefix(wf.Keyspace, wf.Name), Delete: true, Prefix: true, Any: true},
		topo.Write{Key: m.cfg.Etcd.AcksPrefix(wf.Keyspace, wf.Name), Delete: true, Prefix: true, Any: true})
	ok, _, err = m.cfg.Etcd.Commit(ctx, writes, nil)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: the keyspaces changed in etcd while the workflow was created: try again (tables made on the targets are reused when empty)", ErrConflict)
	}
	m.log.Info("workflow created", zap.String("workflow", wf.Keyspace+"/"+wf.Name), zap.String("type", wf.Type),
		zap.Strings("tables", wf.Tables), zap.Strings("created", made))
	return status(wf, nil), nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func (m *Manager) checkReshard(req CreateRequest, ks *topo.Keyspace, wf *Workflow) error {
	if !ks.Sharded {
		return fmt.Errorf("keyspace %s is not sharded: reshard splits or merges the shards of a sharded keyspace (movetables moves tables out of an unsharded one)", ks.Name)
	}
	if len(req.SourceShards) == 0 || len(req.TargetShards) == 0 {
		return fmt.Errorf("reshard needs --source-shards and --target-shards")
	}
	wf.SourceKeyspace = ks.Name
	wf.SourceShards, wf.TargetShards = req.SourceShards, req.TargetShards
	var srcShards, dstShards []*topo.Shard
	for _, n := range req.SourceShards {
		sh := ks.FindShard(n)
		if sh == nil || !slices.Contains(ks.Shards, sh) {
			return fmt.Errorf("source shard %s/%s is not a serving shard of the keyspace (serving: %s)", ks.Name, n, shardNames(ks.Shards))
		}
		srcShards = append(srcShards, sh)
	}
	for _, n := range req.TargetShards {
		sh := ks.FindShard(n)
		if sh == nil || !slices.Contains(ks.NonServing, sh) {
			return fmt.Errorf("target shard %s/%s is not declared: add it to the keyspace with serving: false and upload the configuration (shardgate topo put); declared: %s", ks.Name, n, shardNames(ks.NonServing))
		}
		dstShards = append(dstShards, sh)
	}
	if err := sameCover(srcShards, dstShards); err != nil {
		return err
	}
	for _, s := range srcShards {
		for _, d := range dstShards {
			if sameDatabase(s, d) {
				return fmt.Errorf("target shard %s and source shard %s are the same database (%s on %s): each target needs its own", d.Name, s.Name, d.Database, d.Addr())
			}
		}
	}
	if len(ks.Workflows) > 0 {
		for n := range ks.Workflows {
			return fmt.Errorf("%w: keyspace %s is already moved by workflow %s: complete or cancel it first", ErrConflict, ks.Name, n)
		}
	}
	return nil
}

func (m *Manager) checkMoveTables(req CreateRequest, snap *topo.Snapshot, ks *topo.Keyspace, wf *Workflow) error {
	sk, ok := snap.Keyspace(req.SourceKeyspace)
	if !ok {
		return fmt.Errorf("source keyspace %q is not in the topology", req.SourceKeyspace)
	}
	if sk == ks {
		return fmt.Errorf("movetables moves tables between two keyspaces; %s is both (reshard changes a keyspace's shards)", ks.Name)
	}
	if len(req.Tables) == 0 {
		return fmt.Errorf("movetables needs --tables")
	}
	wf.SourceKeyspace = sk.Name
	wf.Tables = nil
	for _, t := range req.Tables {
		t = strings.TrimSpace(t)
		if t == "" || isFenceName(t) {
			return fmt.Errorf("table name %q cannot be moved", t)
		}
		if !slices.Contains(wf.Tables, t) {
			wf.Tables = append(wf.Tables, t)
		}
	}
	sort.Strings(wf.Tables)
	wf.SourceShards = shardList(sk.Shards)
	wf.TargetShards = shardList(ks.Shards)
	return nil
}

// addVSchemaEntry gives a moved table without a vschema entry in a sharded
// target keyspace one: its first primary-key column on the keyspace's hash
// vindex (as auto_vschema would).
func (m *Manager) addVSchemaEntry(ks *topo.Keyspace, d *topo.KeyspaceDoc, info *tableInfo, wf *Workflow) (*topo.Table, error) {
	var vname string
	for _, n := range sortedVindexes(ks) {
		if ks.Vindexes[n].Type() == "hash" {
			vname = n
			break
		}
	}
	if vname == "" {
		return nil, fmt.Errorf("table %s has no entry in the vschema of keyspace %s, which has no hash vindex to give it one: add it (shardgate vschema apply) and create the workflow again", info.Name, ks.Name)
	}
	col := info.Columns[info.PK[0]].Name
	if d.VSchema == nil {
		d.VSchema = &topo.VSchema{}
	}
	if d.VSchema.Tables == nil {
		d.VSchema.Tables = map[string]*topo.VSchemaTable{}
	}
	d.VSchema.Tables[info.Name] = &topo.VSchemaTable{ColumnVindexes: []topo.VSchemaColumnVindex{{Column: col, Name: vname}}}
	wf.AddedVSchema = append(wf.AddedVSchema, info.Name)
	return &topo.Table{Name: info.Name, Column: strings.ToLower(col), VindexName: vname, Vindex: ks.Vindexes[vname]}, nil
}

// sequenceFor returns the sequence a moved table's AUTO_INCREMENT column
// takes its ids from in the sharded target keyspace, and the statements
// creating it in the global keyspace when it does not exist.
func (m *Manager) sequenceFor(snap *topo.Snapshot, d *topo.KeyspaceDoc, info *tableInfo, vt *topo.Table, wf *Workflow) (string, []string, *endpoint, error) {
	if vt != nil && vt.AutoIncrement != nil {
		return vt.AutoIncrement.Sequence, nil, nil, nil
	}
	gname := m.cfg.GlobalKeyspace
	g, ok := snap.Keyspace(gname)
	if gname == "" || !ok || len(g.Shards) == 0 {
		return "", nil, nil, fmt.Errorf("table %s has an AUTO_INCREMENT column: in sharded keyspace %s its ids come from a sequence in the global keyspace, and none is configured (global_keyspace)", info.Name, wf.Keyspace)
	}
	seqTable := strings.ToLower(info.Name) + "_seq" // the name auto_vschema gives it
	seq := g.Name + "." + seqTable
	e := &endpoint{ks: g, shard: g.Shards[0], pool: m.pools.get(g.Name, g.Shards[0])}
	table := quoteID(e.db()) + "." + quoteID(seqTable)
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS " + table + " (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT 'vitess_sequence'",
		"INSERT IGNORE INTO " + table + " (id, next_id, cache) VALUES (0, 1, 1000)",
	}
	if d.VSchema != nil && d.VSchema.Tables != nil {
		if t := d.VSchema.Tables[info.Name]; t != nil && t.AutoIncrement == nil {
			t.AutoIncrement = &topo.VSchemaAutoIncrement{Column: info.AutoInc, Sequence: seq}
		}
	}
	return seq, stmts, e, nil
}

func sortedVindexes(ks *topo.Keyspace) []string {
	var n []string
	for k := range ks.Vindexes {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func shardList(ss []*topo.Shard) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

func shardNames(ss []*topo.Shard) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(shardList(ss), ",")
}

func sameDatabase(a, b *topo.Shard) bool {
	if a.Database != b.Database {
		return false
	}
	for _, x := range a.Servers {
		if slices.Contains(b.Servers, x) {
			return true
		}
	}
	return a.Addr() == b.Addr()
}

// sameCover checks that two sets of shards cover the same key range, each
// without gaps or overlaps.
func sameCover(a, b []*topo.Shard) error {
	span := func(ss []*topo.Shard, what string) ([]byte, []byte, error) {
		s := slices.Clone(ss)
		sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i].KeyRange.Start, s[j].KeyRange.Start) < 0 })
		for i := 1; i < len(s); i++ {
			if !bytes.Equal(s[i-1].KeyRange.End, s[i].KeyRange.Start) {
				return nil, nil, fmt.Errorf("the %s shards %s do not cover one key range without gaps or overlaps (%s ends where %s does not start)", what, shardNames(s), s[i-1].Name, s[i].Name)
			}
		}
		return s[0].KeyRange.Start, s[len(s)-1].KeyRange.End, nil
	}
	as, ae, err := span(a, "source")
	if err != nil {
		return err
	}
	bs, be, err := span(b, "target")
	if err != nil {
		return err
	}
	if !bytes.Equal(as, bs) || !bytes.Equal(ae, be) {
		return fmt.Errorf("the source shards %s and the target shards %s do not cover the same key range", shardNames(a), shardNames(b))
	}
	return nil
}

func sameColumns(a, b *tableInfo) bool {
	if len(a.Columns) != len(b.Columns) {
		return false
	}
	for i := range a.Columns {
		if !strings.EqualFold(a.Columns[i].Name, b.Columns[i].Name) || a.Columns[i].DataType != b.Columns[i].DataType {
			return false
		}
	}
	return true
}
