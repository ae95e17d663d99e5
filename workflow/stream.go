package workflow

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/vindex"
)

// A stream reads the binary log of one shard of the serving side from its
// position (MariaDB GTID, go-mysql's BinlogSyncer) and applies each
// transaction's changes to the moving tables on the other side: one target
// transaction per source transaction and destination shard (consecutive
// transactions are batched into one when the stream is behind), each row
// change by primary key and as a whole row, so that applying an event twice
// (after a restart from an older position) changes nothing: an insert or
// an update is a REPLACE of the new row on the shard its keyspace id names,
// and a DELETE of the old one where the row was when its sharding column
// changed; a delete is a DELETE. XA transactions are logged twice: their
// rows at XA PREPARE (one GTID), their outcome at XA COMMIT or ROLLBACK
// (another); the stream keeps the prepared rows by xid until the outcome,
// and its saved position never passes a transaction still prepared.

// streamTable is one moving table as a stream applies it.
type streamTable struct {
	info *tableInfo
	// dest is the table's name on each destination shard: the table itself,
	// or its fenced copy (_sg_table) once that side has served.
	dest []string
}

// change is one row change of a transaction.
type change struct {
	t      *streamTable
	kind   byte // 'i', 'u', 'd'
	before []any
	after  []any
}

// txn is one event group of the binary log.
type txn struct {
	gtid    gtid
	changes []change
	// xid is set on XA groups: prepared (its rows wait for the outcome)
	// or completed (commit says whether they are applied).
	xid        string
	prepared   bool
	completed  bool
	commit     bool
	standalone bool  // a group without COMMIT: it ends with its statement (DDL)
	err        error // a DDL on a moving table, a statement-based change
}

type stream struct {
	r      *runner
	id     string
	dir    string
	src    *endpoint
	dests  []*endpoint
	ranges []vindex.KeyRange
	tables map[string]*streamTable // by source table name, lower case
	// reshard: any DDL in the source database stops the stream (a table
	// created there would not be moved); movetables: DDL naming a moving
	// table.
	allTables bool
	log       *zap.Logger
	state     *StreamState

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	applied  position // after the last group applied
	restart  position // where to start again (before the oldest XA still prepared)
	pending  []*pendingXA
	waiters  []chan struct{} // closed on every advance
	pauseAt  position        // stop applying once applied covers it (VDiff)
	paused   chan struct{}   // closed once paused at pauseAt
	resume   chan struct{}
	isUp     bool
	lagNanos int64
	samples  []sample
	lastErr  string
	txCount  int64
	rowCount int64
	dirty    bool
}

type pendingXA struct {
	xid    string
	before position // the applied position before its PREPARE group
	tx     *txn
}

type sample struct {
	at  time.Time
	pos position
}

// newStream prepares a stream from the serving-side shard src to dests.
func (r *runner) newStream(ctx context.Context, wf *Workflow, dir string, src *endpoint, dests []*endpoint) (*stream, error) {
	id := streamID(dir, src.shard.Name)
	st, err := r.getStream(ctx, id)
	if err != nil {
		return nil, err
	}
	if st == nil || st.Pos == "" && st.Start == "" {
		return nil, fmt.Errorf("stream %s has no position to start from (its copy did not finish, or the switch did not record it)", id)
	}
	pos := st.Pos
	if pos == "" {
		pos = st.Start
	}
	p, err := parsePosition(pos)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", id, err)
	}
	s := &stream{r: r, id: id, dir: dir, src: src, dests: dests, tables: map[string]*streamTable{},
		allTables: wf.Type == TypeReshard, state: st, applied: p.clone(), restart: p,
		log: r.log.With(zap.String("stream", id))}
	st.Direction, st.Source = dir, src.String()
	for _, d := range dests {
		s.ranges = append(s.ranges, d.shard.KeyRange)
	}
	// Tables: columns from the serving side, placement by the destination
	// keyspace's vschema, names on each destination.
	c, err := src.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	if err := checkBinlog(ctx, c, src); err != nil {
		return nil, permanentError{err}
	}
	dks := dests[0].ks
	for _, name := range wf.Tables {
		info, err := loadTable(ctx, c, src.db(), name)
		if err != nil {
			return nil, err
		}
		if err := info.route(dks, vschemaTable(dks, info)); err != nil {
			return nil, err
		}
		s.tables[strings.ToLower(name)] = &streamTable{info: info, dest: make([]string, len(dests))}
	}
	for i, d := range dests {
		dc, err := d.conn(ctx)
		if err != nil {
			return nil, err
		}
		for _, name := range wf.Tables {
			t := s.tables[strings.ToLower(name)]
			t.dest[i] = name
			ok, err := tableExists(ctx, dc, d.db(), name)
			if err == nil && !ok {
				if ok, err = tableExists(ctx, dc, d.db(), fenceName(name)); ok {
					t.dest[i] = fenceName(name)
				} else if err == nil {
					err = fmt.Errorf("%s: table %s is missing (neither %s nor %s exists): was it dropped behind the workflow's back?", d, name, name, fenceName(name))
				}
			}
			if err != nil {
				dc.Release()
				return nil, err
			}
		}
		dc.Release()
	}
	return s, nil
}

