package datagrid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	dsq "github.com/ipfs/go-datastore/query"
)

// Metadata keys in the leveldb store. Each state change is one leveldb
// batch (synced), so a kill -9 leaves the old state or the new one.
const (
	pinPrefix      = "/pins"
	cachePrefix    = "/cache"
	inflightPrefix = "/inflight"
	recordsPrefix  = "/records"
	// maxRecordBytes bounds one record: a cache record is a hundred
	// bytes, a pin record about a hundred per owner.
	maxRecordBytes = 1 << 20
)

// Pin is one owner's recursive pin of a DAG: GC keeps every block under
// it while any owner pins it. A DAG pinned by several owners is listed
// once per owner.
type Pin struct {
	Root    cid.Cid
	Owner   string // slash-separated, "user" for data add and data pin
	Name    string // a file or folder name, or the root CID
	Bytes   uint64 // cumulative DAG size
	Created time.Time
}

// cacheEntry is a DAG fetched for a tasklet: kept until LRU eviction.
type cacheEntry struct {
	Root     cid.Cid   `json:"-"`
	Bytes    uint64    `json:"bytes"`
	LastUsed time.Time `json:"last_used"`
}

func pinKey(c cid.Cid) ds.Key   { return ds.NewKey(pinPrefix).ChildString(c.String()) }
func cacheKey(c cid.Cid) ds.Key { return ds.NewKey(cachePrefix).ChildString(c.String()) }

// decodeRecord parses a JSON record stored under key, bounded in size.
func decodeRecord(key string, data []byte, v any) error {
	if len(data) > maxRecordBytes {
		return fmt.Errorf("metadata record %s is %d bytes, more than the %d allowed; the meta/ store is damaged", key, len(data), maxRecordBytes)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("cannot parse metadata record %s: %w", key, err)
	}
	return nil
}

// keyCid extracts the CID from the last component of a record key.
func keyCid(key string) (cid.Cid, error) {
	c, err := cid.Decode(ds.RawKey(key).BaseNamespace())
	if err != nil {
		return cid.Undef, fmt.Errorf("metadata key %s does not end in a CID: %w", key, err)
	}
	return c, nil
}

func (g *Grid) listCache(ctx context.Context) ([]cacheEntry, error) {
	var out []cacheEntry
	err := g.scan(ctx, cachePrefix, func(key string, value []byte) error {
		var e cacheEntry
		if err := decodeRecord(key, value, &e); err != nil {
			return err
		}
		c, err := keyCid(key)
		if err != nil {
			return err
		}
		e.Root = c
		out = append(out, e)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsed.Before(out[j].LastUsed) })
	return out, err
}

func (g *Grid) scan(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	res, err := g.meta.Query(ctx, dsq.Query{Prefix: prefix})
	if err != nil {
		return fmt.Errorf("cannot read %s records from meta/: %w", prefix, err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("cannot read %s records from meta/: %w", prefix, r.Error)
		}
		if err := fn(r.Key, r.Value); err != nil {
			return err
		}
	}
	return nil
}

func (g *Grid) isPinned(ctx context.Context, c cid.Cid) (bool, error) {
	ok, err := g.meta.Has(ctx, pinKey(c))
	if err != nil {
		return false, fmt.Errorf("cannot read pin record of %s: %w", c, err)
	}
	return ok, nil
}

// metaBatch builds one atomic metadata change.
type metaBatch struct {
	b    ds.Batch
	err  error
	sync func() error // makes written blocks durable (blockSync.sync)
	puts bool         // the batch writes a record, which may name blocks
}

func (g *Grid) newBatch(ctx context.Context) *metaBatch {
	b, err := g.meta.Batch(ctx)
	return &metaBatch{b: b, err: err, sync: g.bsync.sync}
}

func (m *metaBatch) put(ctx context.Context, k ds.Key, v any) {
	if m.err != nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		m.err = err
		return
	}
	m.err = m.b.Put(ctx, k, data)
	m.puts = true
}

func (m *metaBatch) del(ctx context.Context, k ds.Key) {
	if m.err == nil {
		m.err = m.b.Delete(ctx, k)
	}
}

// commit writes the change. A batch that writes records first flushes the
// blocks written so far: a pin or cache record must never outlive, in a
// crash, the blocks it names. Batches that only delete need no flush.
func (m *metaBatch) commit(ctx context.Context) error {
	if m.err != nil {
		return fmt.Errorf("cannot update metadata in meta/: %w", m.err)
	}
	if m.puts {
		if err := m.sync(); err != nil {
			return fmt.Errorf("cannot record in meta/ before the blocks are on disk: %w", err)
		}
	}
	if err := m.b.Commit(ctx); err != nil {
		return fmt.Errorf("cannot update metadata in meta/: %w", err)
	}
	return nil
}

// beginInflight records that an operation is writing blocks that nothing
// references yet. If the process dies before endInflight, Open finds the
// marker and sweeps the orphans.
func (g *Grid) beginInflight(ctx context.Context, op string) (ds.Key, error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	k := ds.NewKey(inflightPrefix).ChildString(hex.EncodeToString(id[:]))
	if err := g.meta.Put(ctx, k, []byte(op)); err != nil {
		return ds.Key{}, fmt.Errorf("cannot record %s in meta/: %w", op, err)
	}
	return k, nil
}

func (g *Grid) hasInflight(ctx context.Context) ([]ds.Key, error) {
	var keys []ds.Key
	err := g.scan(ctx, inflightPrefix, func(key string, _ []byte) error {
		keys = append(keys, ds.RawKey(key))
		return nil
	})
	return keys, err
}

// Metadata returns a namespace of the metadata store for records other
// packages keep next to the data (dataset manifests, for instance). Writes
// to it are synced leveldb writes; use its Batch for atomic changes.
func (g *Grid) Metadata(ns string) (ds.Batching, error) {
	if ns == "" || strings.ContainsAny(ns, "/\\") || len(ns) > 64 {
		return nil, fmt.Errorf("metadata namespace %q is invalid: use 1-64 characters without slashes", ns)
	}
	return namespace.Wrap(g.meta, ds.NewKey(recordsPrefix).ChildString(ns)), nil
}
