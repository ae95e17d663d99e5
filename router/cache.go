package router

import (
	"container/list"
	"sync"
	"sync/atomic"

	"github.com/shardgate/shardgate/internal/sqllex"
	"github.com/shardgate/shardgate/router/planner"
)

// planCache is an LRU of plans keyed by keyspace and normalized SQL, shared
// by text and prepared statements, bounded both in entries and in
// estimated bytes: a bound in entries alone let large statements (1 MB
// each) keep hundreds of megabytes. The lock is never held across planning
// or I/O.
type planCache struct {
	mu       sync.Mutex
	max      int   // entries
	maxBytes int64 // estimated bytes of keys and plans; 0 = no bound
	bytes    int64
	items    map[cacheKey]*list.Element
	lru      *list.List // front = most recent
	hits     atomic.Uint64
	misses   atomic.Uint64
	// evictions, when set, counts plans dropped to make room (the
	// router's counter, which outlives a cache replaced by Apply).
	evictions *atomic.Uint64
}

// cacheKey is the session keyspace (it resolves unqualified tables) and the
// normalized SQL; a struct, so building it allocates nothing.
type cacheKey struct {
	keyspace, sql string
	mode          sqllex.Mode // ANSI_QUOTES reads "x" as a column, not a string
}

type cacheEntry struct {
	key  cacheKey
	plan *planner.Plan
	// fallback marks normalized text the parser rejected (a literal where
	// only a constant may stand): plan the original text instead.
	fallback bool
	size     int64 // estimated bytes (entrySize)
}

// Estimating an entry's bytes: a plan holds the statement's text about
// three times over (the key, the templates' pieces, the parsed items), plus
// per-item structure; measured by tests/abuse TestPlanCacheBytes: 3 bytes
// per byte of text for 16 KiB statements, 4 for 1 MiB ones (70 000 select
// items). The estimate takes the larger.
const (
	planBytesPerSQLByte = 4
	planEntryOverhead   = 2 << 10
	// hugePlanShare: a plan estimated above maxBytes/hugePlanShare is not
	// cached (planned at every run), so that a few huge statements cannot
	// flush the cache of everyone's small ones.
	hugePlanShare = 64
)

func entrySize(key cacheKey) int64 {
	return int64(len(key.keyspace)+len(key.sql))*planBytesPerSQLByte + planEntryOverhead
}

func newPlanCache(max int, maxBytes int64) *planCache {
	return &planCache{max: max, maxBytes: maxBytes, items: map[cacheKey]*list.Element{}, lru: list.New()}
}

func (c *planCache) get(key cacheKey) *cacheEntry {
	c.mu.Lock()
	el, ok := c.items[key]
	if ok {
		c.lru.MoveToFront(el)
	}
	c.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return nil
	}
	c.hits.Add(1)
	return el.Value.(*cacheEntry)
}

func (c *planCache) put(key cacheKey, e *cacheEntry) {
	e.key = key
	e.size = entrySize(key)
	if c.maxBytes > 0 && e.size > c.maxBytes/hugePlanShare {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.bytes += e.size - el.Value.(*cacheEntry).size
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.items[key] = c.lru.PushFront(e)
	c.bytes += e.size
	for c.lru.Len() > c.max || (c.maxBytes > 0 && c.bytes > c.maxBytes) {
		old := c.lru.Back()
		c.lru.Remove(old)
		oe := old.Value.(*cacheEntry)
		delete(c.items, oe.key)
		c.bytes -= oe.size
		if c.evictions != nil {
			c.evictions.Add(1)
		}
	}
}

func (c *planCache) stats() (hits, misses uint64, size int) {
	c.mu.Lock()
	size = c.lru.Len()
	c.mu.Unlock()
	return c.hits.Load(), c.misses.Load(), size
}

// size returns the estimated bytes the cache holds.
func (c *planCache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

func (c *planCache) clear() {
	c.mu.Lock()
	clear(c.items)
	c.lru.Init()
	c.bytes = 0
	c.mu.Unlock()
}

// CacheBytes returns the plan cache's estimated size in bytes
// (limits.plan_cache_bytes bounds it).
func (r *Router) CacheBytes() int64 { return r.state.Load().cache.size() }
