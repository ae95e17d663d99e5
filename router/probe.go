package router

import (
	"context"
	"sync/atomic"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
)

// A scatter ORDER BY or DISTINCT usually returns few rows (a range of ids,
// one customer's orders), and then a sort on every shard costs the shards
// more than the query itself: MariaDB sets up a filesort or a temporary
// table for each. So SelectMerge first sends the probe: the shard query
// without ORDER BY and DISTINCT, cut at limits.proxy_sort_rows+1. When no
// shard reaches the cut, the proxy sorts the rows it holds and the rest of
// the merge (dedup, LIMIT) runs as always. When one does, the probe's rows
// are dropped and the shards run the sorted query, whose streams are merged
// without holding them. The probe is a plain read with the same WHERE, so
// running the statement a second time is safe: the planner allows it only
// for SELECTs that lock nothing and call no function with side effects.
//
// The sorted query carries a hidden weight per collated key (weightOf), NULL
// where the proxy weighs the strings itself. Its test, COLLATION(c) IN
// (…), costs a shard about as much per row as the probe saves on sorting,
// so the probe asks only for COLLATION(c) and checks the names itself: when
// the proxy weighs them all, it sorts; when not (another collation), it
// drops the rows, lets the shards sort this time, and the plan's later
// probes carry the weights. The check runs on every probe, so an ALTER of
// the column's collation behind the proxy's back cannot mis-sort.

// probeMaxBytes bounds the probe's rows a statement holds at the proxy (the
// merge holds one row a shard); past it the shards sort.
const probeMaxBytes = 256 << 10

// planProbe adds the probe to a merge whose shards would sort, when the
// statement may run twice. sel is the shard query of sm (already rendered
// into sm.Shard); it is changed.
func (p *planner) planProbe(sel *ast.SelectStmt, sm *SelectMerge) error {
	rows := p.vc.r.cfg.Limits.ProxySortRows
	if rows <= 0 || len(sm.MergeKeys) == 0 || !probeSafe(sel, sm) {
		return nil
	}
	sel.OrderBy = nil
	sel.Distinct = false
	sel.Limit = &ast.Limit{Count: ast.NewValueExpr(phLimit, "", "")}
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
func probeSafe(sel *ast.SelectStmt, sm *SelectMerge) bool {
	if sm.Join != nil || sel.Kind != ast.SelectStmtKindSelect || sel.SelectIntoOpt != nil ||
		(sel.LockInfo != nil && sel.LockInfo.LockType != ast.SelectLockNone) ||
		(sel.SelectStmtOpts != nil && sel.SelectStmtOpts.CalcFoundRows) {
		return false
	}
	if sm.aggregating() {
		// Only a plain DISTINCT: every column a group key, nothing combined.
		if !sel.Distinct || sel.GroupBy != nil || sm.Having != nil || len(sm.Computed) > 0 || sm.Tag != noCol {
			return false
		}
		for _, a := range sm.Aggs {
			if a.kind != aggAny {
				return false
			}
		}
	}
	safe := true
	walk(sel, func(n ast.Node) ast.Node {
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

// probeStats decides whether a plan still sends its probe: it stops after a
// probe that found too many rows, and tries again after 16 executions per
// such probe, so a plan whose results are mostly large wastes at most one
// short shard read in 16.
type probeStats struct {
	runs, large atomic.Uint64
	// weighted: a probe met a collation the proxy does not weigh, so the
	// plan's probes ask the shards for weights (ProbeWeighted).
	weighted atomic.Bool
}

// probeQuery is the probe the plan sends now, and its COLLATION(c) columns
// to check (none once the probe carries the shards' weights).
func (sm *SelectMerge) probeQuery() (template, []int) {
	if sm.probe.weighted.Load() {
		return sm.ProbeWeighted, nil
	}
	return sm.Probe, sm.ProbeCollations
}

func (ps *probeStats) try() bool {
	runs := ps.runs.Add(1)
	return ps.large.Load()*16 < runs
}

// openProbe runs the probe and returns its rows sorted by the merge keys,
// or nil when a shard had more than ProbeRows rows (or the rows more than
// probeMaxBytes): then the shards must sort.
func (sm *SelectMerge) openProbe(ctx context.Context, vc *vcursor, targets []*topo.Shard, lists [][]valueRef) (stream, int, error) {
	if sm.ProbeRows == 0 || !sm.probe.try() {
		return nil, 0, nil
	}
	query, collations := sm.probeQuery()
	streams, n, err := sm.openShardStreams(ctx, vc, query, targets, lists, uint64(sm.ProbeRows+1))
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		for _, s := range streams {
			s.Close()
		}
	}()
	buf := rowBuffers.Get().(*rowBuffer)
	for _, s := range streams {
		for count := 0; ; count++ {
			r, err := s.Next()
			if err != nil {
				buf.release()
				return nil, 0, err
			}
			if r == nil {
				break
			}
			if count == sm.ProbeRows || len(buf.data) > probeMaxBytes {
				buf.release()
				sm.probe.large.Add(1)
				vc.r.probes.large.Add(1)
				return nil, 0, nil
			}
			// A collation the proxy weighs becomes the NULL weight the
			// sorted query would have sent.
			for _, c := range collations {
				c = absCol(c, n)
				if r[c] != nil && !sqlval.ProxyWeighs(r[c]) {
					buf.release()
					sm.probe.weighted.Store(true)
					vc.r.probes.collation.Add(1)
					return nil, 0, nil
				}
				r[c] = nil
			}
			buf.add(r)
		}
	}
	vc.r.probes.sorted.Add(1)
	return buf.sort(streams[0].Fields(), absKeys(sm.MergeKeys, n)), n, nil
}
