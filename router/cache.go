package router

import (
	"container/list"
	"github.com/shardgate/shardgate/internal/sqllex"
	"sync"
	"sync/atomic"
)

// planCache is a size-bounded LRU of plans keyed by keyspace and normalized
// SQL, shared by text and prepared statements. The lock is never held across
// planning or I/O.
type planCache struct {
	mu     sync.Mutex
	max    int
	items  map[cacheKey]*list.Element
	lru    *list.List // front = most recent
	hits   atomic.Uint64
	misses atomic.Uint64
}

// cacheKey is the session keyspace (it resolves unqualified tables) and the
// normalized SQL; a struct, so building it allocates nothing.
type cacheKey struct {
	keyspace, sql string
	mode          sqllex.Mode // ANSI_QUOTES reads "x" as a column, not a string
}

type cacheEntry struct {
	key  cacheKey
	plan *Plan
	// fallback marks normalized text the parser rejected (a literal where
	// only a constant may stand): plan the original text instead.
	fallback bool
}

func newPlanCache(max int) *planCache {
	return &planCache{max: max, items: map[cacheKey]*list.Element{}, lru: list.New()}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.items[key] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).key)
	}
}

func (c *planCache) stats() (hits, misses uint64, size int) {
	c.mu.Lock()
	size = c.lru.Len()
	c.mu.Unlock()
	return c.hits.Load(), c.misses.Load(), size
}

func (c *planCache) clear() {
	c.mu.Lock()
	clear(c.items)
	c.lru.Init()
	c.mu.Unlock()
}
