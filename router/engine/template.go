package engine

import (
	"strconv"
	"strings"

	"github.com/shardgate/shardgate/router/sqlval"
)

// Template is SQL text with holes filled per execution: bound values and
// session facts the shard cannot know (the keyspace name for DATABASE(), the
// shard's database for a keyspace-qualified table).
type Template struct {
	Segs    []segment
	Aliases []FieldAlias // for segAlias
}

// FieldAlias is the name of a select field whose text had literals: the
// normalized text with its binds put back, so a rewritten query keeps the
// column name the client's text gives (`k % 3`, not `k`%3).
type FieldAlias struct {
	Text  string // field text with '?' for binds
	Binds []int
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
	SegCol                 // a column of the row being evaluated (computed columns)
	segRowCount            // the session's ROW_COUNT()
	segUser                // USER(): 'name@host' of the client
	segCurrentUser         // CURRENT_USER(): 'name@%'

)

type segment struct {
	Kind segKind
	text string
	N    int
}

// Placeholders the planner writes into the AST before restoring it; parse
// turns them into segments.
const (
	phBindPrefix  = "__sg_bind_"
	PhDatabase    = "__sg_database__"
	PhSchema      = "__sg_schema__"
	PhConnID      = "__sg_connid__"
	PhLastID      = "__sg_lastid__"
	PhList        = "__sg_list__"
	PhRows        = "__sg_rows__"
	PhLimit       = "__sg_limit__"
	PhAlias       = "__sg_alias_"
	PhAutocommit  = "__sg_autocommit__"
	PhColPrefix   = "__sg_col_"
	PhRowCount    = "__sg_rowcount__"
	PhUser        = "__sg_user__"
	PhCurrentUser = "__sg_current_user__"
)

func BindPlaceholder(n int) string { return phBindPrefix + strconv.Itoa(n) + "__" }

// namedPlaceholders are the placeholders without a number, by name.
var namedPlaceholders = map[string]segKind{
	PhDatabase: segDatabase, PhSchema: segSchema, PhConnID: segConnID, PhLastID: segLastID,
	PhList: segList, PhRows: segRows, PhLimit: segLimit, PhAutocommit: segAutocommit,
	PhRowCount: segRowCount, PhUser: segUser, PhCurrentUser: segCurrentUser,
}

// placeholderSegment is the segment for the text inner of a quoted (quote
// ') or backquoted (quote `) placeholder; ok is false when inner is none.
// Binds may be either; computed columns are string literals, aliases
// identifiers.
func placeholderSegment(inner string, quote byte) (seg segment, ok bool) {
	if k, ok := namedPlaceholders[inner]; ok {
		return segment{Kind: k}, true
	}
	if n, ok := numbered(inner, phBindPrefix); ok {
		return segment{Kind: segBind, N: n}, true
	}
	if n, ok := numbered(inner, PhColPrefix); ok && quote == '\'' {
		return segment{Kind: SegCol, N: n}, true
	}
	if n, ok := numbered(inner, PhAlias); ok && quote == '`' {
		return segment{Kind: segAlias, N: n}, true
	}
	return segment{}, false
}

// numbered returns n when s is prefix, the number n, and "__".
func numbered(s, prefix string) (int, bool) {
	if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, "__") || len(s) < len(prefix)+2 {
		return 0, false
	}
	n, err := strconv.Atoi(s[len(prefix) : len(s)-2])
	return n, err == nil
}

// ParseTemplate splits restored SQL at the placeholders: quoted string
// placeholders ('__sg_bind_3__') and backquoted schema ones.
func ParseTemplate(sql string) Template {
	var t Template
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
		seg, ok := placeholderSegment(inner, c)
		if ok {
			if i > last {
				t.Segs = append(t.Segs, segment{Kind: segText, text: sql[last:i]})
			}
			t.Segs = append(t.Segs, seg)
			last = i + j + 2
		}
		i += j + 1
	}
	if last < len(sql) {
		t.Segs = append(t.Segs, segment{Kind: segText, text: sql[last:]})
	}
	return t
}

// static reports whether the template has no hole.
func (t Template) static() bool {
	return len(t.Segs) == 0 || len(t.Segs) == 1 && t.Segs[0].Kind == segText
}

type RenderEnv struct {
	Binds    []sqlval.Value
	Keyspace string // session keyspace (DATABASE())
	ShardDB  string // target shard's database
	ConnID   uint32
	LastID   uint64
	// List renders segList (IN values) and segRows (INSERT rows) for one shard.
	List func(b []byte) []byte
	// limit renders segLimit.
	limit      uint64
	Autocommit bool
	RowCount   int64
	User, Host string
}

func (t Template) Append(b []byte, env *RenderEnv) []byte {
	for _, s := range t.Segs {
		switch s.Kind {
		case segText:
			b = append(b, s.text...)
		case segBind:
			b = env.Binds[s.N].AppendSQL(b)
		case segDatabase:
			if env.Keyspace == "" {
				b = append(b, "NULL"...)
			} else {
				b = sqlval.AppendQuoted(b, env.Keyspace)
			}
		case segSchema:
			b = append(b, '`')
			b = append(b, strings.ReplaceAll(env.ShardDB, "`", "``")...)
			b = append(b, '`')
		case segConnID:
			b = strconv.AppendUint(b, uint64(env.ConnID), 10)
		case segLastID:
			b = strconv.AppendUint(b, env.LastID, 10)
		case segList, segRows:
			b = env.List(b)
		case segLimit:
			b = strconv.AppendUint(b, env.limit, 10)
		case segAlias:
			b = t.Aliases[s.N].Append(b, env.Binds)
		case segAutocommit:
			if env.Autocommit {
				b = append(b, '1')
			} else {
				b = append(b, '0')
			}
		case segRowCount:
			b = strconv.AppendInt(b, env.RowCount, 10)
		case segUser:
			b = sqlval.AppendQuoted(b, env.User+"@"+env.Host)
		case segCurrentUser:
			b = sqlval.AppendQuoted(b, env.User+"@%")
		}
	}
	return b
}

func (t Template) String() string {
	var b strings.Builder
	for _, s := range t.Segs {
		switch s.Kind {
		case segText:
			b.WriteString(s.text)
		case segBind:
			b.WriteString(":v" + strconv.Itoa(s.N+1))
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
			b.WriteString("`" + t.Aliases[s.N].Text + "`")
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

// Append writes the alias as a quoted identifier with the binds' SQL text.
func (a FieldAlias) Append(b []byte, binds []sqlval.Value) []byte {
	var name []byte
	k := 0
	for i := 0; i < len(a.Text); i++ {
		if a.Text[i] == '?' && k < len(a.Binds) {
			v := binds[a.Binds[k]]
			k++
			if v.Kind == sqlval.String {
				name = sqlval.AppendQuoted(name, v.Raw)
			} else {
				name = v.AppendSQL(name)
			}
			continue
		}
		name = append(name, a.Text[i])
	}
	b = append(b, '`')
	b = append(b, strings.ReplaceAll(string(name), "`", "``")...)
	return append(b, '`')
}

// appendWith renders a template whose holes are segCol and segBind.
func (t Template) appendWith(b []byte, binds []sqlval.Value, col func(b []byte, ref int) []byte) []byte {
	for _, s := range t.Segs {
		switch s.Kind {
		case SegCol:
			b = col(b, s.N)
		case segBind:
			b = binds[s.N].AppendSQL(b)
		default:
			b = append(b, s.text...)
		}
	}
	return b
}
