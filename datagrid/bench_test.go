package datagrid

import (
	"context"
	"path/filepath"
	"testing"
)

const benchSize = 64 * MiB

// BenchmarkAdd imports a 64 MiB file into an empty store (flatfs with
// fsync) each iteration: chunking, hashing, batching and writing.
func BenchmarkAdd(b *testing.B) {
	ctx := context.Background()
	g := newOfflineGrid(b, 0)
	src := filepath.Join(b.TempDir(), "bench.bin")
	writeRandomFile(b, src, benchSize, 42)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		res, err := g.AddPath(ctx, src, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := g.Unpin(ctx, res.Root); err != nil {
			b.Fatal(err)
		}
		if _, err := g.GC(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkFetchLoopback fetches a 64 MiB file from one node to another
// over TCP on 127.0.0.1 with bitswap, storing and verifying every block.
func BenchmarkFetchLoopback(b *testing.B) {
	ctx := context.Background()
	a, c := newTestNode(b, Config{}), newTestNode(b, Config{})
	src := filepath.Join(b.TempDir(), "bench.bin")
	writeRandomFile(b, src, benchSize, 43)
	res, err := a.grid.AddPath(ctx, src, nil)
	if err != nil {
		b.Fatal(err)
	}
	hint := a.info()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		n, err := c.grid.Fetch(ctx, res.Root, hint)
		if err != nil {
			b.Fatal(err)
		}
		if uint64(n) != res.DAGBytes {
			b.Fatalf("fetched %d bytes, want %d", n, res.DAGBytes)
		}
		b.StopTimer()
		if _, err := c.grid.EvictCache(ctx, 0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
