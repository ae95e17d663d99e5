package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/vindex"
)

// routeOpcode says how a Route picks its shards.
type routeOpcode uint8

const (
	RouteUnsharded routeOpcode = iota // the keyspace's only shard
	RouteAnyShard                     // any one shard (reference tables, no table)
	RouteEqual                        // the shard owning one vindex value
	RouteIn                           // the shards owning a list of values
	RouteScatter                      // every shard
)

var opcodeNames = [...]string{"Unsharded", "AnyShard", "EqualUnique", "IN", "Scatter"}

// Route sends one statement to the shards that hold its rows and relays their
// results as one. It is the primitive of every statement that a shard can
// run as written (up to keyspace names and per-shard IN lists).
type Route struct {
	Opcode   routeOpcode
	Keyspace *topo.Keyspace
	Vindex   vindex.Vindex
	Values   []ValueRef // EqualUnique: one; IN: the list
	Query    Template
	// Rewrite means the client's text cannot be sent as it is: Query is
	// rendered for each shard.
	Rewrite bool
	// Merge names a construct whose result across several shards would need
	// merging at the proxy; such a route is refused when it reaches >1 shard.
	Merge string
	How   combine
	// Global is also written for reference-table writes: the global
	// keyspace keeps a copy too.
	Global *topo.Shard
	// IDs is set for statements that may generate ids or call
	// LAST_INSERT_ID(expr) (lastid.go).
	IDs *IDPlan
	// Rename, when set, renames a column of the result: SHOW TABLES names
	// its column after the shard's database, the client expects the
	// keyspace.
	Rename *ColumnRename
	// Pins are more values an EqualUnique route's tables are pinned to
	// (plan_pin.go): the route runs on its shard when each maps to it;
	// else Unpinned runs, or UnpinnedErr is the answer.
	Pins        []PinValue
	Unpinned    Primitive
	UnpinnedErr error
}

// PinValue is one value a sharded table is pinned to, mapped by that
// table's vindex.
type PinValue struct {
	Vindex vindex.Vindex
	Value  ValueRef
}

// ColumnRename renames one column of a relayed result.
type ColumnRename struct {
	Index int
	Name  string
}

// Execute implements Primitive.
func (r *Route) Execute(ctx context.Context, vc VCursor) error {
	if len(r.Pins) > 0 && !r.pinsAgree(vc.Binds()) {
		if r.Unpinned == nil {
			return r.UnpinnedErr
		}
		return r.Unpinned.Execute(ctx, vc)
	}
	targets, lists := r.targets(vc.Binds())
	if len(targets) > 1 && r.Merge != "" {
		return Unsupported("%s (this query reaches %d shards; add the sharding column to WHERE to route it to one)", r.Merge, len(targets))
	}
	if r.IDs != nil {
		if r.IDs.SetsID && len(targets) > 1 {
			return Unsupported("LAST_INSERT_ID(expr) in a statement that reaches %d shards (which one's value would be the last is undefined; add the sharding column to WHERE to route it to one)", len(targets))
		}
		*vc.IDs() = newIDState(r.IDs, r.IDs.Nrows, 0, vc.Facts().FoundRows)
		if r.IDs.firstGenerated(vc.Binds(), vc.Facts().NoAutoValueOnZero) >= 0 {
			vc.IDs().gen = 0
		}
	}
	return relayCalls(ctx, vc, r.CallsFor(vc, r.Query, targets, lists, false, 0), r.How, r.Rename)
}

// calls returns the statements to send; render forces text rendering
// (needed when the proxy reads the rows).
func (r *Route) calls(vc VCursor, render bool) []ShardCall {
	targets, lists := r.targets(vc.Binds())
	return r.CallsFor(vc, r.Query, targets, lists, render, 0)
}

