package router

import (
	"bytes"
	"context"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/router/policy"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// planLocalShow plans the SHOW statements the proxy answers from its own
// state: keyspaces, sessions, grants in shardgate, collected warnings.
func (vc *vcursor) planLocalShow(n *ast.ShowStmt) (*planner.Plan, bool, error) {
	switch n.Tp {
	case ast.ShowDatabases:
		return &planner.Plan{Kind: planner.KindShow, Prim: &showDatabases{like: n.Pattern}, Cacheable: true}, true, nil
	case ast.ShowProcessList:
		return &planner.Plan{Kind: planner.KindShow, Prim: showProcesslist{}, Cacheable: true}, true, nil
	case ast.ShowWarnings, ast.ShowErrors:
		return &planner.Plan{Kind: planner.KindShowWarnings, Prim: &showWarnings{errorsOnly: n.Tp == ast.ShowErrors, count: n.CountWarningsOrErrors}, Cacheable: true}, true, nil
	case ast.ShowGrants:
		if u := n.User; u != nil && !u.CurrentUser && (vc.s.User == nil || u.Username != vc.s.User.Name) {
			return nil, true, wire.Errorf(mysql.ER_DBACCESS_DENIED_ERROR, "Access denied: shardgate shows a session only its own grants (SHOW GRANTS, or SHOW GRANTS FOR CURRENT_USER)")
		}
		return &planner.Plan{Kind: planner.KindShow, Prim: showGrants{}, Cacheable: true}, true, nil
	}
	return nil, false, nil
}

// showGrants answers SHOW GRANTS with the session user's rights in
// shardgate, not the shard account's.
type showGrants struct{}

func (showGrants) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	u := vc.s.User
	name := "(none)"
	privs, on := "ALL PRIVILEGES", []string{"*"}
	if u != nil {
		name = u.Name
		if u.ReadOnly {
			privs = "SELECT"
		}
		if len(u.Keyspaces) > 0 {
			on = u.Keyspaces
		}
	}
	var rows [][]string
	for _, ks := range on {
		if ks != "*" {
			ks = string(sqlval.AppendIdent(nil, ks))
		}
		rows = append(rows, []string{"GRANT " + privs + " ON " + ks + ".* TO " + string(sqlval.AppendQuoted(nil, name)) + "@'%'"})
	}
	return vc.writeRows(stringFields("Grants for "+name+"@%"), rows)
}

func (showGrants) Describe() string { return "ShowGrants (the session user's rights in shardgate)" }

// showDatabases lists the keyspaces the user may see.
type showDatabases struct{ like *ast.PatternLikeOrIlikeExpr }

func (sd *showDatabases) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	var rows [][]string
	pattern := ""
	if sd.like != nil {
		pattern = planner.ValueText(sd.like.Pattern)
	}
	rows = append(rows, []string{"information_schema"})
	for _, name := range vc.st.snap.Names() {
		if vc.s.User.MayUse(name) && (pattern == "" || likeMatch(pattern, name)) {
			rows = append(rows, []string{name})
		}
	}
	if pattern != "" && !likeMatch(pattern, "information_schema") {
		rows = rows[1:]
	}
	return vc.writeRows([]wire.Field{{Name: "Database", OrgName: "SCHEMA_NAME", Table: "SCHEMATA", Type: mysql.MYSQL_TYPE_VAR_STRING, Length: 256}}, rows)
}

func (sd *showDatabases) Describe() string { return "ShowDatabases (keyspaces)" }

// likeMatch implements LIKE with % and _ (case-insensitive).
func likeMatch(pattern, s string) bool {
	pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	var match func(p, s string) bool
	match = func(p, s string) bool {
		for len(p) > 0 {
			switch p[0] {
			case '%':
				for i := 0; i <= len(s); i++ {
					if match(p[1:], s[i:]) {
						return true
					}
				}
				return false
			case '_':
				if s == "" {
					return false
				}
				p, s = p[1:], s[1:]
			case '\\':
				if len(p) > 1 {
					p = p[1:]
				}
				fallthrough
			default:
				if s == "" || s[0] != p[0] {
					return false
				}
				p, s = p[1:], s[1:]
			}
		}
		return s == ""
	}
	return match(pattern, s)
}

// FieldList answers COM_FIELD_LIST from the session keyspace's first shard.
func (r *Router) FieldList(ctx context.Context, s *Session, arg []byte, out *wire.Conn) error {
	vc := vcursor{r: r, st: r.state.Load(), s: s, out: out}
	ks := vc.sessionKeyspace()
	if ks == nil {
		return vc.finish(wire.Errorf(mysql.ER_NO_DB_ERROR, "No database selected"))
	}
	table := arg
	if i := bytes.IndexByte(arg, 0); i >= 0 {
		table = arg[:i]
	}
	if err := policy.CheckTableName(&ast.TableName{Name: ast.NewCIStr(string(table))}); err != nil {
		return vc.finish(err)
	}
	c, err := vc.Conn(ctx, ks.Shards[0])
	if err != nil {
		return vc.finish(err)
	}
	defer vc.Done(c)
	if err := c.WriteCommand(ctx, mysql.COM_FIELD_LIST, arg); err != nil {
		return vc.finish(err)
	}
	for {
		p, err := c.Read()
		if err != nil {
			return vc.finish(err)
		}
		if p[0] == wire.ErrHeader {
			return vc.finish(wire.ParseError(p))
		}
		if wire.IsEOF(p) {
			return vc.finish(vc.WriteEOF(0))
		}
		if err := vc.Write(p); err != nil {
			c.MarkBroken() // the rest of the answer is unread
			return vc.finish(err)
		}
	}
}
