package datagrid

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// vectorBytes is the content of a vector file of n bytes: the
// concatenation of sha256("gridswarm-vector" || uint64be(j)) for
// j = 0, 1, 2, ..., cut to n bytes. internal/genvectors writes the same
// bytes for Kubo.
func vectorBytes(n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	var buf [len("gridswarm-vector") + 8]byte
	copy(buf[:], "gridswarm-vector")
	for j := uint64(0); len(out) < n; j++ {
		binary.BigEndian.PutUint64(buf[len("gridswarm-vector"):], j)
		sum := sha256.Sum256(buf[:])
		out = append(out, sum[:]...)
	}
	return out[:n]
}

// vectorFiles are the files of each vector; a "file" vector is one file
// named after it, "nested" is a tree.
func vectorFiles(name string, size int) map[string]int {
	if name == "nested" {
		return map[string]int{"a.txt": 100, "sub/b.bin": 300000, "sub/deeper/c": 0}
	}
	return map[string]int{name: size}
}

func writeVector(t testing.TB, dir, name string, size int) string {
	t.Helper()
	root := filepath.Join(dir, name)
	for rel, n := range vectorFiles(name, size) {
		p := filepath.Join(dir, name, rel)
		if name != "nested" {
			p = root
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, vectorBytes(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

type kuboVectors struct {
	Kubo    string `json:"kubo"`
	Command string `json:"command"`
	Vectors []struct {
		Name  string         `json:"name"`
		Kind  string         `json:"kind"`
		Size  int            `json:"size"`
		Files map[string]int `json:"files"` // for "dir" vectors
		Cid   string         `json:"cid"`
	} `json:"vectors"`
}

// TestKuboVectors checks that AddPath gives the CIDs real Kubo gave for the
// same bytes (testdata/kubo-vectors.json, made with internal/genvectors and
// `ipfs add --cid-version=1 -r -Q`).
func TestKuboVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "kubo-vectors.json"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("testdata/kubo-vectors.json is absent: run `go run ./datagrid/internal/genvectors DIR` and `ipfs add --cid-version=1 -r -Q` on each entry with Kubo to create it")
	}
	if err != nil {
		t.Fatal(err)
	}
	var kv kuboVectors
	if err := json.Unmarshal(data, &kv); err != nil {
		t.Fatalf("parsing kubo-vectors.json: %v", err)
	}
	if len(kv.Vectors) == 0 {
		t.Fatal("kubo-vectors.json has no vectors")
	}
	g := newOfflineGrid(t, 0)
	dir := t.TempDir()
	for _, v := range kv.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			if v.Kind == "dir" && len(v.Files) > 0 && !maps.Equal(v.Files, vectorFiles(v.Name, 0)) {
				t.Fatalf("%s: the file lists %v, the generator writes %v", v.Name, v.Files, vectorFiles(v.Name, 0))
			}
			root := writeVector(t, dir, v.Name, v.Size)
			res, err := g.AddPath(context.Background(), root, nil)
			if err != nil {
				t.Fatalf("AddPath: %v", err)
			}
			if got := res.Root.String(); got != v.Cid {
				t.Errorf("%s (%s, %d bytes): CID = %s, Kubo %s gave %s", v.Name, v.Kind, v.Size, got, kv.Kubo, v.Cid)
			}
		})
	}
}

// TestWellKnownCIDs needs no Kubo: the empty file and the empty directory
// have CIDs every IPFS implementation agrees on.
func TestWellKnownCIDs(t *testing.T) {
	g := newOfflineGrid(t, 0)
	ctx := context.Background()
	empty, err := g.AddReader(ctx, bytes.NewReader(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := empty.Root.String(), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"; got != want {
		t.Errorf("empty file CID = %s, want %s", got, want)
	}
	dir := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := g.AddPath(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Root.String(), "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"; got != want {
		t.Errorf("empty directory CID = %s, want %s", got, want)
	}
}

// TestImportShape checks the DAG layout Kubo's settings imply: one raw
// leaf up to 256 KiB, a dag-pb root above, and a second level past 174
// leaves.
func TestImportShape(t *testing.T) {
	g := newOfflineGrid(t, 0)
	ctx := context.Background()
	cases := []struct {
		name       string
		size       int
		rootRaw    bool
		rootLinks  int
		childLinks int // links of the first child; 0 for raw leaves
	}{
		{"one-byte", 1, true, 0, 0},
		{"one-chunk", ChunkSize, true, 0, 0},
		{"one-chunk-plus-one", ChunkSize + 1, false, 2, 0},
		{"full-first-level", LinksPerNode * ChunkSize, false, LinksPerNode, 0},
		{"second-level", LinksPerNode*ChunkSize + 1, false, 2, LinksPerNode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := g.AddReader(ctx, bytes.NewReader(vectorBytes(tc.size)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Root.Prefix().Codec == 0x55; got != tc.rootRaw {
				t.Fatalf("root %s raw = %v, want %v", res.Root, got, tc.rootRaw)
			}
			if res.Root.Prefix().Version != 1 {
				t.Errorf("root CID version = %d, want 1", res.Root.Prefix().Version)
			}
			if tc.rootRaw {
				return
			}
			kids := leaves(t, g, res.Root)
			if len(kids) != tc.rootLinks {
				t.Fatalf("root links = %d, want %d", len(kids), tc.rootLinks)
			}
			if got := len(leaves(t, g, kids[0])); got != tc.childLinks {
				t.Errorf("first child links = %d, want %d", got, tc.childLinks)
			}
			if res.Size != uint64(tc.size) {
				t.Errorf("Size = %d, want %d", res.Size, tc.size)
			}
		})
	}
}

func TestVectorBytes(t *testing.T) {
	got := vectorBytes(40)
	first := sha256.Sum256(append([]byte("gridswarm-vector"), 0, 0, 0, 0, 0, 0, 0, 0))
	second := sha256.Sum256(append([]byte("gridswarm-vector"), 0, 0, 0, 0, 0, 0, 0, 1))
	want := append(first[:], second[:8]...)
	if !bytes.Equal(got, want) {
		t.Errorf("vectorBytes(40) = %x, want %x", got, want)
	}
	// Same digest as internal/genvectors/main_test.go.
	sum := sha256.Sum256(vectorBytes(300000))
	if got := hex.EncodeToString(sum[:]); got != "674356ddf6423b64d8637440d5a2b3eb637028a03c1e0de715766fe263d0af40" {
		t.Errorf("sha256(vectorBytes(300000)) = %s", got)
	}
	if n := len(vectorBytes(52428801)); n != 52428801 {
		t.Errorf("len(vectorBytes(52428801)) = %d", n)
	}
}
