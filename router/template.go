package router

import (
	"strconv"
	"strings"

	"github.com/shardgate/shardgate/router/sqlval"
)

// template is SQL text with holes filled per execution: bound values and
// session facts the shard cannot know (the keyspace name for DATABASE(), the
// shard's database for a keyspace-qualified table).
type template struct {
	segs    []segment
	aliases []fieldAlias // for segAlias
}

// fieldAlias is the name of a select field whose text had literals: the
// normalized text with its binds put back, so a rewritten query keeps the
// column name the client's text gives (`k % 3`, not `k`%3).
type fieldAlias struct {
	text  string // field text with '?' for binds
	binds []int
}

type segKind uint8

const (
	segText        segKind = iota
	segBind                // Value binds[n]
	segDatabase            // the session keyspace as a string literal
	segSchema              // the target shard's database, as an identifier
	segConnID              // the proxy connection id
	segLastID              // the session's LAST_INSERT_ID()
	segList                // per-shard part of an IN list
	segRows                // per-shard rows of a multi-row INSERT
	segLimit               // LIMIT pushed to shards: offset+count of the client's LIMIT
	segAlias               // a select field's name with its literals, as an identifier
	segAutocommit          // the session's autocommit (1 or 0)
	segCol                 // a column of the row being evaluated (computed columns)
	segRowCount            // the session's ROW_COUNT()
	segUser                // USER(): 'name@host' of the client
	segCurrentUser         // CURRENT_USER(): 'name@%'

)

type segment struct {
	kind segKind
	text string
	n    int
}

// Placeholders the planner writes into the AST before restoring it; parse
// turns them into segments.
const (
	phBindPrefix  = "__sg_bind_"
	phDatabase    = "__sg_database__"
	phSchema      = "__sg_schema__"
	phConnID      = "__sg_connid__"
	phLastID      = "__sg_lastid__"
	phList        = "__sg_list__"
	phRows        = "__sg_rows__"
	phLimit       = "__sg_limit__"
	phAlias       = "__sg_alias_"
	phAutocommit  = "__sg_autocommit__"
	phColPrefix   = "__sg_col_"
	phRowCount    = "__sg_rowcount__"
	phUser        = "__sg_user__"
	phCurrentUser = "__sg_current_user__"
)

func bindPlaceholder(n int) string { return phBindPrefix + strconv.Itoa(n) + "__" }

// parseTemplate splits restored SQL at the placeholders: quoted string
// placeholders ('__sg_bind_3__') and backquoted schema ones.
func parseTemplate(sql string) template {
	var t template
	last := 0
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		if c != '\'' && c != '`' {
			continue
		}
		j := strings.IndexByte(sql[i+1:], c)
		if j < 0 {
			break
		}
		inner := sql[i+1 : i+1+j]
		var seg segment
		ok := true
		switch {
		case strings.HasPrefix(inner, phBindPrefix) && strings.HasSuffix(inner, "__"):
			n, err := strconv.Atoi(inner[len(phBindPrefix) : len(inner)-2])
			if err != nil {
				ok = false
			}
			seg = segment{kind: segBind, n: n}
		case inner == phDatabase:
			seg = segment{kind: segDatabase}
		case inner == phSchema:
			seg = segment{kind: segSchema}
		case inner == phConnID:
			seg = segment{kind: segConnID}
		case inner == phLastID:
			seg = segment{kind: segLastID}
		case inner == phList:
			seg = segment{kind: segList}
		case inner == phRows:
			seg = segment{kind: segRows}
		case inner == phLimit:
			seg = segment{kind: segLimit}
		case inner == phAutocommit:
			seg = segment{kind: segAutocommit}
		case inner == phRowCount:
			seg = segment{kind: segRowCount}
		case inner == phUser:
			seg = segment{kind: segUser}
		case inner == phCurrentUser:
			seg = segment{kind: segCurrentUser}
		case strings.HasPrefix(inner, phColPrefix) && strings.HasSuffix(inner, "__") && c == '\'':
			n, err := strconv.Atoi(inner[len(phColPrefix) : len(inner)-2])
			if err != nil {
				ok = false
			}
			seg = segment{kind: segCol, n: n}
		case strings.HasPrefix(inner, phAlias) && strings.HasSuffix(inner, "__") && c == '`':
			n, err := strconv.Atoi(inner[len(phAlias) : len(inner)-2])
			if err != nil {
				ok = false
			}
			seg = segment{kind: segAlias, n: n}
		default:
			ok = false
		}
		if ok {
			if i > last {
				t.segs = append(t.segs, segment{kind: segText, text: sql[last:i]})
			}
			t.segs = append(t.segs, seg)
			last = i + j + 2
		}
		i += j + 1
	}
	if last < len(sql) {
		t.segs = append(t.segs, segment{kind: segText, text: sql[last:]})
	}
	return t
}

