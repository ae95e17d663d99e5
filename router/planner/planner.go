package planner

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/policy"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
)

// planner builds the plan of one parsed statement. The AST is its own (parsed
// for this plan), so it may rewrite it before restoring SQL templates; a
// plan that needs two templates of the statement plans the second on a
// copy (fork, tree.go).
type planner struct {
	env    Env
	ctx    context.Context // the statement's: for the Env's calls that may reach a shard
	nbinds int
	binds  map[*driver.ParamMarkerExpr]int // marker -> bind index (text order)
	// aliases are select-field names rendered with their literals.
	aliases []engine.FieldAlias
	// joinCounts are the per-row COUNT values of an aggregate over a
	// cross-shard join (planJoinAggregate).
	joinCounts map[ast.ExprNode]ast.ExprNode
	// held collects the keyspaces of tables a traffic switch holds
	// (switch.go); shared with the planners of copies (fork).
	held *holdSet
	// noPin: plan without pinning (plan_pin.go), for the plan a pinned
	// route runs when its values map to different shards.
	noPin bool
}

// plan checks stmt against the policy (package policy) and plans it.
func (p *planner) plan(stmt ast.StmtNode) (*Plan, error) {
	pc, err := policy.Check(p.env, stmt)
	if err != nil {
		return nil, err
	}
	plan, err := p.planStatement(stmt)
	if err == nil && setsLastID(stmt) {
		err = lastIDOnOneShard(plan)
	}
	if plan != nil {
		note(plan, pc)
	}
	return plan, err
}

// admit checks a statement the router planned itself (session statements)
// against the policy, and notes what the policy found on its plan.
func (p *planner) admit(stmt ast.StmtNode, plan *Plan) error {
	pc, err := policy.Check(p.env, stmt)
	if err != nil {
		return err
	}
	note(plan, pc)
	if setsLastID(stmt) {
		return lastIDOnOneShard(plan) // refused: only a statement on one shard tells the proxy the value
	}
	return nil
}

func (p *planner) planStatement(stmt ast.StmtNode) (*Plan, error) {
	p.indexBinds(stmt)
	switch n := stmt.(type) {
	case *ast.SelectStmt:
		return p.planSelect(n)
	case *ast.SetOprStmt:
		return p.planUnion(n)
	case *ast.InsertStmt:
		return p.planInsert(n)
	case *ast.UpdateStmt:
		return p.planUpdate(n)
	case *ast.DeleteStmt:
		return p.planDelete(n)
	case *ast.CreateTableStmt, *ast.AlterTableStmt, *ast.DropTableStmt, *ast.CreateIndexStmt,
		*ast.DropIndexStmt, *ast.TruncateTableStmt, *ast.RenameTableStmt, *ast.CreateViewStmt:
		return p.planDDL(n)
	case *ast.ShowStmt:
		return p.planShow(n)
	case *ast.ExplainStmt:
		return p.planExplain(n)
	case *ast.CreateDatabaseStmt:
		return nil, engine.Unsupported("CREATE DATABASE (keyspaces are defined in the shardgate configuration)")
	case *ast.DropDatabaseStmt:
		return nil, engine.Unsupported("DROP DATABASE (keyspaces are defined in the shardgate configuration)")
	case *ast.LoadDataStmt:
		return nil, engine.Unsupported("LOAD DATA")
	case *ast.LockTablesStmt, *ast.UnlockTablesStmt:
		return nil, engine.Unsupported("LOCK TABLES / UNLOCK TABLES")
	case *ast.CallStmt:
		return nil, engine.Unsupported("CALL (stored procedures)")
	case *ast.PrepareStmt, *ast.ExecuteStmt, *ast.DeallocateStmt:
		return nil, engine.Unsupported("SQL-level PREPARE/EXECUTE (use the binary protocol's prepared statements)")
	case *ast.SavepointStmt, *ast.ReleaseSavepointStmt:
		return nil, engine.Unsupported("SAVEPOINT")
	}
	return nil, engine.Unsupported("%s statements", stmtName(stmt))
}

func stmtName(stmt ast.StmtNode) string {
	name := fmt.Sprintf("%T", stmt)
	name = strings.TrimPrefix(name, "*ast.")
	return strings.TrimSuffix(name, "Stmt")
}

