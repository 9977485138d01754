package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Eight daemons started from one bootstrap peer find each other through the
// DHT: FindPeer and a signed record Put/Get work from every node to every
// other, and one GossipSub message reaches all.
func TestEightDaemonsShareOneDHT(t *testing.T) {
	skipShort(t)
	const n = 8
	ctx := context.Background()
	ds := startMany(t, n, func(int) int { return 0 }) // one bootstrap peer for all
	for i, d := range ds {
		c := d.client(t)
		eventually(t, 90*time.Second, func() (bool, string) {
			ps, err := c.Peers(ctx)
			if err != nil {
				return false, err.Error()
			}
			got := 0
			for _, p := range ps {
				if p.Connected && p.Gridswarm {
					got++
				}
			}
			return got == n-1, fmt.Sprintf("node %d sees %d of %d swarm peers", i, got, n-1)
		})
	}

	for i, d := range ds {
		if _, err := d.client(t).PutRecord(ctx, "greeting", []byte(fmt.Sprintf("hello from node %d", i))); err != nil {
			t.Fatalf("node %d: put record: %v", i, err)
		}
	}
	for i, from := range ds {
		c := from.client(t)
		for j, to := range ds {
			if i == j {
				continue
			}
			found, err := c.FindPeer(ctx, to.ep.PeerID)
			if err != nil || found.ID != to.ep.PeerID || len(found.Addrs) == 0 {
				t.Errorf("node %d FindPeer(node %d) = %+v, %v", i, j, found, err)
			}
			rec, err := c.GetRecord(ctx, to.ep.PeerID, "greeting")
			if want := fmt.Sprintf("hello from node %d", j); err != nil || string(rec.Data) != want {
				t.Errorf("node %d GetRecord(node %d) = %q, %v; want %q", i, j, rec.Data, err, want)
			}
		}
	}

	const text = "gossip from node 3"
	if err := ds[3].client(t).Announce(ctx, text); err != nil {
		t.Fatalf("announce: %v", err)
	}
	for i, d := range ds {
		if i == 3 {
			continue
		}
		c := d.client(t)
		eventually(t, 30*time.Second, func() (bool, string) {
			ps, err := c.Peers(ctx)
			if err != nil {
				return false, err.Error()
			}
			for _, p := range ps {
				if p.ID == ds[3].ep.PeerID && p.LastAnnounce != nil && p.LastAnnounce.Text == text {
					return true, ""
				}
			}
			return false, fmt.Sprintf("node %d has not received the announcement", i)
		})
	}
}
