package datagrid

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/datastore/dshelp"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

const MiB = 1 << 20

// testNode is a real libp2p host on 127.0.0.1 with a server-mode DHT under
// the gridswarm prefix and a Grid on top.
type testNode struct {
	host     host.Host
	dht      *dht.IpfsDHT
	grid     *Grid
	dir      string
	provided chan Announcement
}

func (n *testNode) info() peer.AddrInfo {
	return peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
}

func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.ResourceManager(&network.NullResourceManager{}),
	)
	if err != nil {
		t.Fatalf("libp2p.New: %v", err)
	}
	return h
}

// newTestNode starts a node; cfg's Host, Routing, Dir and OnProvided are
// filled in.
func newTestNode(t testing.TB, cfg Config) *testNode {
	t.Helper()
	n := &testNode{host: newHost(t), dir: t.TempDir(), provided: make(chan Announcement, 4096)}
	d, err := dht.New(n.host, dht.Mode(dht.ModeServer), dht.ProtocolPrefix("/gridswarm"), dht.DisableAutoRefresh())
	if err != nil {
		t.Fatalf("dht.New: %v", err)
	}
	n.dht = d
	cfg.Dir, cfg.Host, cfg.Routing = n.dir, n.host, d
	cfg.OnProvided = func(a Announcement) {
		select {
		case n.provided <- a:
		default:
		}
	}
	n.grid = openGrid(t, cfg)
	t.Cleanup(func() {
		n.grid.Close()
		d.Close()
		n.host.Close()
	})
	return n
}

func openGrid(t testing.TB, cfg Config) *Grid {
	t.Helper()
	g, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return g
}

// newOfflineGrid is a Grid without a host: local add, get, pin, GC.
func newOfflineGrid(t testing.TB, quota uint64) *Grid {
	t.Helper()
	g := openGrid(t, Config{Dir: t.TempDir(), QuotaBytes: quota})
	t.Cleanup(func() { g.Close() })
	return g
}

// connect links a to b and waits until each DHT has the other in its
// routing table, so announcements and lookups can use it.
func connect(t testing.TB, ctx context.Context, a, b *testNode) {
	t.Helper()
	if err := a.host.Connect(ctx, b.info()); err != nil {
		t.Fatalf("connect: %v", err)
	}
	waitUntil(t, ctx, "routing tables to learn the new peer", func() bool {
		return a.dht.RoutingTable().Find(b.host.ID()) != "" && b.dht.RoutingTable().Find(a.host.ID()) != ""
	})
}

// waitUntil polls cond (it watches state owned by libp2p goroutines that
// offer no notification) until it holds or ctx ends.
func waitUntil(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitProvided waits for n's announcement of c.
func (n *testNode) waitProvided(t testing.TB, ctx context.Context, c cid.Cid) {
	t.Helper()
	for {
		select {
		case a := <-n.provided:
			if !a.Cid.Equals(c) {
				continue
			}
			if a.Err != nil {
				t.Fatalf("announcing %s: %v", c, a.Err)
			}
			return
		case <-ctx.Done():
			t.Fatalf("no announcement of %s: %v", c, ctx.Err())
		}
	}
}

// writeRandomFile writes size pseudo-random bytes (seeded) and returns
// their SHA-256.
func writeRandomFile(t testing.TB, path string, size int64, seed uint64) [32]byte {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	src := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1})
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(src, size)); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func fileSum(t testing.TB, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// treeDigest maps every regular file under root (slash paths) to its hash
// and every directory to "dir".
func treeDigest(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		sum := fileSum(t, p)
		out[rel] = string(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// blockPath finds the flatfs file holding c.
func blockPath(t testing.TB, g *Grid, c cid.Cid) string {
	t.Helper()
	name := dshelp.MultihashToDsKey(c.Hash()).String()[1:] + ".data"
	matches, err := filepath.Glob(filepath.Join(g.cfg.Dir, "blocks", "*", name))
	if err != nil || len(matches) != 1 {
		t.Fatalf("block file of %s: found %v (%v)", c, matches, err)
	}
	return matches[0]
}

// corruptBlock flips bytes in c's file on disk.
func corruptBlock(t testing.TB, g *Grid, c cid.Cid) {
	t.Helper()
	p := blockPath(t, g, c)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(data); i += 997 {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// leaves returns the direct children of an inner node, in order.
func leaves(t testing.TB, g *Grid, root cid.Cid) []cid.Cid {
	t.Helper()
	links, err := g.localLinks(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]cid.Cid, len(links))
	for i, l := range links {
		out[i] = l.Cid
	}
	return out
}

// dirEntries lists names in dir, for "nothing left behind" checks.
func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// errDiskRead is not io.ErrUnexpectedEOF, which the chunker takes as a
// normal end of input.
var errDiskRead = errors.New("simulated disk read error")

// failingReader yields n bytes and then fails, like a disk error mid-add.
type failingReader struct {
	r io.Reader
	n int64
}

func (f *failingReader) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDiskRead
	}
	if int64(len(b)) > f.n {
		b = b[:f.n]
	}
	n, err := f.r.Read(b)
	f.n -= int64(n)
	return n, err
}

// onceCloser runs fn once, from whichever goroutine gets there first.
type onceCloser struct {
	once sync.Once
	fn   func()
}

func (o *onceCloser) do() { o.once.Do(o.fn) }

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
