package router

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/internal/sqllex"
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// PreparedStmt is a client's prepared statement. The proxy plans it once;
// each shard connection prepares the same SQL on first use (backend.Conn
// keeps those), so the client's statement survives reconnects and USE.
type PreparedStmt struct {
	ID      uint32
	SQL     string
	NParams int
	plan    *planner.Plan
	// planSQL is the text the plan was built from and planned the topology
	// it was built for: after a topology change the statement is planned
	// again (its shards may have moved).
	planSQL   string
	plannedAt *state
	// vals maps the plan's binds: literals of the statement, and sqlval.Param
	// slots filled from the client's parameters in order.
	vals  []sqlval.Value
	types []byte // parameter types bound by the last execute that sent them
	long  map[int][]byte
	// lexMode is how the SQL was read (sqllex.ResolveComments): a shard
	// must read it the same way, so it runs only under the same sql_mode.
	lexMode sqllex.Mode
	// longSize is the bytes in long; longErr, once long data went past its
	// bound, answers every execute until COM_STMT_RESET (as MySQL does).
	longSize int
	longErr  error
}

// Prepare plans sql and answers COM_STMT_PREPARE.
func (r *Router) Prepare(ctx context.Context, s *Session, sql string, out *wire.Conn) error {
	vc := vcursor{r: r, st: r.state.Load(), s: s, out: out}
	if max := s.Limits.MaxPreparedStmtsPerSession; max > 0 && len(s.stmts) >= max {
		// MySQL bounds prepared statements server-wide only, so one session
		// could take all of a shard's max_prepared_stmt_count.
		return vc.finish(engine.LimitErrorf("max_prepared_stmts_per_session", mysql.ER_MAX_PREPARED_STMT_COUNT_REACHED,
			"Can't create more than max_prepared_stmt_count statements (current value: %d) (shardgate limits.max_prepared_stmts_per_session: close the statements this session no longer uses)", max))
	}
	sql, err := resolveComments(sql, s.lexMode)
	if err != nil {
		return vc.finish(err)
	}
	vc.sql = sql
	st, err := vc.prepare(ctx, sql)
	if err != nil {
		return vc.finish(err)
	}
	s.stmts[st.ID] = st
	return vc.finish(nil)
}

