package datagrid

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsmsg "github.com/ipfs/boxo/bitswap/message"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestFetchThroughDHT: A–B–C in a line; C finds A only through the DHT
// and fetches a 64 MiB file and a directory tree byte-identical.
func TestFetchThroughDHT(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, b, c := newTestNode(t, Config{}), newTestNode(t, Config{}), newTestNode(t, Config{})
	connect(t, ctx, a, b)
	connect(t, ctx, c, b)
	if addrs := c.host.Peerstore().Addrs(a.host.ID()); len(addrs) != 0 {
		t.Fatalf("C already knows A's addresses %v; the test must make it discover them", addrs)
	}

	t.Run("file", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "big.bin")
		want := writeRandomFile(t, src, 64*MiB, 10)
		res, err := a.grid.AddPath(ctx, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.waitProvided(t, ctx, res.Root)
		provs, err := c.grid.Providers(ctx, res.Root, 5)
		if err != nil || !hasPeer(provs, a.host.ID()) {
			t.Fatalf("C's provider lookup = %v, %v; want A among them", provs, err)
		}
		out := filepath.Join(t.TempDir(), "big.bin")
		var lastDone, lastTotal int64
		err = c.grid.Get(ctx, res.Root, out, GetOptions{Progress: func(done, total int64) { lastDone, lastTotal = done, total }})
		if err != nil {
			t.Fatalf("C's Get: %v", err)
		}
		if got := fileSum(t, out); got != want {
			t.Fatal("C's copy differs from A's file")
		}
		if lastDone != lastTotal || uint64(lastTotal) != res.DAGBytes {
			t.Errorf("last progress = %d/%d, want %d/%d", lastDone, lastTotal, res.DAGBytes, res.DAGBytes)
		}
		if c.host.Network().Connectedness(a.host.ID()) != network.Connected {
			t.Error("C is not connected to A after fetching from it")
		}
		h, err := c.grid.Holds(ctx, []cid.Cid{res.Root})
		if err != nil {
			t.Fatal(err)
		}
		if !h[0].Complete || h[0].Pinned || h[0].LocalBytes != res.DAGBytes {
			t.Errorf("C's holding = %+v, want a complete unpinned %d bytes", h[0], res.DAGBytes)
		}
		if st, _ := b.grid.Stat(ctx); st.Blocks != 0 {
			t.Errorf("B stored %d blocks; it only routes", st.Blocks)
		}
	})

	t.Run("dir", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "dataset")
		writeRandomFile(t, filepath.Join(root, "shard-0.bin"), 1*MiB, 11)
		writeRandomFile(t, filepath.Join(root, "sub", "shard-1.bin"), 600<<10, 12)
		writeRandomFile(t, filepath.Join(root, "sub", "deeper", "empty"), 0, 13)
		if err := os.Mkdir(filepath.Join(root, "empty-dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		res, err := a.grid.AddPath(ctx, root, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Files) != 3 || res.Files[1].Path != "sub/deeper/empty" {
			t.Errorf("Files = %+v", res.Files)
		}
		a.waitProvided(t, ctx, res.Root)
		ents, err := c.grid.Ls(ctx, res.Root)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name+":"+string(e.Type))
		}
		if got, want := strings.Join(names, ","), "empty-dir:dir,shard-0.bin:file,sub:dir"; got != want {
			t.Errorf("C's Ls = %s, want %s", got, want)
		}
		out := filepath.Join(t.TempDir(), "dataset")
		if err := c.grid.Get(ctx, res.Root, out, GetOptions{}); err != nil {
			t.Fatalf("C's Get of the tree: %v", err)
		}
		assertSameTree(t, out, root)
	})
}

func hasPeer(ps []peer.AddrInfo, id peer.ID) bool {
	for _, p := range ps {
		if p.ID == id {
			return true
		}
	}
	return false
}

func assertSameTree(t *testing.T, got, want string) {
	t.Helper()
	g, w := treeDigest(t, got), treeDigest(t, want)
	if len(g) != len(w) {
		t.Errorf("tree has %d entries, want %d", len(g), len(w))
	}
	for k, v := range w {
		if g[k] != v {
			t.Errorf("entry %q differs or is missing", k)
		}
	}
}

