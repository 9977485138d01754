package datagrid

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// pinRows renders pins as "owner name" per CID for comparison.
func pinRows(t *testing.T, g *Grid) map[cid.Cid][]string {
	t.Helper()
	ps, err := g.Pins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[cid.Cid][]string{}
	for _, p := range ps {
		out[p.Root] = append(out[p.Root], p.Owner+" "+p.Name)
	}
	return out
}

func TestPinsArePerOwner(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 0)
	w := randomBytes(300<<10, 1)
	c1, err := g.AddBytesOwned(ctx, "w-r1.safetensors", w, "job/a/round/1/weights")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := g.AddBytesOwned(ctx, "final.safetensors", w, "job/a/final")
	if err != nil {
		t.Fatal(err)
	}
	other, err := g.AddBytesOwned(ctx, "w-r1.safetensors", randomBytes(1000, 2), "job/ab/round/1/weights")
	if err != nil {
		t.Fatal(err)
	}
	if !c1.Equals(c2) {
		t.Fatalf("same bytes gave %s and %s", c1, c2)
	}
	if err := g.PinOwned(ctx, c1, OwnerUser, "mine"); err != nil {
		t.Fatal(err)
	}
	got := pinRows(t, g)
	if want := []string{"job/a/round/1/weights w-r1.safetensors", "job/a/final final.safetensors", "user mine"}; !equalStrings(got[c1], want) {
		t.Errorf("pins of %s = %q, want %q", c1, got[c1], want)
	}

	n, err := g.ReleaseOwner(ctx, "job/a")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("ReleaseOwner(job/a) released %d pins, want 2 (job/ab is not below job/a)", n)
	}
	got = pinRows(t, g)
	if want := []string{"user mine"}; !equalStrings(got[c1], want) {
		t.Errorf("after release, pins of %s = %q, want %q", c1, got[c1], want)
	}
	if len(got[other]) != 1 {
		t.Errorf("job/ab's pin went with job/a's: %q", got[other])
	}
	if res, err := g.GC(ctx); err != nil || res.RemovedBlocks != 0 {
		t.Errorf("GC with the user pin left: %+v, %v; want nothing removed", res, err)
	}

	if err := g.UnpinOwned(ctx, c1, "job/zzz"); !errors.Is(err, ErrNotPinned) {
		t.Errorf("UnpinOwned by a stranger: err = %v, want ErrNotPinned", err)
	}
	if err := g.UnpinOwned(ctx, c1, OwnerUser); err != nil {
		t.Fatal(err)
	}
	res, err := g.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.FreedBytes < uint64(len(w)) {
		t.Errorf("GC after the last owner went freed %d bytes, want at least %d", res.FreedBytes, len(w))
	}
	if n, err := g.ReleaseOwner(ctx, "job/a"); err != nil || n != 0 {
		t.Errorf("second ReleaseOwner = %d, %v; want 0, nil", n, err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Released content is collected when the quota needs room, so a worker
// that releases what it no longer needs never fills its quota.
func TestReleasedDataMakesRoom(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 4*MiB)
	old, err := g.AddBytesOwned(ctx, "out-0", randomBytes(3*MiB, 10), "tasklet/j1/0/0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.AddBytesOwned(ctx, "out-1", randomBytes(3*MiB, 11), "tasklet/j1/1/0"); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("add beyond the quota: err = %v, want ErrQuotaExceeded", err)
	}
	if n, err := g.ReleaseOwner(ctx, "tasklet/j1"); err != nil || n != 1 {
		t.Fatalf("ReleaseOwner = %d, %v; want 1, nil", n, err)
	}
	for i := range 5 { // many rounds through a quota that holds one
		owner := "tasklet/j1/" + string(rune('1'+i)) + "/0"
		if _, err := g.AddBytesOwned(ctx, "out", randomBytes(3*MiB, uint64(20+i)), owner); err != nil {
			t.Fatalf("add %d after release: %v", i, err)
		}
		if _, err := g.ReleaseOwner(ctx, owner); err != nil {
			t.Fatal(err)
		}
	}
	hs, err := g.Holds(ctx, []cid.Cid{old})
	if err != nil {
		t.Fatal(err)
	}
	if hs[0].LocalBytes != 0 || hs[0].Pinned {
		t.Errorf("released DAG still held: %+v", hs[0])
	}
	if st, _ := g.Stat(ctx); st.UsedBytes > 4*MiB || st.Pins != 0 {
		t.Errorf("Stat = %+v, want no pins and use within the quota", st)
	}
}

func TestLegacyPinsGetTheUserOwner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := openGrid(t, Config{Dir: dir})
	named, err := g.AddBytesOwned(ctx, "x", randomBytes(1000, 3), OwnerUser)
	if err != nil {
		t.Fatal(err)
	}
	unnamed, err := g.AddBytesOwned(ctx, "y", randomBytes(1000, 4), OwnerUser)
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite both as records from before owners existed.
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for c, name := range map[cid.Cid]string{named: "keep", unnamed: ""} {
		data, _ := json.Marshal(map[string]any{"name": name, "bytes": 1000, "created": created})
		if err := g.meta.Put(ctx, pinKey(c), data); err != nil {
			t.Fatal(err)
		}
	}
	g.Close()

	g2 := openGrid(t, Config{Dir: dir})
	defer g2.Close()
	got := pinRows(t, g2)
	want := map[cid.Cid][]string{named: {"user keep"}, unnamed: {"user " + unnamed.String()}}
	for c, w := range want {
		if !equalStrings(got[c], w) {
			t.Errorf("pins of %s after reopen = %q, want %q", c, got[c], w)
		}
	}
	raw, err := g2.meta.Get(ctx, pinKey(named))
	if err != nil {
		t.Fatal(err)
	}
	var rec pinRecord
	if err := json.Unmarshal(raw, &rec); err != nil || len(rec.Owners) != 1 || rec.Name != "" || !rec.Created.Equal(created) {
		t.Errorf("stored record after migration = %s (%v), want one owner and no legacy name", raw, err)
	}
}

