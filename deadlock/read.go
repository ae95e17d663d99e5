package deadlock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/wire"
)

// trxQuery reads, for the given threads, their InnoDB transactions and the
// transactions blocking them. INNODB_TRX and INNODB_LOCK_WAITS come from one
// snapshot of InnoDB's information_schema cache, so they agree.
const trxQuery = "SELECT t.trx_mysql_thread_id, t.trx_id, t.trx_weight, t.trx_query, w.requested_lock_id, w.blocking_trx_id" +
	" FROM information_schema.INNODB_TRX t LEFT JOIN information_schema.INNODB_LOCK_WAITS w ON w.requesting_trx_id = t.trx_id" +
	" WHERE t.trx_mysql_thread_id IN ("

// read asks every server that holds a candidate's branch for those
// branches' InnoDB transactions and lock waits, all servers at once. It
// returns the rows by server address and the first error; a server that
// failed contributes no rows (its waits are not seen this round).
func (d *Detector) read(ctx context.Context, cands []candidate) (map[string][]trxRow, error) {
	threads := map[string][]uint32{}
	for _, c := range cands {
		for _, b := range c.tx.Branches {
			threads[b.Server] = append(threads[b.Server], b.ThreadID)
		}
	}
	pools := map[string]*backend.Pool{}
	for _, p := range d.servers() {
		for _, addr := range p.Servers() {
			if _, ok := pools[addr]; !ok {
				pools[addr] = p
			}
		}
	}
	servers := make([]string, 0, len(threads))
	for s := range threads {
		servers = append(servers, s)
	}
	sort.Strings(servers)
	type result struct {
		conn *backend.Conn
		rows []trxRow
		err  error
	}
	results := make([]result, len(servers))
	var wg sync.WaitGroup
	for i, server := range servers {
		p := pools[server]
		if p == nil {
			results[i].err = fmt.Errorf("server %s: no shard uses it any more (topology changed)", server)
			continue
		}
		wg.Add(1)
		go func(c *backend.Conn) {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, d.timeout)
			defer cancel()
			r := &results[i]
			if c == nil {
				var err error
				if c, err = p.DialUnpooled(rctx, server); err != nil {
					r.err = err
					return
				}
			}
			r.conn = c
			r.rows, r.err = readTrx(rctx, c, threads[server])
		}(d.conns[server])
	}
	wg.Wait()
	out := make(map[string][]trxRow, len(servers))
	var first error
	for i, server := range servers {
		r := results[i]
		switch {
		case r.err == nil:
			d.conns[server] = r.conn
			out[server] = r.rows
			delete(d.warned, server)
			continue
		default:
			// A new connection next time: a privilege granted meanwhile
			// (PROCESS) counts only for new connections.
			if r.conn != nil {
				r.conn.Close()
			}
			delete(d.conns, server)
		}
		err := explain(server, r.err)
		if first == nil {
			first = err
		}
		if !d.warned[server] {
			d.warned[server] = true
			d.log.Warn("deadlock detection cannot read a shard server; deadlocks across shards that involve it end in innodb_lock_wait_timeout", zap.String("server", server), zap.Error(err))
		}
	}
	return out, first
}

// explain makes a server's read error say what to do.
func explain(server string, err error) error {
	var e *wire.Error
	if errors.As(err, &e) && (e.Code == mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR || e.Code == mysql.ER_ACCESS_DENIED_ERROR) {
		return fmt.Errorf("server %s: reading information_schema.INNODB_TRX needs the PROCESS privilege: GRANT PROCESS ON *.* TO the shard account (docs/operations.md): %w", server, err)
	}
	return fmt.Errorf("server %s: %w", server, err)
}

// readTrx runs trxQuery for threads on c.
func readTrx(ctx context.Context, c *backend.Conn, threads []uint32) ([]trxRow, error) {
	var b strings.Builder
	b.WriteString(trxQuery)
	for i, t := range threads {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(t), 10))
	}
	b.WriteByte(')')
	rows, err := c.QueryStrings(ctx, b.String())
	if err != nil {
		return nil, err
	}
	out := make([]trxRow, 0, len(rows))
	for _, r := range rows {
		if len(r) != 6 {
			return nil, fmt.Errorf("INNODB_TRX: %d columns, want 6", len(r))
		}
		thread, err := strconv.ParseUint(r[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("INNODB_TRX: thread id %q: %w", r[0], err)
		}
		weight, _ := strconv.ParseInt(r[2], 10, 64)
		out = append(out, trxRow{thread: uint32(thread), trx: r[1], weight: weight, query: r[3], lock: r[4], blocker: r[5]})
	}
	return out, nil
}