// TestProviderDisappears closes a provider's host in the middle of C's
// transfer, from the progress callback.
func TestProviderDisappears(t *testing.T) {
	// A and B both hold the file; D is only a DHT neighbour. C is hinted A
	// and not connected to B, so A serves the first bytes; then A's host
	// closes and C must find B through the DHT and finish from it.
	t.Run("second provider finishes", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		a, b, c, d := newTestNode(t, Config{}), newTestNode(t, Config{}), newTestNode(t, Config{}), newTestNode(t, Config{})
		for _, n := range []*testNode{a, b, c} {
			connect(t, ctx, n, d)
		}
		src := filepath.Join(t.TempDir(), "f.bin")
		want := writeRandomFile(t, src, 32*MiB, 20)
		res, err := a.grid.AddPath(ctx, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.grid.Pin(ctx, res.Root, a.info()); err != nil {
			t.Fatalf("B pins A's file: %v", err)
		}
		b.waitProvided(t, ctx, res.Root)
		if err := c.host.Network().ClosePeer(b.host.ID()); err != nil {
			t.Fatal(err)
		}
		var closedAt int64 = -1
		closer := &onceCloser{}
		out := filepath.Join(t.TempDir(), "f.bin")
		err = c.grid.Get(ctx, res.Root, out, GetOptions{
			Hints: []peer.AddrInfo{a.info()},
			Progress: func(done, total int64) {
				if done > 2*ChunkSize {
					closer.fn = func() { closedAt = done; a.host.Close() }
					closer.do()
				}
			},
		})
		if err != nil {
			t.Fatalf("Get after A vanished: %v", err)
		}
		if closedAt < 0 || uint64(closedAt) >= res.DAGBytes {
			t.Fatalf("A was closed at %d of %d bytes; want mid-transfer", closedAt, res.DAGBytes)
		}
		if got := fileSum(t, out); got != want {
			t.Fatal("copy differs after switching providers")
		}
		st, err := b.grid.bswap.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if st.DataSent == 0 {
			t.Error("B sent nothing; the rest of the file must come from B")
		}
		t.Logf("A closed at %s; B then sent %s of %s", humanBytes(uint64(closedAt)), humanBytes(st.DataSent), humanBytes(res.DAGBytes))
	})

	t.Run("only provider vanishes", func(t *testing.T) {
		a, c := newTestNode(t, Config{}), newTestNode(t, Config{})
		res, err := a.grid.AddReader(context.Background(), io.LimitReader(rand.NewChaCha8([32]byte{21}), 4*MiB), nil)
		if err != nil {
			t.Fatal(err)
		}
		const deadline = 3 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		closer := &onceCloser{fn: func() { a.host.Close() }}
		outDir := t.TempDir()
		start := time.Now()
		err = c.grid.Get(ctx, res.Root, filepath.Join(outDir, "f.bin"), GetOptions{
			Hints:    []peer.AddrInfo{a.info()},
			Progress: func(done, total int64) { closer.do() }, // right after the root block
		})
		elapsed := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) || !containsAll(err.Error(), "no reachable peer delivered", res.Root.String()) {
			t.Fatalf("Get from a vanished provider: err = %v; want a deadline error saying no peer delivered %s", err, res.Root)
		}
		if elapsed > deadline+2*time.Second {
			t.Errorf("Get returned %v after the start, long past its %v deadline", elapsed, deadline)
		}
		if names := dirEntries(t, outDir); len(names) != 0 {
			t.Errorf("failed Get left %v behind", names)
		}
	})
}

