package router

import (
	"context"
	"fmt"
	"github.com/shardgate/shardgate/internal/sqllex"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/shardgate/shardgate/txn"
	"github.com/shardgate/shardgate/wire"
)

// Session statements change the session and answer OK themselves.

func sessionPlan(kind string, prim Primitive) *Plan {
	return &Plan{Kind: kind, Prim: prim, cacheable: true, tx: txNone}
}

// assignment is one part of a SET statement.
type assignment struct {
	key    string // session var key; "" for proxy-level variables
	sql    string // replayed on shards
	apply  func(s *Session) error
	reveal string // description
}

// setPrim is SET: proxy variables (autocommit, transaction_mode) change the
// session; the others are recorded and replayed on every shard connection.
type setPrim struct{ assigns []assignment }

func (p *planner) planSet(n *ast.SetStmt) (*Plan, error) {
	sp := &setPrim{}
	for _, v := range n.Variables {
		name := strings.ToLower(v.Name)
		if v.IsGlobal || v.IsInstance {
			return nil, unsupported("SET GLOBAL %s (set global variables on each shard's server)", v.Name)
		}
		switch {
		case strings.EqualFold(v.Name, ast.SetNames) || strings.EqualFold(v.Name, ast.SetCharset):
			cs := valueText(v.Value)
			sql := "NAMES " + quoteIfNeeded(cs)
			if v.ExtendValue != nil {
				if coll := valueText(v.ExtendValue); coll != "" {
					sql += " COLLATE " + quoteIfNeeded(coll)
				}
			}
			if strings.EqualFold(cs, "default") || cs == "" {
				sql = "NAMES utf8mb4"
			}
			sp.assigns = append(sp.assigns, assignment{key: namesKey, sql: sql})
		case !v.IsSystem:
			expr, err := restore(v.Value)
			if err != nil {
				return nil, err
			}
			sp.assigns = append(sp.assigns, assignment{key: "@" + name, sql: "@`" + strings.ReplaceAll(v.Name, "`", "``") + "` = " + expr})
		case name == "autocommit":
			on, err := boolValue(v.Value, "autocommit")
			if err != nil {
				return nil, err
			}
			sp.assigns = append(sp.assigns, assignment{apply: func(s *Session) error { return s.setAutocommit(on) }})
		case name == "transaction_mode":
			mode, err := txn.ParseMode(valueText(v.Value))
			if err != nil {
				return nil, err
			}
			sp.assigns = append(sp.assigns, assignment{apply: func(s *Session) error {
				if s.Tx.Active() {
					return wire.Errorf(mysql.ER_CANT_CHANGE_TX_CHARACTERISTICS, "Transaction characteristics can't be changed while a transaction is in progress (transaction_mode)")
				}
				s.Tx.Mode = mode
				return nil
			}})
		case name == "tx_isolation_one_shot" || name == "transaction_isolation_one_shot":
			level := strings.ToUpper(strings.ReplaceAll(valueText(v.Value), "-", " "))
			sp.assigns = append(sp.assigns, assignment{apply: func(s *Session) error { s.nextIsolation = level; return nil }})
		case name == "tx_isolation" || name == "transaction_isolation":
			// MariaDB 10.11 knows tx_isolation only.
			expr, err := restore(v.Value)
			if err != nil {
				return nil, err
			}
			sp.assigns = append(sp.assigns, assignment{key: "@@tx_isolation", sql: "@@session.tx_isolation = " + expr})
		case name == "tx_read_only" || name == "transaction_read_only":
			expr, err := restore(v.Value)
			if err != nil {
				return nil, err
			}
			sp.assigns = append(sp.assigns, assignment{key: "@@tx_read_only", sql: "@@session.tx_read_only = " + expr})
		default:
			expr, err := restore(v.Value)
			if err != nil {
				return nil, err
			}
			sp.assigns = append(sp.assigns, assignment{key: "@@" + name, sql: "@@session.`" + name + "` = " + expr})
		}
	}
	return sessionPlan("set", sp), nil
}

func quoteIfNeeded(s string) string {
	if s == "" {
		return "''"
	}
	for i := 0; i < len(s); i++ {
		if !sqllex.IsIdentChar(s[i]) {
			return string(appendQuoted(nil, s))
		}
	}
	return s
}

// valueText returns a literal or identifier value as text (ON, 'utf8mb4', 1).
func valueText(e ast.ExprNode) string {
	switch x := e.(type) {
	case *driver.ValueExpr:
		switch x.Datum.Kind() {
		case driver.KindInt64:
			return fmt.Sprint(x.Datum.GetInt64())
		case driver.KindUint64:
			return fmt.Sprint(x.Datum.GetUint64())
		case driver.KindString, driver.KindBytes:
			return x.Datum.GetString()
		}
	case *ast.ColumnNameExpr:
		return x.Name.Name.O
	case *ast.DefaultExpr:
		return "default"
	case nil:
		return ""
	}
	s, _ := restore(e)
	return strings.Trim(s, "'`")
}

func boolValue(e ast.ExprNode, name string) (bool, error) {
	switch strings.ToLower(valueText(e)) {
	case "1", "on", "true":
		return true, nil
	case "0", "off", "false":
		return false, nil
	case "default":
		return true, nil
	}
	return false, wire.Errorf(mysql.ER_WRONG_VALUE_FOR_VAR, "Variable '%s' can't be set to the value of '%s'", name, valueText(e))
}

