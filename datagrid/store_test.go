package datagrid

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
)

func TestCorruptBlockDetectedOnGet(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 0)
	src := filepath.Join(t.TempDir(), "data.bin")
	writeRandomFile(t, src, 4*ChunkSize, 1)
	res, err := g.AddPath(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := leaves(t, g, res.Root)[2]
	corruptBlock(t, g, bad)

	outDir := t.TempDir()
	out := filepath.Join(outDir, "copy.bin")
	err = g.Get(ctx, res.Root, out, GetOptions{})
	if !errors.Is(err, ErrCorruptBlock) {
		t.Fatalf("Get of a DAG with a corrupt block: err = %v, want ErrCorruptBlock", err)
	}
	if !strings.Contains(err.Error(), bad.String()) {
		t.Errorf("error %q does not name the corrupt block %s", err, bad)
	}
	if names := dirEntries(t, outDir); len(names) != 0 {
		t.Errorf("failed Get left %v in the output folder", names)
	}
	if has, _ := g.bstore.Has(ctx, bad); has {
		t.Errorf("corrupt block %s is still in the store; it must be removed so it is never served", bad)
	}
	h, err := g.Holds(ctx, []cid.Cid{res.Root})
	if err != nil {
		t.Fatal(err)
	}
	if h[0].Complete || h[0].LocalBytes != h[0].TotalBytes-ChunkSize {
		t.Errorf("Holds after removal = %+v, want incomplete with one chunk missing", h[0])
	}
}

func TestCorruptBlockStore(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 0)
	blk := blocks.NewBlock([]byte("hello grid"))
	if err := g.bstore.Put(ctx, blk); err != nil {
		t.Fatal(err)
	}
	if _, err := g.bstore.Get(ctx, blk.Cid()); err != nil {
		t.Fatalf("Get of a good block: %v", err)
	}
	corruptBlock(t, g, blk.Cid())
	_, err := g.bstore.Get(ctx, blk.Cid())
	if !errors.Is(err, ErrCorruptBlock) || !strings.Contains(err.Error(), blk.Cid().String()) {
		t.Fatalf("Get of a corrupt block: err = %v, want ErrCorruptBlock naming %s", err, blk.Cid())
	}
	if st, _ := g.Stat(ctx); st.Blocks != 0 || st.UsedBytes != 0 {
		t.Errorf("after removing the corrupt block Stat = %+v, want empty", st)
	}
}

func TestQuotaRefusalIsClean(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 50*MiB)
	dir := t.TempDir()
	small := filepath.Join(dir, "small.bin")
	writeRandomFile(t, small, 38*MiB, 2)
	if _, err := g.AddPath(ctx, small, nil); err != nil {
		t.Fatalf("add within quota: %v", err)
	}
	before, err := g.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.bin")
	writeRandomFile(t, big, 64*MiB, 3)
	_, err = g.AddPath(ctx, big, nil)
	var qe *QuotaError
	if !errors.As(err, &qe) || !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("add over quota: err = %v, want *QuotaError", err)
	}
	want := "data add: needs 64.0 MiB but only 12.0 MiB of the 50.0 MiB quota is free; raise datagrid.quota_gib in config.toml or run gridswarm data gc"
	if err.Error() != want {
		t.Errorf("error =\n %q\nwant\n %q", err, want)
	}
	after, err := g.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("Stat changed by a refused add:\n before %+v\n after  %+v", before, after)
	}
}

func TestStreamOverQuotaLeavesNothing(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 3*MiB)
	before, _ := g.Stat(ctx)
	src := rand.NewChaCha8([32]byte{4})
	_, err := g.AddReader(ctx, io.LimitReader(src, 24*MiB), nil)
	if !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("streaming 24 MiB into a 3 MiB quota: err = %v, want ErrQuotaExceeded", err)
	}
	if after, _ := g.Stat(ctx); after != before {
		t.Errorf("Stat after failed stream = %+v, want %+v", after, before)
	}
}

func TestFailedAddRemovesItsBlocks(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 0)
	// A block shared with the failing add must survive: it is pinned.
	shared := vectorBytes(2 * ChunkSize)
	kept, err := g.AddReader(ctx, bytes.NewReader(shared), nil)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := g.Stat(ctx)
	// Fail after 36 chunks: the first 8 MiB batch is on disk by then.
	rest := rand.NewChaCha8([32]byte{9})
	r := &failingReader{r: io.MultiReader(bytes.NewReader(shared), rest), n: 36 * ChunkSize}
	if _, err := g.AddReader(ctx, r, nil); err == nil {
		t.Fatal("add from a failing reader succeeded")
	}
	after, _ := g.Stat(ctx)
	if after != before {
		t.Errorf("Stat after failed add = %+v, want %+v", after, before)
	}
	out := filepath.Join(t.TempDir(), "kept")
	if err := g.Get(ctx, kept.Root, out, GetOptions{}); err != nil {
		t.Fatalf("pinned data unreadable after a failed add: %v", err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, shared) {
		t.Error("pinned data changed after a failed add")
	}
}

func TestPinsSurviveGCAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := openGrid(t, Config{Dir: dir})
	src := t.TempDir()
	keepSum := writeRandomFile(t, filepath.Join(src, "keep", "a.bin"), 3*MiB, 5)
	writeRandomFile(t, filepath.Join(src, "keep", "sub", "b.bin"), 1*MiB, 6)
	writeRandomFile(t, filepath.Join(src, "drop.bin"), 2*MiB, 7)
	keep, err := g.AddPath(ctx, filepath.Join(src, "keep"), nil)
	if err != nil {
		t.Fatal(err)
	}
	drop, err := g.AddPath(ctx, filepath.Join(src, "drop.bin"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Unpin(ctx, drop.Root); err != nil {
		t.Fatal(err)
	}
	if err := g.Unpin(ctx, drop.Root); !errors.Is(err, ErrNotPinned) {
		t.Errorf("second Unpin: err = %v, want ErrNotPinned", err)
	}
	before, _ := g.Stat(ctx)
	res, err := g.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.FreedBytes != drop.DAGBytes {
		t.Errorf("GC freed %d bytes, want the unpinned DAG's %d", res.FreedBytes, drop.DAGBytes)
	}
	if res.RemovedBlocks != 9 { // 8 leaves + root
		t.Errorf("GC removed %d blocks, want 9", res.RemovedBlocks)
	}
	afterGC, _ := g.Stat(ctx)
	if afterGC.UsedBytes != before.UsedBytes-drop.DAGBytes || afterGC.Pins != 1 {
		t.Errorf("after GC Stat = %+v (before %+v)", afterGC, before)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}

	g2 := openGrid(t, Config{Dir: dir})
	defer g2.Close()
	pins, err := g2.Pins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) != 1 || !pins[0].Root.Equals(keep.Root) || pins[0].Name != "keep" || pins[0].Bytes != keep.DAGBytes {
		t.Fatalf("pins after reopen = %+v, want only %s (keep, %d bytes)", pins, keep.Root, keep.DAGBytes)
	}
	if st, _ := g2.Stat(ctx); st != afterGC {
		t.Errorf("Stat after reopen = %+v, want %+v", st, afterGC)
	}
	out := filepath.Join(t.TempDir(), "keep")
	if err := g2.Get(ctx, keep.Root, out, GetOptions{}); err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	if got := fileSum(t, filepath.Join(out, "a.bin")); got != keepSum {
		t.Error("a.bin differs after reopen")
	}
	got, want := treeDigest(t, out), treeDigest(t, filepath.Join(src, "keep"))
	if len(got) != len(want) {
		t.Errorf("tree after reopen has %d entries, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("entry %q differs after reopen", k)
		}
	}
}

func TestInterruptedAddIsSweptOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := openGrid(t, Config{Dir: dir})
	kept, err := g.AddReader(ctx, bytes.NewReader(vectorBytes(3*ChunkSize)), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := g.Stat(ctx)
	// What a kill -9 in the middle of an add leaves: a marker and blocks
	// nothing references.
	if _, err := g.beginInflight(ctx, "add"); err != nil {
		t.Fatal(err)
	}
	orphan := blocks.NewBlock([]byte("half-written add"))
	if err := g.bstore.Put(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	g.Close()

	g2 := openGrid(t, Config{Dir: dir})
	defer g2.Close()
	if has, _ := g2.bstore.Has(ctx, orphan.Cid()); has {
		t.Error("orphan block of an interrupted add survived Open")
	}
	if keys, _ := g2.hasInflight(ctx); len(keys) != 0 {
		t.Errorf("in-flight markers after Open: %v", keys)
	}
	if got, _ := g2.Stat(ctx); got != want {
		t.Errorf("Stat after recovery = %+v, want %+v", got, want)
	}
	if h, _ := g2.Holds(ctx, []cid.Cid{kept.Root}); !h[0].Complete || !h[0].Pinned {
		t.Errorf("pinned data after recovery: %+v", h[0])
	}
}

func TestAddRefusesSymlinksAndSkipsHidden(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 0)
	dir := filepath.Join(t.TempDir(), "ds")
	writeRandomFile(t, filepath.Join(dir, "shard-0"), 10, 1)
	writeRandomFile(t, filepath.Join(dir, ".cache"), 10, 2)
	res, err := g.AddPath(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].Path != "shard-0" || len(res.Skipped) != 1 {
		t.Errorf("Files = %+v, Skipped = %v; want shard-0 imported and .cache skipped", res.Files, res.Skipped)
	}
	ents, err := g.Ls(ctx, res.Root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name != "shard-0" || ents[0].Type != EntryFile || ents[0].Size != 10 {
		t.Errorf("Ls = %+v", ents)
	}
	if _, err := g.Ls(ctx, res.Files[0].Cid); !errors.Is(err, ErrNotDirectory) {
		t.Errorf("Ls of a file: err = %v, want ErrNotDirectory", err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	before, _ := g.Stat(ctx)
	if _, err := g.AddPath(ctx, dir, nil); err == nil || !strings.Contains(err.Error(), "link") {
		t.Errorf("add of a tree with a symlink: err = %v, want a refusal naming it", err)
	}
	if after, _ := g.Stat(ctx); after != before {
		t.Error("refused add changed the store")
	}
}

func TestGetRefusesExistingOutput(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 0)
	res, err := g.AddReader(ctx, bytes.NewReader([]byte("x")), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "exists")
	if err := os.WriteFile(out, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := g.Get(ctx, res.Root, out, GetOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Get over an existing file: err = %v", err)
	}
	if got, _ := os.ReadFile(out); string(got) != "mine" {
		t.Error("Get overwrote an existing file")
	}
}

func TestHumanBytes(t *testing.T) {
	cases := []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{12 * MiB, "12.0 MiB"}, {64*MiB + 16<<10, "64.0 MiB"}, {3 << 40, "3.0 TiB"},
	}
	for _, tc := range cases {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestFreeBytes(t *testing.T) {
	cases := []struct {
		quota, used, pending, want uint64
		limited                    bool
	}{
		{0, 10, 10, 0, false},
		{100, 10, 20, 70, true},
		{100, 90, 20, 0, true},
		{100, 100, 0, 0, true},
	}
	for _, tc := range cases {
		got, ok := freeBytes(tc.quota, tc.used, tc.pending)
		if got != tc.want || ok != tc.limited {
			t.Errorf("freeBytes(%d, %d, %d) = %d, %v; want %d, %v", tc.quota, tc.used, tc.pending, got, ok, tc.want, tc.limited)
		}
	}
}

func TestReservationsShareTheQuota(t *testing.T) {
	var used uint64
	q := &quota{limit: 100, used: func() uint64 { return used }}
	a, qe := q.tryReserve("data add", 60)
	if qe != nil {
		t.Fatal(qe)
	}
	if _, qe := q.tryReserve("data add", 50); qe == nil || qe.Free != 40 {
		t.Fatalf("second reservation past the quota: %v, want refusal with 40 free", qe)
	}
	if err := a.take(30); err != nil {
		t.Fatal(err)
	}
	used += 30
	if err := a.take(40); err != nil { // 30 left in the reservation, 10 from free
		t.Fatalf("take within free space: %v", err)
	}
	used += 40
	if err := a.take(40); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("take past the quota: err = %v", err)
	}
	a.release()
	if free, _ := q.free(); free != 30 {
		t.Errorf("free after release = %d, want 30", free)
	}
}

func TestValidName(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", `a\b`, "a\x00", strings.Repeat("x", 256)} {
		if validName(name) == nil {
			t.Errorf("validName(%q) = nil, want an error", name)
		}
	}
	for _, name := range []string{"a", "shard-00001.safetensors", "..x", strings.Repeat("x", 255)} {
		if err := validName(name); err != nil {
			t.Errorf("validName(%q) = %v", name, err)
		}
	}
}

func TestMetadataNamespaces(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := openGrid(t, Config{Dir: dir})
	for _, bad := range []string{"", "a/b", strings.Repeat("n", 65)} {
		if _, err := g.Metadata(bad); err == nil {
			t.Errorf("Metadata(%q) = nil error, want a refusal", bad)
		}
	}
	m, err := g.Metadata("datasets")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Put(ctx, ds.NewKey("mnist"), []byte(`{"shards":4}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if pins, _ := g.Pins(ctx); len(pins) != 0 {
		t.Errorf("a metadata record shows up as pins: %+v", pins)
	}
	g.Close()
	g2 := openGrid(t, Config{Dir: dir})
	defer g2.Close()
	m2, _ := g2.Metadata("datasets")
	got, err := m2.Get(ctx, ds.NewKey("mnist"))
	if err != nil || string(got) != `{"shards":4}` {
		t.Errorf("record after reopen = %q, %v", got, err)
	}
}
