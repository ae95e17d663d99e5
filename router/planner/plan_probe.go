package planner

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/shardgate/shardgate/router/engine"
)

// planProbe adds the probe to a merge whose shards would sort, when the
// statement may run twice. sel is the shard query of sm (already rendered
// into sm.Shard); it is changed.
func (p *planner) planProbe(sel *ast.SelectStmt, sm *engine.SelectMerge) error {
	rows := p.env.Limits().ProxySortRows
	if rows <= 0 || len(sm.MergeKeys) == 0 || !probeSafe(sel, sm) {
		return nil
	}
	sel.OrderBy = nil
	sel.Distinct = false
	sel.Limit = &ast.Limit{Count: ast.NewValueExpr(engine.PhLimit, "", "")}
	weighted, err := p.templateOf(sel)
	if err != nil {
		return err
	}
	sm.Probe, sm.ProbeWeighted, sm.ProbeRows = weighted, weighted, rows
	fields := sel.Fields.Fields
	for i, f := range fields {
		if fn, ok := f.Expr.(*ast.FuncCallExpr); ok {
			if c, ok := weightCollation(fn); ok {
				f.Expr = c
				sm.ProbeCollations = append(sm.ProbeCollations, i-len(fields)) // hidden: counted from the end
			}
		}
	}
	if len(sm.ProbeCollations) > 0 {
		if sm.Probe, err = p.templateOf(sel); err != nil {
			return err
		}
	}
	return nil
}

// probeSafe says whether the shard query sel of sm may be replaced by the
// probe: its rows, sorted at the proxy, are the sorted query's rows (no
// GROUP BY or aggregate needs the shards' grouping), and running it twice
// changes nothing (no lock, no assignment, only functions without side
// effects).
func probeSafe(sel *ast.SelectStmt, sm *engine.SelectMerge) bool {
	if sm.Join != nil || sel.Kind != ast.SelectStmtKindSelect || sel.SelectIntoOpt != nil ||
		(sel.LockInfo != nil && sel.LockInfo.LockType != ast.SelectLockNone) ||
		(sel.SelectStmtOpts != nil && sel.SelectStmtOpts.CalcFoundRows) {
		return false
	}
	if sm.Aggregating() {
		// Only a plain DISTINCT: every column a group key, nothing combined.
		if !sel.Distinct || sel.GroupBy != nil || sm.Having != nil || len(sm.Computed) > 0 || sm.Tag != engine.NoCol {
			return false
		}
		for _, a := range sm.Aggs {
			if a.Kind != engine.AggAny {
				return false
			}
		}
	}
	safe := true
	Walk(sel, func(n ast.Node) ast.Node {
		switch x := n.(type) {
		case *ast.VariableExpr:
			if x.Value != nil {
				safe = false // @v := ...
			}
		case *ast.FuncCallExpr:
			if !pureFuncs[x.FnName.L] || x.Schema.L != "" {
				safe = false
			}
		case *ast.SelectStmt:
			if x.LockInfo != nil && x.LockInfo.LockType != ast.SelectLockNone {
				safe = false
			}
		}
		return n
	})
	return safe
}

// pureFuncs are the built-in functions a probe may run twice: no side
// effects (NEXTVAL, GET_LOCK, SLEEP, stored functions are not here). The
// list is what real queries use; a function missing from it only keeps the
// shards sorting.
var pureFuncs = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range []string{
		"if", "ifnull", "nullif", "coalesce", "isnull", "collation", "charset", "weight_string",
		"rtrim", "ltrim", "trim", "lower", "upper", "lcase", "ucase", "concat", "concat_ws",
		"substring", "substr", "mid", "left", "right", "length", "char_length", "character_length",
		"octet_length", "bit_length", "replace", "reverse", "repeat", "space", "lpad", "rpad",
		"locate", "instr", "position", "field", "elt", "find_in_set", "hex", "unhex", "md5", "sha1",
		"sha2", "crc32", "format", "abs", "round", "floor", "ceil", "ceiling", "truncate", "mod",
		"sign", "sqrt", "pow", "power", "exp", "ln", "log", "log2", "log10", "greatest", "least",
		"date", "time", "year", "month", "day", "dayofmonth", "dayofweek", "dayofyear", "week",
		"hour", "minute", "second", "date_format", "time_format", "datediff", "timediff",
		"timestampdiff", "date_add", "date_sub", "adddate", "subdate", "to_days", "from_days",
		"unix_timestamp", "from_unixtime", "str_to_date", "last_day", "makedate", "now",
		"current_timestamp", "curdate", "current_date", "curtime", "current_time", "utc_timestamp",
		"json_extract", "json_unquote", "json_value", "json_length", "json_contains",
		"inet_aton", "inet_ntoa", "bin", "oct", "conv", "ascii", "ord", "char",
	} {
		m[f] = true
	}
	return m
}()
