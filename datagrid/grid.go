package datagrid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsnetwork "github.com/ipfs/boxo/bitswap/network"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	flatfs "github.com/ipfs/go-ds-flatfs"
	leveldb "github.com/ipfs/go-ds-leveldb"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/routing"
)

// DefaultReprovideInterval is how often pinned and cached roots are
// announced again in the DHT (provider records expire after 48 h).
const DefaultReprovideInterval = 12 * time.Hour

// Config configures a Grid. Dir is required; everything else is optional.
type Config struct {
	// Dir holds blocks/ (flatfs) and meta/ (leveldb); created if missing.
	Dir string
	// QuotaBytes caps the bytes of stored blocks; 0 means unlimited.
	QuotaBytes uint64
	// Host is the libp2p host bitswap runs on; nil gives an offline grid
	// (local add, get, pin and GC only).
	Host host.Host
	// Routing is the DHT: announcements and provider lookups. nil disables
	// both; bitswap then only asks connected peers.
	Routing routing.ContentRouting
	// ReprovideInterval defaults to DefaultReprovideInterval.
	ReprovideInterval time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
	// OnProvided, if set, is called after each DHT announcement with its
	// outcome (metrics, logs; tests use it to wait for an announcement).
	// It runs on a background goroutine and must not block.
	OnProvided func(c Announcement)
	// Metrics, if set, counts bytes imported and cache entries evicted.
	Metrics Metrics
}

// Metrics is what the grid counts (package metrics implements it).
type Metrics interface {
	Added(bytes uint64)
	Evicted(entries int)
}

// Exchange is the bitswap traffic since Open: what was fetched from peers
// and served to them.
type Exchange struct {
	FetchedBytes, FetchedBlocks, ServedBytes, ServedBlocks uint64
	// FromPeers is the block bytes each peer sent us (duplicates
	// included), keyed by peer ID.
	FromPeers map[string]uint64
}

// Exchange reports the bitswap traffic; zero for an offline grid.
func (g *Grid) Exchange() (Exchange, error) {
	if g.bswap == nil {
		return Exchange{}, nil
	}
	st, err := g.bswap.Stat()
	if err != nil {
		return Exchange{}, fmt.Errorf("datagrid: bitswap stat: %w", err)
	}
	from := map[string]uint64{}
	for id, n := range g.tap.received() {
		from[id.String()] = n
	}
	return Exchange{FetchedBytes: st.DataReceived, FetchedBlocks: st.BlocksReceived, ServedBytes: st.DataSent, ServedBlocks: st.BlocksSent, FromPeers: from}, nil
}

// Grid is one node's share of the data grid: a verified block store,
// bitswap client and server, UnixFS import and export, pins, an LRU cache
// for tasklet inputs, a quota, and DHT announcements.
type Grid struct {
	cfg     Config
	log     *slog.Logger
	flat    *flatfs.Datastore
	counted *countingDatastore
	meta    *leveldb.Datastore
	bstore  blockstore.Blockstore    // verified on read, identity CIDs inline
	raw     blockstore.Blockstore    // same blocks, for GC enumeration
	local   ipld.DAGService          // never touches the network
	bswap   *bitswap.Bitswap         // nil when offline
	bsnet   bsnetwork.BitSwapNetwork // the striped fetch sends on it; nil when offline
	tap     *bitswapTap              // sees what bitswap receives; nil when offline
	quota   *quota
	ann     *announcer
	now     func() time.Time // the clock; tests may replace it

	// bsync flushes block writes before a record names them; flushDir is
	// the block store's directory, held open for it.
	bsync    blockSync
	flushDir *os.File

	// gcLock: writers of referenced data (add, fetch, pin) hold it shared
	// until their pin or cache record is written; GC and eviction hold it
	// exclusively, so they never sweep blocks an operation is about to
	// reference.
	gcLock sync.RWMutex
	// pinMu serialises read-modify-write of pin records (owners).
	pinMu sync.Mutex
	// garbage is set when pins were dropped since the last sweep: the
	// quota may then make room by collecting them (reserve).
	garbage atomic.Bool
	// released holds DAGs whose last pin ReleaseOwner dropped, until the
	// background collector (collect.go) deletes them.
	releasedMu sync.Mutex
	released   map[cid.Cid]struct{}
	collectCh  chan struct{}

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) the store in cfg.Dir and starts bitswap on
// cfg.Host. A previous run killed in the middle of an add or fetch leaves
// unreferenced blocks behind; Open sweeps them.
func Open(ctx context.Context, cfg Config) (*Grid, error) {
	if cfg.Dir == "" {
		return nil, errors.New("datagrid: Config.Dir is empty; set it to the repo's datagrid folder")
	}
	if cfg.ReprovideInterval <= 0 {
		cfg.ReprovideInterval = DefaultReprovideInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Grid{cfg: cfg, log: log.With("component", "datagrid"), now: time.Now,
		released: map[cid.Cid]struct{}{}, collectCh: make(chan struct{}, 1)}
	if err := g.openStores(ctx); err != nil {
		return nil, err
	}
	g.quota = &quota{limit: cfg.QuotaBytes, used: g.usedBytes}
	g.garbage.Store(true) // unknown until the first sweep
	if err := g.migratePins(ctx); err != nil {
		g.meta.Close()
		g.flat.Close()
		g.closeFlushDir()
		return nil, fmt.Errorf("datagrid: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	if cfg.Host != nil {
		var finder routing.ContentDiscovery
		if cfg.Routing != nil {
			finder = cfg.Routing
		}
		// All gridswarm peers answer DONT_HAVE; bitswap's simulated
		// DONT_HAVEs (a want unanswered after a latency-based timeout of a
		// few tens of ms) only wrote off busy peers that had the blocks.
		// A stalled fetch renews its session instead (fetch.go).
		g.tap = newBitswapTap()
		g.bsnet = tapNet{BitSwapNetwork: bsnet.NewFromIpfsHost(cfg.Host), tap: g.tap}
		g.bswap = bitswap.New(runCtx, g.bsnet, finder, g.bstore,
			bitswap.SetSimulateDontHavesOnTimeout(false))
	}
	g.local = merkledag.NewDAGService(blockservice.New(g.bstore, nil)) // offline: no exchange
	if err := g.recoverInflight(ctx); err != nil {
		g.log.Warn("could not sweep blocks left by an interrupted operation; run gridswarm data gc", "err", err)
	}
	g.ann = newAnnouncer(g, cfg)
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		g.ann.run(runCtx)
	}()
	go func() {
		defer g.wg.Done()
		g.collectLoop(runCtx)
	}()
	return g, nil
}

func (g *Grid) openStores(ctx context.Context) error {
	blocksDir := filepath.Join(g.cfg.Dir, "blocks")
	metaDir := filepath.Join(g.cfg.Dir, "meta")
	for _, d := range []string{g.cfg.Dir, metaDir, blocksDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("datagrid: cannot create %s: %w", d, err)
		}
	}
	flush, flushDir, err := openFlush(blocksDir)
	if err != nil {
		return fmt.Errorf("datagrid: %w", err)
	}
	g.bsync.flush, g.flushDir = flush, flushDir
	// Kubo's layout: /repo/flatfs/shard/v1/next-to-last/2. flatfs fsyncs
	// each block only where the store cannot be flushed at once (bsync).
	flat, err := flatfs.CreateOrOpen(blocksDir, flatfs.NextToLast(2), flush == nil)
	if err != nil {
		g.closeFlushDir()
		return fmt.Errorf("datagrid: cannot open block store %s: %w", blocksDir, err)
	}
	counted, err := newCountingDatastore(ctx, flat, g.bsync.wrote)
	if err != nil {
		flat.Close()
		g.closeFlushDir()
		return fmt.Errorf("datagrid: %s: %w", blocksDir, err)
	}
	// Metadata is small: goleveldb's default 4 MiB write buffer would be most
	// of an idle daemon's live heap.
	meta, err := leveldb.NewDatastore(metaDir, &leveldb.Options{WriteBuffer: 256 << 10})
	if err != nil {
		flat.Close()
		g.closeFlushDir()
		return fmt.Errorf("datagrid: cannot open metadata store %s (is another daemon using this repo?): %w", metaDir, err)
	}
	g.flat, g.counted, g.meta = flat, counted, meta
	g.raw = blockstore.NewBlockstore(counted, blockstore.NoPrefix())
	g.bstore = blockstore.NewIdStore(&verifyingBlockstore{Blockstore: g.raw, log: g.log})
	return nil
}

