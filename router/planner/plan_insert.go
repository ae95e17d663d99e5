package planner

import (
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// planAutoIncrement makes the auto-increment column of every row a bind slot
// filled at execution, adding the column when the statement omits it.
func (p *planner) planAutoIncrement(plan *engine.Insert, ins *ast.InsertStmt, ai *topo.AutoIncrement) error {
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
	a := &engine.AutoIncrement{Column: ai.Column, Sequence: ai.Sequence, Slot: p.nbinds}
	for i, row := range ins.Lists {
		given := engine.ValueRef{Bind: -1, Lit: sqlval.Value{Kind: sqlval.Null}}
		if _, dflt := row[col].(*ast.DefaultExpr); row[col] != nil && !dflt {
			v, ok := p.valueOf(row[col])
			if !ok {
				return engine.Unsupported("an expression as the value of auto-increment column %s (give a literal, a parameter, NULL, DEFAULT or leave it out)", ai.Column)
			}
			given = v
		}
		a.Given = append(a.Given, given)
		row[col] = ast.NewValueExpr(engine.BindPlaceholder(a.Slot+i), "", "")
	}
	plan.AutoInc = a
	return nil
}

func (p *planner) planInsert(ins *ast.InsertStmt) (*Plan, error) {
	refs, err := p.collectTables(ins.Table)
	if err != nil {
		return nil, err
	}
	kind := KindInsert
	if ins.IsReplace {
		kind = KindReplace
	}
	if len(refs) != 1 {
		return nil, engine.Unsupported("INSERT into several tables")
	}
	t := refs[0]
	if !t.sharded() {
		if ins.Select != nil {
			if srefs, err := p.collectTables(ins.Select); err != nil {
				return nil, err
			} else if anySharded(srefs) {
				return nil, engine.Unsupported("INSERT ... SELECT from a sharded table into an unsharded or reference table")
			}
		}
		var ids *engine.IDPlan
		if !t.sys {
			cols, err := p.tableColumns(t)
			if err != nil {
				return nil, err
			}
			ids = p.planIDs(ins, cols, false)
			if len(cols.names) == 0 {
				ids.Ask = true // a temporary table: the shard knows
			}
		}
		plan, err := p.planRoute(ins, refs, nil, routeOptions{kind: kind, write: true})
		if err != nil {
			return nil, err
		}
		if r, ok := plan.Prim.(*engine.Route); ok {
			r.IDs = ids
		}
		return plan, nil
	}
	if ins.Select != nil {
		return nil, engine.Unsupported("INSERT ... SELECT into sharded table %s", t.name.Name.O)
	}
	col := t.tbl.Column
	for _, a := range ins.OnDuplicate {
		if a.Column.Name.L == col {
			return nil, engine.Unsupported("ON DUPLICATE KEY UPDATE of sharding column %s", col)
		}
	}
	lists := ins.Lists
	ins.Setlist = false // INSERT ... SET a=1 is parsed as one row; restore it as VALUES
	var cols tableCols
	if len(ins.Columns) == 0 || t.tbl.AutoIncrement == nil && !p.env.KnowsAutoIncrement(t.ks) {
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
	plan := &engine.Insert{Keyspace: t.ks, Table: t.name.Name.O, Column: col, Vindex: t.tbl.Vindex}
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
			plan.Keys = append(plan.Keys, engine.ValueRef{Bind: plan.AutoInc.Slot + len(plan.Keys)})
			continue
		}
		v, ok := p.valueOf(row[idx])
		if !ok {
			return nil, engine.Unsupported("an expression as the value of sharding column %s (give a literal or a parameter)", col)
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
			if parts[i], err = Restore(e); err != nil {
				return nil, err
			}
		}
		plan.Rows = append(plan.Rows, engine.ParseTemplate(strings.Join(parts, ", ")))
	}
	ins.Lists = [][]ast.ExprNode{{ast.NewValueExpr(engine.PhRows, "", "")}}
	sql, err := Restore(ins)
	if err != nil {
		return nil, err
	}
	plan.Query = engine.ParseTemplate(sql)
	return &Plan{Kind: kind, Prim: plan, Write: true, Keyspaces: []string{t.ks.Name}, Cacheable: true, Meta: t.ks.Shards[0], Tx: TxJoin,
		MultiShardWrite: len(plan.Keys) > 1}, nil
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
	names, autoInc, err := p.env.TableColumns(p.ctx, t.ks, t.name.Name.O)
	return tableCols{names: names, autoInc: autoInc}, err
}
