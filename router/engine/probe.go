package engine

import (
	"context"
	"sync/atomic"

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
func (sm *SelectMerge) probeQuery() (Template, []int) {
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
func (sm *SelectMerge) openProbe(ctx context.Context, vc VCursor, targets []*topo.Shard, lists [][]ValueRef) (stream, int, error) {
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
				vc.Probes().Large.Add(1)
				return nil, 0, nil
			}
			// A collation the proxy weighs becomes the NULL weight the
			// sorted query would have sent.
			for _, c := range collations {
				c = absCol(c, n)
				if r[c] != nil && !sqlval.ProxyWeighs(r[c]) {
					buf.release()
					sm.probe.weighted.Store(true)
					vc.Probes().Collation.Add(1)
					return nil, 0, nil
				}
				r[c] = nil
			}
			buf.add(r)
		}
	}
	vc.Probes().Sorted.Add(1)
	return buf.sort(streams[0].Fields(), absKeys(sm.MergeKeys, n)), n, nil
}

// ProbeCounters count what the probes found, for metrics (ProbeCounts).
type ProbeCounters struct{ Sorted, Large, Collation atomic.Uint64 }