// recoverInflight sweeps orphans of operations a crash interrupted.
func (g *Grid) recoverInflight(ctx context.Context) error {
	keys, err := g.hasInflight(ctx)
	if err != nil || len(keys) == 0 {
		return err
	}
	res, err := g.GC(ctx)
	if err != nil {
		return err
	}
	g.log.Info("swept blocks of interrupted operations", "operations", len(keys), "blocks", res.RemovedBlocks, "bytes", res.FreedBytes)
	b := g.newBatch(ctx)
	for _, k := range keys {
		b.del(ctx, k)
	}
	return b.commit(ctx)
}

// Close stops announcements and bitswap and closes the stores. Call it
// once the operations using the Grid have returned. It does not close the
// host or the DHT, which belong to the caller.
func (g *Grid) Close() error {
	g.closeOnce.Do(func() {
		g.cancel()
		g.wg.Wait()
		var errs []error
		if g.bswap != nil {
			errs = append(errs, g.bswap.Close())
		}
		errs = append(errs, g.meta.Close(), g.flat.Close(), g.closeFlushDir())
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// closeFlushDir closes the directory bsync flushes through, if open.
func (g *Grid) closeFlushDir() error {
	if g.flushDir == nil {
		return nil
	}
	err := g.flushDir.Close()
	g.flushDir = nil
	return err
}

func (g *Grid) usedBytes() uint64 {
	if n := g.counted.bytes.Load(); n > 0 {
		return uint64(n)
	}
	return 0
}

// Stat is a snapshot of the store.
type Stat struct {
	UsedBytes    uint64 // bytes of all stored blocks
	QuotaBytes   uint64 // 0 = unlimited
	FreeBytes    uint64 // quota left (0 when unlimited)
	PinnedBytes  uint64 // sum of pinned DAG sizes (shared blocks count once per DAG)
	CacheBytes   uint64 // sum of cached DAG sizes
	Blocks       int64
	Pins         int // (CID, owner) pins
	CacheEntries int
}

// Stat reports usage, quota and counts.
func (g *Grid) Stat(ctx context.Context) (Stat, error) {
	pins, err := g.listPins(ctx)
	if err != nil {
		return Stat{}, err
	}
	cache, err := g.listCache(ctx)
	if err != nil {
		return Stat{}, err
	}
	free, _ := g.quota.free()
	st := Stat{
		UsedBytes:    g.usedBytes(),
		QuotaBytes:   g.cfg.QuotaBytes,
		FreeBytes:    free,
		Blocks:       g.counted.count.Load(),
		Pins:         len(pins),
		CacheEntries: len(cache),
	}
	seen := map[cid.Cid]bool{}
	for _, p := range pins {
		if !seen[p.Root] {
			seen[p.Root] = true
			st.PinnedBytes += p.Bytes
		}
	}
	for _, e := range cache {
		st.CacheBytes += e.Bytes
	}
	return st, nil
}