func (s *stream) started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isUp
}

// permanentError stops the workflow: retrying cannot help.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// run applies the binary log until ctx ends (nil) or a permanent error;
// lost connections are retried from the restart position.
func (s *stream) run(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(ctx)
	ctx = s.ctx
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.sampleLag(ctx)
	}()
	defer func() {
		s.cancel()
		wg.Wait()
		s.save(context.WithoutCancel(ctx), false)
	}()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var pe permanentError
		if errors.As(err, &pe) {
			s.setErr(err)
			return fmt.Errorf("stream %s from %s: %w", s.id, s.src, err)
		}
		s.setErr(err)
		s.log.Warn("binlog stream interrupted; resuming from its saved position", zap.Error(err), zap.Duration("in", backoff))
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

func (s *stream) setErr(err error) {
	s.mu.Lock()
	s.isUp = false
	if err != nil {
		s.lastErr = err.Error()
	}
	s.dirty = true
	s.mu.Unlock()
}

// primaryAddr is where the source shard's binary log is read: its primary.
func (s *stream) primaryAddr() string {
	return s.src.pool.Addr()
}

func (s *stream) syncer() *replication.BinlogSyncer {
	cfg := s.r.m.cfg.Settings
	user, pass := cfg.User, cfg.Password
	if user == "" {
		user, pass = s.src.shard.User, s.src.shard.Password
	}
	h := fnv.New32a()
	h.Write([]byte(s.r.m.cfg.ProxyID + "/" + s.r.key + "/" + s.id))
	bc := replication.BinlogSyncerConfig{
		ServerID:                1<<30 + h.Sum32()%(1<<30),
		Flavor:                  mysql.MariaDBFlavor,
		User:                    user,
		Password:                pass,
		UseDecimal:              true,
		TimestampStringLocation: time.UTC,
		DisableRetrySync:        true,
		HeartbeatPeriod:         time.Second,
		ReadTimeout:             10 * time.Second,
		Logger:                  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if s.src.shard.Socket != "" {
		bc.Host = s.src.shard.Socket
		bc.Dialer = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.src.shard.Socket)
		}
	} else {
		host, port, _ := net.SplitHostPort(s.primaryAddr())
		p, _ := strconv.Atoi(port)
		bc.Host, bc.Port = host, uint16(p)
	}
	return replication.NewBinlogSyncer(bc)
}

func (s *stream) runOnce(ctx context.Context) error {
	s.mu.Lock()
	start := s.restart.clone()
	s.applied = start.clone()
	s.pending = nil
	s.mu.Unlock()
	gset, err := mysql.ParseMariadbGTIDSet(start.String())
	if err != nil {
		return permanentError{err}
	}
	syncer := s.syncer()
	defer syncer.Close()
	bs, err := syncer.StartSyncGTID(gset)
	if err != nil {
		return fmt.Errorf("start reading the binary log of %s at %s at %s: %w", s.src, s.primaryAddr(), start, err)
	}
	s.mu.Lock()
	s.isUp = true
	s.lastErr = ""
	s.dirty = true // show says running
	s.mu.Unlock()
	s.log.Info("binlog stream started", zap.String("source", s.src.String()), zap.String("server", s.primaryAddr()), zap.String("position", start.String()))
	txs := make(chan *txn, 1024)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 1)
	go func() {
		defer close(txs)
		readErr <- s.read(rctx, bs, txs)
	}()
	err = s.apply(rctx, txs)
	cancel()
	for range txs { // let the reader end
	}
	if rerr := <-readErr; err == nil {
		err = rerr
	}
	return err
}

