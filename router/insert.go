package router

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/vindex"
	"github.com/shardgate/shardgate/wire"
)

// Insert sends each row of an INSERT into a sharded table to the shard its
// sharding-column value maps to: the client's statement as it is when every
// row goes to one shard, else one INSERT per shard with that shard's rows.
type Insert struct {
	Keyspace *topo.Keyspace
	Table    string
	Column   string
	Vindex   vindex.Vindex
	Keys     []valueRef // sharding-column value of each row
	Query    template   // statement with segRows for the rows
	Rows     []template // each row's values, without parentheses
	Rewrite  bool
	AutoInc  *autoIncrement
	IDs      *idPlan // how the OK packet's id and LAST_INSERT_ID() follow
}

// autoIncrement fills a column from a sequence: each row's value is bind
// Slot+row, set at execution to the value given (Given[row]) or, when that is
// missing, NULL or 0, to the next id of the sequence.
type autoIncrement struct {
	Column   string
	Sequence string // keyspace.table
	Slot     int
	Given    []valueRef
}

// planAutoIncrement makes the auto-increment column of every row a bind slot
// filled at execution, adding the column when the statement omits it.
func (p *planner) planAutoIncrement(plan *Insert, ins *ast.InsertStmt, ai *topo.AutoIncrement) error {
	col := -1
	for i, c := range ins.Columns {
		if c.Name.L == ai.Column {
			col = i
		}
	}
	if col < 0 {
		col = len(ins.Columns)
		ins.Columns = append(ins.Columns, &ast.ColumnName{Name: ast.NewCIStr(ai.Column)})
		for i := range ins.Lists {
			ins.Lists[i] = append(ins.Lists[i], nil)
		}
	}
	a := &autoIncrement{Column: ai.Column, Sequence: ai.Sequence, Slot: p.nbinds}
	for i, row := range ins.Lists {
		given := valueRef{bind: -1, lit: sqlval.Value{Kind: sqlval.Null}}
		if _, dflt := row[col].(*ast.DefaultExpr); row[col] != nil && !dflt {
			v, ok := p.valueOf(row[col])
			if !ok {
				return unsupported("an expression as the value of auto-increment column %s (give a literal, a parameter, NULL, DEFAULT or leave it out)", ai.Column)
			}
			given = v
		}
		a.Given = append(a.Given, given)
		row[col] = ast.NewValueExpr(bindPlaceholder(a.Slot+i), "", "")
	}
	plan.AutoInc = a
	return nil
}

