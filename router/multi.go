package router

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/wire"
)

// multiStatement runs the statements of one COM_QUERY in order, each with
// its own result; all but the last carry SERVER_MORE_RESULTS_EXISTS. The
// first error ends the sequence, as in MySQL.
type multiStatement struct{ texts []string }

var errMultiNormalized = errors.New("multi-statement query: plan its own text")

func (m *multiStatement) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	mode := vc.s.lexMode
	for i, text := range m.texts {
		if vc.s.lexMode != mode {
			// The rest was read under the old quoting rules.
			vc.sent = true
			return vc.writeError(engine.Unsupported("statements after a change of sql_mode's ANSI_QUOTES in the same multi-statement query (send them in a query of their own)"))
		}
		sub := vcursor{r: vc.r, st: vc.st, s: vc.s, out: vc.out, sql: text, more: i < len(m.texts)-1, trace: vc.trace}
		plan, binds, err := sub.planTextHeld(ctx, text)
		if err == nil {
			sub.binds = binds
			err = sub.run(ctx, plan)
		}
		if err != nil {
			var ce engine.ClientError
			if errors.As(err, &ce) {
				return err
			}
			vc.sent = true
			return sub.writeError(err) // no more results after an error
		}
	}
	return nil
}

func (m *multiStatement) Describe() string {
	return "MultiStatement [" + strings.Join(m.texts, "; ") + "]"
}

// collectWarnings keeps a shard statement's warnings for SHOW WARNINGS:
// the shard connection is asked right away, before anyone else uses it.
func (vc *vcursor) CollectWarnings(ctx context.Context, c *backend.Conn) {
	if len(vc.s.warnings) >= maxWarnings {
		return
	}
	rows, err := c.QueryStrings(ctx, "SHOW WARNINGS")
	if err != nil {
		return
	}
	vc.s.warnings = append(vc.s.warnings, rows...)
	if len(vc.s.warnings) > maxWarnings {
		vc.s.warnings = vc.s.warnings[:maxWarnings]
	}
}

const maxWarnings = 64 // max_error_count

// showWarnings answers SHOW WARNINGS / SHOW ERRORS / SHOW COUNT(*) WARNINGS
// from what the session's last statement collected.
type showWarnings struct {
	errorsOnly bool
	count      bool
}

func (w *showWarnings) Execute(ctx context.Context, cur engine.VCursor) error {
	vc := cur.(*vcursor) // a router primitive acts on the session itself
	var rows [][]string
	for _, r := range vc.s.warnings {
		if len(r) == 3 && (!w.errorsOnly || strings.EqualFold(r[0], "Error")) {
			rows = append(rows, r)
		}
	}
	if w.count {
		name := "@@session.warning_count"
		if w.errorsOnly {
			name = "@@session.error_count"
		}
		return vc.writeRows([]wire.Field{{Name: name, Type: mysql.MYSQL_TYPE_LONGLONG, Charset: 63, Length: 21}},
			[][]string{{strconv.Itoa(len(rows))}})
	}
	fields := stringFields("Level", "Code", "Message")
	fields[1].Type, fields[1].Charset, fields[1].Length = mysql.MYSQL_TYPE_LONG, 63, 4
	return vc.writeRows(fields, rows)
}

func (w *showWarnings) Describe() string { return "ShowWarnings (collected from the shards)" }