// CallsFor renders query for each target (unless the client's own statement
// can go as it is); IN lists are split per shard, limit fills segLimit.
func (r *Route) CallsFor(vc VCursor, query Template, targets []*topo.Shard, lists [][]ValueRef, render bool, limit uint64) []ShardCall {
	calls := vc.Calls(len(targets)) // valid until the next callsFor of this statement
	split := r.Opcode == RouteIn && lists != nil && len(targets) > 1 && (!vc.Prepared() || render)
	for i, sh := range targets {
		calls[i].shard = sh
		if !r.Rewrite && !split && !render {
			continue
		}
		env := vc.RenderEnv(sh)
		vals := r.Values
		if split {
			vals = lists[i]
		}
		env.List = func(b []byte) []byte {
			for j, v := range vals {
				if j > 0 {
					b = append(b, ", "...)
				}
				b = v.Resolve(vc.Binds()).AppendSQL(b)
			}
			return b
		}
		env.limit = limit
		calls[i].SQL = query.Append(make([]byte, 0, len(vc.SQL())+64), &env)
	}
	return calls
}

// targets returns the shards to send to and, for IN routes, each shard's
// values.
func (r *Route) targets(binds []sqlval.Value) ([]*topo.Shard, [][]ValueRef) {
	ks := r.Keyspace
	switch r.Opcode {
	case RouteUnsharded, RouteAnyShard:
		return ks.Shards[:1], nil
	case RouteEqual:
		if sh := r.shardOf(r.Values[0], binds); sh != nil {
			for i, s := range ks.Shards {
				if s == sh {
					return ks.Shards[i : i+1], nil // no allocation on the hot path
				}
			}
		}
	case RouteIn:
		var shards []*topo.Shard
		var lists [][]ValueRef
	values:
		for _, v := range r.Values {
			sh := r.shardOf(v, binds)
			if sh == nil {
				return ks.Shards, nil
			}
			for i, s := range shards {
				if s == sh {
					lists[i] = append(lists[i], v)
					continue values
				}
			}
			shards = append(shards, sh)
			lists = append(lists, []ValueRef{v})
		}
		return shards, lists
	}
	if r.Global != nil {
		return append(ks.Shards[:len(ks.Shards):len(ks.Shards)], r.Global), nil
	}
	return ks.Shards, nil
}

// shardOf maps a value to its shard; nil when the vindex cannot map it (then
// the route scatters, which is always correct).
func (r *Route) shardOf(v ValueRef, binds []sqlval.Value) *topo.Shard {
	val := v.Resolve(binds)
	if val.Kind == sqlval.Null {
		return r.Keyspace.Shards[0] // `col = NULL` matches nothing anywhere
	}
	ksid, err := r.Vindex.Map(val.VindexValue())
	if err != nil {
		return nil
	}
	return r.Keyspace.ShardFor(ksid)
}

// pinsAgree reports whether every pinned value maps to the route's shard.
func (r *Route) pinsAgree(binds []sqlval.Value) bool {
	sh := r.shardOf(r.Values[0], binds)
	for _, p := range r.Pins {
		ksid, err := p.Vindex.Map(p.Value.Resolve(binds).VindexValue())
		if sh == nil || err != nil || r.Keyspace.ShardFor(ksid) != sh {
			return false
		}
	}
	return true
}

// Describe implements Primitive.
func (r *Route) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Route %s keyspace=%s", opcodeNames[r.Opcode], r.Keyspace.Name)
	if r.Vindex != nil && len(r.Values) > 0 {
		vals := make([]string, len(r.Values))
		for i, v := range r.Values {
			vals[i] = v.String()
		}
		fmt.Fprintf(&b, " vindex=%s values=[%s]", r.Vindex.Type(), strings.Join(vals, ","))
	}
	if r.Merge != "" {
		fmt.Fprintf(&b, " single-shard-only=%q", r.Merge)
	}
	fmt.Fprintf(&b, " query=%q", r.Query.String())
	if len(r.Pins) > 0 {
		vals := make([]string, len(r.Pins))
		for i, p := range r.Pins {
			vals[i] = p.Value.String()
		}
		fmt.Fprintf(&b, "\n  when [%s] map to another shard:", strings.Join(vals, ","))
		if r.Unpinned == nil {
			fmt.Fprintf(&b, " refused: %s", RefusalText(r.UnpinnedErr))
		} else {
			b.WriteString("\n    " + strings.ReplaceAll(r.Unpinned.Describe(), "\n", "\n    "))
		}
	}
	return b.String()
}