func (p *planner) planInsert(ins *ast.InsertStmt) (*Plan, error) {
	refs, err := p.collectTables(ins.Table)
	if err != nil {
		return nil, err
	}
	kind := "insert"
	if ins.IsReplace {
		kind = "replace"
	}
	if len(refs) != 1 {
		return nil, unsupported("INSERT into several tables")
	}
	t := refs[0]
	if !t.sharded() {
		if ins.Select != nil {
			if srefs, err := p.collectTables(ins.Select); err != nil {
				return nil, err
			} else if anySharded(srefs) {
				return nil, unsupported("INSERT ... SELECT from a sharded table into an unsharded or reference table")
			}
		}
		var ids *idPlan
		if !t.sys {
			cols, err := p.tableColumns(t)
			if err != nil {
				return nil, err
			}
			ids = p.planIDs(ins, cols, false)
			if len(cols.names) == 0 {
				ids.ask = true // a temporary table: the shard knows
			}
		}
		plan, err := p.planRoute(ins, refs, nil, routeOptions{kind: kind, write: true})
		if err != nil {
			return nil, err
		}
		if r, ok := plan.Prim.(*Route); ok {
			r.IDs = ids
		}
		return plan, nil
	}
	if ins.Select != nil {
		return nil, unsupported("INSERT ... SELECT into sharded table %s", t.name.Name.O)
	}
	col := t.tbl.Column
	for _, a := range ins.OnDuplicate {
		if a.Column.Name.L == col {
			return nil, unsupported("ON DUPLICATE KEY UPDATE of sharding column %s", col)
		}
	}
	lists := ins.Lists
	ins.Setlist = false // INSERT ... SET a=1 is parsed as one row; restore it as VALUES
	var cols tableCols
	if len(ins.Columns) == 0 || t.tbl.AutoIncrement == nil && !p.vc.r.knowsAutoIncrement(t.ks) {
		// The shard knows the column order of INSERT INTO t VALUES (...),
		// and which column it numbers itself.
		if cols, err = p.tableColumns(t); err != nil {
			return nil, err
		}
		if len(cols.names) == 0 {
			return nil, wire.Errorf(mysql.ER_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist", t.ks.Name, t.name.Name.O)
		}
	}
	if len(ins.Columns) == 0 {
		for _, c := range cols.names {
			ins.Columns = append(ins.Columns, &ast.ColumnName{Name: ast.NewCIStr(c)})
		}
	}
	idx := -1
	for i, c := range ins.Columns {
		if c.Name.L == col {
			idx = i
		}
	}
	if ai := t.tbl.AutoIncrement; idx < 0 && ai != nil && ai.Column == col {
		idx = len(ins.Columns) // added by planAutoIncrement
	}
	if idx < 0 {
		return nil, wire.Errorf(mysql.ER_NO_DEFAULT_FOR_FIELD, "Field '%s' doesn't have a default value (it is the sharding column of %s: every INSERT must give it)", col, t.name.Name.O)
	}
	plan := &Insert{Keyspace: t.ks, Table: t.name.Name.O, Column: col, Vindex: t.tbl.Vindex}
	for _, row := range lists {
		if len(row) != len(ins.Columns) {
			return nil, wire.Errorf(mysql.ER_WRONG_VALUE_COUNT_ON_ROW, "Column count doesn't match value count at row 1")
		}
	}
	plan.IDs = p.planIDs(ins, cols, t.tbl.AutoIncrement != nil)
	if ai := t.tbl.AutoIncrement; ai != nil {
		if err := p.planAutoIncrement(plan, ins, ai); err != nil {
			return nil, err
		}
		lists = ins.Lists
	}
	for _, row := range lists {
		if plan.AutoInc != nil && plan.AutoInc.Column == col {
			plan.Keys = append(plan.Keys, valueRef{bind: plan.AutoInc.Slot + len(plan.Keys)})
			continue
		}
		v, ok := p.valueOf(row[idx])
		if !ok {
			return nil, unsupported("an expression as the value of sharding column %s (give a literal or a parameter)", col)
		}
		plan.Keys = append(plan.Keys, v)
	}
	plan.Rewrite = qualifyForShards(refs)
	if specialFuncs(ins) { // LAST_INSERT_ID(), DATABASE(): the proxy's values
		plan.Rewrite = true
	}
	// Placeholders for binds, then one template per row, then the statement
	// with all rows replaced by segRows.
	if _, err := p.templateOf(ins); err != nil {
		return nil, err
	}
	for _, row := range lists {
		parts := make([]string, len(row))
		for i, e := range row {
			if parts[i], err = restore(e); err != nil {
				return nil, err
			}
		}
		plan.Rows = append(plan.Rows, parseTemplate(strings.Join(parts, ", ")))
	}
	ins.Lists = [][]ast.ExprNode{{ast.NewValueExpr(phRows, "", "")}}
	sql, err := restore(ins)
	if err != nil {
		return nil, err
	}
	plan.Query = parseTemplate(sql)
	return &Plan{Kind: kind, Prim: plan, write: true, keyspaces: []string{t.ks.Name}, cacheable: true, meta: t.ks.Shards[0], tx: txJoin,
		multiShardWrite: len(plan.Keys) > 1}, nil
}

// Execute implements Primitive.
func (ins *Insert) Execute(ctx context.Context, vc *vcursor) error {
	firstID, genRow, err := ins.fillAutoIncrement(ctx, vc)
	if err != nil {
		return err
	}
	rewrite := firstID != 0 || ins.Rewrite
	if firstID == 0 {
		genRow = ins.IDs.firstGenerated(vc.binds, vc.s.noAutoValueOnZero)
	}
	ids := newIDState(ins.IDs, len(ins.Keys), firstID, vc.s.FoundRows)
	var shards []*topo.Shard
	var rows [][]int
	for i, k := range ins.Keys {
		v := k.resolve(vc.binds)
		if v.Kind == sqlval.Null {
			return wire.Errorf(mysql.ER_BAD_NULL_ERROR, "Column '%s' cannot be null (it is the sharding column of %s)", ins.Column, ins.Table)
		}
		ksid, err := ins.Vindex.Map(v.VindexValue())
		if err != nil {
			return wire.Errorf(mysql.ER_TRUNCATED_WRONG_VALUE_FOR_FIELD, "Incorrect value for sharding column '%s' of %s in row %d: %v", ins.Column, ins.Table, i+1, err)
		}
		sh := ins.Keyspace.ShardFor(ksid)
		if sh == nil {
			return fmt.Errorf("no shard of keyspace %s owns keyspace id %x", ins.Keyspace.Name, ksid)
		}
		j := 0
		for j < len(shards) && shards[j] != sh {
			j++
		}
		if j == len(shards) {
			shards = append(shards, sh)
			rows = append(rows, nil)
		}
		rows[j] = append(rows[j], i)
		if i == genRow {
			ids.gen = j
		}
		ids.last = j
	}
	if ins.IDs != nil && ins.IDs.setsID && len(shards) > 1 {
		return unsupported("LAST_INSERT_ID(expr) in an INSERT whose rows go to %d shards (insert them one shard at a time)", len(shards))
	}
	calls := make([]shardCall, len(shards))
	for i, sh := range shards {
		calls[i].shard = sh
		if len(ins.Keys) > 1 {
			calls[i].rows = len(rows[i])
		}
		if len(shards) == 1 && !rewrite {
			break
		}
		env := vc.renderEnv(sh)
		mine := rows[i]
		env.list = func(b []byte) []byte {
			for j, r := range mine {
				if j > 0 {
					b = append(b, "), ("...)
				}
				b = ins.Rows[r].append(b, &env)
			}
			return b
		}
		calls[i].sql = ins.Query.append(nil, &env)
	}
	if ids.probe {
		ins.probeInserted(vc, calls, rows)
	}
	vc.ids = ids
	return vc.relayCalls(ctx, calls, combineConcat)
}

// probeInserted gives each call that got ids from the sequence the query
// that finds which of them its shard inserted (an upsert of several rows
// may skip or update some).
func (ins *Insert) probeInserted(vc *vcursor, calls []shardCall, rows [][]int) {
	a := ins.AutoInc
	for i := range calls {
		var ids []uint64
		for _, r := range rows[i] {
			if generates(a.Given[r].resolve(vc.binds), vc.s.noAutoValueOnZero) {
				if id, err := strconv.ParseUint(vc.binds[a.Slot+r].Raw, 10, 64); err == nil {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) > 0 {
			calls[i].probe = insertedProbe(calls[i].shard.Database, ins.Table, a.Column, ids)
		}
	}
}

// fillAutoIncrement sets the auto-increment slots: given values as they are,
// missing ones (NULL, or 0 unless sql_mode has NO_AUTO_VALUE_ON_ZERO) from
// the sequence. It returns the first generated id (0: none; then the
// statement need not be rewritten) and its row (-1: none).
func (ins *Insert) fillAutoIncrement(ctx context.Context, vc *vcursor) (uint64, int, error) {
	a := ins.AutoInc
	if a == nil {
		return 0, -1, nil
	}
	binds := make([]sqlval.Value, a.Slot, a.Slot+len(a.Given))
	copy(binds, vc.binds)
	missing, first := 0, -1
	for i, g := range a.Given {
		v := g.resolve(vc.binds)
		if generates(v, vc.s.noAutoValueOnZero) {
			if missing == 0 {
				first = i
			}
			missing++
			v = sqlval.Value{Kind: kindParam} // filled below
		}
		binds = append(binds, v)
	}
	vc.binds = binds
	if missing == 0 {
		return 0, -1, nil
	}
	seq, err := vc.r.seqs.get(vc.st.snap, a.Sequence)
	if err != nil {
		return 0, -1, err
	}
	ids, err := seq.reserve(ctx, vc.pool(seq.ks.Shards[0]), missing, make([]uint64, 0, missing), false)
	if err != nil {
		return 0, -1, err
	}
	k := 0
	for i := a.Slot; i < len(binds); i++ {
		if binds[i].Kind == kindParam {
			binds[i] = sqlval.Value{Kind: sqlval.Uint, Raw: strconv.FormatUint(ids[k], 10)}
			k++
		}
	}
	return ids[0], first, nil
}

// Describe implements Primitive.
func (ins *Insert) Describe() string {
	keys := make([]string, len(ins.Keys))
	for i, k := range ins.Keys {
		keys[i] = k.String()
	}
	return fmt.Sprintf("Insert keyspace=%s table=%s vindex=%s(%s) rows=[%s] query=%q", ins.Keyspace.Name, ins.Table,
		ins.Vindex.Type(), ins.Column, strings.Join(keys, ","), ins.Query.String())
}

// tableCols are a table's columns in order, lower case, and its
// AUTO_INCREMENT column ("" if none).
type tableCols struct {
	names   []string
	autoInc string
}

// tableColumns reads a table's columns from its first shard: none when
// information_schema does not show it (missing, or a temporary table).
func (p *planner) tableColumns(t *tableRef) (tableCols, error) {
	sh := t.ks.Shards[0]
	c, err := p.vc.conn(context.Background(), sh)
	if err != nil {
		return tableCols{}, err
	}
	defer p.vc.done(c)
	q := sqlval.AppendQuoted([]byte("SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "), sh.Database)
	q = append(q, " AND TABLE_NAME = "...)
	q = sqlval.AppendQuoted(q, t.name.Name.O)
	q = append(q, " ORDER BY ORDINAL_POSITION"...)
	rows, err := c.QueryStrings(context.Background(), string(q))
	if err != nil {
		return tableCols{}, err
	}
	var cols tableCols
	for _, r := range rows {
		name := strings.ToLower(r[0])
		cols.names = append(cols.names, name)
		if strings.Contains(strings.ToLower(r[1]), "auto_increment") {
			cols.autoInc = name
		}
	}
	return cols, nil
}
