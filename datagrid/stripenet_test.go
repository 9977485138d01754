package datagrid

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestFetchStripesAcrossProviders: three nodes hold the same file and a
// fourth, connected to all of them, fetches it; each provider must have
// sent some of the bytes, by the fetcher's per-peer counters.
func TestFetchStripesAcrossProviders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src := filepath.Join(t.TempDir(), "f.bin")
	want := writeRandomFile(t, src, 24*MiB, 14)
	var provs []*testNode
	for range 3 {
		n := newTestNode(t, Config{})
		if _, err := n.grid.AddPath(ctx, src, nil); err != nil {
			t.Fatal(err)
		}
		provs = append(provs, n)
	}
	res, err := provs[0].grid.AddPath(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestNode(t, Config{})
	for _, p := range provs {
		connect(t, ctx, c, p)
	}
	ex := getAndCheck(t, ctx, c, res.Root, want)
	var total uint64
	for _, p := range provs {
		total += ex.FromPeers[p.host.ID().String()]
	}
	if total < 24*MiB {
		t.Fatalf("the providers sent %d bytes in all, less than the %d-byte file", total, 24*MiB)
	}
	// The endgame may ask two peers for a tail block; more than half
	// again the file would be waste.
	t.Logf("received %.1f MiB for a 24 MiB file", float64(total)/MiB)
	if total > 36*MiB {
		t.Errorf("received %d bytes for a %d-byte file: too many duplicates", total, 24*MiB)
	}
	for i, p := range provs {
		got := ex.FromPeers[p.host.ID().String()]
		t.Logf("provider %d sent %.1f MiB", i, float64(got)/MiB)
		// On loopback the shares follow CPU scheduling, not links (the
		// e2e test on shaped links checks fair shares, the simulation
		// checks proportional ones), so only presence is checked: each
		// peer's first window is 8 blocks, and an unstriped boxo session
		// often takes nothing at all from one of three providers.
		if got < MiB {
			t.Errorf("provider %d sent %d of %d bytes; want at least 1 MiB (four blocks) from each", i, got, total)
		}
	}
}

// TestFetchSmallDAGFromNearestHolder: a DAG of a few blocks comes from the
// holder with the shortest round trip (by the peerstore's estimate, which
// pings keep in a daemon), not from a far one that holds it too.
func TestFetchSmallDAGFromNearestHolder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := filepath.Join(t.TempDir(), "weights.bin")
	want := writeRandomFile(t, src, MiB, 15) // four leaves and a root
	near, far := newTestNode(t, Config{}), newTestNode(t, Config{})
	var root cid.Cid
	for _, n := range []*testNode{far, near} {
		res, err := n.grid.AddPath(ctx, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		root = res.Root
	}
	c := newTestNode(t, Config{})
	connect(t, ctx, c, far)
	connect(t, ctx, c, near)
	ps := c.host.Peerstore()
	ps.RecordLatency(near.host.ID(), 5*time.Millisecond)
	ps.RecordLatency(far.host.ID(), 140*time.Millisecond)
	ex := getAndCheck(t, ctx, c, root, want)
	// Both are asked whether they hold the root, and bitswap answers with
	// a block under 1 KiB itself rather than a HAVE: the far holder may
	// send the root (208 bytes), but no leaf.
	fromNear, fromFar := ex.FromPeers[near.host.ID().String()], ex.FromPeers[far.host.ID().String()]
	if fromFar >= 1024 || fromNear < MiB {
		t.Errorf("the near holder sent %d bytes and the far one %d; want the whole MiB from the near one and no leaf from the far", fromNear, fromFar)
	}
}

