package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// ShardCall is one statement sent to one shard.
type ShardCall struct {
	shard *topo.Shard
	SQL   []byte // nil: the client's own statement
	conn  *backend.Conn
	err   error
	rows  int // INSERT rows sent to this shard (0: not an INSERT split)
	// ok is this shard's own OK packet; lastID its LAST_INSERT_ID() after
	// the statement, when asked; probe a query for the smallest id the
	// proxy handed out that the shard inserted, its answer in inserted
	// (lastid.go).
	ok       wire.OK
	lastID   uint64
	asked    bool
	probe    []byte
	inserted uint64
}

// combine says how the responses of several shards become one.
type combine uint8

const (
	combineConcat    combine = iota // result sets appended, OK counts summed
	CombineFirstOnly                // reference-table writes: every shard did the same; report one
)

// relayCalls sends every call, then relays the responses to the client in
// order as one response: rows are copied as bytes, never decoded, unless the
// client expects the binary protocol for a statement sent as text.
func relayCalls(ctx context.Context, vc VCursor, calls []ShardCall, how combine, rename *ColumnRename) error {
	ask := vc.IDs().ask
	before := vc.Facts().LastInsertID
	// Send all first so the shards work in parallel.
	for i := range calls {
		c := &calls[i]
		conn, err := vc.Conn(ctx, c.shard)
		if err != nil {
			c.err = err
			continue
		}
		c.conn = conn
		if ask {
			if c.err = syncLastID(ctx, conn, before); c.err != nil {
				continue
			}
		}
		if err := vc.Send(ctx, conn, c.SQL); err != nil {
			c.err = err
		}
	}
	m := merger{vc: vc, how: how, rename: rename}
	for i := range calls {
		c := &calls[i]
		if c.err == nil {
			warnings := m.ok.Warnings + m.warnings
			m.rows = c.rows
			m.shardOK = wire.OK{}
			c.err = m.readResponse(c.conn, vc.Prepared() && c.SQL != nil, i == 0)
			c.ok = m.shardOK
			if c.err == nil && m.ok.Warnings+m.warnings > warnings {
				vc.CollectWarnings(ctx, c.conn)
			}
			if c.err == nil && (ask || c.probe != nil) {
				askShard(ctx, vc, c)
			} else if c.err != nil && ask && !c.conn.Broken() && errors.As(c.err, new(*wire.Error)) {
				askShard(ctx, vc, c) // the statement failed, but may have set LAST_INSERT_ID(expr)
			}
		}
		if c.conn != nil {
			if c.err != nil && errors.As(c.err, new(ClientError)) {
				// The client went away mid-result: the rest of the shard's
				// answer is unread, so the connection must not be reused.
				c.conn.MarkBroken()
			}
			vc.Done(c.conn)
		}
		if c.err != nil && m.err == nil {
			m.err = c.err
		}
	}
	switch {
	case m.err == nil && (vc.IDs().plan != nil || vc.IDs().proxyID != 0):
		vc.IDs().Resolve(calls, before)
	case m.err != nil && ask:
		vc.IDs().resolveAsked(calls, before)
		vc.ApplyIDs()
	}
	return m.finish()
}

// merger accumulates shard responses into one client response.
type merger struct {
	vc        VCursor
	how       combine
	rename    *ColumnRename
	fields    []*wire.Field // decoded only when rows must be converted
	ncols     int
	resultSet bool // a result set header has been sent
	ok        wire.OK
	warnings  uint16
	err       error
	rowBuf    []byte
	rows      int     // of the shard being read: see shardCall.rows
	shardOK   wire.OK // the OK packet of the shard being read
}

var reInfo = regexp.MustCompile(`^(Records|Rows matched): (\d+)  (Duplicates|Changed): (\d+)  Warnings: (\d+)$`)

