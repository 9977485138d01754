package datagrid

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// blockSync makes block writes durable in one step instead of one fsync
// per block. On Linux flatfs runs without its own fsync (a file and a
// directory sync per 256 KiB block); every block write bumps a counter,
// and before any metadata batch that records a pin or a cache entry is
// committed, sync flushes the block store's file system with one syncfs(2)
// if anything was written since the last flush. So a record never names a
// block that a crash could lose, which is the guarantee the per-block
// fsync gave, and blocks that nothing records yet (a fetch under way) stay
// unsynced as orphans would: a crash leaves them to the sweep of
// interrupted operations, and reads verify every block anyway.
//
// The zero value (flush nil) never flushes: flatfs syncs each write
// itself, as on systems without syncfs.
type blockSync struct {
	flush func() error // syncfs on the block store; nil when flatfs syncs

	written atomic.Uint64 // block writes completed so far
	mu      sync.Mutex    // one flush at a time
	synced  uint64        // writes the last successful flush covered; under mu
	flushes atomic.Uint64 // flushes done, for tests and benchmarks
}

// wrote notes that a block write completed. Call it after the write
// returns, so that a flush that starts later covers it.
func (s *blockSync) wrote() { s.written.Add(1) }

// sync makes every block write that completed before it was called
// durable. It flushes only when some write is not covered yet; concurrent
// callers share a flush.
func (s *blockSync) sync() error {
	if s.flush == nil {
		return nil
	}
	want := s.written.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.synced >= want {
		return nil
	}
	// Writes completed up to now are covered by the flush below, not only
	// those the caller waited for.
	upto := s.written.Load()
	if err := s.flush(); err != nil {
		return fmt.Errorf("cannot flush the block store to disk: %w", err)
	}
	s.flushes.Add(1)
	s.synced = upto
	return nil
}