// TestCorruptBlockNeverServed: A's copy of a leaf is corrupt on disk. A raw
// bitswap client that traces every message asks A for all blocks and must
// never receive that block (nor any bytes under another CID); a Grid
// fetching the file fails naming it.
func TestCorruptBlockNeverServed(t *testing.T) {
	a := newTestNode(t, Config{})
	bg := context.Background()
	res, err := a.grid.AddReader(bg, bytes.NewReader(vectorBytes(4*ChunkSize)), nil)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]cid.Cid{res.Root}, leaves(t, a.grid, res.Root)...)
	bad := all[2]
	corruptBlock(t, a.grid, bad)

	t.Run("raw bitswap peer", func(t *testing.T) {
		h := newHost(t)
		defer h.Close()
		tr := &blockTracer{}
		bs := bitswap.New(bg, bsnet.NewFromIpfsHost(h), nil, blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore())), bitswap.WithTracer(tr))
		defer bs.Close()
		if err := h.Connect(bg, a.info()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(bg, 2*time.Second)
		defer cancel()
		ch, err := bs.GetBlocks(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		got := map[cid.Cid]bool{}
		for b := range ch {
			got[b.Cid()] = true
		}
		if got[bad] || len(got) != len(all)-1 {
			t.Errorf("raw peer got %d blocks (corrupt one: %v); want the %d good ones only", len(got), got[bad], len(all)-1)
		}
		for _, c := range tr.received() {
			if c.Equals(bad) || !slices.ContainsFunc(all, c.Equals) {
				t.Errorf("A sent block %s; it must never send the corrupt %s or other bytes", c, bad)
			}
		}
		if has, _ := a.grid.bstore.Has(bg, bad); has {
			t.Error("A still holds the corrupt block after detecting it")
		}
	})

	t.Run("grid peer", func(t *testing.T) {
		c := newTestNode(t, Config{})
		ctx, cancel := context.WithTimeout(bg, 2*time.Second)
		defer cancel()
		out := filepath.Join(t.TempDir(), "f")
		err := c.grid.Get(ctx, res.Root, out, GetOptions{Hints: []peer.AddrInfo{a.info()}})
		if err == nil || !strings.Contains(err.Error(), bad.String()) {
			t.Fatalf("Get of a file whose leaf is corrupt at its only provider: err = %v, want one naming %s", err, bad)
		}
		if has, _ := c.grid.bstore.Has(bg, bad); has {
			t.Fatal("C stored the corrupt block")
		}
		h, err := c.grid.Holds(bg, []cid.Cid{res.Root})
		if err != nil {
			t.Fatal(err)
		}
		if want := res.DAGBytes - ChunkSize; h[0].LocalBytes != want || h[0].Complete {
			t.Errorf("C holds %+v, want every block but the corrupt one (%d bytes)", h[0], want)
		}
	})
}

// blockTracer records the CIDs of blocks in received bitswap messages.
type blockTracer struct {
	mu   sync.Mutex
	cids []cid.Cid
}

func (b *blockTracer) MessageReceived(_ peer.ID, m bsmsg.BitSwapMessage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, blk := range m.Blocks() {
		b.cids = append(b.cids, blk.Cid())
	}
}

func (b *blockTracer) MessageSent(peer.ID, bsmsg.BitSwapMessage) {}

func (b *blockTracer) received() []cid.Cid {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.cids)
}

// TestFetchCacheEviction: a worker with a small quota keeps its pins, evicts
// the least recently used cache entry to make room, and refuses cleanly
// when even eviction would not make room.
func TestFetchCacheEviction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := newTestNode(t, Config{})
	c := newTestNode(t, Config{QuotaBytes: 7*MiB + 16<<10})
	add := func(seed byte, size int64) cid.Cid {
		res, err := a.grid.AddReader(ctx, io.LimitReader(rand.NewChaCha8([32]byte{seed}), size), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Root
	}
	w, x, y, z, v := add(1, 2*MiB), add(2, 2*MiB), add(3, 2*MiB), add(4, 2*MiB), add(5, 6*MiB)
	hint := a.info()
	if err := c.grid.Pin(ctx, w, hint); err != nil {
		t.Fatal(err)
	}
	for _, r := range []cid.Cid{x, y, x} { // x fetched again: y is now least recently used
		if _, err := c.grid.Fetch(ctx, r, hint); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.grid.Fetch(ctx, z, hint)
	if err != nil {
		t.Fatalf("fetch needing eviction: %v", err)
	}
	if n < 2*MiB {
		t.Errorf("Fetch reported %d bytes from peers, want at least 2 MiB", n)
	}
	want := map[cid.Cid]bool{w: true, x: true, y: false, z: true}
	assertHeld(t, ctx, c.grid, want)

	before, _ := c.grid.Stat(ctx)
	_, err = c.grid.Fetch(ctx, v, hint)
	var qe *QuotaError
	if !errors.As(err, &qe) || qe.Op != "data fetch" || !strings.HasPrefix(err.Error(), "data fetch: needs 6.0 MiB") {
		t.Fatalf("fetch larger than quota minus pins: err = %v", err)
	}
	assertHeld(t, ctx, c.grid, want)
	after, _ := c.grid.Stat(ctx)
	if after.CacheEntries != before.CacheEntries || after.Pins != 1 {
		t.Errorf("refused fetch changed records: before %+v after %+v", before, after)
	}
}

func assertHeld(t *testing.T, ctx context.Context, g *Grid, want map[cid.Cid]bool) {
	t.Helper()
	for root, complete := range want {
		h, err := g.Holds(ctx, []cid.Cid{root})
		if err != nil {
			t.Fatal(err)
		}
		if h[0].Complete != complete {
			t.Errorf("%s complete = %v, want %v (%+v)", root, h[0].Complete, complete, h[0])
		}
	}
}