// read groups the binlog events into transactions.
func (s *stream) read(ctx context.Context, bs *replication.BinlogStreamer, out chan<- *txn) error {
	var cur *txn
	emit := func() error {
		if cur == nil {
			return nil
		}
		t := cur
		cur = nil
		select {
		case out <- t:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	db := s.src.db()
	for {
		ev, err := bs.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("binary log of %s: %w", s.src, err)
		}
		switch e := ev.Event.(type) {
		case *replication.MariadbGTIDEvent:
			if err := emit(); err != nil { // a group without its end (should not happen)
				return err
			}
			cur = &txn{gtid: gtid{e.GTID.DomainID, e.GTID.ServerID, e.GTID.SequenceNumber},
				prepared: e.Flags&flPreparedXA != 0, completed: e.Flags&flCompletedXA != 0, standalone: e.Flags&flStandalone != 0}
		case *replication.RowsEvent:
			if cur == nil || cur.err != nil || !strings.EqualFold(string(e.Table.Schema), db) {
				continue
			}
			t := s.tables[strings.ToLower(string(e.Table.Table))]
			if t == nil {
				continue
			}
			if err := addChanges(cur, t, ev.Header.EventType, e.Rows); err != nil {
				cur.err = permanentError{err}
			}
		case *replication.QueryEvent:
			if cur == nil {
				continue
			}
			q := strings.TrimSpace(string(e.Query))
			upper := strings.ToUpper(q[:min(len(q), 16)])
			switch {
			case upper == "BEGIN":
			case upper == "COMMIT":
				if err := emit(); err != nil {
					return err
				}
			case cur.completed && (strings.HasPrefix(upper, "XA COMMIT") || strings.HasPrefix(upper, "XA ROLLBACK")):
				cur.commit = strings.HasPrefix(upper, "XA COMMIT")
				cur.xid = xidOf(q)
				if err := emit(); err != nil {
					return err
				}
			case strings.HasPrefix(upper, "XA END"):
				cur.xid = xidOf(q)
			case strings.HasPrefix(upper, "XA "):
			default:
				if cur.err == nil {
					if msg := s.ddlProblem(string(e.Schema), q); msg != "" {
						cur.err = permanentError{fmt.Errorf("%s at GTID %s on %s: %q; the workflow stopped, since the other side does not have the change: cancel the workflow (the sources are left as they are) and create it again", msg, cur.gtid, s.src, q)}
					}
				}
				if cur.standalone {
					// A DDL is its own group: it ends here.
					if err := emit(); err != nil {
						return err
					}
				}
			}
		case *replication.XIDEvent:
			if err := emit(); err != nil {
				return err
			}
		case *replication.GenericEvent:
			if ev.Header.EventType == replication.XA_PREPARE_LOG_EVENT {
				if err := emit(); err != nil {
					return err
				}
			}
		}
	}
}

// MariaDB's GTID event flags for the two groups of an XA transaction.
const (
	flStandalone  = 1
	flPreparedXA  = 64
	flCompletedXA = 128
)

// xidOf extracts the xid of "XA END|COMMIT|ROLLBACK X'…',X'…',n" as a key.
func xidOf(q string) string {
	i := strings.Index(q, "X'")
	if i < 0 {
		return q
	}
	rest := strings.TrimSpace(q[i:])
	rest = strings.TrimSuffix(rest, " ONE PHASE")
	return rest
}

func addChanges(t *txn, st *streamTable, et replication.EventType, rows [][]any) error {
	cols := st.info.Columns
	norm := func(row []any) ([]any, error) {
		if len(row) != len(cols) {
			return nil, fmt.Errorf("table %s: the binary log has %d columns, the table %d: was it altered behind the workflow's back?", st.info.Name, len(row), len(cols))
		}
		for i := range row {
			row[i] = binlogValue(&cols[i], row[i])
		}
		return row, nil
	}
	switch et {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		for _, r := range rows {
			a, err := norm(r)
			if err != nil {
				return err
			}
			t.changes = append(t.changes, change{t: st, kind: 'i', after: a})
		}
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		for i := 0; i+1 < len(rows); i += 2 {
			b, err := norm(rows[i])
			if err != nil {
				return err
			}
			a, err := norm(rows[i+1])
			if err != nil {
				return err
			}
			t.changes = append(t.changes, change{t: st, kind: 'u', before: b, after: a})
		}
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		for _, r := range rows {
			b, err := norm(r)
			if err != nil {
				return err
			}
			t.changes = append(t.changes, change{t: st, kind: 'd', before: b})
		}
	default:
		return fmt.Errorf("table %s: binlog event %s is not supported", st.info.Name, et)
	}
	return nil
}

// fenceMarker is in every RENAME TABLE a switch runs: the streams know
// their own fence.
const fenceMarker = "/* shardgate workflow fence */"

// ddlProblem says why a statement logged as a query stops the stream ("" if
// it does not matter).
func (s *stream) ddlProblem(schema, q string) string {
	return s.ddlProblemIn(s.src.db(), schema, q)
}

func (s *stream) ddlProblemIn(db, schema, q string) string {
	if strings.Contains(q, fenceMarker) {
		return ""
	}
	db = strings.ToLower(db)
	lq := strings.ToLower(q)
	inDB := strings.EqualFold(schema, db) || strings.Contains(lq, db)
	if !inDB {
		return ""
	}
	words := identifiers(lq)
	kw := ""
	if len(words) > 0 {
		kw = words[0]
	}
	switch kw {
	case "insert", "update", "delete", "replace":
		for _, w := range words {
			if s.tables[w] != nil {
				return "a change of moving table " + w + " logged as a statement (binlog_format must be ROW for every session)"
			}
		}
		return ""
	case "create", "alter", "drop", "rename", "truncate":
	default:
		return ""
	}
	for _, w := range words {
		if s.tables[w] != nil {
			return "DDL on moving table " + w
		}
	}
	if s.allTables && (kw == "create" || kw == "rename") && strings.EqualFold(schema, db) {
		if len(words) > 2 && (words[1] == "table" || words[2] == "table") {
			return "a table created in the keyspace while it is resharded (it would not be moved)"
		}
	}
	return ""
}

// identifiers splits a statement into lower-case words and unquoted
// backquoted names.
func identifiers(lq string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(lq); i++ {
		c := lq[i]
		switch {
		case c == '`':
			if quoted && i+1 < len(lq) && lq[i+1] == '`' {
				cur.WriteByte('`')
				i++
				continue
			}
			flush()
			quoted = !quoted
		case quoted:
			cur.WriteByte(c)
		case c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80:
			cur.WriteByte(c)
		default:
			flush()
		}
	}
	flush()
	return out
}

// apply applies transactions in order, batching those already waiting.
func (s *stream) apply(ctx context.Context, txs <-chan *txn) error {
	const maxBatch = 200
	for {
		var batch []*txn
		// Wait for one (or a pause, a resume).
		if err := s.pauseIfDue(ctx); err != nil {
			return err
		}
		select {
		case t, ok := <-txs:
			if !ok {
				return errors.New("the binary log stream ended")
			}
			batch = append(batch, t)
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
			s.maybeSave(ctx)
			continue
		}
	more:
		for len(batch) < maxBatch && !s.reachesPause(batch) {
			select {
			case t, ok := <-txs:
				if !ok {
					break more
				}
				batch = append(batch, t)
			default:
				break more
			}
		}
		if err := s.applyBatch(ctx, batch); err != nil {
			return err
		}
		s.maybeSave(ctx)
	}
}

// reachesPause reports whether the batch's last group reaches the pause
// position (the batch must stop there).
func (s *stream) reachesPause(batch []*txn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pauseAt == nil || len(batch) == 0 {
		return false
	}
	p := s.applied.clone()
	for _, t := range batch {
		p.set(t.gtid)
	}
	return p.covers(s.pauseAt)
}

// applyBatch writes the changes of a run of transactions and advances the
// position.
func (s *stream) applyBatch(ctx context.Context, batch []*txn) error {
	perDest := make([][]string, len(s.dests))
	var rows, txs int64
	// Positions and XA bookkeeping: done under the lock after the writes.
	type xaOp struct {
		add  *pendingXA
		done string
	}
	var ops []xaOp
	applied := func() position {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.applied.clone()
	}()
	pending := map[string]*pendingXA{}
	s.mu.Lock()
	for _, p := range s.pending {
		pending[p.xid] = p
	}
	s.mu.Unlock()
	for _, t := range batch {
		if t.err != nil {
			if len(perDest) > 0 {
				// Apply what came before, then stop.
				if err := s.write(ctx, perDest); err != nil {
					return err
				}
			}
			return t.err
		}
		before := applied.clone()
		applied.set(t.gtid)
		var changes []change
		switch {
		case t.prepared:
			p := &pendingXA{xid: t.xid, before: before, tx: t}
			pending[t.xid] = p
			ops = append(ops, xaOp{add: p})
			continue
		case t.completed:
			p := pending[t.xid]
			delete(pending, t.xid)
			ops = append(ops, xaOp{done: t.xid})
			if p == nil || !t.commit {
				continue
			}
			changes = p.tx.changes
		default:
			changes = t.changes
		}
		if len(changes) == 0 {
			continue
		}
		txs++
		rows += int64(len(changes))
		if err := s.statements(perDest, changes); err != nil {
			return permanentError{err}
		}
	}
	if err := s.write(ctx, perDest); err != nil {
		return err
	}
	s.mu.Lock()
	for _, op := range ops {
		if op.add != nil {
			s.pending = append(s.pending, op.add)
			continue
		}
		for i, p := range s.pending {
			if p.xid == op.done {
				s.pending = append(s.pending[:i], s.pending[i+1:]...)
				break
			}
		}
	}
	s.applied = applied
	if len(s.pending) > 0 {
		s.restart = s.pending[0].before.clone()
	} else {
		s.restart = applied.clone()
	}
	s.txCount += txs
	s.rowCount += rows
	s.dirty = true
	ws := s.waiters
	s.waiters = nil
	s.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
	if txs > 0 {
		s.r.m.metrics.txApplied.WithLabelValues(s.r.key, s.id).Add(float64(txs))
		s.r.m.metrics.rowsApplied.WithLabelValues(s.r.key, s.id).Add(float64(rows))
	}
	return nil
}

// statements adds the SQL of changes to each destination's list: a run of
// inserts into one table becomes one multi-row REPLACE.
func (s *stream) statements(perDest [][]string, changes []change) error {
	type open struct {
		t   *streamTable
		buf []byte
	}
	cur := make([]open, len(s.dests))
	flush := func(i int) {
		if cur[i].buf != nil {
			perDest[i] = append(perDest[i], string(cur[i].buf))
			cur[i] = open{}
		}
	}
	var idx, idx2 []int
	var err error
	for _, c := range changes {
		switch c.kind {
		case 'i':
			if idx, err = s.destsOf(c.t, c.after, idx[:0]); err != nil {
				return err
			}
		case 'd':
			if idx, err = s.destsOf(c.t, c.before, idx[:0]); err != nil {
				return err
			}
		case 'u':
			if idx, err = s.destsOf(c.t, c.before, idx[:0]); err != nil {
				return err
			}
			if idx2, err = s.destsOf(c.t, c.after, idx2[:0]); err != nil {
				return err
			}
		}
		switch c.kind {
		case 'd':
			for _, i := range idx {
				flush(i)
				perDest[i] = append(perDest[i], deleteSQL(s.dests[i].db(), c.t.dest[i], c.t.info, c.before))
			}
		case 'u':
			// The row leaves a shard, or its primary key changes: delete
			// it where it was; then write it whole where it is.
			moved := !sameInts(idx, idx2) || !samePK(c.t.info, c.before, c.after)
			if moved {
				for _, i := range idx {
					flush(i)
					perDest[i] = append(perDest[i], deleteSQL(s.dests[i].db(), c.t.dest[i], c.t.info, c.before))
				}
			}
			idx = append(idx[:0], idx2...)
			fallthrough
		case 'i':
			for _, i := range idx {
				if cur[i].t != c.t || len(cur[i].buf) > maxStatementBytes {
					flush(i)
					cur[i].t = c.t
				}
				b, err := appendBinlogRow(cur[i].buf, s.dests[i].db(), c.t.dest[i], c.t.info, c.after)
				if err != nil {
					return err
				}
				cur[i].buf = b
			}
		}
	}
	for i := range cur {
		flush(i)
	}
	return nil
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func samePK(t *tableInfo, a, b []any) bool {
	for _, c := range t.PK {
		if textOf(a[c]) != textOf(b[c]) {
			return false
		}
	}
	return true
}

// destsOf returns the destination shards of a row.
func (s *stream) destsOf(t *streamTable, row []any, buf []int) ([]int, error) {
	info := t.info
	out, ksid, err := routeRow(info, s.ranges, buf, func() (any, bool) { v := row[info.VindexCol]; return vindexValue(v), v == nil })
	if err == errNoRange {
		v := row[info.VindexCol]
		return nil, fmt.Errorf("table %s: keyspace id %x of %s=%s is in no destination's key range (%s)", info.Name, ksid, info.Columns[info.VindexCol].Name, textOf(v), joinNames(s.dests))
	}
	return out, err
}

func appendBinlogRow(b []byte, db, table string, info *tableInfo, row []any) ([]byte, error) {
	if len(b) == 0 {
		b = append(b, "REPLACE INTO "...)
		b = append(b, quoteID(db)...)
		b = append(b, '.')
		b = append(b, quoteID(table)...)
		b = append(b, " ("...)
		b = append(b, info.colList...)
		b = append(b, ") VALUES "...)
	} else {
		b = append(b, ',')
	}
	b = append(b, '(')
	var err error
	for i := range info.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendBinlog(b, &info.Columns[i], row[i]); err != nil {
			return nil, err
		}
	}
	return append(b, ')'), nil
}

func deleteSQL(db, table string, info *tableInfo, row []any) string {
	b := []byte("DELETE FROM ")
	b = append(b, quoteID(db)...)
	b = append(b, '.')
	b = append(b, quoteID(table)...)
	b = append(b, " WHERE "...)
	for i, c := range info.PK {
		if i > 0 {
			b = append(b, " AND "...)
		}
		col := &info.Columns[c]
		b = append(b, quoteID(col.Name)...)
		b = append(b, " = "...)
		b, _ = appendBinlog(b, col, row[c])
	}
	return string(b)
}

// write runs each destination's statements in one transaction, the
// destinations in parallel.
func (s *stream) write(ctx context.Context, perDest [][]string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(perDest))
	for i, stmts := range perDest {
		if len(stmts) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.writeOne(ctx, s.dests[i], stmts)
		}()
	}
	wg.Wait()
	for i := range perDest {
		perDest[i] = perDest[i][:0]
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *stream) writeOne(ctx context.Context, d *endpoint, stmts []string) error {
	c, err := d.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	if len(stmts) == 1 {
		return exec(ctx, c, stmts[0])
	}
	if err := exec(ctx, c, "BEGIN"); err != nil {
		return err
	}
	for _, q := range stmts {
		if err := exec(ctx, c, q); err != nil {
			if errCode(err) == errNoSuchTable {
				err = permanentError{fmt.Errorf("%w (a table of the workflow is missing on %s: was it dropped or renamed behind its back?)", err, d)}
			}
			_, _ = c.Exec(context.WithoutCancel(ctx), "ROLLBACK")
			return err
		}
	}
	return exec(ctx, c, "COMMIT")
}