// addInfo sums two shards' info strings ("Records: 2  Duplicates: 0
// Warnings: 0", "Rows matched: 1  Changed: 1  Warnings: 0"), so the client
// sees the statement's totals.
func addInfo(a, b string) string {
	if a == "" {
		return b
	}
	x, y := reInfo.FindStringSubmatch(a), reInfo.FindStringSubmatch(b)
	if x == nil || y == nil || x[1] != y[1] {
		return a
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return fmt.Sprintf("%s: %d  %s: %d  Warnings: %d", x[1], n(x[2])+n(y[2]), x[3], n(x[4])+n(y[4]), n(x[5])+n(y[5]))
}

func (m *merger) readResponse(c *backend.Conn, toBinary, first bool) error {
	p, err := c.Read()
	if err != nil {
		return err
	}
	switch p[0] {
	case wire.OKHeader:
		ok, err := wire.ParseOK(p)
		if err != nil {
			c.MarkBroken()
			return err
		}
		if ok.Status&mysql.SERVER_MORE_RESULTS_EXISTS != 0 {
			c.MarkBroken() // we never send multi-statements for clients
		}
		m.shardOK = ok
		if m.how == CombineFirstOnly && !first {
			return nil
		}
		m.ok.AffectedRows += ok.AffectedRows
		if m.ok.LastInsertID == 0 {
			m.ok.LastInsertID = ok.LastInsertID
		}
		m.ok.Warnings += ok.Warnings
		info := ok.Info
		if info == "" && m.rows == 1 {
			// A one-row INSERT has no info string; the client's statement
			// had several rows, whose info counts this one.
			dup := 0
			if ok.AffectedRows != 1 {
				dup = 1 // updated by ON DUPLICATE KEY UPDATE, or ignored
			}
			info = fmt.Sprintf("Records: 1  Duplicates: %d  Warnings: %d", dup, ok.Warnings)
		}
		m.ok.Info = addInfo(m.ok.Info, info)
		return nil
	case wire.ErrHeader:
		return wire.ParseError(p)
	case 0xfb:
		c.MarkBroken()
		return wire.Errorf(mysql.ER_NOT_SUPPORTED_YET, "not supported by shardgate: LOAD DATA LOCAL INFILE")
	}
	n, _, _ := mysql.LengthEncodedInt(p)
	if m.err != nil {
		// An earlier shard failed: read this result to keep the connection usable.
		_, err := c.ReadResultDiscardRest(int(n))
		return err
	}
	if !m.resultSet {
		m.ncols = int(n)
		if err := m.vc.Write(p); err != nil {
			return err
		}
		for i := 0; i < int(n); i++ {
			f, err := c.Read()
			if err != nil {
				return err
			}
			if m.rename != nil && i == m.rename.Index {
				fd, err := wire.ParseField(f)
				if err != nil {
					c.MarkBroken()
					return err
				}
				fd.Name, fd.OrgName = m.rename.Name, m.rename.Name
				f = wire.AppendField(nil, fd)
			}
			if toBinary {
				fd, err := wire.ParseField(f)
				if err != nil {
					c.MarkBroken()
					return err
				}
				m.fields = append(m.fields, fd)
			}
			if err := m.vc.Write(f); err != nil {
				return err
			}
		}
		if _, err := c.Read(); err != nil { // EOF after the definitions
			return err
		}
		if err := m.vc.WriteEOF(0); err != nil {
			return err
		}
		m.resultSet = true
	} else {
		if int(n) != m.ncols {
			c.MarkBroken()
			return wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shard %s returned %d columns, another shard %d: is the schema the same on every shard?", c.Shard(), n, m.ncols)
		}
		for i := 0; i <= int(n); i++ {
			if _, err := c.Read(); err != nil {
				return err
			}
		}
	}
	for {
		row, err := c.Read()
		if err != nil {
			return err
		}
		if wire.IsEOF(row) {
			m.warnings += uint16(row[1]) | uint16(row[2])<<8
			if (uint16(row[3])|uint16(row[4])<<8)&mysql.SERVER_MORE_RESULTS_EXISTS != 0 {
				c.MarkBroken()
			}
			return nil
		}
		if row[0] == wire.ErrHeader {
			return wire.ParseError(row)
		}
		if toBinary {
			m.rowBuf, err = TextRowToBinary(m.rowBuf[:0], row, m.fields)
			if err != nil {
				c.MarkBroken()
				return err
			}
			row = m.rowBuf
		}
		m.vc.AddRows(1)
		if err := m.vc.Write(row); err != nil {
			return err
		}
	}
}

func (m *merger) finish() error {
	if m.err != nil {
		return m.err // written by vcursor.finish, after any rows (clients take an ERR in place of a row)
	}
	if m.resultSet {
		m.vc.SetWarnings(m.warnings)
		m.vc.ApplyIDs()
		return m.vc.WriteEOF(m.warnings)
	}
	return m.vc.WriteOK(m.ok)
}
