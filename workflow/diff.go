package workflow

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/vindex"
)

// VDiff compares the moving tables on both sides at one consistent point:
// each stream is stopped, each serving shard opens a snapshot
// (START TRANSACTION WITH CONSISTENT SNAPSHOT, at a binlog position read
// without a lock), the streams apply exactly up to those positions and
// stop, the other side's shards open their snapshots, and the streams go
// on. Then each table is read from every snapshot in primary-key order and
// merged: every row is compared, column by column, and every row of the
// copy is checked to be on the shard its keyspace id names.

func (r *runner) vdiff(ctx context.Context, wf *Workflow) (string, error) {
	if wf.Phase != PhaseRunning && wf.Phase != PhaseReversed && wf.Phase != PhaseSwitched {
		return "", fmt.Errorf("%w: vdiff needs running binlog streams (phase running, switched or reversed), not %s", ErrConflict, wf.Phase)
	}
	src, dst, err := r.endpoints(wf)
	if err != nil {
		return "", err
	}
	onSources := wf.Phase.onSources()
	serving, other := src, dst
	if !onSources {
		serving, other = dst, src
	}
	streams, err := r.waitStreams(ctx, wf, len(serving))
	if err != nil {
		return "", err
	}
	rep := &VDiffReport{Started: time.Now().UTC()}
	start := time.Now()
	sconns, oconns, err := r.consistentSnapshots(ctx, serving, other, streams, rep)
	defer func() {
		for _, c := range append(sconns, oconns...) {
			if c != nil {
				_, _ = c.Exec(context.WithoutCancel(ctx), "ROLLBACK")
				c.Release()
			}
		}
	}()
	if err != nil {
		return "", err
	}
	for _, table := range wf.Tables {
		vt, err := r.diffTable(ctx, table, serving, other, sconns, oconns)
		if err != nil {
			return "", err
		}
		if !onSources { // the report speaks of sources and targets
			vt.ExtraSource, vt.ExtraTarget = vt.ExtraTarget, vt.ExtraSource
			for i := range vt.Keys {
				switch vt.Keys[i].Kind {
				case "extra_source":
					vt.Keys[i].Kind = "extra_target"
				case "extra_target":
					vt.Keys[i].Kind = "extra_source"
				}
			}
		}
		rep.Tables = append(rep.Tables, *vt)
		rep.RowsCompared += vt.RowsCompared
		rep.Mismatched += vt.Mismatched
		rep.ExtraSource += vt.ExtraSource
		rep.ExtraTarget += vt.ExtraTarget
		rep.Misplaced += vt.Misplaced
	}
	rep.DurationMS = msSince(start)
	if s := time.Since(start).Seconds(); s > 0 {
		rep.RowsPerSec = float64(rep.RowsCompared) / s
	}
	r.m.metrics.diffRows.WithLabelValues(r.key).Add(float64(rep.RowsCompared))
	for kind, n := range map[string]int64{"mismatched": rep.Mismatched, "extra_source": rep.ExtraSource, "extra_target": rep.ExtraTarget, "misplaced": rep.Misplaced} {
		r.m.metrics.diffProblems.WithLabelValues(r.key, kind).Set(float64(n))
	}
	if _, err := r.update(ctx, func(w *Workflow) error { w.VDiff = rep; return nil }); err != nil {
		return "", err
	}
	r.log.Info("vdiff done", zap.Int64("rows", rep.RowsCompared), zap.Int64("mismatched", rep.Mismatched),
		zap.Int64("extra_source", rep.ExtraSource), zap.Int64("extra_target", rep.ExtraTarget), zap.Int64("misplaced", rep.Misplaced))
	bad := rep.Mismatched + rep.ExtraSource + rep.ExtraTarget + rep.Misplaced
	msg := fmt.Sprintf("%d rows compared in %.1fs (%.0f rows/s): ", rep.RowsCompared, rep.DurationMS/1000, rep.RowsPerSec)
	if bad == 0 {
		return msg + "no difference", nil
	}
	return msg + fmt.Sprintf("%d mismatched, %d only on the sources, %d only on the targets, %d on the wrong shard", rep.Mismatched, rep.ExtraSource, rep.ExtraTarget, rep.Misplaced), nil
}

