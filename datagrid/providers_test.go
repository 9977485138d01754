package datagrid

import (
	"context"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	"github.com/multiformats/go-multihash"
)

// stalledRouting answers a provider lookup with its providers at once,
// then keeps the walk open until the lookup's context ends, as a DHT
// query does while it still has far peers to ask. Like the DHT, it stops
// at the lookup's limit.
type stalledRouting struct {
	routing.ContentRouting
	providers []peer.ID
}

func (r stalledRouting) FindProvidersAsync(ctx context.Context, _ cid.Cid, limit int) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo)
	go func() {
		defer close(ch)
		for i, p := range r.providers {
			if i == limit {
				return // the DHT stops at count providers
			}
			select {
			case ch <- peer.AddrInfo{ID: p}:
			case <-ctx.Done():
				return
			}
		}
		<-ctx.Done()
	}()
	return ch
}

func TestProvidersUntilQuiet(t *testing.T) {
	mh, err := multihash.Sum([]byte("shard"), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	c := cid.NewCidV1(cid.Raw, mh)
	ids := []peer.ID{"holder-a", "holder-b", "holder-c"}
	g := &Grid{cfg: Config{Routing: stalledRouting{providers: ids}}}

	// Quiet after the answers: the lookup ends long before its context.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := g.ProvidersUntilQuiet(ctx, c, 20, 20*time.Millisecond)
	if err != nil || len(got) != len(ids) {
		t.Fatalf("ProvidersUntilQuiet = %v, %v; want the %d providers", got, err, len(ids))
	}
	if ctx.Err() != nil {
		t.Fatal("the lookup waited for its context instead of the quiet period")
	}

	// The limit ends it too.
	if got, err := g.ProvidersUntilQuiet(ctx, c, 2, 0); err != nil || len(got) != 2 {
		t.Errorf("limit 2: %v, %v", got, err)
	}

	// quiet 0 (Providers) walks until the context ends, keeping what came.
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if got, err := g.Providers(short, c, 20); err != nil || len(got) != len(ids) {
		t.Errorf("Providers = %v, %v; want the %d providers when the context ends", got, err, len(ids))
	}
}

// A node that announced c itself is one of the DHT's answers, and counts
// towards the lookup's limit there; Providers leaves it out and must still
// return limit other holders when there are that many.
func TestProvidersLeavesSelfOutOfTheLimit(t *testing.T) {
	mh, err := multihash.Sum([]byte("shard"), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	c := cid.NewCidV1(cid.Raw, mh)
	h := newHost(t)
	t.Cleanup(func() { _ = h.Close() })
	others := []peer.ID{"holder-a", "holder-b", "holder-c", "holder-d"}
	// The DHT's local provider store answers first, this node included.
	g := &Grid{cfg: Config{Host: h, Routing: stalledRouting{providers: append([]peer.ID{h.ID()}, others...)}}}
	for _, tc := range []struct {
		limit, want int
	}{
		{1, 1},
		{3, 3},
		{4, 4},
		{20, 4},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		got, err := g.Providers(ctx, c, tc.limit)
		cancel()
		if err != nil {
			t.Fatalf("limit %d: %v", tc.limit, err)
		}
		if len(got) != tc.want {
			t.Errorf("limit %d: %d providers (%v), want %d", tc.limit, len(got), got, tc.want)
		}
		for i, ai := range got {
			if ai.ID == h.ID() {
				t.Errorf("limit %d: this node is among the providers", tc.limit)
			}
			if ai.ID != others[i] {
				t.Errorf("limit %d: provider %d is %s, want %s", tc.limit, i, ai.ID, others[i])
			}
		}
	}
}
