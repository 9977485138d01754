package wasm

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// memoryGuard is the linear-memory allocator of one run. It enforces the
// memory limit itself, instead of wazero's WithMemoryLimitPages, because
// wazero refuses a memory.grow past its own limit silently: the guest sees
// -1 and what follows depends on the language (Go prints "fatal error: out of
// memory" and exits 2, Rust aborts with a trap, C gets NULL from malloc).
// Refusing here tells us, language-independently, that the limit was hit.
type memoryGuard struct {
	limit uint64 // bytes

	mu      sync.Mutex
	refused uint64 // largest size refused, bytes
	peak    uint64 // largest size granted, bytes
}

var _ experimental.MemoryAllocator = (*memoryGuard)(nil)

func newMemoryGuard(limitPages uint32) *memoryGuard {
	return &memoryGuard{limit: pagesToBytes(limitPages)}
}

// Allocate implements experimental.MemoryAllocator. wazero calls it once per
// memory at instantiation; capacity hints are ignored.
func (g *memoryGuard) Allocate(_, _ uint64) experimental.LinearMemory {
	return &guardedMemory{guard: g}
}

// Refused returns the largest memory size, in bytes, the guest asked for and
// did not get, or 0.
func (g *memoryGuard) Refused() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refused
}

// Peak returns the largest memory size, in bytes, the guest was given.
func (g *memoryGuard) Peak() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

// grant records a request and says whether it fits the limit.
func (g *memoryGuard) grant(size uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if size > g.limit {
		g.refused = max(g.refused, size)
		return false
	}
	g.peak = max(g.peak, size)
	return true
}

// guardedMemory is one linear memory whose backing slice never exceeds the
// guard's limit, capacity included.
type guardedMemory struct {
	guard *memoryGuard
	buf   []byte
}

// Reallocate implements experimental.LinearMemory. Returning nil makes
// memory.grow return -1. wazero panics if the very first call (the declared
// minimum) returns nil; Executor checks the minimum before instantiating.
func (m *guardedMemory) Reallocate(size uint64) []byte {
	if !m.guard.grant(size) {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow geometrically like append, but never reserve past the limit.
	newCap := min(max(size, 2*uint64(cap(m.buf))), m.guard.limit)
	buf := make([]byte, size, newCap)
	copy(buf, m.buf)
	m.buf = buf
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *guardedMemory) Free() { m.buf = nil }
