package router

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// sequences hands out ids from Vitess-format sequence tables in unsharded
// keyspaces. Each sequence reserves `cache` ids at a time in the sequence
// row's own short transaction, so several proxies never hand out the same id,
// and serves them from memory.
type sequences struct {
	mu   sync.Mutex
	seqs map[string]*sequence // "keyspace.table"
}

type sequence struct {
	ks    *topo.Keyspace
	table string
	// mu is held while a new block is reserved: callers of this sequence
	// must wait for it anyway, and other sequences are not blocked.
	mu         sync.Mutex
	next, end  uint64 // ids [next, end) are reserved and unused
	generation uint64 // blocks reserved, for tests and SHOW
}

func newSequences() *sequences { return &sequences{seqs: map[string]*sequence{}} }

// get returns the sequence named "keyspace.table".
func (s *sequences) get(snap *topo.Snapshot, name string) (*sequence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sq, ok := s.seqs[name]; ok {
		return sq, nil
	}
	ksName, table, ok := strings.Cut(name, ".")
	if !ok {
		return nil, fmt.Errorf("sequence %q is not qualified by a keyspace", name)
	}
	ks, found := snap.Keyspace(ksName)
	if !found {
		return nil, wire.Errorf(mysql.ER_BAD_DB_ERROR, "Unknown database '%s' (keyspace of sequence %s)", ksName, name)
	}
	if ks.Sharded {
		return nil, wire.Errorf(mysql.ER_NOT_SUPPORTED_YET, "not supported by shardgate: sequence %s in sharded keyspace %s", table, ksName)
	}
	sq := &sequence{ks: ks, table: table}
	s.seqs[name] = sq
	return sq, nil
}

// reserve returns n ids in order; contiguous asks for n consecutive ids
// (NEXT n VALUES hands out only the first): the rest of a block too short
// for them is dropped, as Vitess does.
func (sq *sequence) reserve(ctx context.Context, pool *backend.Pool, n int, dst []uint64, contiguous bool) ([]uint64, error) {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	if contiguous && sq.end-sq.next < uint64(n) {
		sq.next = sq.end
	}
	for n > 0 {
		if sq.next >= sq.end {
			if err := sq.refill(ctx, pool, uint64(n)); err != nil {
				return nil, err
			}
		}
		for sq.next < sq.end && n > 0 {
			dst = append(dst, sq.next)
			sq.next++
			n--
		}
	}
	return dst, nil
}

// refill reserves the next block: max(cache, need) ids.
func (sq *sequence) refill(ctx context.Context, pool *backend.Pool, need uint64) error {
	c, err := pool.GetPlain(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	tbl := "`" + strings.ReplaceAll(sq.table, "`", "``") + "`"
	fail := func(err error) error {
		_, _ = c.Exec(ctx, "ROLLBACK")
		return fmt.Errorf("sequence %s.%s: %w", sq.ks.Name, sq.table, err)
	}
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		return fail(err)
	}
	rows, err := c.QueryStrings(ctx, "SELECT next_id, cache FROM "+tbl+" WHERE id = 0 FOR UPDATE")
	if err != nil {
		return fail(err)
	}
	if len(rows) == 0 {
		return fail(wire.Errorf(mysql.ER_UNKNOWN_ERROR, "sequence table %s has no row with id 0 (seed it: INSERT INTO %s (id, next_id, cache) VALUES (0, 1, 1000))", sq.table, sq.table))
	}
	next, err1 := strconv.ParseUint(rows[0][0], 10, 64)
	cache, err2 := strconv.ParseUint(rows[0][1], 10, 64)
	if err1 != nil || err2 != nil {
		return fail(fmt.Errorf("bad next_id/cache %q/%q", rows[0][0], rows[0][1]))
	}
	if next == 0 {
		next = 1
	}
	block := max(cache, need, 1)
	if _, err := c.Exec(ctx, fmt.Sprintf("UPDATE %s SET next_id = %d WHERE id = 0", tbl, next+block)); err != nil {
		return fail(err)
	}
	if _, err := c.Exec(ctx, "COMMIT"); err != nil {
		c.MarkBroken()
		return fmt.Errorf("sequence %s.%s: commit: %w", sq.ks.Name, sq.table, err)
	}
	sq.next, sq.end = next, next+block
	sq.generation++
	return nil
}

// createSequenceSQL creates a Vitess-format sequence table and seeds it to
// hand out ids from next on (unless it exists and is seeded).
func createSequenceSQL(table string, next uint64) []string {
	tbl := string(sqlval.AppendIdent(nil, table))
	return []string{
		"CREATE TABLE IF NOT EXISTS " + tbl + " (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY(id)) COMMENT 'vitess_sequence'",
		"INSERT IGNORE INTO " + tbl + " (id, next_id, cache) VALUES (0, " + strconv.FormatUint(next, 10) + ", 1000)",
	}
}

// forget drops a sequence's cached block (its table was dropped).
func (s *sequences) forget(name string) {
	s.mu.Lock()
	delete(s.seqs, name)
	s.mu.Unlock()
}