// setAutocommit follows MySQL: turning autocommit on commits an open
// transaction.
func (s *Session) setAutocommit(on bool) error {
	if on && !s.Autocommit && s.Tx.Active() {
		s.Autocommit = true
		return s.Tx.Commit(context.Background())
	}
	s.Autocommit = on
	return nil
}

// Execute implements Primitive.
func (sp *setPrim) Execute(ctx context.Context, vc *vcursor) error {
	s := vc.s
	old := make(map[string]string, len(s.vars))
	for k, v := range s.vars {
		old[k] = v
	}
	changed := false
	prevMode := s.Tx.Mode
	for _, a := range sp.assigns {
		if a.apply != nil {
			if err := a.apply(s); err != nil {
				return err
			}
			continue
		}
		s.vars[a.key] = a.sql
		changed = true
	}
	vc.attachCoordinator()
	if s.Tx.Mode == txn.TwoPC && prevMode != txn.TwoPC && s.Tx.Coordinator == nil {
		s.Tx.Mode = prevMode
		return wire.Errorf(mysql.ER_WRONG_VALUE_FOR_VAR, "Variable 'transaction_mode' can't be set to the value of 'twopc': two-phase commit needs a global keyspace (global_keyspace in the configuration) for its decisions")
	}
	if changed {
		s.rebuildSettings()
		// Check the assignments now on one shard, so a bad value fails this
		// statement rather than a later one.
		if err := vc.checkSettings(ctx); err != nil {
			s.vars = old
			s.rebuildSettings()
			return err
		}
	}
	return vc.writeOK(wire.OK{})
}

func (vc *vcursor) checkSettings(ctx context.Context) error {
	ks, err := (&planner{vc: vc, st: vc.st}).defaultKeyspace()
	if err != nil {
		return err
	}
	c, err := vc.conn(ctx, ks.Shards[0])
	if err != nil {
		return err
	}
	vc.done(c)
	return nil
}

func (sp *setPrim) Describe() string {
	parts := make([]string, 0, len(sp.assigns))
	for _, a := range sp.assigns {
		if a.sql != "" {
			parts = append(parts, a.sql)
		} else {
			parts = append(parts, "(session)")
		}
	}
	return "Set " + strings.Join(parts, ", ")
}

// usePrim is USE keyspace / COM_INIT_DB.
type usePrim struct{ keyspace string }

func (p *planner) planUse(name string) (*Plan, error) {
	return sessionPlan("use", &usePrim{keyspace: name}), nil
}

// Use switches the session's keyspace (COM_INIT_DB).
func (r *Router) Use(ctx context.Context, s *Session, name string, out *wire.Conn) error {
	vc := vcursor{r: r, st: r.state.Load(), s: s, out: out}
	return vc.finish((&usePrim{keyspace: name}).Execute(ctx, &vc))
}

func (u *usePrim) Execute(ctx context.Context, vc *vcursor) error {
	ks, replica, err := vc.useTarget(u.keyspace) // keyspace@replica (target.go)
	if err != nil {
		return err
	}
	if !allowedKeyspace(vc.s.User, ks.Name) {
		return wire.Errorf(mysql.ER_DBACCESS_DENIED_ERROR, "Access denied for user '%s' to database '%s'", vc.s.User.Name, ks.Name)
	}
	vc.s.Keyspace, vc.s.Replica = ks.Name, replica
	return vc.writeOK(wire.OK{})
}

func (u *usePrim) Describe() string { return "Use keyspace=" + u.keyspace }

type beginPrim struct{ begin string }

func (p *planner) planBegin(n *ast.BeginStmt) (*Plan, error) {
	begin := "START TRANSACTION"
	switch {
	case n.ReadOnly:
		begin += " READ ONLY"
	case strings.Contains(strings.ToUpper(p.sql), "CONSISTENT SNAPSHOT"):
		begin += " WITH CONSISTENT SNAPSHOT"
	}
	return sessionPlan("begin", &beginPrim{begin: begin}), nil
}

func (b *beginPrim) Execute(ctx context.Context, vc *vcursor) error {
	s := vc.s
	vc.attachCoordinator()
	var ok wire.OK
	if s.Tx.Active() {
		if err := s.Tx.Commit(ctx); err != nil { // implicit commit, as MySQL
			return err
		}
		ok = commitOK(s)
	}
	s.Tx.Begin(s.beginStatement(b.begin))
	return vc.writeOK(ok)
}

func (b *beginPrim) Describe() string { return "Begin " + b.begin }

type commitPrim struct{}

func (commitPrim) Execute(ctx context.Context, vc *vcursor) error {
	vc.attachCoordinator()
	if err := vc.s.Tx.Commit(ctx); err != nil {
		return err
	}
	return vc.writeOK(commitOK(vc.s))
}

// commitOK is the OK of a successful COMMIT: a twopc commit whose branches
// were not all confirmed carries a warning (count and info text; SHOW
// WARNINGS does not list it).
func commitOK(s *Session) wire.OK {
	if w := s.Tx.Warning(); w != "" {
		return wire.OK{Warnings: 1, Info: w}
	}
	return wire.OK{}
}

func (commitPrim) Describe() string { return "Commit (multi: shard by shard; twopc: two-phase on XA)" }

type rollbackPrim struct{}

func (rollbackPrim) Execute(ctx context.Context, vc *vcursor) error {
	if err := vc.s.Tx.Rollback(ctx); err != nil {
		return err
	}
	return vc.writeOK(wire.OK{})
}

func (rollbackPrim) Describe() string { return "Rollback" }
