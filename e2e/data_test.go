package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/datagrid/dataset"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/node/repo"
)

// chain starts n daemons where each bootstraps from the one before it only.
func chain(t *testing.T, n int) []*daemon {
	t.Helper()
	return startMany(t, n, func(i int) int { return i - 1 })
}

// startMany starts n daemons; daemon i > 0 bootstraps from daemon from(i) only.
func startMany(t *testing.T, n int, from func(i int) int) []*daemon {
	t.Helper()
	ds := []*daemon{startDaemon(t, initRepo(t))}
	for i := 1; i < n; i++ {
		ds = append(ds, startDaemon(t, initRepo(t), "--bootstrap", ds[from(i)].tcpAddr(t)))
	}
	return ds
}

func randomFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func addCID(t *testing.T, d *daemon, path string) string {
	t.Helper()
	r := gs(t, d.dir, "data", "add", path, "--json")
	if r.code != 0 {
		t.Fatalf("data add %s: exit %d: %s", path, r.code, r.err)
	}
	var res node.AddResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("data add --json printed %q: %v", r.out, err)
	}
	return res.CID
}

// treeDigest hashes every file's relative path and content.
func treeDigest(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%x\x00", filepath.ToSlash(rel), sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func waitProviders(t *testing.T, d *daemon, cid string, want int) {
	t.Helper()
	eventually(t, 60*time.Second, func() (bool, string) {
		r := gs(t, d.dir, "data", "providers", cid, "--json")
		var ps []node.FoundPeer
		_ = json.Unmarshal([]byte(r.out), &ps)
		return len(ps) >= want, fmt.Sprintf("%d providers of %s: %s%s", len(ps), cid, r.out, r.err)
	})
}

