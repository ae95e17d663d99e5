package planner

import (
	"errors"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// routeOptions are what a statement kind adds to routing.
type routeOptions struct {
	kind  Kind
	write bool
	merge string // construct that needs merging across shards
}

// planRoute plans a statement that runs on shards as written: it picks the
// keyspace, the routing opcode from WHERE, and builds the SQL template. A
// statement no shard can run (a join across shards) is refused: only a
// SELECT joins at the proxy (planSelect).
func (p *planner) planRoute(stmt ast.Node, refs []*tableRef, where ast.ExprNode, o routeOptions) (*Plan, error) {
	d, err := p.routeOf(stmt, refs, where, o)
	if err != nil {
		return nil, err
	}
	if d.shape == shapeJoin {
		return nil, d.why
	}
	return p.buildRoute(stmt, refs, d, o)
}

// routeShape is how a statement runs across shards.
type routeShape uint8

const (
	shapeRoute routeShape = iota // one Route: the shards run it as written
	shapeMerge                   // a Route that may reach several shards, whose results the proxy merges
	shapeJoin                    // no shard can run it: a join at the proxy, if anything
)

// routeDecision is where a statement runs, decided from its tree without
// changing it (the builders rewrite the tree into templates).
type routeDecision struct {
	shape routeShape
	// route: everything but the query (shapeRoute, shapeMerge).
	route *engine.Route
	// in: the IN list that routes it, which each shard's query lists only
	// that shard's values of.
	in *ast.PatternInExpr
	// why no shard can run it (shapeJoin): tables in different keyspaces,
	// sharded tables not joined on their sharding columns, an outer join
	// that keeps a reference table's rows.
	why error
}

// routeOf decides the keyspace and the routing opcode of a statement from
// its tables and WHERE.
func (p *planner) routeOf(stmt ast.Node, refs []*tableRef, where ast.ExprNode, o routeOptions) (routeDecision, error) {
	ks, err := keyspaceOf(refs)
	if err != nil {
		return routeDecision{shape: shapeJoin, why: err}, nil
	}
	d := routeDecision{route: &engine.Route{Opcode: engine.RouteUnsharded, Merge: o.merge}}
	r := d.route
	switch {
	case ks == nil: // no table, or only system schemas
		if ks, err = p.defaultKeyspace(); err != nil {
			return d, err
		}
		r.Opcode = engine.RouteAnyShard
	case !ks.Sharded:
		r.Opcode = engine.RouteUnsharded
	default:
		if err := p.checkSubqueries(stmt, refs); err != nil {
			return d, err
		}
		if err := checkColocated(stmt, where, outerRefs(stmt, refs)); err != nil {
			return routeDecision{shape: shapeJoin, why: err}, nil
		}
		if err := checkOuterJoins(stmt, refs); err != nil {
			return routeDecision{shape: shapeJoin, why: err}, nil
		}
		d.in = p.shardedRouting(r, ks, refs, where, o.write)
	}
	r.Keyspace = ks
	if r.Opcode == engine.RouteUnsharded || r.Opcode == engine.RouteAnyShard {
		r.Merge = ""
	}
	if r.Merge != "" {
		d.shape = shapeMerge
	}
	return d, nil
}

// shardedRouting sets the opcode of a route in sharded keyspace ks and
// returns the IN list that routes it, if any.
func (p *planner) shardedRouting(r *engine.Route, ks *topo.Keyspace, refs []*tableRef, where ast.ExprNode, write bool) *ast.PatternInExpr {
	nsharded := 0
	for _, t := range refs {
		if t.sharded() {
			nsharded++
		}
	}
	switch {
	case nsharded == 0 && write:
		r.Opcode, r.How = engine.RouteScatter, engine.CombineFirstOnly // reference table: every shard keeps a copy
		if g, ok := p.env.Keyspace(p.env.GlobalKeyspace()); ok && g != ks {
			r.Global = g.Shards[0]
		}
	case nsharded == 0:
		r.Opcode = engine.RouteAnyShard
	default:
		r.Opcode = engine.RouteScatter
		if rt := p.findRouting(where, refs); rt != nil {
			r.Vindex = rt.table.tbl.Vindex
			r.Values = rt.values
			r.Opcode = engine.RouteEqual
			if rt.in != nil {
				r.Opcode = engine.RouteIn
				return rt.in
			}
		}
	}
	return nil
}

// buildRoute makes the plan of a route decision, rewriting stmt into its
// template.
func (p *planner) buildRoute(stmt ast.Node, refs []*tableRef, d routeDecision, o routeOptions) (*Plan, error) {
	r := d.route
	if d.in != nil {
		d.in.List = []ast.ExprNode{ast.NewValueExpr(engine.PhList, "", "")}
	}
	if err := p.finishRoute(stmt, refs, r); err != nil {
		return nil, err
	}
	ks := r.Keyspace
	return &Plan{
		Kind: o.kind, Prim: r, Write: o.write, Keyspaces: keyspaceNames(refs),
		Cacheable: true, Meta: ks.Shards[0], Tx: TxJoin,
		MultiShardWrite: o.write && (r.Opcode == engine.RouteScatter || r.Opcode == engine.RouteIn || r.Global != nil),
	}, nil
}

// finishRoute makes the SQL template of a route: keyspace qualifiers and
// the values only the proxy knows become placeholders.
func (p *planner) finishRoute(stmt ast.Node, refs []*tableRef, r *engine.Route) error {
	if qualifyForShards(refs) {
		r.Rewrite = true
	}
	p.keepFieldNames(stmt) // matters only when the template is rendered
	if p.replaceSchemata(stmt) {
		r.Rewrite = true
	}
	if specialFuncs(stmt) {
		r.Rewrite = true
	}
	var err error
	r.Query, err = p.templateOf(stmt)
	return err
}

func (p *planner) planSelect(sel *ast.SelectStmt) (*Plan, error) {
	refs, err := p.collectTables(sel)
	if err != nil {
		return nil, err
	}
	if plan, ok, err := p.planPinned(sel, refs); ok || err != nil {
		return plan, err
	}
	d, o, err := p.selectRoute(sel, refs)
	if err != nil {
		return nil, err
	}
	switch d.shape {
	case shapeJoin:
		swapRightJoin(sel)
		if sel.GroupBy != nil || sel.Having != nil || sel.Distinct || hasAggregate(sel.Fields) {
			return p.planJoinAggregate(sel, d.why)
		}
		return p.planJoin(sel, d.why)
	case shapeRoute:
		return p.buildRoute(sel, refs, d, o)
	}
	// The route may reach several shards: the merge over them is planned
	// on a copy taken before the route's template rewrites the tree.
	sel2, p2 := fork(p, sel)
	plan, err := p.buildRoute(sel, refs, d, o)
	if err != nil {
		return nil, err
	}
	r := plan.Prim.(*engine.Route)
	sm, err := p2.planMergeOf(sel2, r)
	if err != nil {
		if r.Opcode == engine.RouteEqual && err != errLiteralPosition && isNotSupported(err) {
			// One shard answers what the proxy cannot merge (window
			// functions, WITH ROLLUP, ...); the route refuses only an
			// execution whose value no shard owns (it would scatter).
			r.Merge = engine.RefusalText(err)
			return plan, nil
		}
		return nil, err
	}
	r.Merge = "" // the route now runs only when it reaches one shard
	plan.Prim = sm
	return plan, nil
}

// isNotSupported reports a refusal (1235) of the planner.
func isNotSupported(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code == mysql.ER_NOT_SUPPORTED_YET
}

// planMergeOf plans the merge of sel (a copy no other builder rewrites)
// over the shards of r, and the query each shard runs.
func (p *planner) planMergeOf(sel *ast.SelectStmt, r *engine.Route) (*engine.SelectMerge, error) {
	refs, err := p.collectTables(sel)
	if err != nil {
		return nil, err
	}
	if rt := p.findRouting(sel.Where, refs); rt != nil && rt.in != nil && r.Opcode == engine.RouteIn {
		rt.in.List = []ast.ExprNode{ast.NewValueExpr(engine.PhList, "", "")}
	}
	p.keepFieldNames(sel)
	sm, err := p.planMerge(sel, r)
	if err != nil {
		return nil, err
	}
	qualifyForShards(refs)
	specialFuncs(sel)
	if sm.Shard, err = p.templateOf(sel); err != nil {
		return nil, err
	}
	if err := p.planProbe(sel, sm); err != nil {
		return nil, err
	}
	return sm, nil
}

func anySharded(refs []*tableRef) bool {
	for _, r := range refs {
		if r.sharded() {
			return true
		}
	}
	return false
}

func (p *planner) planUnion(u *ast.SetOprStmt) (*Plan, error) {
	refs, err := p.collectTables(u)
	if err != nil {
		return nil, err
	}
	if anySharded(refs) {
		if plan, ok, err := p.planPinned(u, refs); ok || err != nil {
			return plan, err
		}
		if u.With != nil {
			return nil, engine.Unsupported("WITH (common table expressions) on a sharded keyspace")
		}
		return p.planShardedUnion(u)
	}
	return p.planRoute(u, refs, nil, routeOptions{kind: KindSelect})
}

func (p *planner) planUpdate(u *ast.UpdateStmt) (*Plan, error) {
	refs, err := p.collectTables(u.TableRefs)
	if err != nil {
		return nil, err
	}
	for _, a := range u.List {
		for _, r := range refs {
			if r.sharded() && a.Column.Name.L == r.tbl.Column && (a.Column.Table.L == "" || a.Column.Table.L == r.alias) {
				return nil, engine.Unsupported("UPDATE of sharding column %s of table %s (the row would have to move to another shard; DELETE and INSERT it instead)", r.tbl.Column, r.name.Name.O)
			}
		}
	}
	merge := ""
	if u.Limit != nil {
		merge = "UPDATE with LIMIT across shards"
	}
	return p.planRoute(u, refs, u.Where, routeOptions{kind: KindUpdate, write: true, merge: merge})
}

func (p *planner) planDelete(d *ast.DeleteStmt) (*Plan, error) {
	refs, err := p.collectTables(d)
	if err != nil {
		return nil, err
	}
	merge := ""
	if d.Limit != nil {
		merge = "DELETE with LIMIT across shards"
	}
	return p.planRoute(d, refs, d.Where, routeOptions{kind: KindDelete, write: true, merge: merge})
}

// checkOuterJoins refuses to scatter an outer join whose preserved side has
// no sharded table: every shard would return the unmatched rows of the
// reference table once. The proxy-side join handles it instead.
func checkOuterJoins(stmt ast.Node, refs []*tableRef) error {
	byName := map[*ast.TableName]*tableRef{}
	for _, r := range refs {
		byName[r.name] = r
	}
	hasSharded := func(n ast.Node) bool {
		found := false
		if n == nil {
			return false
		}
		Walk(n, func(x ast.Node) ast.Node {
			if tn, ok := x.(*ast.TableName); ok && byName[tn] != nil && byName[tn].sharded() {
				found = true
			}
			return x
		})
		return found
	}
	var err error
	Walk(stmt, func(x ast.Node) ast.Node {
		j, ok := x.(*ast.Join)
		if !ok || j.Right == nil || err != nil {
			return x
		}
		preserved, other := j.Left, j.Right
		if j.Tp == ast.RightJoin {
			preserved, other = j.Right, j.Left
		}
		if (j.Tp == ast.LeftJoin || j.Tp == ast.RightJoin) && !hasSharded(preserved) && hasSharded(other) {
			err = engine.Unsupported("an outer join that keeps the rows of a reference or unsharded table against a sharded table")
		}
		return x
	})
	return err
}

var schemataColumns = []string{"CATALOG_NAME", "SCHEMA_NAME", "DEFAULT_CHARACTER_SET_NAME", "DEFAULT_COLLATION_NAME", "SQL_PATH", "SCHEMA_COMMENT"}

// replaceSchemata answers information_schema.SCHEMATA with the keyspaces:
// the table becomes a derived table of their names, which the shard then
// filters, sorts and projects as MySQL would.
func (p *planner) replaceSchemata(stmt ast.Node) bool {
	found := false
	Walk(stmt, func(x ast.Node) ast.Node {
		ts, ok := x.(*ast.TableSource)
		if !ok {
			return x
		}
		tn, ok := ts.Source.(*ast.TableName)
		if !ok || tn.Schema.L != "information_schema" || tn.Name.L != "schemata" {
			return x
		}
		var rows [][]ast.ExprNode
		for _, name := range append([]string{"information_schema"}, p.env.KeyspaceNames()...) {
			rows = append(rows, []ast.ExprNode{ast.NewValueExpr("def", "", ""), ast.NewValueExpr(name, "", ""),
				ast.NewValueExpr("utf8mb4", "", ""), ast.NewValueExpr("utf8mb4_general_ci", "", ""),
				ast.NewValueExpr(nil, "", ""), ast.NewValueExpr("", "", "")})
		}
		ts.Source = constRows("t", schemataColumns, rows).Source
		if ts.AsName.L == "" {
			ts.AsName = ast.NewCIStr("SCHEMATA")
		}
		found = true
		return x
	})
	return found
}

// selectRoute decides how a SELECT over refs runs (one route, a merge, a
// join), with the options its route is built with.
func (p *planner) selectRoute(sel *ast.SelectStmt, refs []*tableRef) (routeDecision, routeOptions, error) {
	o := routeOptions{kind: KindSelect, merge: mergeConstruct(sel)}
	if sel.With != nil && anySharded(refs) {
		return routeDecision{}, o, engine.Unsupported("WITH (common table expressions) on a sharded keyspace")
	}
	d, err := p.routeOf(sel, refs, sel.Where, o)
	return d, o, err
}