// getAndCheck has c get root with no hints, checks the file against the
// holders' digest, and returns c's exchange counters.
func getAndCheck(t *testing.T, ctx context.Context, c *testNode, root cid.Cid, want [32]byte) Exchange {
	t.Helper()
	out := filepath.Join(t.TempDir(), "got.bin")
	if err := c.grid.Get(ctx, root, out, GetOptions{}); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if fileSum(t, out) != want {
		t.Fatal("the fetched file differs from the holders'")
	}
	ex, err := c.grid.Exchange()
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestFetchAsksNearestHintForTheRoot: a fetch hinted at holders asks the
// nearest of them for the root block outright, as a bitswap session asks
// its first peer, and asks every other peer only whether it holds it: a
// small fetch from a known holder takes one round trip for its root, not a
// HAVE and then the block. Both holders are plain boxo bitswap peers that
// record the wants they receive.
func TestFetchAsksNearestHintForTheRoot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// One raw leaf of 100 KiB: over the 1 KiB under which a holder answers
	// a want-have with the block itself.
	blk := blocks.NewBlock(vectorBytes(100 << 10))
	root := cid.NewCidV1(cid.Raw, blk.Cid().Hash())
	rawBlock, err := blocks.NewBlockWithCid(blk.RawData(), root)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		h  host.Host
		tr *wantTracer
	}
	var holders []holder
	for range 3 {
		h := newHost(t)
		tr := &wantTracer{}
		bstore := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
		if err := bstore.Put(ctx, rawBlock); err != nil {
			t.Fatal(err)
		}
		bs := bitswap.New(ctx, bsnet.NewFromIpfsHost(h), nil, bstore, bitswap.WithTracer(tr))
		t.Cleanup(func() { bs.Close() })
		holders = append(holders, holder{h, tr})
	}
	c := newTestNode(t, Config{})
	var hints []peer.AddrInfo
	for _, hd := range holders {
		ai := peer.AddrInfo{ID: hd.h.ID(), Addrs: hd.h.Addrs()}
		if err := c.host.Connect(ctx, ai); err != nil {
			t.Fatal(err)
		}
		hints = append(hints, ai)
	}
	ps := c.host.Peerstore()
	ps.RecordLatency(holders[0].h.ID(), 140*time.Millisecond)
	ps.RecordLatency(holders[1].h.ID(), 5*time.Millisecond)
	// holders[2] is connected but not hinted: it is only probed.
	if _, err := c.grid.Fetch(ctx, root, hints[:2]...); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	got, err := c.grid.ReadFile(ctx, root, 1<<20)
	if err != nil || !bytes.Equal(got, rawBlock.RawData()) {
		t.Fatalf("ReadFile after the fetch: %d bytes, %v; want the holders' %d bytes", len(got), err, len(rawBlock.RawData()))
	}
	// The fetch ends when the near holder's block is here; the wants sent
	// to the others may still be on their way, so each holder's first want
	// is waited for (a holder never asked fails the wait).
	for i, want := range []pb.Message_Wantlist_WantType{pb.Message_Wantlist_Have, pb.Message_Wantlist_Block, pb.Message_Wantlist_Have} {
		var first pb.Message_Wantlist_WantType
		waitUntil(t, ctx, fmt.Sprintf("holder %d to be asked for the root", i), func() bool {
			var ok bool
			first, ok = holders[i].tr.first(root)
			return ok
		})
		if first != want {
			t.Errorf("holder %d was first asked for the root with %v, want %v", i, first, want)
		}
	}
}

// wantTracer records, per CID, the kind of the first want a bitswap peer
// received for it.
type wantTracer struct {
	mu    sync.Mutex
	kinds map[cid.Cid]pb.Message_Wantlist_WantType
}

func (w *wantTracer) MessageReceived(_ peer.ID, m bsmsg.BitSwapMessage) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.kinds == nil {
		w.kinds = map[cid.Cid]pb.Message_Wantlist_WantType{}
	}
	for _, e := range m.Wantlist() {
		if _, seen := w.kinds[e.Cid]; !seen && !e.Cancel {
			w.kinds[e.Cid] = e.WantType
		}
	}
}

func (w *wantTracer) MessageSent(peer.ID, bsmsg.BitSwapMessage) {}

func (w *wantTracer) first(c cid.Cid) (pb.Message_Wantlist_WantType, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k, ok := w.kinds[c]
	return k, ok
}

// TestSmallRest: a fetch goes on from a root with its first holder alone
// only when what the root links to fits in a fresh peer's window.
func TestSmallRest(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 1<<30)
	f := &fetcher{g: g}
	for _, tt := range []struct {
		name string
		size int
		want bool
	}{
		{"one raw leaf", 100 << 10, true},
		{"four leaves", 4 * ChunkSize, true},
		{"a window of leaves", 2 * stripeMinWindow * ChunkSize, true},
		{"a window and one byte", 2*stripeMinWindow*ChunkSize + 1, false},
		{"sixteen leaves", 16 * ChunkSize, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := g.AddReader(ctx, bytes.NewReader(vectorBytes(tt.size)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.smallRest(ctx, res.Root); got != tt.want {
				t.Errorf("smallRest(root of %d bytes) = %v, want %v", tt.size, got, tt.want)
			}
		})
	}
}