func (vc *vcursor) prepare(ctx context.Context, sql string) (*PreparedStmt, error) {
	s := vc.s
	norm, vals, ok := normalize(sql, nil, s.lexMode)
	st := &PreparedStmt{SQL: sql, lexMode: s.lexMode}
	var plan *planner.Plan
	var err error
	st.planSQL = norm
	if ok {
		plan, err = vc.buildPlan(ctx, norm, len(vals))
	}
	if !ok || err != nil {
		st.planSQL = sql
		vals = paramValues(sql, vals[:0])
		if plan, err = vc.buildPlan(ctx, sql, len(vals)); err != nil {
			return nil, err
		}
	}
	// Refused now, not at execution: preparing sends the statement to a
	// shard (its columns are another keyspace's metadata).
	if err := vc.checkAccess(plan); err != nil {
		return nil, err
	}
	for _, v := range vals {
		if v.Kind == sqlval.Param {
			st.NParams++
		}
	}
	st.plan, st.vals, st.plannedAt = plan, vals, vc.st
	s.nextID++
	st.ID = s.nextID
	if plan.Meta != nil {
		// Let a shard describe parameters and columns (and check the SQL).
		c, err := vc.Conn(ctx, plan.Meta)
		if err != nil {
			return nil, err
		}
		defer vc.Done(c)
		err = c.PrepareRelay(ctx, vc.metaSQL(plan, st), func(p []byte, first bool) error {
			if first {
				binary.LittleEndian.PutUint32(p[1:], st.ID)
			} else if wire.IsEOF(p) {
				p[3], p[4] = byte(s.Status()), byte(s.Status()>>8)
			}
			return vc.Write(p)
		})
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	var buf [16]byte
	b := append(buf[:0], 0)
	b = binary.LittleEndian.AppendUint32(b, st.ID)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(st.NParams))
	b = append(b, 0, 0, 0)
	if err := vc.Write(b); err != nil {
		return nil, err
	}
	if st.NParams > 0 {
		f := wire.Field{Name: "?", Type: mysql.MYSQL_TYPE_VAR_STRING, Charset: 63}
		for i := 0; i < st.NParams; i++ {
			if err := vc.Write(wire.AppendField(nil, &f)); err != nil {
				return nil, err
			}
		}
		if err := vc.WriteEOF(0); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// paramValues appends a parameter Value for each '?' of sql, for a statement
// planned with its literals in place. It scans sql once: a loop that
// recounted per parameter made preparing a 500-row INSERT of 2000
// parameters take 0.4 s.
func paramValues(sql string, dst []sqlval.Value) []sqlval.Value {
	_, vals, _ := normalize(sql, nil, 0)
	for _, v := range vals {
		if v.Kind == sqlval.Param {
			dst = append(dst, sqlval.Value{Kind: sqlval.Param})
		}
	}
	return dst
}

// CloseStmt forgets a statement (COM_STMT_CLOSE has no response).
func (r *Router) CloseStmt(s *Session, id uint32) {
	if st, ok := s.stmts[id]; ok {
		st.dropLongData(s)
		delete(s.stmts, id)
	}
}

// ResetStmt clears long data and its error (COM_STMT_RESET).
func (r *Router) ResetStmt(s *Session, id uint32, out *wire.Conn) error {
	vc := vcursor{r: r, st: r.state.Load(), s: s, out: out}
	st, ok := s.stmts[id]
	if !ok {
		return vc.finish(unknownStmt(id))
	}
	st.dropLongData(s)
	st.longErr = nil
	return vc.finish(vc.WriteOK(wire.OK{}))
}

// SendLongData appends a chunk to a parameter (no response). The long data
// of all the session's statements is bounded by limits.max_packet_size (the
// shard gets each execute as one packet anyway): past it the statement's
// data is dropped and its next execute fails, as MySQL's does past
// max_allowed_packet.
func (r *Router) SendLongData(s *Session, payload []byte) {
	if len(payload) < 6 {
		return
	}
	st, ok := s.stmts[binary.LittleEndian.Uint32(payload)]
	if !ok || st.longErr != nil {
		return
	}
	n := int(binary.LittleEndian.Uint16(payload[4:]))
	data := payload[6:]
	if n >= st.NParams {
		st.dropLongData(s)
		st.longErr = wire.Errorf(mysql.ER_WRONG_ARGUMENTS, "Incorrect arguments to mysqld_stmt_send_long_data (parameter %d of %d)", n, st.NParams)
		return
	}
	if max := s.Limits.MaxPacketSize; max > 0 && s.longData+len(data) > max {
		st.dropLongData(s)
		st.longErr = engine.LimitErrorf("max_packet_size", mysql.ER_UNKNOWN_ERROR,
			"Parameter of prepared statement which is set through mysql_send_long_data() is longer than 'max_allowed_packet' bytes (shardgate limits.max_packet_size = %d bytes of long data for all of a session's statements)", max)
		return
	}
	if st.long == nil {
		st.long = map[int][]byte{}
	}
	st.long[n] = append(st.long[n], data...)
	st.longSize += len(data)
	s.longData += len(data)
}

// dropLongData forgets the statement's long data.
func (st *PreparedStmt) dropLongData(s *Session) {
	s.longData -= st.longSize
	st.long, st.longSize = nil, 0
}

func unknownStmt(id uint32) error {
	return wire.Errorf(mysql.ER_UNKNOWN_STMT_HANDLER, "Unknown prepared statement handler (%d) given to mysqld_stmt_execute", id)
}

// ExecuteStmt runs COM_STMT_EXECUTE (payload without the command byte).
func (r *Router) ExecuteStmt(ctx context.Context, s *Session, payload []byte, out *wire.Conn) error {
	vc := s.cursor(r, out, "")
	if len(payload) < 9 {
		return vc.finish(wire.Errorf(mysql.ER_MALFORMED_PACKET, "Malformed communication packet (COM_STMT_EXECUTE)"))
	}
	st, ok := s.stmts[binary.LittleEndian.Uint32(payload)]
	if !ok {
		return vc.finish(unknownStmt(binary.LittleEndian.Uint32(payload)))
	}
	vc.sql = st.SQL
	if st.lexMode != s.lexMode {
		return vc.finish(engine.Unsupported("executing a statement prepared under another sql_mode quoting (ANSI_QUOTES changed since PREPARE; prepare it again)"))
	}
	if st.longErr != nil {
		return vc.finish(st.longErr)
	}
	params, binds, err := st.bind(payload[9:], s.psArgs[:0], s.vals[:0])
	if err != nil {
		return vc.finish(err)
	}
	st.dropLongData(s)
	vc.binds = binds
	if params != nil {
		s.psArgs = keepBuffer(params)
	}
	s.psx = psExec{stmt: st, params: params}
	vc.ps = &s.psx
	var since time.Time
	for {
		if st.plannedAt != vc.st {
			plan, perr := vc.buildPlan(ctx, st.planSQL, len(st.vals))
			if perr != nil {
				return vc.finish(perr)
			}
			st.plan, st.plannedAt = plan, vc.st
		}
		if !vc.mustHold(st.plan) { // a traffic switch holds its tables (switch.go)
			break
		}
		if since.IsZero() {
			since = time.Now()
		}
		if err := vc.waitHold(ctx, st.plan, since); err != nil {
			return vc.finish(err)
		}
	}
	err = vc.run(ctx, st.plan)
	s.vals = binds[:0]
	return vc.finish(err)
}

// bind decodes the parameters of an execute packet (after stmt id, flags and
// iteration count), remembers their types, and returns the null bitmap plus
// values to forward (appended to fwd) and the plan's bind values (appended
// to dst).
func (st *PreparedStmt) bind(p []byte, fwd []byte, dst []sqlval.Value) ([]byte, []sqlval.Value, error) {
	n := st.NParams
	binds := dst
	if n == 0 {
		return nil, append(binds, st.vals...), nil
	}
	nb := (n + 7) / 8
	if len(p) < nb+1 {
		return nil, nil, errMalformedParams()
	}
	nullmap := p[:nb]
	pos := nb
	if p[pos] == 1 {
		if len(p) < pos+1+2*n {
			return nil, nil, errMalformedParams()
		}
		st.types = append(st.types[:0], p[pos+1:pos+1+2*n]...)
		pos += 1 + 2*n
	} else {
		pos++
	}
	if len(st.types) != 2*n {
		return nil, nil, wire.Errorf(mysql.ER_MALFORMED_PACKET, "Malformed communication packet: parameters sent without their types")
	}
	valuesAt := pos
	var small [8]sqlval.Value // most statements have few parameters: no allocation
	params := small[:0]
	if n > len(small) {
		params = make([]sqlval.Value, n)
	}
	params = params[:n]
	var rebuilt []byte // values with long data spliced in, when there is any
	if len(st.long) > 0 {
		rebuilt = append(fwd, nullmap...)
	}
	for i := 0; i < n; i++ {
		if nullmap[i/8]&(1<<(i%8)) != 0 {
			params[i] = sqlval.Value{Kind: sqlval.Null}
			continue
		}
		if data, ok := st.long[i]; ok {
			params[i] = sqlval.Value{Kind: sqlval.Bytes, Raw: string(data)}
			rebuilt = mysql.AppendLengthEncodedInteger(rebuilt, uint64(len(data)))
			rebuilt = append(rebuilt, data...)
			continue
		}
		v, w, err := decodeParam(st.types[2*i], st.types[2*i+1]&0x80 != 0, p[pos:])
		if err != nil {
			return nil, nil, errMalformedParams()
		}
		if rebuilt != nil {
			rebuilt = append(rebuilt, p[pos:pos+w]...)
		}
		params[i] = v
		pos += w
	}
	k := 0
	for _, v := range st.vals {
		if v.Kind == sqlval.Param {
			v = params[k]
			k++
		}
		binds = append(binds, v)
	}
	if rebuilt != nil {
		return rebuilt, binds, nil
	}
	fwd = append(append(fwd, nullmap...), p[valuesAt:]...)
	return fwd, binds, nil
}

// keepBuffer returns b for reuse by the session's next execute, or nil when
// long data made it big: a session should not hold megabytes between
// statements.
func keepBuffer(b []byte) []byte {
	if cap(b) > 64<<10 {
		return nil
	}
	return b
}

// errMalformedParams is built only when needed: bind runs on every execute.
func errMalformedParams() error {
	return wire.Errorf(mysql.ER_MALFORMED_PACKET, "Malformed communication packet (COM_STMT_EXECUTE parameters)")
}

// executePacket appends to b the shard's COM_STMT_EXECUTE arguments, always
// with the parameter types (the shard's statement may never have seen them).
func (st *PreparedStmt) executePacket(b []byte, id uint32, params []byte, types []byte) []byte {
	n := st.NParams
	b = binary.LittleEndian.AppendUint32(b, id)
	b = append(b, 0)                           // no cursor
	b = binary.LittleEndian.AppendUint32(b, 1) // iteration count
	if n == 0 {
		return b
	}
	nb := (n + 7) / 8
	b = append(b, params[:nb]...)
	b = append(b, 1)
	b = append(b, types...)
	return append(b, params[nb:]...)
}

func decodeParam(typ byte, unsigned bool, p []byte) (sqlval.Value, int, error) {
	need := func(n int) error {
		if len(p) < n {
			return fmt.Errorf("short parameter")
		}
		return nil
	}
	switch typ {
	case mysql.MYSQL_TYPE_NULL:
		return sqlval.Value{Kind: sqlval.Null}, 0, nil
	case mysql.MYSQL_TYPE_TINY:
		if err := need(1); err != nil {
			return sqlval.Value{}, 0, err
		}
		if unsigned {
			return sqlval.Value{Kind: sqlval.Uint, Raw: strconv.FormatUint(uint64(p[0]), 10)}, 1, nil
		}
		return sqlval.Value{Kind: sqlval.Int, Raw: strconv.FormatInt(int64(int8(p[0])), 10)}, 1, nil
	case mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_YEAR:
		if err := need(2); err != nil {
			return sqlval.Value{}, 0, err
		}
		u := binary.LittleEndian.Uint16(p)
		if unsigned {
			return sqlval.Value{Kind: sqlval.Uint, Raw: strconv.FormatUint(uint64(u), 10)}, 2, nil
		}
		return sqlval.Value{Kind: sqlval.Int, Raw: strconv.FormatInt(int64(int16(u)), 10)}, 2, nil
	case mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_INT24:
		if err := need(4); err != nil {
			return sqlval.Value{}, 0, err
		}
		u := binary.LittleEndian.Uint32(p)
		if unsigned {
			return sqlval.Value{Kind: sqlval.Uint, Raw: strconv.FormatUint(uint64(u), 10)}, 4, nil
		}
		return sqlval.Value{Kind: sqlval.Int, Raw: strconv.FormatInt(int64(int32(u)), 10)}, 4, nil
	case mysql.MYSQL_TYPE_LONGLONG:
		if err := need(8); err != nil {
			return sqlval.Value{}, 0, err
		}
		u := binary.LittleEndian.Uint64(p)
		if unsigned {
			return sqlval.Value{Kind: sqlval.Uint, Raw: strconv.FormatUint(u, 10)}, 8, nil
		}
		return sqlval.Value{Kind: sqlval.Int, Raw: strconv.FormatInt(int64(u), 10)}, 8, nil
	case mysql.MYSQL_TYPE_FLOAT:
		if err := need(4); err != nil {
			return sqlval.Value{}, 0, err
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(p))
		return sqlval.Value{Kind: sqlval.Number, Raw: strconv.FormatFloat(float64(f), 'g', -1, 32)}, 4, nil
	case mysql.MYSQL_TYPE_DOUBLE:
		if err := need(8); err != nil {
			return sqlval.Value{}, 0, err
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(p))
		return sqlval.Value{Kind: sqlval.Number, Raw: strconv.FormatFloat(f, 'g', -1, 64)}, 8, nil
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_TIMESTAMP:
		if err := need(1); err != nil {
			return sqlval.Value{}, 0, err
		}
		n := int(p[0])
		if err := need(1 + n); err != nil {
			return sqlval.Value{}, 0, err
		}
		s, err := mysql.FormatBinaryDateTime(n, p[1:1+n])
		if err != nil {
			return sqlval.Value{}, 0, err
		}
		return sqlval.Value{Kind: sqlval.String, Raw: string(s)}, 1 + n, nil
	case mysql.MYSQL_TYPE_TIME:
		if err := need(1); err != nil {
			return sqlval.Value{}, 0, err
		}
		n := int(p[0])
		if err := need(1 + n); err != nil {
			return sqlval.Value{}, 0, err
		}
		s, err := mysql.FormatBinaryTime(n, p[1:1+n])
		if err != nil {
			return sqlval.Value{}, 0, err
		}
		return sqlval.Value{Kind: sqlval.String, Raw: string(s)}, 1 + n, nil
	case mysql.MYSQL_TYPE_DECIMAL, mysql.MYSQL_TYPE_NEWDECIMAL:
		s, _, w, err := mysql.LengthEncodedString(p)
		if err != nil {
			return sqlval.Value{}, 0, err
		}
		return sqlval.Value{Kind: sqlval.Number, Raw: string(s)}, w, nil
	case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_TINY_BLOB, mysql.MYSQL_TYPE_MEDIUM_BLOB, mysql.MYSQL_TYPE_LONG_BLOB, mysql.MYSQL_TYPE_BIT, mysql.MYSQL_TYPE_GEOMETRY:
		s, _, w, err := mysql.LengthEncodedString(p)
		if err != nil {
			return sqlval.Value{}, 0, err
		}
		return sqlval.Value{Kind: sqlval.Bytes, Raw: string(s)}, w, nil
	default: // strings, JSON, enum, set, ...
		s, _, w, err := mysql.LengthEncodedString(p)
		if err != nil {
			return sqlval.Value{}, 0, err
		}
		return sqlval.Value{Kind: sqlval.String, Raw: string(s)}, w, nil
	}
}

// metaSQL is the SQL the metadata shard prepares: the client's text, or for
// a plan that rewrites it (keyspace-qualified tables), the rewritten text
// with the client's parameters left as '?'.
func (vc *vcursor) metaSQL(plan *planner.Plan, st *PreparedStmt) string {
	var r *engine.Route
	switch p := plan.Prim.(type) {
	case *engine.Route:
		r = p
	case *engine.SelectMerge:
		r = p.Route
	}
	if r == nil || !r.Rewrite {
		return st.SQL
	}
	binds := make([]sqlval.Value, len(st.vals))
	for i, v := range st.vals {
		if v.Kind == sqlval.Param {
			v = sqlval.Value{Kind: sqlval.Number, Raw: "?"} // written as is
		}
		binds[i] = v
	}
	saved := vc.binds
	vc.binds = binds
	calls := r.CallsFor(vc, r.Query, []*topo.Shard{plan.Meta}, nil, true, 0)
	vc.binds = saved
	return string(calls[0].SQL)
}
