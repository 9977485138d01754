package datagrid

import (
	"context"
	"path/filepath"
	"testing"
	"time"
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
	out := filepath.Join(t.TempDir(), "f.bin")
	if err := c.grid.Get(ctx, res.Root, out, GetOptions{}); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if fileSum(t, out) != want {
		t.Fatal("the fetched file differs from the providers'")
	}
	ex, err := c.grid.Exchange()
	if err != nil {
		t.Fatal(err)
	}
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
