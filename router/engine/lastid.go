package engine

import (
	"context"
	"errors"
	"strconv"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/router/sqlval"
)

// The insert id of a statement's OK packet and the session's
// LAST_INSERT_ID() follow MariaDB's rules (measured on 10.11; checked
// against a plain MariaDB by tests/sequences/insertid_test.go):
//
//   - A statement that generates ids (AUTO_INCREMENT on the shard, or the
//     proxy's sequence on a sharded table) reports the first one, in row
//     order, in its OK packet and makes it LAST_INSERT_ID().
//   - A statement that generates none leaves LAST_INSERT_ID() as it was;
//     its OK packet carries the last explicit value stored in the
//     AUTO_INCREMENT column (0 if the table has none).
//   - LAST_INSERT_ID(expr) sets LAST_INSERT_ID() to expr (a generated id of
//     the same statement wins); INSERT and UPDATE report it in their OK
//     packet.
//   - A failed statement changes nothing, unless it evaluated
//     LAST_INSERT_ID(expr) before it failed.
//
// The shard's OK packet gives the id but not whether it was generated, so
// the planner records which column the shard numbers and what each row
// gives it (idPlan). Where that cannot tell (LAST_INSERT_ID(expr), an
// expression as the id, INSERT ... SELECT naming it, INSERT IGNORE or ON
// DUPLICATE KEY UPDATE whose affected rows do not say which rows were
// inserted) the shard is asked: its connection's LAST_INSERT_ID() is set to
// the session's before the statement and read after it; for ids the proxy
// handed out, the shard is asked which of them it inserted. Plain INSERTs
// cost no extra round trip.

// IDPlan is what a plan knows about the ids its statement may generate.
type IDPlan struct {
	// Column is the AUTO_INCREMENT column the shard fills, lower case; ""
	// when the table has none or the proxy fills it from a sequence.
	Column string
	// AllRows: the statement does not name column, so every row gets an id.
	AllRows bool
	// Rows holds each row's value for column when the statement names it.
	Rows []IDValue
	// Ask: the shard is asked for LAST_INSERT_ID() after the statement
	// (the statement sets it, or only the shard knows which rows get ids).
	Ask bool
	// SetsID: the statement calls LAST_INSERT_ID(expr); it may reach one
	// shard only, whose evaluation is the last.
	SetsID bool
	// Ignore, dupUpdate: INSERT IGNORE, ON DUPLICATE KEY UPDATE.
	Ignore, DupUpdate bool
	Nrows             int // rows of the statement (0: INSERT ... SELECT, or not an INSERT)
}

// IDValue is a row's value for the AUTO_INCREMENT column.
type IDValue struct {
	Default bool // DEFAULT: generated
	Value   ValueRef
}

// firstGenerated returns the first row whose id the shard generates, or -1.
// NULL and (unless sql_mode has NO_AUTO_VALUE_ON_ZERO) 0 generate one.
func (ip *IDPlan) firstGenerated(binds []sqlval.Value, zeroIsValue bool) int {
	if ip == nil || ip.Column == "" {
		return -1
	}
	if ip.AllRows {
		return 0
	}
	for i, r := range ip.Rows {
		if r.Default || generates(r.Value.Resolve(binds), zeroIsValue) {
			return i
		}
	}
	return -1
}

// generates reports whether v, given for an AUTO_INCREMENT column, makes
// the server generate an id.
func generates(v sqlval.Value, zeroIsValue bool) bool {
	if v.Kind == sqlval.Null {
		return true
	}
	return !zeroIsValue && (v.Kind == sqlval.Int || v.Kind == sqlval.Uint) && v.Raw == "0"
}

// upsert reports INSERT IGNORE or ON DUPLICATE KEY UPDATE, where a row
// given an id may not be inserted.
func (ip *IDPlan) upsert() bool { return ip != nil && (ip.Ignore || ip.DupUpdate) }

// byAffectedRows reports whether the affected rows of a one-row upsert say
// if its row was inserted (1) or not: INSERT IGNORE counts 0 for a skipped
// row; ON DUPLICATE KEY UPDATE counts 2 for an update and 0 for an
// unchanged row, unless the client asked for found rows (then 1, as an
// insert).
func (ip *IDPlan) byAffectedRows(oneRow, foundRows bool) bool {
	return oneRow && (!ip.DupUpdate || !foundRows)
}

// IDState is what one execution learned about its ids; the vcursor holds
// it from the primitive's Execute to the OK packet.
type IDState struct {
	plan *IDPlan
	// proxyID is the first id the proxy handed out from a sequence (0:
	// none); gen is the call whose rows hold the first generated id (-1:
	// none), last the call with the statement's last row.
	proxyID   uint64
	gen, last int
	oneRow    bool
	// ask: each shard is asked for LAST_INSERT_ID() after the statement
	// (its connection's set to the session's before); probe: the shards
	// are asked which ids the proxy handed out were inserted
	// (shardCall.probe), for upserts of several rows.
	ask, probe bool

	// Set by resolve: the OK packet's id, and LAST_INSERT_ID() if changed.
	Decided   bool
	OKID      uint64
	Changed   bool
	SessionID uint64
}