// pauseIfDue blocks while the stream is paused at pauseAt (VDiff).
func (s *stream) pauseIfDue(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.pauseAt == nil || !s.applied.covers(s.pauseAt) {
			s.mu.Unlock()
			return nil
		}
		paused, resume := s.paused, s.resume
		s.mu.Unlock()
		select {
		case <-paused:
		default:
			close(paused)
		}
		select {
		case <-resume:
		case <-ctx.Done():
			return nil
		}
	}
}

// parked reports whether the stream is stopped at its pause position.
func (s *stream) parked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pauseAt != nil && s.applied.covers(s.pauseAt)
}

// pauseAtPos makes the stream stop applying once it has applied p (at
// once when it has; nil: where it is now); the returned channel is closed
// when it has stopped. Calling it again while paused moves the stop on;
// resumeStream lets it go on.
func (s *stream) pauseAtPos(p position) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p == nil {
		p = s.applied.clone()
	}
	old := s.resume
	s.pauseAt = p
	s.paused = make(chan struct{})
	s.resume = make(chan struct{})
	if old != nil {
		close(old) // wake a stream parked at the last stop
	}
	return s.paused
}

func (s *stream) resumeStream() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resume != nil {
		close(s.resume)
	}
	s.pauseAt, s.paused, s.resume = nil, nil, nil
}

