package placement

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPlace1000x10000 places one round of 1,000 tasklets (weights plus
// one shard each, shards held by 3 peers, a quarter needing more GPU memory)
// over 10,000 peers.
func BenchmarkPlace1000x10000(b *testing.B) {
	peers := randomPeers(rand.New(rand.NewPCG(1, 1)), 10_000, 1_000)
	tasklets := randomTasklets(rand.New(rand.NewPCG(2, 2)), 1_000, 1_000)
	opts := Options{Seed: 1}
	b.ReportAllocs()
	for b.Loop() {
		ds, err := Place(peers, tasklets, opts)
		if err != nil {
			b.Fatal(err)
		}
		if !ds[0].Placed() {
			b.Fatal(ds[0].Explain())
		}
	}
}

func BenchmarkPlace1000x10000Replicas2(b *testing.B) {
	peers := randomPeers(rand.New(rand.NewPCG(1, 1)), 10_000, 1_000)
	tasklets := randomTasklets(rand.New(rand.NewPCG(2, 2)), 1_000, 1_000)
	opts := Options{Seed: 1, Replicas: 2}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Place(peers, tasklets, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlaceDistinctShapes is the slow case: every tasklet has its own
// sample count, so no heap is shared and each tasklet scans every peer.
func BenchmarkPlaceDistinctShapes(b *testing.B) {
	peers := randomPeers(rand.New(rand.NewPCG(1, 1)), 10_000, 1_000)
	tasklets := randomTasklets(rand.New(rand.NewPCG(2, 2)), 1_000, 1_000)
	for i := range tasklets {
		tasklets[i].Samples = 1000 + i
	}
	for b.Loop() {
		if _, err := Place(peers, tasklets, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlace1000x10000Sites is the same round with peers in 8 sites,
// each input's sources named and the paths between sites known.
func BenchmarkPlace1000x10000Sites(b *testing.B) {
	peers := randomPeers(rand.New(rand.NewPCG(1, 1)), 10_000, 1_000)
	tasklets := randomTasklets(rand.New(rand.NewPCG(2, 2)), 1_000, 1_000)
	withSites(rand.New(rand.NewPCG(3, 3)), peers, tasklets, 8)
	opts := Options{Seed: 1, Links: siteLinks}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Place(peers, tasklets, opts); err != nil {
			b.Fatal(err)
		}
	}
}