// newIDState starts the idState of an execution of plan ip over rows rows
// (proxyID: the first id handed out from a sequence).
func newIDState(ip *IDPlan, rows int, proxyID uint64, foundRows bool) IDState {
	st := IDState{plan: ip, proxyID: proxyID, gen: -1, oneRow: rows == 1}
	if ip == nil {
		return st
	}
	st.ask = ip.Ask
	if ip.upsert() && !ip.byAffectedRows(st.oneRow, foundRows) {
		if proxyID != 0 {
			st.probe = true
		} else if ip.Column != "" {
			st.ask = true
		}
	}
	return st
}

// Resolve decides the statement's insert id from the shards' answers
// (calls[i].ok, and what they were asked); before is the session's
// LAST_INSERT_ID() when the statement started.
func (st *IDState) Resolve(calls []ShardCall, before uint64) {
	st.Decided = true
	if st.last >= 0 && st.last < len(calls) {
		st.OKID = calls[st.last].ok.LastInsertID
	}
	set := func(id uint64) {
		st.OKID, st.SessionID, st.Changed = id, id, true
	}
	upsert := st.plan.upsert()
	if st.gen >= 0 && st.gen < len(calls) {
		c := &calls[st.gen]
		switch {
		case st.proxyID != 0 && st.probe:
			// The proxy's ids grow in row order: the smallest one
			// inserted is the first.
			var first uint64
			for i := range calls {
				if m := calls[i].inserted; m != 0 && (first == 0 || m < first) {
					first = m
				}
			}
			if first != 0 {
				set(first)
				return
			}
		case st.proxyID != 0:
			if !upsert || c.ok.AffectedRows == 1 {
				set(st.proxyID)
				return
			}
		case !st.ask:
			if id := c.ok.LastInsertID; id != 0 && (!upsert || c.ok.AffectedRows == 1) {
				set(id)
				return
			}
		}
	}
	st.resolveAsked(calls, before)
}

// resolveAsked takes LAST_INSERT_ID() from the first shard that was asked
// and reports another value than the session's before: it generated an id
// or evaluated LAST_INSERT_ID(expr). It also serves a statement that
// failed after LAST_INSERT_ID(expr) was evaluated, which MariaDB keeps.
func (st *IDState) resolveAsked(calls []ShardCall, before uint64) {
	if !st.ask {
		return
	}
	for i := range calls {
		c := &calls[i]
		if c.asked && c.lastID != before {
			st.SessionID, st.Changed = c.lastID, true
			if c.ok.LastInsertID != 0 {
				st.OKID = c.ok.LastInsertID
			}
			return
		}
	}
}

// syncLastID sets a shard connection's LAST_INSERT_ID() to the session's,
// so that after the statement it is what the session's would be.
func syncLastID(ctx context.Context, c *backend.Conn, id uint64) error {
	var b [48]byte
	q := strconv.AppendUint(append(b[:0], "SET @@session.last_insert_id = "...), id, 10)
	_, err := c.Exec(ctx, string(q))
	return err
}

// askShard asks a shard what the statement did with ids (the statement has
// succeeded): its LAST_INSERT_ID() when asked, the smallest id the proxy
// handed out that was inserted when c.probe is set. A failure to read is
// logged and leaves the answer unknown (LAST_INSERT_ID() unchanged).
func askShard(ctx context.Context, vc VCursor, c *ShardCall) {
	if vc.IDs().ask {
		if id, ok := queryID(ctx, vc, c, "SELECT LAST_INSERT_ID()"); ok {
			c.lastID, c.asked = id, true
		}
	}
	if c.probe != nil {
		c.inserted, _ = queryID(ctx, vc, c, string(c.probe))
	}
}

// queryID runs a query returning one unsigned number (or NULL: 0, false).
func queryID(ctx context.Context, vc VCursor, c *ShardCall, q string) (uint64, bool) {
	rows, err := c.conn.QueryStrings(ctx, q)
	if err == nil && (len(rows) != 1 || len(rows[0]) != 1) {
		err = errNoLastID
	}
	var id uint64
	if err == nil {
		if rows[0][0] == "" || rows[0][0] == "NULL" {
			return 0, false
		}
		id, err = strconv.ParseUint(rows[0][0], 10, 64)
	}
	if err != nil {
		vc.Log().Warn("cannot read the statement's ids from the shard after it", zap.String("shard", c.shard.Name),
			zap.String("query", q), zap.Uint32("session", vc.Facts().ID), zap.Error(err))
		return 0, false
	}
	return id, true
}

// insertedProbe is the query that finds the smallest of ids (handed out by
// the proxy for column of table) that the shard's table now holds.
func insertedProbe(db, table, column string, ids []uint64) []byte {
	q := append([]byte("SELECT MIN("), sqlval.AppendIdent(nil, column)...)
	q = append(q, ") FROM "...)
	q = sqlval.AppendIdent(q, db)
	q = append(q, '.')
	q = sqlval.AppendIdent(q, table)
	q = append(q, " WHERE "...)
	q = sqlval.AppendIdent(q, column)
	q = append(q, " IN ("...)
	for i, id := range ids {
		if i > 0 {
			q = append(q, ", "...)
		}
		q = strconv.AppendUint(q, id, 10)
	}
	return append(q, ')')
}

var errNoLastID = errors.New("SELECT LAST_INSERT_ID() returned no single value")
