package datagrid

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// ErrCorruptBlock reports a block whose bytes on disk no longer hash to its
// CID. The corrupt copy is removed when it is detected, so the next fetch
// gets a good copy from a peer.
var ErrCorruptBlock = errors.New("block is corrupt on disk")

// countingDatastore keeps an exact count of the blocks and bytes in the
// flatfs store. flatfs's own DiskUsage is an estimate (it counts directory
// sizes and is checkpointed lazily), which is not good enough for a quota
// that tests and users compare to the byte.
type countingDatastore struct {
	ds.Batching
	wrote   func()         // told after each completed write (blockSync.wrote)
	stripes [64]sync.Mutex // per-key locks so "new?" and "write" are one step
	bytes   atomic.Int64
	count   atomic.Int64
}

var _ ds.Batching = (*countingDatastore)(nil)

// newCountingDatastore wraps d and counts what it already holds. wrote is
// called after every write that completes.
func newCountingDatastore(ctx context.Context, d ds.Batching, wrote func()) (*countingDatastore, error) {
	c := &countingDatastore{Batching: d, wrote: wrote}
	res, err := d.Query(ctx, dsq.Query{KeysOnly: true, ReturnsSizes: true})
	if err != nil {
		return nil, fmt.Errorf("cannot list the block store: %w", err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("cannot list the block store: %w", r.Error)
		}
		c.bytes.Add(int64(r.Size))
		c.count.Add(1)
	}
	return c, nil
}

func (c *countingDatastore) stripe(k ds.Key) int {
	h := fnv.New32a()
	_, _ = h.Write(k.Bytes())
	return int(h.Sum32() % uint32(len(c.stripes)))
}

// Put stores value and counts it once, however often the key is written.
func (c *countingDatastore) Put(ctx context.Context, k ds.Key, value []byte) error {
	mu := &c.stripes[c.stripe(k)]
	mu.Lock()
	defer mu.Unlock()
	return c.putLocked(ctx, k, value, func() error { return c.Batching.Put(ctx, k, value) })
}

func (c *countingDatastore) putLocked(ctx context.Context, k ds.Key, value []byte, write func() error) error {
	old, err := c.Batching.GetSize(ctx, k)
	existed := err == nil
	if err != nil && !errors.Is(err, ds.ErrNotFound) {
		return err
	}
	if err := write(); err != nil {
		return err
	}
	c.wrote()
	if existed {
		c.bytes.Add(int64(len(value) - old))
		return nil
	}
	c.bytes.Add(int64(len(value)))
	c.count.Add(1)
	return nil
}

// Delete removes k and uncounts it.
func (c *countingDatastore) Delete(ctx context.Context, k ds.Key) error {
	mu := &c.stripes[c.stripe(k)]
	mu.Lock()
	defer mu.Unlock()
	size, err := c.Batching.GetSize(ctx, k)
	if errors.Is(err, ds.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.Batching.Delete(ctx, k); err != nil {
		return err
	}
	c.bytes.Add(-int64(size))
	c.count.Add(-1)
	return nil
}

// Batch collects writes and commits them through flatfs's batch, which
// writes files in parallel.
func (c *countingDatastore) Batch(ctx context.Context) (ds.Batch, error) {
	return &countingBatch{parent: c, puts: map[ds.Key][]byte{}, dels: map[ds.Key]struct{}{}}, nil
}

type countingBatch struct {
	parent *countingDatastore
	puts   map[ds.Key][]byte
	dels   map[ds.Key]struct{}
}

func (b *countingBatch) Put(_ context.Context, k ds.Key, v []byte) error {
	delete(b.dels, k)
	b.puts[k] = v
	return nil
}

func (b *countingBatch) Delete(_ context.Context, k ds.Key) error {
	delete(b.puts, k)
	b.dels[k] = struct{}{}
	return nil
}

// stripes lists the stripe indexes the batch touches, ascending.
func (b *countingBatch) stripes() []int {
	seen := map[int]bool{}
	for k := range b.puts {
		seen[b.parent.stripe(k)] = true
	}
	for k := range b.dels {
		seen[b.parent.stripe(k)] = true
	}
	idx := make([]int, 0, len(seen))
	for i := range seen {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	return idx
}

// Commit locks every stripe the batch touches (in index order, so two
// batches cannot deadlock), notes which keys are new, commits, and counts.
func (b *countingBatch) Commit(ctx context.Context) error {
	c := b.parent
	for _, i := range b.stripes() {
		c.stripes[i].Lock()
		defer c.stripes[i].Unlock()
	}
	var addBytes, addCount int64
	inner, err := c.Batching.Batch(ctx)
	if err != nil {
		return err
	}
	for k, v := range b.puts {
		old, err := c.Batching.GetSize(ctx, k)
		switch {
		case err == nil:
			addBytes += int64(len(v) - old)
		case errors.Is(err, ds.ErrNotFound):
			addBytes += int64(len(v))
			addCount++
		default:
			return err
		}
		if err := inner.Put(ctx, k, v); err != nil {
			return err
		}
	}
	for k := range b.dels {
		old, err := c.Batching.GetSize(ctx, k)
		if errors.Is(err, ds.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		addBytes -= int64(old)
		addCount--
		if err := inner.Delete(ctx, k); err != nil {
			return err
		}
	}
	if err := inner.Commit(ctx); err != nil {
		return err
	}
	if len(b.puts) > 0 {
		c.wrote()
	}
	c.bytes.Add(addBytes)
	c.count.Add(addCount)
	return nil
}

// verifyingBlockstore checks every block it reads against its CID, the
// successor of the old HashOnRead option (boxo v0.43 has no such option;
// its ValidatingBlockstore returns an error that does not name the block).
// A corrupt block is deleted so bitswap never serves it and the next fetch
// replaces it from a peer.
type verifyingBlockstore struct {
	blockstore.Blockstore
	log *slog.Logger
}

var _ blockstore.Blockstore = (*verifyingBlockstore)(nil)

func (v *verifyingBlockstore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	blk, err := v.Blockstore.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := verifyBlock(c, blk.RawData()); err != nil {
		v.log.Error("corrupt block on disk removed", "cid", c.String(), "err", err)
		if derr := v.Blockstore.DeleteBlock(ctx, c); derr != nil {
			return nil, fmt.Errorf("block %s failed its hash check on read and could not be removed (%w): %w; run gridswarm data gc after unpinning it", c, derr, ErrCorruptBlock)
		}
		return nil, fmt.Errorf("block %s failed its hash check on read (%w); the corrupt copy was removed: fetch or pin the data again to restore it from a peer", c, ErrCorruptBlock)
	}
	return blk, nil
}

// verifyBlock reports whether data hashes to c.
func verifyBlock(c cid.Cid, data []byte) error {
	got, err := c.Prefix().Sum(data)
	if err != nil {
		return fmt.Errorf("cannot hash block %s: %w", c, err)
	}
	if !got.Equals(c) {
		return fmt.Errorf("content hashes to %s", got)
	}
	return nil
}
