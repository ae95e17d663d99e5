package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/vindex"
)

// The copy: each source is read from one consistent snapshot
// (START TRANSACTION WITH CONSISTENT SNAPSHOT), table by table in
// primary-key chunks; each row goes to the target whose key range holds its
// keyspace id. After each chunk its last primary key is saved in etcd, so a
// runner that dies is replaced by one that resumes after it, from a new
// snapshot. The binlog stream then starts from a position taken before the
// first snapshot while no XA transaction was prepared (XA RECOVER empty):
// it replays what the snapshots already hold, which is harmless since
// every change is applied by primary key and as a whole row (REPLACE,
// DELETE), and so a row's last change is applied last whatever the
// snapshot showed.

// maxStatementBytes bounds one REPLACE of the copy (well under MariaDB's
// default max_allowed_packet of 16 MiB).
const maxStatementBytes = 4 << 20

func (r *runner) copyAll(ctx context.Context, wf *Workflow) error {
	src, dst, err := r.endpoints(wf)
	if err != nil {
		return err
	}
	errs := make(chan error, len(src))
	for i, e := range src {
		go func() { errs <- r.copySource(ctx, wf, e, dst, i == 0) }()
	}
	var first error
	for range src {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	_, err = r.update(ctx, func(w *Workflow) error {
		if w.Phase == PhaseCopying {
			w.Phase, w.Error = PhaseRunning, ""
		}
		return nil
	})
	if err == nil {
		r.log.Info("copy finished; binlog streams start")
	}
	return err
}

// copyTable is one table being copied from one source.
type copyTable struct {
	info    *tableInfo
	targets []*endpoint
	ranges  []vindex.KeyRange
}

// targetOf returns the indexes of the targets a row goes to.
func (ct *copyTable) targetOf(row [][]byte, buf []int) ([]int, error) {
	t := ct.info
	out, ksid, err := routeRow(t, ct.ranges, buf, func() (any, bool) { v := row[t.VindexCol]; return v, v == nil })
	if err == errNoRange {
		return nil, fmt.Errorf("table %s: keyspace id %x of %s=%s is in no target's key range (%s)", t.Name, ksid, t.Columns[t.VindexCol].Name, row[t.VindexCol], joinNames(ct.targets))
	}
	return out, err
}

// errNoRange: a row's keyspace id is in none of the shards' key ranges.
var errNoRange = errors.New("keyspace id in no key range")

// routeRow appends to buf the indexes of the shards (their key ranges in
// ranges) a row of t goes to: the only one, every one for a reference or
// unsharded table, else the one whose range holds the keyspace id of key's
// value (key is called only then; null: the column is NULL). errNoRange
// comes with the keyspace id, for the caller's message.
func routeRow(t *tableInfo, ranges []vindex.KeyRange, buf []int, key func() (v any, null bool)) ([]int, []byte, error) {
	switch {
	case len(ranges) == 1:
		return append(buf, 0), nil, nil
	case t.Reference || t.Vindex == nil:
		for i := range ranges {
			buf = append(buf, i)
		}
		return buf, nil, nil
	}
	v, null := key()
	if null {
		return nil, nil, fmt.Errorf("table %s: a row with NULL in its sharding column %s has no shard", t.Name, t.Columns[t.VindexCol].Name)
	}
	ksid, err := t.Vindex.Map(v)
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	for i, kr := range ranges {
		if kr.Contains(ksid) {
			return append(buf, i), nil, nil
		}
	}
	return nil, ksid, errNoRange
}

func (r *runner) copySource(ctx context.Context, wf *Workflow, e *endpoint, dst []*endpoint, first bool) error {
	id := streamID("forward", e.shard.Name)
	st, err := r.getStream(ctx, id)
	if err != nil {
		return err
	}
	if st == nil {
		st = &StreamState{ID: id, Direction: "forward", Source: e.String()}
	}
	if st.Copy == nil {
		st.Copy = map[string]*TableCopy{}
	}
	if st.Copied {
		return nil
	}
	conn, err := e.conn(ctx)
	if err != nil {
		return err
	}
	snapshotOpen := false
	defer func() {
		if snapshotOpen {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		conn.Release()
	}()
	if err := checkBinlog(ctx, conn, e); err != nil {
		return permanentError{err}
	}
	if st.Start == "" {
		pos, err := safePosition(ctx, conn, e)
		if err != nil {
			return err
		}
		st.Start = pos
		if err := r.putStream(ctx, st); err != nil {
			return err
		}
	}
	if err := exec(ctx, conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return err
	}
	snapshotOpen = true
	r.log.Info("copying", zap.String("source", e.String()), zap.String("binlog_start", st.Start))
	th := &throttle{cfg: r.m.cfg.Settings}
	for _, name := range wf.Tables {
		tc := st.Copy[name]
		if tc == nil {
			tc = &TableCopy{}
			st.Copy[name] = tc
		}
		if tc.Done {
			continue
		}
		info, err := loadTable(ctx, conn, e.db(), name)
		if err != nil {
			return permanentError{err}
		}
		ct := &copyTable{info: info, targets: dst}
		dks := dst[0].ks
		if err := info.route(dks, vschemaTable(dks, info)); err != nil {
			return permanentError{err}
		}
		for _, d := range dst {
			ct.ranges = append(ct.ranges, d.shard.KeyRange)
		}
		if info.Reference && !first {
			tc.Done = true // every source holds the same rows: copied from the first
			continue
		}
		if err := r.copyTable(ctx, wf, conn, e, ct, st, tc, th); err != nil {
			return err
		}
	}
	if err := exec(ctx, conn, "COMMIT"); err != nil {
		return err
	}
	snapshotOpen = false
	st.Copied = true
	st.Pos = st.Start
	return r.putStream(ctx, st)
}

// copyChunk is one chunk read from the source, its rows' statements per
// target.
type copyChunk struct {
	stmts  [][]string // per target
	rows   int
	lastPK []string
	last   bool
	read   time.Duration
}

func (r *runner) copyTable(ctx context.Context, wf *Workflow, conn *backend.Conn, e *endpoint, ct *copyTable, st *StreamState, tc *TableCopy, th *throttle) error {
	info := ct.info
	chunkRows := r.m.cfg.Settings.CopyChunkRows
	chunks := make(chan *copyChunk, 1)
	readErr := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the reader: the next chunk is read while the last is written
		defer wg.Done()
		defer close(chunks)
		last := tc.LastPK
		for {
			r.m.step(rctx, r.key, "copy-chunk")
			start := time.Now()
			ch, err := readChunk(rctx, conn, e, ct, last, chunkRows)
			if err != nil {
				readErr <- err
				return
			}
			ch.read = time.Since(start)
			select {
			case chunks <- ch:
			case <-rctx.Done():
				readErr <- rctx.Err()
				return
			}
			if ch.last {
				return
			}
			last = ch.lastPK
			// The send waited for the previous chunk's writes: the time
			// since start is what a chunk costs.
			th.wait(rctx, conn, time.Since(start))
		}
	}()
	var werr error
	for ch := range chunks {
		if werr != nil {
			continue
		}
		if werr = writeChunk(ctx, ct, ch); werr != nil {
			cancel()
			continue
		}
		if ch.rows > 0 {
			tc.LastPK = ch.lastPK
			tc.Rows += int64(ch.rows)
		}
		tc.Done = ch.last
		if werr = r.putStream(ctx, st); werr != nil {
			cancel()
			continue
		}
		r.m.metrics.rowsCopied.WithLabelValues(r.key).Add(float64(ch.rows))
	}
	wg.Wait()
	if werr != nil {
		return fmt.Errorf("copy of table %s from %s: %w", info.Name, e, werr)
	}
	select {
	case err := <-readErr:
		return fmt.Errorf("copy of table %s from %s: %w", info.Name, e, err)
	default:
	}
	return nil
}

// readChunk reads the rows after lastPK (nil: from the start) and builds
// the REPLACE statements of each target.
func readChunk(ctx context.Context, conn *backend.Conn, e *endpoint, ct *copyTable, lastPK []string, n int) (*copyChunk, error) {
	info := ct.info
	var q strings.Builder
	q.WriteString("SELECT ")
	q.WriteString(info.colList)
	q.WriteString(" FROM ")
	q.WriteString(quoteID(e.db()) + "." + quoteID(info.Name))
	if lastPK != nil {
		q.WriteString(" WHERE ")
		q.WriteString(pkAfter(info, lastPK))
	}
	q.WriteString(" ORDER BY ")
	q.WriteString(pkList(info))
	fmt.Fprintf(&q, " LIMIT %d", n)
	rr, err := query(ctx, conn, q.String())
	if err != nil {
		return nil, err
	}
	defer rr.close()
	ch := &copyChunk{stmts: make([][]string, len(ct.targets))}
	bufs := make([][]byte, len(ct.targets))
	var idx []int
	var last [][]byte
	for {
		row, err := rr.next()
		if err != nil {
			return nil, err
		}
		if row == nil {
			break
		}
		if idx, err = ct.targetOf(row, idx[:0]); err != nil {
			return nil, permanentError{err}
		}
		for _, i := range idx {
			if len(bufs[i]) > maxStatementBytes {
				ch.stmts[i] = append(ch.stmts[i], string(bufs[i]))
				bufs[i] = bufs[i][:0]
			}
			bufs[i] = appendRow(bufs[i], ct.targets[i].db(), info.Name, info, row)
		}
		ch.rows++
		last = row
	}
	for i, b := range bufs {
		if len(b) > 0 {
			ch.stmts[i] = append(ch.stmts[i], string(b))
		}
	}
	ch.last = ch.rows < n
	if last != nil {
		ch.lastPK = make([]string, len(info.PK))
		for i, c := range info.PK {
			ch.lastPK[i] = string(last[c])
		}
	}
	return ch, nil
}

// appendRow adds a row to a REPLACE statement being built in b (starting
// it when b is empty).
func appendRow(b []byte, db, table string, info *tableInfo, row [][]byte) []byte {
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
	for i := range info.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendText(b, &info.Columns[i], row[i])
	}
	return append(b, ')')
}