// indexBinds numbers the '?' markers in text order: bind i is the i-th '?'.
func (p *planner) indexBinds(stmt ast.StmtNode) {
	var ms []*driver.ParamMarkerExpr
	Walk(stmt, func(n ast.Node) ast.Node {
		if m, ok := n.(*driver.ParamMarkerExpr); ok {
			ms = append(ms, m)
		}
		return n
	})
	sort.Slice(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
	p.binds = make(map[*driver.ParamMarkerExpr]int, len(ms))
	for i, m := range ms {
		p.binds[m] = i
	}
}

// valueOf returns the value an expression stands for, if it is a literal or
// a parameter.
func (p *planner) valueOf(e ast.ExprNode) (engine.ValueRef, bool) {
	switch x := e.(type) {
	case *ast.UnaryOperationExpr:
		if x.Op == opcode.Minus {
			if v, ok := p.valueOf(x.V); ok && !v.Neg {
				v.Neg = true
				return v, true
			}
		}
	case *ast.ParenthesesExpr:
		return p.valueOf(x.Expr)
	case *driver.ParamMarkerExpr:
		if i, ok := p.binds[x]; ok {
			return engine.ValueRef{Bind: i}, true
		}
	case *driver.ValueExpr:
		d := x.Datum
		switch d.Kind() {
		case driver.KindNull:
			return engine.ValueRef{Bind: -1, Lit: sqlval.Value{Kind: sqlval.Null}}, true
		case driver.KindInt64:
			return engine.ValueRef{Bind: -1, Lit: sqlval.Value{Kind: sqlval.Int, Raw: fmt.Sprint(d.GetInt64())}}, true
		case driver.KindUint64:
			return engine.ValueRef{Bind: -1, Lit: sqlval.Value{Kind: sqlval.Uint, Raw: fmt.Sprint(d.GetUint64())}}, true
		case driver.KindString, driver.KindBytes:
			return engine.ValueRef{Bind: -1, Lit: sqlval.Value{Kind: sqlval.String, Raw: d.GetString()}}, true
		}
	}
	return engine.ValueRef{}, false
}

// templateOf rewrites the statement's markers into placeholders and restores
// it. It must be the planner's last use of the AST.
func (p *planner) templateOf(n ast.Node) (engine.Template, error) {
	Walk(n, func(x ast.Node) ast.Node {
		if m, ok := x.(*driver.ParamMarkerExpr); ok {
			if i, ok := p.binds[m]; ok {
				return ast.NewValueExpr(engine.BindPlaceholder(i), "", "")
			}
		}
		return x
	})
	sql, err := Restore(n)
	if err != nil {
		return engine.Template{}, err
	}
	if hasLockInShareMode(n) {
		// The parser restores LOCK IN SHARE MODE as FOR SHARE, which
		// MariaDB 10.11 does not know.
		sql = strings.ReplaceAll(sql, " FOR SHARE", " LOCK IN SHARE MODE")
	}
	t := engine.ParseTemplate(sql)
	t.Aliases = p.aliases
	return t, nil
}

// columnOf matches e against the sharding column of one of refs.
func columnOf(e ast.ExprNode, refs []*tableRef, nsharded int) *tableRef {
	c, ok := e.(*ast.ColumnNameExpr)
	if !ok {
		return nil
	}
	for _, r := range refs {
		if !r.sharded() || c.Name.Name.L != r.tbl.Column {
			continue
		}
		if c.Name.Table.L == "" {
			if nsharded == 1 {
				return r
			}
			continue
		}
		if c.Name.Table.L == r.alias {
			return r
		}
	}
	return nil
}

// routing is what a WHERE clause says about the target shards.
type routing struct {
	table  *tableRef
	values []engine.ValueRef
	in     *ast.PatternInExpr // IN list, split per shard for text queries
}

// findRouting looks for `col = v` or `col IN (v, ...)` on a sharding column.
func (p *planner) findRouting(where ast.ExprNode, refs []*tableRef) *routing {
	nsharded := 0
	for _, r := range refs {
		if r.sharded() {
			nsharded++
		}
	}
	var best *routing
	for _, c := range conjuncts(where, nil) {
		switch x := c.(type) {
		case *ast.BinaryOperationExpr:
			if x.Op != opcode.EQ {
				continue
			}
			for _, side := range [][2]ast.ExprNode{{x.L, x.R}, {x.R, x.L}} {
				if t := columnOf(side[0], refs, nsharded); t != nil {
					if v, ok := p.valueOf(side[1]); ok {
						return &routing{table: t, values: []engine.ValueRef{v}}
					}
				}
			}
		case *ast.PatternInExpr:
			if x.Not || x.Sel != nil || best != nil {
				continue
			}
			t := columnOf(x.Expr, refs, nsharded)
			if t == nil {
				continue
			}
			vals := make([]engine.ValueRef, 0, len(x.List))
			for _, e := range x.List {
				v, ok := p.valueOf(e)
				if !ok {
					vals = nil
					break
				}
				vals = append(vals, v)
			}
			if vals != nil {
				best = &routing{table: t, values: vals, in: x}
			}
		}
	}
	return best
}

// checkColocated verifies that all sharded tables of a join are joined on
// their sharding columns with the same vindex type, so that each shard can
// run the join on its own rows.
func checkColocated(n ast.Node, where ast.ExprNode, refs []*tableRef) error {
	var sharded []*tableRef
	for _, r := range refs {
		if r.sharded() {
			sharded = append(sharded, r)
		}
	}
	if len(sharded) <= 1 {
		return nil
	}
	parent := map[*tableRef]*tableRef{}
	var find func(*tableRef) *tableRef
	find = func(r *tableRef) *tableRef {
		for parent[r] != nil {
			r = parent[r]
		}
		return r
	}
	eqs := conjuncts(where, nil)
	Walk(n, func(x ast.Node) ast.Node {
		if on, ok := x.(*ast.OnCondition); ok {
			eqs = conjuncts(on.Expr, eqs)
		}
		return x
	})
	for _, e := range eqs {
		b, ok := e.(*ast.BinaryOperationExpr)
		if !ok || b.Op != opcode.EQ {
			continue
		}
		l, r := columnOf(b.L, sharded, 0), columnOf(b.R, sharded, 0)
		if l == nil || r == nil || l == r || l.tbl.Vindex.Type() != r.tbl.Vindex.Type() {
			continue
		}
		if a, b := find(l), find(r); a != b {
			parent[a] = b
		}
	}
	root := find(sharded[0])
	for _, r := range sharded[1:] {
		if find(r) != root {
			return engine.Unsupported("cross-shard join of %s and %s (join sharded tables on their sharding columns, or use a reference table)", sharded[0].alias, r.alias)
		}
	}
	return nil
}

// mergeConstruct names what a SELECT needs the proxy to merge across shards.
func mergeConstruct(sel *ast.SelectStmt) string {
	switch {
	case sel.GroupBy != nil:
		return "GROUP BY across shards"
	case sel.Having != nil:
		return "HAVING across shards"
	case hasAggregate(sel.Fields):
		return "aggregate functions across shards"
	case sel.Distinct:
		return "DISTINCT across shards"
	case sel.OrderBy != nil:
		return "ORDER BY across shards"
	case sel.Limit != nil:
		return "LIMIT across shards"
	}
	return ""
}

// specialFuncs replaces DATABASE(), CONNECTION_ID() and LAST_INSERT_ID() by
// placeholders: the shard would answer with its own values. Select fields
// keep their names through aliases.
func specialFuncs(n ast.Node) bool {
	found := false
	Walk(n, func(x ast.Node) ast.Node {
		// MariaDB 10.11 knows the MySQL 8 names only as tx_*.
		if v, ok := x.(*ast.VariableExpr); ok && v.IsSystem {
			switch strings.ToLower(v.Name) {
			case "transaction_isolation":
				v.Name, found = "tx_isolation", true
			case "transaction_read_only":
				v.Name, found = "tx_read_only", true
			}
		}
		if ph := specialOf(x); ph != "" {
			found = true
			return ast.NewValueExpr(ph, "", "")
		}
		return x
	})
	return found
}

// specialOf returns the placeholder of a node whose value the proxy, not
// the shard, knows: DATABASE(), CONNECTION_ID(), LAST_INSERT_ID(),
// @@autocommit.
func specialOf(x ast.Node) string {
	switch e := x.(type) {
	case *ast.FuncCallExpr:
		if len(e.Args) == 0 {
			return specialPlaceholder(e.FnName.L)
		}
	case *ast.VariableExpr:
		if e.IsSystem && !e.IsGlobal && strings.EqualFold(e.Name, "autocommit") {
			return engine.PhAutocommit
		}
		if e.IsSystem && (strings.EqualFold(e.Name, "transaction_isolation") || strings.EqualFold(e.Name, "transaction_read_only")) {
			return "" // renamed in place by specialFuncs
		}
	}
	return ""
}

// keepFieldNames aliases the select fields of a statement that may be sent
// rewritten, so that result columns keep the names the client wrote
// (restoring changes @@version to @@`version`, count(*) to COUNT(1)). A
// field whose text holds literals gets an alias rendered with them.
func (p *planner) keepFieldNames(n ast.Node) {
	sel, ok := n.(*ast.SelectStmt)
	if !ok || sel.Fields == nil {
		return
	}
	for _, f := range sel.Fields.Fields {
		if f.Expr == nil || f.AsName.L != "" || f.Text() == "" {
			continue
		}
		if _, isCol := f.Expr.(*ast.ColumnNameExpr); isCol {
			continue
		}
		if !strings.Contains(f.Text(), "?") {
			f.AsName = ast.NewCIStr(f.Text())
			continue
		}
		if _, bare := f.Expr.(*driver.ParamMarkerExpr); bare {
			continue // a rendered literal names itself ('x' is column x)
		}
		var ms []*driver.ParamMarkerExpr
		Walk(f.Expr, func(x ast.Node) ast.Node {
			if m, ok := x.(*driver.ParamMarkerExpr); ok {
				ms = append(ms, m)
			}
			return x
		})
		sort.Slice(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
		a := engine.FieldAlias{Text: f.Text()}
		for _, m := range ms {
			a.Binds = append(a.Binds, p.binds[m])
		}
		f.AsName = ast.NewCIStr(engine.PhAlias + strconv.Itoa(len(p.aliases)) + "__")
		p.aliases = append(p.aliases, a)
	}
}

func specialPlaceholder(fn string) string {
	switch fn {
	case "database", "schema":
		return engine.PhDatabase
	case "connection_id":
		return engine.PhConnID
	case "last_insert_id":
		return engine.PhLastID
	case "row_count":
		return engine.PhRowCount
	case "user", "session_user", "system_user":
		return engine.PhUser
	case "current_user":
		return engine.PhCurrentUser
	}
	return ""
}

func hasSpecial(e ast.Node) bool {
	found := false
	Walk(e, func(x ast.Node) ast.Node {
		if specialOf(x) != "" {
			found = true
		}
		return x
	})
	return found
}

func hasLockInShareMode(n ast.Node) bool {
	found := false
	Walk(n, func(x ast.Node) ast.Node {
		if sel, ok := x.(*ast.SelectStmt); ok && sel.LockInfo != nil && sel.LockInfo.LockType == ast.SelectLockForShare {
			found = true
		}
		return x
	})
	return found
}

// Build plans one parsed statement (with nbinds '?' markers). The planner
// reads only the tree.
func Build(ctx context.Context, env Env, stmt ast.StmtNode, nbinds int) (*Plan, error) {
	p := &planner{env: env, ctx: ctx, nbinds: nbinds}
	plan, err := p.plan(stmt)
	if err == nil && plan != nil && p.held != nil {
		plan.Held = p.held.keyspaces
	}
	return plan, err
}

// Admit checks a statement the router planned itself against the
// policy, and notes what the policy found on its plan.
func Admit(env Env, stmt ast.StmtNode, plan *Plan) error {
	return (&planner{env: env}).admit(stmt, plan)
}

// KeyspaceNamed returns the keyspace named name, the session's when name
// is "".
func KeyspaceNamed(env Env, name string) (*topo.Keyspace, error) {
	return (&planner{env: env}).keyspaceNamed(name)
}

// DefaultKeyspace is the keyspace a statement naming no table runs on.
func DefaultKeyspace(env Env) (*topo.Keyspace, error) {
	return (&planner{env: env}).defaultKeyspace()
}

// note records what the policy found on the statement's plan.
func note(plan *Plan, f *policy.Findings) {
	plan.Locks = f.Locks
	plan.Tables = f.Tables
	for _, ks := range f.Keyspaces {
		if !containsString(plan.Keyspaces, ks) {
			plan.Keyspaces = append(plan.Keyspaces, ks)
		}
	}
}