// waitFor waits until the stream has applied p.
func (s *stream) waitFor(ctx context.Context, p position) error {
	for {
		s.mu.Lock()
		if s.applied.covers(p) {
			s.mu.Unlock()
			return nil
		}
		ch := make(chan struct{})
		s.waiters = append(s.waiters, ch)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// position returns the applied position.
func (s *stream) position() position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied.clone()
}

// sampleLag reads the source's position every 100ms: the lag is how long
// ago the source first had a transaction the stream has not applied.
func (s *stream) sampleLag(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var c *backend.Conn
	defer func() {
		if c != nil {
			c.Release()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c == nil {
			var err error
			if c, err = s.src.conn(ctx); err != nil {
				continue
			}
		}
		rows, err := c.QueryStrings(ctx, "SELECT @@gtid_binlog_pos")
		if err != nil {
			c.MarkBroken()
			c.Release()
			c = nil
			continue
		}
		p, err := parsePosition(rows[0][0])
		if err != nil {
			continue
		}
		now := time.Now()
		s.mu.Lock()
		if len(s.samples) == 0 || !s.samples[len(s.samples)-1].pos.covers(p) {
			s.samples = append(s.samples, sample{at: now, pos: p})
		}
		for len(s.samples) > 0 && s.applied.covers(s.samples[0].pos) {
			s.samples = s.samples[1:]
		}
		if len(s.samples) > 600 {
			s.samples = s.samples[len(s.samples)-600:]
		}
		lag := time.Duration(0)
		if len(s.samples) > 0 {
			lag = now.Sub(s.samples[0].at)
		}
		if d := time.Duration(s.lagNanos) - lag; d > 100*time.Millisecond || d < -100*time.Millisecond {
			s.dirty = true
		}
		s.lagNanos = int64(lag)
		s.mu.Unlock()
		s.r.m.metrics.lag.WithLabelValues(s.r.key, s.id).Set(lag.Seconds())
	}
}

// lag is the stream's lag now.
func (s *stream) lag() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) > 0 {
		return time.Since(s.samples[0].at)
	}
	return 0
}

var saveEvery = 500 * time.Millisecond

// maybeSave writes the stream's record when it changed and the last write
// is older than saveEvery.
func (s *stream) maybeSave(ctx context.Context) {
	s.mu.Lock()
	due := s.dirty && time.Since(s.state.Updated) >= saveEvery
	s.mu.Unlock()
	if due {
		s.save(ctx, true)
	}
}

// save writes the stream's record: position, lag, counts.
func (s *stream) save(ctx context.Context, running bool) {
	s.mu.Lock()
	st := *s.state
	st.Pos = s.restart.String()
	st.Applied = s.applied.String()
	st.LagSeconds = time.Duration(s.lagNanos).Seconds()
	st.Transactions += s.txCount
	st.Rows += s.rowCount
	st.Running = running && s.isUp
	st.Error = s.lastErr
	s.txCount, s.rowCount = 0, 0
	s.dirty = false
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.r.putStream(ctx, &st); err != nil {
		s.log.Warn("cannot save the stream's position", zap.Error(err))
		return
	}
	s.mu.Lock()
	*s.state = st
	s.mu.Unlock()
}
