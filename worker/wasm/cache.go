package wasm

import (
	"container/list"
	"context"
	"sync"

	"github.com/tetratelabs/wazero"
)

// moduleCacheSize is how many compiled modules stay in memory. A compiled Go
// tasklet of a few MiB holds tens of MiB of machine code.
const moduleCacheSize = 8

// cachedModule is one compiled module, shared by the runs that use it.
type cachedModule struct {
	key     [32]byte
	mod     wazero.CompiledModule
	refs    int  // runs using mod now
	evicted bool // out of the LRU; closed when refs drops to 0
	elem    *list.Element
}

// moduleCache is an LRU of compiled modules keyed by the module's SHA-256.
// Eviction never closes a module a run is still using: wazero unregisters a
// closed module's code, which a running instance still needs for traps.
type moduleCache struct {
	mu    sync.Mutex
	size  int
	lru   *list.List // of *cachedModule, most recently used first
	byKey map[[32]byte]*cachedModule
}

func newModuleCache(size int) *moduleCache {
	return &moduleCache{size: size, lru: list.New(), byKey: map[[32]byte]*cachedModule{}}
}

// acquire returns the cached module for key with a reference taken, or nil.
func (c *moduleCache) acquire(key [32]byte) *cachedModule {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return nil
	}
	e.refs++
	c.lru.MoveToFront(e.elem)
	return e
}

// add caches mod under key and returns its entry with a reference taken.
// If the same module is cached already the existing entry is returned and
// mod is left open: wazero shares compiled code between modules of one hash,
// so closing mod would unregister the code the cached entry runs (Executor
// serialises compiles so this does not happen).
func (c *moduleCache) add(ctx context.Context, key [32]byte, mod wazero.CompiledModule) *cachedModule {
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		e.refs++
		c.lru.MoveToFront(e.elem)
		c.mu.Unlock()
		return e
	}
	e := &cachedModule{key: key, mod: mod, refs: 1}
	e.elem = c.lru.PushFront(e)
	c.byKey[key] = e
	var idle []wazero.CompiledModule
	for c.lru.Len() > c.size {
		old := c.lru.Remove(c.lru.Back()).(*cachedModule)
		delete(c.byKey, old.key)
		old.evicted = true
		if old.refs == 0 {
			idle = append(idle, old.mod)
		}
	}
	c.mu.Unlock()
	for _, m := range idle {
		_ = m.Close(ctx)
	}
	return e
}

// release drops a reference taken by acquire or add.
func (c *moduleCache) release(ctx context.Context, e *cachedModule) {
	c.mu.Lock()
	e.refs--
	closeIt := e.evicted && e.refs == 0
	c.mu.Unlock()
	if closeIt {
		_ = e.mod.Close(ctx)
	}
}

// len reports how many modules are cached (evicted ones in use excluded).
func (c *moduleCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// closeAll closes every cached module. Callers make sure no run is active.
func (c *moduleCache) closeAll(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		_ = e.Value.(*cachedModule).mod.Close(ctx)
	}
	c.lru.Init()
	clear(c.byKey)
}