// static reports whether the template has no hole.
func (t template) static() bool {
	return len(t.segs) == 0 || len(t.segs) == 1 && t.segs[0].kind == segText
}

type renderEnv struct {
	binds    []sqlval.Value
	keyspace string // session keyspace (DATABASE())
	shardDB  string // target shard's database
	connID   uint32
	lastID   uint64
	// list renders segList (IN values) and segRows (INSERT rows) for one shard.
	list func(b []byte) []byte
	// limit renders segLimit.
	limit      uint64
	autocommit bool
	rowCount   int64
	user, host string
}

func (t template) append(b []byte, env *renderEnv) []byte {
	for _, s := range t.segs {
		switch s.kind {
		case segText:
			b = append(b, s.text...)
		case segBind:
			b = env.binds[s.n].AppendSQL(b)
		case segDatabase:
			if env.keyspace == "" {
				b = append(b, "NULL"...)
			} else {
				b = sqlval.AppendQuoted(b, env.keyspace)
			}
		case segSchema:
			b = append(b, '`')
			b = append(b, strings.ReplaceAll(env.shardDB, "`", "``")...)
			b = append(b, '`')
		case segConnID:
			b = strconv.AppendUint(b, uint64(env.connID), 10)
		case segLastID:
			b = strconv.AppendUint(b, env.lastID, 10)
		case segList, segRows:
			b = env.list(b)
		case segLimit:
			b = strconv.AppendUint(b, env.limit, 10)
		case segAlias:
			b = t.aliases[s.n].append(b, env.binds)
		case segAutocommit:
			if env.autocommit {
				b = append(b, '1')
			} else {
				b = append(b, '0')
			}
		case segRowCount:
			b = strconv.AppendInt(b, env.rowCount, 10)
		case segUser:
			b = sqlval.AppendQuoted(b, env.user+"@"+env.host)
		case segCurrentUser:
			b = sqlval.AppendQuoted(b, env.user+"@%")
		}
	}
	return b
}

func (t template) String() string {
	var b strings.Builder
	for _, s := range t.segs {
		switch s.kind {
		case segText:
			b.WriteString(s.text)
		case segBind:
			b.WriteString(":v" + strconv.Itoa(s.n+1))
		case segDatabase:
			b.WriteString("DATABASE()")
		case segSchema:
			b.WriteString("`<shard db>`")
		case segConnID:
			b.WriteString("CONNECTION_ID()")
		case segLastID:
			b.WriteString("LAST_INSERT_ID()")
		case segList:
			b.WriteString(":shard_values")
		case segRows:
			b.WriteString(":shard_rows")
		case segLimit:
			b.WriteString(":offset+count")
		case segAlias:
			b.WriteString("`" + t.aliases[s.n].text + "`")
		case segAutocommit:
			b.WriteString("@@autocommit")
		case segRowCount:
			b.WriteString("ROW_COUNT()")
		case segUser:
			b.WriteString("USER()")
		case segCurrentUser:
			b.WriteString("CURRENT_USER()")
		}
	}
	return b.String()
}

// append writes the alias as a quoted identifier with the binds' SQL text.
func (a fieldAlias) append(b []byte, binds []sqlval.Value) []byte {
	var name []byte
	k := 0
	for i := 0; i < len(a.text); i++ {
		if a.text[i] == '?' && k < len(a.binds) {
			v := binds[a.binds[k]]
			k++
			if v.Kind == sqlval.String {
				name = sqlval.AppendQuoted(name, v.Raw)
			} else {
				name = v.AppendSQL(name)
			}
			continue
		}
		name = append(name, a.text[i])
	}
	b = append(b, '`')
	b = append(b, strings.ReplaceAll(string(name), "`", "``")...)
	return append(b, '`')
}

// appendWith renders a template whose holes are segCol and segBind.
func (t template) appendWith(b []byte, binds []sqlval.Value, col func(b []byte, ref int) []byte) []byte {
	for _, s := range t.segs {
		switch s.kind {
		case segCol:
			b = col(b, s.n)
		case segBind:
			b = binds[s.n].AppendSQL(b)
		default:
			b = append(b, s.text...)
		}
	}
	return b
}
