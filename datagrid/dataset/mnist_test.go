package dataset

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/datagrid/dataset/mnistdata"
)

// idxBytes returns an uncompressed IDX file of unsigned bytes.
func idxBytes(dims []uint32, data []byte) []byte {
	b := []byte{0, 0, idxUbyte, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakeMNIST writes the four IDX files with train and test samples: pixel j
// of image i is (i+j)%256 (test images offset by 100), label i is i%10.
func fakeMNIST(t *testing.T, train, test int) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, n int, offset int) {
		img := make([]byte, n*mnistPixels)
		lbl := make([]byte, n)
		for i := range n {
			for j := range mnistPixels {
				img[i*mnistPixels+j] = byte(i + j + offset)
			}
			lbl[i] = byte((i + offset) % 10)
		}
		prefix := strings.TrimSuffix(name, "-images-idx3-ubyte.gz")
		if err := os.WriteFile(filepath.Join(dir, name), gz(t, idxBytes([]uint32{uint32(n), 28, 28}, img)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz"), gz(t, idxBytes([]uint32{uint32(n)}, lbl)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(MNISTTrainImages, train, 0)
	write(MNISTTestImages, test, 100)
	return dir
}

func smallLayout() mnistLayout { return mnistLayout{train: 23, test: 7, validation: 5, shard: 4} }

func TestBuildMNISTSynthetic(t *testing.T) {
	src := fakeMNIST(t, 23, 7)
	out := filepath.Join(t.TempDir(), "mnist")
	var progress [][2]int
	m, err := buildMNIST(context.Background(), dirSource(src), out, MNISTOptions{Progress: func(d, n int) { progress = append(progress, [2]int{d, n}) }}, smallLayout())
	if err != nil {
		t.Fatalf("buildMNIST: %v", err)
	}
	// 18 train samples in shards of 4,4,4,4,2; 5 validation as 4,1; 7 test as 4,3.
	var files []string
	for _, s := range m.Shards {
		files = append(files, s.File)
	}
	wantFiles := []string{"train-000.safetensors", "train-001.safetensors", "train-002.safetensors", "train-003.safetensors", "train-004.safetensors",
		"validation-000.safetensors", "validation-001.safetensors", "test-000.safetensors", "test-001.safetensors"}
	if !slices.Equal(files, wantFiles) {
		t.Fatalf("shards = %v, want %v", files, wantFiles)
	}
	if len(progress) != len(wantFiles) || progress[len(progress)-1] != [2]int{30, 30} || progress[0] != [2]int{4, 30} {
		t.Errorf("progress calls = %v, want one per shard from [4 30] to [30 30]", progress)
	}
	vm, err := ValidateDir(context.Background(), out)
	if err != nil {
		t.Fatalf("ValidateDir: %v", err)
	}
	if got := Counts(vm); got[SplitTrain] != 18 || got[SplitValidation] != 5 || got[SplitTest] != 7 {
		t.Errorf("Counts = %v, want train 18, validation 5, test 7", got)
	}
	// Sample 1 of validation-001 is training sample 22; sample 2 of test-000 is test sample 2.
	checkSample(t, filepath.Join(out, "validation-001.safetensors"), vm, 0, 22, 0)
	checkSample(t, filepath.Join(out, "test-000.safetensors"), vm, 2, 2, 100)
	checkSample(t, filepath.Join(out, "train-003.safetensors"), vm, 3, 15, 0)

	// A second build gives the same bytes.
	out2 := filepath.Join(t.TempDir(), "again")
	if _, err := buildMNIST(context.Background(), dirSource(src), out2, MNISTOptions{}, smallLayout()); err != nil {
		t.Fatalf("second buildMNIST: %v", err)
	}
	for _, name := range append(wantFiles, ManifestFile) {
		a, _ := os.ReadFile(filepath.Join(out, name))
		b, _ := os.ReadFile(filepath.Join(out2, name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds (%d vs %d bytes)", name, len(a), len(b))
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != len(wantFiles)+1 {
		t.Errorf("output folder has %d entries, want %d (no temp files left)", len(entries), len(wantFiles)+1)
	}
}

// checkSample checks sample k of a shard against source sample i of fakeMNIST.
func checkSample(t *testing.T, path string, m *Manifest, k, i, offset int) {
	t.Helper()
	sh, err := LoadShard(path, m)
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	img, err := sh.Float32("images", 1)
	if err != nil {
		t.Fatalf("Float32: %v", err)
	}
	for j := range mnistPixels {
		if want := float32(byte(i + j + offset)); img[k*mnistPixels+j] != want {
			t.Fatalf("%s sample %d pixel %d = %v, want %v", path, k, j, img[k*mnistPixels+j], want)
		}
	}
	lbl, err := sh.Labels("labels")
	if err != nil {
		t.Fatalf("Labels: %v", err)
	}
	if want := int32((i + offset) % 10); lbl[k] != want {
		t.Fatalf("%s sample %d label = %d, want %d", path, k, lbl[k], want)
	}
}

func TestBuildMNISTRejects(t *testing.T) {
	replace := func(name string, b []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	img := func(n, rows int) []byte {
		return idxBytes([]uint32{uint32(n), uint32(rows), 28}, make([]byte, n*rows*28))
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"missing file", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, MNISTTestLabels)) }, "read mnist labels: open "},
		{"not gzip", replace(MNISTTrainImages, []byte("plain")), "not a gzip file"},
		{"wrong count", replace(MNISTTrainImages, gz(t, img(22, 28))), "has dimensions [22 28 28], want [23 28 28]"},
		{"wrong size", replace(MNISTTrainImages, gz(t, img(23, 27))), "has dimensions [23 27 28], want [23 28 28]"},
		{"label count", replace(MNISTTestLabels, gz(t, idxBytes([]uint32{6}, make([]byte, 6)))), "has 6 labels, want 7"},
		{"label range", replace(MNISTTestLabels, gz(t, idxBytes([]uint32{7}, []byte{0, 1, 2, 10, 4, 5, 6}))), "sample 3 has label 10, want 0..9"},
		{"labels as images", replace(MNISTTrainImages, gz(t, idxBytes([]uint32{23}, make([]byte, 23)))), "IDX file has 1 dimensions, want 3"},
		{"bad gzip checksum", func(t *testing.T, dir string) {
			b := gz(t, idxBytes([]uint32{7}, make([]byte, 7)))
			b[len(b)-8] ^= 0xff // CRC-32 trailer
			replace(MNISTTestLabels, b)(t, dir)
		}, "checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fakeMNIST(t, 23, 7)
			tt.damage(t, src)
			out := t.TempDir()
			_, err := buildMNIST(context.Background(), dirSource(src), out, MNISTOptions{}, smallLayout())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("buildMNIST error = %v, want it to contain %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(out, ManifestFile)); err == nil {
				t.Fatalf("a failed build wrote %s", ManifestFile)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := buildMNIST(ctx, dirSource(fakeMNIST(t, 23, 7)), t.TempDir(), MNISTOptions{}, smallLayout()); !errors.Is(err, context.Canceled) {
		t.Fatalf("buildMNIST on a canceled context = %v, want context.Canceled", err)
	}
}

func TestReadIDX(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		ndims int
		want  string
	}{
		{"empty", nil, 1, "read IDX magic: EOF"},
		{"bad magic", []byte{1, 0, 8, 1, 0, 0, 0, 0}, 1, "not an IDX file (magic 01000801)"},
		{"float type", []byte{0, 0, 0x0d, 1, 0, 0, 0, 0}, 1, "IDX element type 0x0d, want 0x08"},
		{"short dims", []byte{0, 0, 8, 2, 0, 0, 0, 1}, 2, "read IDX dimension 1"},
		{"too big", idxBytes([]uint32{1 << 16, 1 << 16}, nil), 2, "hold more than the 1000-byte limit"},
		{"truncated", idxBytes([]uint32{5}, []byte{1, 2}), 1, "IDX data truncated: dimensions [5] need 5 bytes, found 2"},
		{"trailing", idxBytes([]uint32{2}, []byte{1, 2, 3}), 1, "trailing bytes after the 2 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readIDX(bytes.NewReader(tt.in), tt.ndims, 1000)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("readIDX error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	dims, data, err := readIDX(bytes.NewReader(idxBytes([]uint32{2, 3}, []byte{1, 2, 3, 4, 5, 6})), 2, 1000)
	if err != nil || !slices.Equal(dims, []int{2, 3}) || !slices.Equal(data, []byte{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("readIDX = %v, %v, %v; want [2 3] and 1..6", dims, data, err)
	}
}

// dirSource reads the IDX files from the folder dir.
func dirSource(dir string) mnistSource { return mnistSource{os.DirFS(dir), dir} }

// TestBuildMNISTReal imports the real MNIST files, the copy built into the
// binary.
func TestBuildMNISTReal(t *testing.T) {
	if testing.Short() {
		t.Skip("imports the full MNIST dataset")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := t.TempDir()
	if _, err := BuildMNISTFS(ctx, mnistdata.Files(), "built-in MNIST", out, MNISTOptions{}); err != nil {
		t.Fatalf("BuildMNISTFS: %v", err)
	}
	m, err := ValidateDir(ctx, out)
	if err != nil {
		t.Fatalf("ValidateDir: %v", err)
	}
	c := Counts(m)
	if c[SplitTrain] != 55000 || c[SplitValidation] != 5000 || c[SplitTest] != 10000 {
		t.Fatalf("Counts = %v, want train 55000, validation 5000, test 10000", c)
	}
	if len(m.SplitShards(SplitTrain)) != 11 || len(m.SplitShards(SplitValidation)) != 1 || len(m.SplitShards(SplitTest)) != 2 {
		t.Fatalf("shards per split = %d/%d/%d, want 11/1/2", len(m.SplitShards(SplitTrain)), len(m.SplitShards(SplitValidation)), len(m.SplitShards(SplitTest)))
	}
	var hist [10]int
	total := 0
	for _, s := range m.Shards {
		sh, err := LoadShard(filepath.Join(out, s.File), m)
		if err != nil {
			t.Fatalf("LoadShard: %v", err)
		}
		lbl, err := sh.Labels("labels") // fails on any label outside 0..9
		if err != nil {
			t.Fatalf("Labels: %v", err)
		}
		total += len(lbl)
		if s.Split == SplitTest {
			for _, l := range lbl {
				hist[l]++
			}
		}
	}
	if total != 70000 {
		t.Errorf("loaded %d labels, want 70000", total)
	}
	sum := 0
	for d, n := range hist {
		// The MNIST test set has between 892 (digit 5) and 1135 (digit 1) of each digit.
		if n < 800 || n > 1200 {
			t.Errorf("test split has %d samples of digit %d, want 800..1200", n, d)
		}
		sum += n
	}
	if sum != 10000 {
		t.Errorf("test histogram sums to %d, want 10000", sum)
	}
	// Pinned digests: every peer must produce these bytes (and so the same
	// CIDs). A change here breaks compatibility with datasets already shared.
	for file, want := range map[string]string{
		ManifestFile:           "df4255c3e06df3b34abb59ab6086c03c270c62fd85b48f46a925dde6a0688e77",
		"test-001.safetensors": "0562aadda20c3c9af47afaa7f9355237d08c587b1b0e17ae17090d70f809371e",
	} {
		b, err := os.ReadFile(filepath.Join(out, file))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != want {
			t.Errorf("sha256(%s) = %s, want %s", file, got, want)
		}
	}
}