// writeChunk runs each target's statements, the targets in parallel.
func writeChunk(ctx context.Context, ct *copyTable, ch *copyChunk) error {
	var wg sync.WaitGroup
	errs := make([]error, len(ct.targets))
	for i, stmts := range ch.stmts {
		if len(stmts) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ct.targets[i].conn(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Release()
			for _, s := range stmts {
				if err := exec(ctx, c, s); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// pkList is the ORDER BY of the primary key.
func pkList(info *tableInfo) string {
	parts := make([]string, len(info.PK))
	for i, c := range info.PK {
		parts[i] = quoteID(info.Columns[c].Name)
	}
	return strings.Join(parts, ",")
}

// pkAfter is the condition "primary key after last", written so that the
// range optimizer uses the primary key: a > x OR (a = x AND b > y) ….
func pkAfter(info *tableInfo, last []string) string {
	var ors []string
	for i := range info.PK {
		var ands []string
		for j := 0; j <= i; j++ {
			c := &info.Columns[info.PK[j]]
			op := " = "
			if j == i {
				op = " > "
			}
			ands = append(ands, quoteID(c.Name)+op+string(appendText(nil, c, []byte(last[j]))))
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return strings.Join(ors, " OR ")
}

// safePosition returns the source's binlog position at a moment when no
// XA transaction is prepared on it. A transaction prepared before that
// moment and committed after a snapshot would be in neither the snapshot
// nor the binlog read from its position (its rows are logged at PREPARE):
// with XA RECOVER empty, every transaction prepared before the position
// was finished before the snapshot, which holds its rows.
func safePosition(ctx context.Context, c *backend.Conn, e *endpoint) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	var last [][]string
	for {
		rows, err := queryStrings(ctx, c, "SELECT @@gtid_binlog_pos")
		if err != nil {
			return "", err
		}
		pos := rows[0][0]
		xa, err := queryStrings(ctx, c, "XA RECOVER")
		if err != nil {
			return "", err
		}
		if len(xa) == 0 {
			return pos, nil
		}
		last = xa
		if time.Now().After(deadline) {
			var ids []string
			for _, x := range last {
				if len(x) >= 4 {
					ids = append(ids, x[3])
				}
			}
			return "", fmt.Errorf("%s: XA transactions stayed prepared for 30s (%s): the copy needs a moment without one; let the two-phase-commit resolver finish them (or XA COMMIT/ROLLBACK them) and the copy retries", e, strings.Join(ids, ", "))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// checkBinlog checks what the binlog streams need of a server: a binary
// log, row-based, with whole row images.
func checkBinlog(ctx context.Context, c *backend.Conn, e *endpoint) error {
	rows, err := queryStrings(ctx, c, "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image")
	if err != nil {
		return err
	}
	r := rows[0]
	switch {
	case r[0] != "1":
		return fmt.Errorf("%s: the server has no binary log (log_bin is OFF): start it with --log-bin (and binlog_format=ROW); the workflow reads every change from it", e)
	case !strings.EqualFold(r[1], "ROW"):
		return fmt.Errorf("%s: binlog_format is %s: the workflow needs ROW (SET GLOBAL binlog_format=ROW and in the server's configuration)", e, r[1])
	case !strings.EqualFold(r[2], "FULL"):
		return fmt.Errorf("%s: binlog_row_image is %s: the workflow needs FULL row images (SET GLOBAL binlog_row_image=FULL)", e, r[2])
	}
	return nil
}

// throttle slows the copy down while a source serves other queries.
type throttle struct {
	cfg     config.WorkflowConfig
	queries int64
	at      time.Time
}

// wait sleeps after a chunk that took d, if the source is busy.
func (t *throttle) wait(ctx context.Context, c *backend.Conn, d time.Duration) {
	if t.cfg.CopyThrottle <= 0 {
		return
	}
	rows, err := c.QueryStrings(ctx, "SHOW GLOBAL STATUS LIKE 'Queries'")
	if err != nil || len(rows) == 0 || len(rows[0]) < 2 {
		return
	}
	var q int64
	fmt.Sscan(rows[0][1], &q)
	now := time.Now()
	prevQ, prevAt := t.queries, t.at
	t.queries, t.at = q, now
	if prevAt.IsZero() {
		return
	}
	// Our own: the chunk's SELECT and this SHOW (and a few of the proxy's
	// own checks).
	rate := float64(q-prevQ-2) / now.Sub(prevAt).Seconds()
	if rate <= float64(t.cfg.CopyLoadThreshold) {
		return
	}
	sleep := time.Duration(float64(d) * t.cfg.CopyThrottle)
	select {
	case <-ctx.Done():
	case <-time.After(sleep):
	}
}