// A file and a folder added on A are fetched by C, which was only ever told
// of B, through the DHT, byte for byte.
func TestDataFetchedThroughTheDHT(t *testing.T) {
	skipShort(t)
	ds := chain(t, 3)
	a, c := ds[0], ds[2]
	src := t.TempDir()
	file := randomFile(t, src, "big.bin", 64<<20)
	tree := filepath.Join(src, "tree")
	for i, size := range []int{0, 1, 1000, 300_000, 5 << 20} {
		randomFile(t, tree, fmt.Sprintf("d%d/sub/f%d.bin", i%2, i), size)
	}
	fileCID, treeCID := addCID(t, a, file), addCID(t, a, tree)
	waitProviders(t, c, fileCID, 1)

	out := t.TempDir()
	for _, tt := range []struct{ cid, src, dst string }{
		{fileCID, file, filepath.Join(out, "big.bin")},
		{treeCID, tree, filepath.Join(out, "tree")},
	} {
		r := gs(t, c.dir, "data", "get", tt.cid, "-o", tt.dst)
		if r.code != 0 {
			t.Fatalf("data get %s on C: exit %d: %s", tt.cid, r.code, r.err)
		}
		if got, want := treeDigest(t, tt.dst), treeDigest(t, tt.src); got != want {
			t.Errorf("content of %s differs after the fetch", tt.cid)
		}
	}
	if r := gs(t, c.dir, "data", "ls", treeCID); r.code != 0 || !strings.Contains(r.out, "d0") || !strings.Contains(r.out, "d1") {
		t.Errorf("data ls: exit %d, out %q", r.code, r.out)
	}
	// What C fetched is cache: plain gc keeps it, gc --cache frees it.
	stat := func() node.Stat {
		var st node.Stat
		if err := json.Unmarshal([]byte(gs(t, c.dir, "data", "stat", "--json").out), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := stat(); st.CacheBytes < 64<<20 {
		t.Errorf("after the fetches C caches %d bytes, want at least the 64 MiB file", st.CacheBytes)
	}
	if r := gs(t, c.dir, "data", "gc", "--cache"); r.code != 0 {
		t.Fatalf("data gc --cache: %s", r.err)
	}
	if st := stat(); st.CacheBytes != 0 || st.UsedBytes >= 1<<20 {
		t.Errorf("after gc --cache C still holds %d cached and %d used bytes", st.CacheBytes, st.UsedBytes)
	}
}

// getWatching starts data_get over the JSON-RPC and calls onBytes once the
// fetch has received at least atLeast bytes.
func getWatching(t *testing.T, d *daemon, cid, out string, atLeast int64, stall time.Duration, onBytes func()) error {
	t.Helper()
	ctx := context.Background()
	c, err := client.Dial(ctx, d.dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fired := false
	return c.WithProgress(ctx, "data", "watch", func(p node.Progress) {
		if !fired && p.Done >= atLeast {
			fired = true
			onBytes()
		}
	}, func() error {
		return c.Call(ctx, nil, "data_get", cid, out, node.GetOptions{Op: "watch", StallSeconds: stall.Seconds()})
	})
}

func TestDataProviderVanishesMidTransfer(t *testing.T) {
	skipShort(t)
	ds := chain(t, 3)
	a, b, c := ds[0], ds[1], ds[2]
	file := randomFile(t, t.TempDir(), "big.bin", 64<<20)
	cid := addCID(t, a, file)
	if r := gs(t, b.dir, "data", "pin", cid); r.code != 0 {
		t.Fatalf("pin on B: %s", r.err)
	}
	waitProviders(t, c, cid, 2)

	out := filepath.Join(t.TempDir(), "copy.bin")
	if err := getWatching(t, c, cid, out, 8<<20, 30*time.Second, a.kill9); err != nil {
		t.Fatalf("fetch with a second provider left failed: %v", err)
	}
	if treeDigest(t, out) != treeDigest(t, file) {
		t.Error("content differs after the provider change")
	}

	// Now the only provider left vanishes too: a clear error, no partial file.
	other := randomFile(t, t.TempDir(), "other.bin", 64<<20)
	cid2 := addCID(t, b, other)
	waitProviders(t, c, cid2, 1)
	out2 := filepath.Join(t.TempDir(), "lost.bin")
	err := getWatching(t, c, cid2, out2, 4<<20, 5*time.Second, b.kill9)
	if err == nil || !strings.Contains(err.Error(), "no block of") {
		t.Fatalf("fetch whose only provider died: err = %v, want a stall error", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out2)); len(entries) != 0 {
		t.Errorf("a failed get left files behind: %v", entries)
	}
}

func TestDataCorruptBlockIsNeverServed(t *testing.T) {
	skipShort(t)
	ds := chain(t, 2)
	a, b := ds[0], ds[1]
	file := randomFile(t, t.TempDir(), "f.bin", 3<<20)
	cid := addCID(t, a, file)
	// Flip one byte in every block file of A's store.
	var blocks []string
	_ = filepath.WalkDir(filepath.Join(a.dir, "datagrid", "blocks"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".data") {
			blocks = append(blocks, p)
		}
		return nil
	})
	if len(blocks) == 0 {
		t.Fatal("found no block files to corrupt")
	}
	for _, p := range blocks {
		data, err := os.ReadFile(p)
		if err != nil || len(data) == 0 {
			continue
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The corrupt copy is detected on read, reported and removed, so the
	// get can only succeed from another provider; there is none.
	r := gs(t, a.dir, "data", "get", cid, "-o", filepath.Join(t.TempDir(), "x"), "--stall", "5s")
	if r.code == 0 {
		t.Error("local get of corrupt content succeeded")
	}
	if log := a.log.String(); !strings.Contains(log, "corrupt block on disk removed") {
		t.Errorf("daemon did not report the corrupt block; log:\n%s", log)
	}
	outDir := t.TempDir()
	r = gs(t, b.dir, "data", "get", cid, "-o", filepath.Join(outDir, "x"), "--stall", "5s")
	if r.code == 0 {
		t.Fatal("B fetched content whose only copy is corrupt")
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
		t.Errorf("failed get left files: %v", entries)
	}
}

func TestDataQuotaGCAndRestart(t *testing.T) {
	skipShort(t)
	dir := initRepo(t)
	cfgPath := filepath.Join(dir, repo.ConfigFile)
	cfg, _ := os.ReadFile(cfgPath)
	edited := strings.Replace(string(cfg), "quota_gib = 4.0", "quota_gib = 0.03", 1)
	if edited == string(cfg) {
		t.Fatalf("quota line not found in config:\n%s", cfg)
	}
	if err := os.WriteFile(cfgPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dir)
	src := t.TempDir()
	small := addCID(t, d, randomFile(t, src, "small.bin", 5<<20))
	before := gs(t, dir, "data", "stat", "--json").out

	r := gs(t, dir, "data", "add", randomFile(t, src, "big.bin", 64<<20))
	if r.code == 0 || !strings.Contains(r.err, "quota") {
		t.Fatalf("add over quota: exit %d, stderr %q; want a quota error", r.code, r.err)
	}
	if after := gs(t, dir, "data", "stat", "--json").out; after != before {
		t.Errorf("a refused add changed the store:\nbefore %s\nafter  %s", before, after)
	}
	if r := gs(t, dir, "data", "gc"); r.code != 0 {
		t.Fatalf("gc: %s", r.err)
	}
	check := func() {
		out := filepath.Join(t.TempDir(), "small.bin")
		if r := gs(t, dir, "data", "get", small, "-o", out); r.code != 0 {
			t.Fatalf("pinned content unreadable: %s", r.err)
		}
		if treeDigest(t, out) != treeDigest(t, filepath.Join(src, "small.bin")) {
			t.Error("pinned content changed")
		}
	}
	check()
	d.stop()
	startDaemon(t, dir)
	if r := gs(t, dir, "data", "pins"); !strings.Contains(r.out, small) {
		t.Errorf("pin lost across restart: %q", r.out)
	}
	check()
}

// The CLI's add gives the CIDs Kubo gives (vectors produced with Kubo v0.38.1).
func TestDataAddMatchesKubo(t *testing.T) {
	skipShort(t)
	var vec struct {
		Vectors []struct{ Name, CID string } `json:"vectors"`
	}
	b, err := os.ReadFile("../datagrid/testdata/kubo-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vec); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if out, err := exec.Command("go", "run", "../datagrid/internal/genvectors", src).CombinedOutput(); err != nil {
		t.Fatalf("genvectors: %v\n%s", err, out)
	}
	d := startDaemon(t, initRepo(t))
	for _, v := range vec.Vectors {
		if got := addCID(t, d, filepath.Join(src, v.Name)); got != v.CID {
			t.Errorf("%s: data add gave %s, Kubo gave %s", v.Name, got, v.CID)
		}
	}
}

func TestDataImportMNIST(t *testing.T) {
	skipShort(t)
	d := startDaemon(t, initRepo(t))
	r := gs(t, d.dir, "data", "import", "mnist", "--json")
	if r.code != 0 {
		t.Fatalf("import mnist: %s", r.err)
	}
	var res node.AddResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "mnist")
	if r := gs(t, d.dir, "data", "get", res.CID, "-o", out); r.code != 0 {
		t.Fatalf("get mnist: %s", r.err)
	}
	m, err := dataset.ValidateDir(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	counts := dataset.Counts(m)
	if got := counts[dataset.SplitTrain] + counts[dataset.SplitValidation]; got != 60000 {
		t.Errorf("train+validation samples = %d, want 60000", got)
	}
	if counts[dataset.SplitTest] != 10000 {
		t.Errorf("test samples = %d, want 10000", counts[dataset.SplitTest])
	}
	shard, err := dataset.LoadShard(filepath.Join(out, m.SplitShards(dataset.SplitTest)[0].File), m)
	if err != nil {
		t.Fatal(err)
	}
	labels, err := shard.Labels("labels")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int32]bool{}
	for _, l := range labels {
		seen[l] = true
	}
	if len(seen) != 10 || !seen[0] || !seen[9] {
		t.Errorf("labels seen %v, want 0..9", seen)
	}
}
