package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

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
	Keys     []ValueRef // sharding-column value of each row
	Query    Template   // statement with segRows for the rows
	Rows     []Template // each row's values, without parentheses
	Rewrite  bool
	AutoInc  *AutoIncrement
	IDs      *IDPlan // how the OK packet's id and LAST_INSERT_ID() follow
}

// AutoIncrement fills a column from a sequence: each row's value is bind
// Slot+row, set at execution to the value given (Given[row]) or, when that is
// missing, NULL or 0, to the next id of the sequence.
type AutoIncrement struct {
	Column   string
	Sequence string // keyspace.table
	Slot     int
	Given    []ValueRef
}

// Execute implements Primitive.
func (ins *Insert) Execute(ctx context.Context, vc VCursor) error {
	firstID, genRow, err := ins.fillAutoIncrement(ctx, vc)
	if err != nil {
		return err
	}
	rewrite := firstID != 0 || ins.Rewrite
	if firstID == 0 {
		genRow = ins.IDs.firstGenerated(vc.Binds(), vc.Facts().NoAutoValueOnZero)
	}
	ids := newIDState(ins.IDs, len(ins.Keys), firstID, vc.Facts().FoundRows)
	var shards []*topo.Shard
	var rows [][]int
	for i, k := range ins.Keys {
		v := k.Resolve(vc.Binds())
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
	if ins.IDs != nil && ins.IDs.SetsID && len(shards) > 1 {
		return Unsupported("LAST_INSERT_ID(expr) in an INSERT whose rows go to %d shards (insert them one shard at a time)", len(shards))
	}
	calls := make([]ShardCall, len(shards))
	for i, sh := range shards {
		calls[i].shard = sh
		if len(ins.Keys) > 1 {
			calls[i].rows = len(rows[i])
		}
		if len(shards) == 1 && !rewrite {
			break
		}
		env := vc.RenderEnv(sh)
		mine := rows[i]
		env.List = func(b []byte) []byte {
			for j, r := range mine {
				if j > 0 {
					b = append(b, "), ("...)
				}
				b = ins.Rows[r].Append(b, &env)
			}
			return b
		}
		calls[i].SQL = ins.Query.Append(nil, &env)
	}
	if ids.probe {
		ins.probeInserted(vc, calls, rows)
	}
	*vc.IDs() = ids
	return relayCalls(ctx, vc, calls, combineConcat, nil)
}

// probeInserted gives each call that got ids from the sequence the query
// that finds which of them its shard inserted (an upsert of several rows
// may skip or update some).
func (ins *Insert) probeInserted(vc VCursor, calls []ShardCall, rows [][]int) {
	a := ins.AutoInc
	for i := range calls {
		var ids []uint64
		for _, r := range rows[i] {
			if generates(a.Given[r].Resolve(vc.Binds()), vc.Facts().NoAutoValueOnZero) {
				if id, err := strconv.ParseUint(vc.Binds()[a.Slot+r].Raw, 10, 64); err == nil {
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
func (ins *Insert) fillAutoIncrement(ctx context.Context, vc VCursor) (uint64, int, error) {
	a := ins.AutoInc
	if a == nil {
		return 0, -1, nil
	}
	binds := make([]sqlval.Value, a.Slot, a.Slot+len(a.Given))
	copy(binds, vc.Binds())
	missing, first := 0, -1
	for i, g := range a.Given {
		v := g.Resolve(vc.Binds())
		if generates(v, vc.Facts().NoAutoValueOnZero) {
			if missing == 0 {
				first = i
			}
			missing++
			v = sqlval.Value{Kind: sqlval.Param} // filled below
		}
		binds = append(binds, v)
	}
	vc.SetBinds(binds)
	if missing == 0 {
		return 0, -1, nil
	}
	ids, err := vc.ReserveIDs(ctx, a.Sequence, missing)
	if err != nil {
		return 0, -1, err
	}
	k := 0
	for i := a.Slot; i < len(binds); i++ {
		if binds[i].Kind == sqlval.Param {
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