func TestValidOwner(t *testing.T) {
	for _, tc := range []struct {
		owner string
		ok    bool
	}{
		{"user", true},
		{"job/j-1/round/3/weights", true},
		{"tasklet/j/0/12", true},
		{"", false},
		{"/job", false},
		{"job/", false},
		{"job//x", false},
		{"job/../x", false},
		{"job/a b", false},
		{"job/\x00", false},
		{string(make([]byte, 600)), false},
	} {
		if err := ValidOwner(tc.owner); (err == nil) != tc.ok {
			t.Errorf("ValidOwner(%q) = %v, want ok=%v", tc.owner, err, tc.ok)
		}
	}
}

func TestOwnedBy(t *testing.T) {
	match := ownedBy("job/a")
	for owner, want := range map[string]bool{"job/a": true, "job/a/final": true, "job/ab": false, "job": false, "user": false} {
		if got := match(owner); got != want {
			t.Errorf("ownedBy(job/a)(%q) = %v, want %v", owner, got, want)
		}
	}
}

// Claims on one CID by many owners at once are all kept: pin records are
// read-modified-written under one lock.
func TestConcurrentClaimsAreNotLost(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 0)
	b := randomBytes(2000, 7)
	const n = 8
	errs := make(chan error, 2*n)
	for i := range n {
		go func() {
			_, err := g.AddBytesOwned(ctx, "w", b, "job/j/round/"+string(rune('0'+i))+"/weights")
			errs <- err
		}()
		go func() {
			_, err := g.ReleaseOwner(ctx, "job/other")
			errs <- err
		}()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ps, err := g.Pins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != n {
		t.Fatalf("%d pins after %d concurrent claims, want %d: %+v", len(ps), n, n, ps)
	}
	if got, err := g.ReleaseOwner(ctx, "job/j"); err != nil || got != n {
		t.Errorf("ReleaseOwner(job/j) = %d, %v; want %d", got, err, n)
	}
}

// What a release leaves unpinned is deleted in the background, except
// blocks another pin still reaches.
func TestReleasedDataIsCollectedSoon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := newOfflineGrid(t, 0)
	w := randomBytes(1*MiB, 40)
	released, err := g.AddBytesOwned(ctx, "w-r1", w, "job/x/round/1/weights")
	if err != nil {
		t.Fatal(err)
	}
	// Shares its first two 256 KiB leaves with the released file.
	kept, err := g.AddBytesOwned(ctx, "prefix", w[:512<<10], OwnerUser)
	if err != nil {
		t.Fatal(err)
	}
	both, err := g.AddBytesOwned(ctx, "final", randomBytes(300<<10, 41), "job/x/final")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.PinOwned(ctx, both, OwnerUser, "mine"); err != nil {
		t.Fatal(err)
	}
	if n, err := g.ReleaseOwner(ctx, "job/x"); err != nil || n != 2 {
		t.Fatalf("ReleaseOwner = %d, %v; want 2", n, err)
	}
	holds := func() []Holding {
		hs, err := g.Holds(ctx, []cid.Cid{released, kept, both})
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	hs := holds()
	left := hs[1].LocalBytes + hs[2].LocalBytes
	waitUntil(t, ctx, "the released DAG to be collected", func() bool {
		st, _ := g.Stat(ctx)
		return st.UsedBytes == left
	})
	// Its root went, so nothing of it counts as held; the two leaves it
	// shares stayed.
	hs = holds()
	if hs[0].Pinned || hs[0].LocalBytes != 0 {
		t.Errorf("released DAG: %+v; want it gone", hs[0])
	}
	for _, h := range hs[1:] {
		if !h.Complete || !h.Pinned {
			t.Errorf("DAG still pinned by user lost blocks: %+v", h)
		}
	}
	if res, err := g.GC(ctx); err != nil || res.RemovedBlocks != 0 {
		t.Errorf("GC after the collection = %+v, %v; want nothing left to remove", res, err)
	}
}

func TestDropCached(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := newTestNode(t, Config{}), newTestNode(t, Config{})
	connect(t, ctx, a, b)
	out, err := a.grid.AddBytesOwned(ctx, "out", randomBytes(700<<10, 50), "tasklet/j/0/0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.grid.ReadFile(ctx, out, 1<<20, a.info()); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.grid.Stat(ctx); st.CacheEntries != 1 || st.UsedBytes == 0 {
		t.Fatalf("after ReadFile Stat = %+v, want one cache entry", st)
	}
	if err := b.grid.DropCached(ctx, out); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "the dropped cache entry's blocks to go", func() bool {
		st, _ := b.grid.Stat(ctx)
		return st.UsedBytes == 0 && st.CacheEntries == 0
	})
	if err := b.grid.DropCached(ctx, out); err != nil {
		t.Errorf("dropping an entry twice: %v", err)
	}
}