// consistentSnapshots opens a snapshot on every shard of both sides at one
// point of the streams (see above).
func (r *runner) consistentSnapshots(ctx context.Context, serving, other []*endpoint, streams []*stream, rep *VDiffReport) (sconns, oconns []*backend.Conn, err error) {
	byShard := map[string]*stream{}
	for _, s := range streams {
		byShard[s.src.String()] = s
	}
	defer func() {
		for _, s := range streams {
			s.resumeStream()
		}
	}()
	wait := func(ch <-chan struct{}, what string) error {
		select {
		case <-ch:
			return nil
		case <-time.After(30 * time.Second):
			return fmt.Errorf("vdiff: %s did not stop within 30s", what)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Stop every stream where it is: the serving snapshots come after.
	for _, s := range streams {
		if err := wait(s.pauseAtPos(nil), "stream "+s.id); err != nil {
			return nil, nil, err
		}
	}
	sconns = make([]*backend.Conn, len(serving))
	for i, e := range serving {
		c, err := e.conn(ctx)
		if err != nil {
			return sconns, nil, err
		}
		sconns[i] = c
		p, err := snapshotWithoutXA(ctx, c, e)
		if err != nil {
			return sconns, nil, fmt.Errorf("%s: %w", e, err)
		}
		rep.Positions = append(rep.Positions, e.String()+"@"+p.String())
		s := byShard[e.String()]
		if s == nil {
			return sconns, nil, fmt.Errorf("vdiff: no stream reads %s", e)
		}
		if err := wait(s.pauseAtPos(p), "stream "+s.id+" at "+p.String()); err != nil {
			return sconns, nil, err
		}
	}
	oconns = make([]*backend.Conn, len(other))
	for i, e := range other {
		c, err := e.conn(ctx)
		if err != nil {
			return sconns, oconns, err
		}
		oconns[i] = c
		if err := exec(ctx, c, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return sconns, oconns, err
		}
	}
	return sconns, oconns, nil
}

// snapshotWithoutXA opens a consistent snapshot at a moment when no XA
// transaction is prepared on the server, before and after it opens (as the
// copy's safePosition): an XA COMMIT that straddles the snapshot could be
// on one side of its binlog position and on the other of what it sees, and
// the serving side's rows would then differ from the copy's by that
// transaction (a false difference, seen under twopc load).
func snapshotWithoutXA(ctx context.Context, c *backend.Conn, e *endpoint) (position, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		clear, err := noPreparedXA(ctx, c)
		if err != nil {
			return nil, err
		}
		if clear {
			p, err := snapshotAt(ctx, c)
			if err != nil {
				return nil, err
			}
			if clear, err = noPreparedXA(ctx, c); err != nil || clear {
				return p, err
			}
			if err := exec(ctx, c, "ROLLBACK"); err != nil {
				return nil, err
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: XA transactions stayed prepared for 30s: vdiff needs a moment without one; let the two-phase-commit resolver finish them and run it again", e)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// noPreparedXA reports whether XA RECOVER lists nothing.
func noPreparedXA(ctx context.Context, c *backend.Conn) (bool, error) {
	xa, err := queryStrings(ctx, c, "XA RECOVER")
	return len(xa) == 0, err
}

// snapshotAt opens a consistent snapshot and returns its binlog position
// (MariaDB has no @@binlog_snapshot_gtid: file and offset, then
// BINLOG_GTID_POS).
func snapshotAt(ctx context.Context, c *backend.Conn) (position, error) {
	if err := exec(ctx, c, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return nil, err
	}
	rows, err := queryStrings(ctx, c, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return nil, err
	}
	var file, off string
	for _, r := range rows {
		switch strings.ToLower(r[0]) {
		case "binlog_snapshot_file":
			file = r[1]
		case "binlog_snapshot_position":
			off = r[1]
		}
	}
	if file == "" || off == "" {
		return nil, fmt.Errorf("the server reports no binlog snapshot position (is its binary log on?)")
	}
	n, err := strconv.ParseUint(off, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("binlog_snapshot_position %q", off)
	}
	g, err := queryStrings(ctx, c, fmt.Sprintf("SELECT BINLOG_GTID_POS(%s, %d)", quoteString(file), n))
	if err != nil {
		return nil, err
	}
	return parsePosition(g[0][0])
}

// diffReader is one shard's rows of a table in primary-key order.
type diffReader struct {
	rr    *rowReader
	shard int
	head  [][]byte
}

func (d *diffReader) advance() error {
	row, err := d.rr.next()
	d.head = row
	return err
}

// diffTable compares one table.
func (r *runner) diffTable(ctx context.Context, table string, serving, other []*endpoint, sconns, oconns []*backend.Conn) (*VDiffTable, error) {
	vt := &VDiffTable{Table: table}
	info, err := loadTable(ctx, sconns[0], serving[0].db(), table)
	if err != nil {
		return nil, err
	}
	oks := other[0].ks
	if err := info.route(oks, vschemaTable(oks, info)); err != nil {
		return nil, err
	}
	var ranges []vindex.KeyRange
	for _, e := range other {
		ranges = append(ranges, e.shard.KeyRange)
	}
	order := make([]string, len(info.PK))
	for i, c := range info.PK {
		col := &info.Columns[c]
		if col.Kind == kindNumber || col.Kind == kindTemporal {
			order[i] = quoteID(col.Name)
		} else {
			order[i] = "CAST(" + quoteID(col.Name) + " AS BINARY)"
		}
	}
	open := func(eps []*endpoint, conns []*backend.Conn, side string) ([]*diffReader, error) {
		var out []*diffReader
		for i, e := range eps {
			name := table
			if side == "other" {
				ok, err := tableExists(ctx, conns[i], e.db(), table)
				if err != nil {
					return nil, err
				}
				if !ok {
					name = fenceName(table)
				}
			}
			if info.Reference && i > 0 {
				break // every shard has every row: compare the first
			}
			q := "SELECT " + info.colList + " FROM " + quoteID(e.db()) + "." + quoteID(name) + " ORDER BY " + strings.Join(order, ",")
			rr, err := query(ctx, conns[i], q)
			if err != nil {
				return nil, err
			}
			d := &diffReader{rr: rr, shard: i}
			if err := d.advance(); err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	}
	sr, err := open(serving, sconns, "serving")
	if err != nil {
		return nil, err
	}
	defer closeReaders(sr)
	or, err := open(other, oconns, "other")
	if err != nil {
		return nil, err
	}
	defer closeReaders(or)
	cmp := func(a, b [][]byte) int { return comparePK(info, a, b) }
	key := func(row [][]byte) []string {
		k := make([]string, len(info.PK))
		for i, c := range info.PK {
			k[i] = string(row[c])
		}
		return k
	}
	addKey := func(kind string, row [][]byte, shard, infoText string) {
		if len(vt.Keys) < maxDiffKeys {
			vt.Keys = append(vt.Keys, DiffKey{Kind: kind, PK: key(row), Shard: shard, Info: infoText})
		}
	}
	s, si, err := popMin(sr, cmp)
	if err != nil {
		return nil, err
	}
	o, oi, err := popMin(or, cmp)
	if err != nil {
		return nil, err
	}
	for s != nil || o != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c := 0
		switch {
		case s == nil:
			c = 1
		case o == nil:
			c = -1
		default:
			c = cmp(s, o)
		}
		switch {
		case c < 0:
			vt.ExtraSource++
			addKey("extra_source", s, serving[si].String(), "")
			if s, si, err = popMin(sr, cmp); err != nil {
				return nil, err
			}
			continue
		case c > 0:
			vt.ExtraTarget++
			addKey("extra_target", o, other[oi].String(), "")
			if o, oi, err = popMin(or, cmp); err != nil {
				return nil, err
			}
			continue
		}
		vt.RowsCompared++
		if col := firstDifference(s, o); col >= 0 {
			vt.Mismatched++
			addKey("mismatched", s, other[oi].String(), fmt.Sprintf("column %s: %s on the serving side, %s on the other", info.Columns[col].Name, showValue(s[col]), showValue(o[col])))
		}
		if !info.Reference && info.Vindex != nil && len(other) > 1 {
			want := -1
			if v := o[info.VindexCol]; v != nil {
				if ksid, err := info.Vindex.Map(v); err == nil {
					for i, kr := range ranges {
						if kr.Contains(ksid) {
							want = i
							break
						}
					}
				}
			}
			if want != oi {
				vt.Misplaced++
				where := "no shard"
				if want >= 0 {
					where = other[want].String()
				}
				addKey("misplaced", o, other[oi].String(), "its keyspace id names "+where)
			}
		}
		if s, si, err = popMin(sr, cmp); err != nil {
			return nil, err
		}
		if o, oi, err = popMin(or, cmp); err != nil {
			return nil, err
		}
	}
	return vt, nil
}

func closeReaders(rs []*diffReader) {
	for _, d := range rs {
		d.rr.close()
	}
}

// popMin returns the smallest head of the readers (and advances that one).
func popMin(rs []*diffReader, cmp func(a, b [][]byte) int) ([][]byte, int, error) {
	var best *diffReader
	for _, d := range rs {
		if d.head == nil {
			continue
		}
		if best == nil || cmp(d.head, best.head) < 0 {
			best = d
		}
	}
	if best == nil {
		return nil, -1, nil
	}
	row := best.head
	if err := best.advance(); err != nil {
		return nil, -1, err
	}
	return row, best.shard, nil
}

// comparePK orders two rows by primary key as the diff's ORDER BY does:
// numbers by value, the rest by bytes.
func comparePK(info *tableInfo, a, b [][]byte) int {
	for _, c := range info.PK {
		col := &info.Columns[c]
		var r int
		if col.Kind == kindNumber {
			r = compareNumbers(a[c], b[c])
		} else {
			r = bytes.Compare(a[c], b[c])
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

func compareNumbers(a, b []byte) int {
	if x, err := strconv.ParseInt(string(a), 10, 64); err == nil {
		if y, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	x, err1 := decimal.NewFromString(string(a))
	y, err2 := decimal.NewFromString(string(b))
	if err1 != nil || err2 != nil {
		return bytes.Compare(a, b)
	}
	return x.Cmp(y)
}

func firstDifference(a, b [][]byte) int {
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || !bytes.Equal(a[i], b[i]) {
			return i
		}
	}
	return -1
}

func showValue(v []byte) string {
	if v == nil {
		return "NULL"
	}
	s := string(v)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
