package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
)

// tinyManifest describes a synthetic dataset: images U8 [4], labels U8 [],
// 3 classes, shards a (train, 3 samples) and b (test, 2 samples).
func tinyManifest() *Manifest {
	return &Manifest{
		Format: Format, Name: "tiny",
		Tensors: map[string]TensorSpec{
			"images": {DType: safetensors.DTypeU8, Shape: []int64{4}},
			"labels": {DType: safetensors.DTypeU8, Shape: []int64{}},
		},
		Classes: 3,
		Shards: []ShardInfo{
			{"a.safetensors", SplitTrain, 3},
			{"b.safetensors", SplitTest, 2},
		},
	}
}

// tinyShard returns a valid shard of n samples: pixel j of sample i is
// 10*i+j, label i is i%3.
func tinyShard(n int) *safetensors.File {
	img := make([]uint8, 4*n)
	lbl := make([]uint8, n)
	for i := range n {
		for j := range 4 {
			img[4*i+j] = uint8(10*i + j)
		}
		lbl[i] = uint8(i % 3)
	}
	return &safetensors.File{Tensors: []safetensors.Tensor{
		safetensors.FromU8("images", []int64{int64(n), 4}, img),
		safetensors.FromU8("labels", []int64{int64(n)}, lbl),
	}}
}

func writeShard(t *testing.T, path string, f *safetensors.File) {
	t.Helper()
	b, err := safetensors.Encode(f)
	if err != nil {
		t.Fatalf("encode %s: %v", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTiny writes the synthetic dataset into a new temp folder.
func writeTiny(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	m := tinyManifest()
	b, err := m.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	writeShard(t, filepath.Join(dir, "a.safetensors"), tinyShard(3))
	writeShard(t, filepath.Join(dir, "b.safetensors"), tinyShard(2))
	return dir
}

func TestValidateDirOK(t *testing.T) {
	dir := writeTiny(t)
	m, err := ValidateDir(context.Background(), dir)
	if err != nil {
		t.Fatalf("ValidateDir: %v", err)
	}
	if m.Name != "tiny" || len(m.Shards) != 2 {
		t.Fatalf("ValidateDir manifest = %+v, want tiny with 2 shards", m)
	}
}

func TestValidateDirRejects(t *testing.T) {
	wrongShape := tinyShard(3)
	wrongShape.Tensors[0].Shape = []int64{3, 2, 2}
	wrongDType := tinyShard(3)
	wrongDType.Tensors[1] = safetensors.FromI32("labels", []int64{3}, []int32{0, 1, 2})
	wrongCount := tinyShard(4)
	missingTensor := tinyShard(3)
	missingTensor.Tensors = missingTensor.Tensors[:1]
	extraTensor := tinyShard(3)
	extraTensor.Tensors = append(extraTensor.Tensors, safetensors.FromU8("extra", []int64{1}, []uint8{1}))

	shardFile := func(f *safetensors.File) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { writeShard(t, filepath.Join(dir, "a.safetensors"), f) }
	}
	rawFile := func(edit func(b []byte) []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, "a.safetensors")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, edit(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"missing shard", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "b.safetensors")) }, "shard b.safetensors: file is missing"},
		{"wrong shape", shardFile(wrongShape), `shard a.safetensors: tensor "images": shape [3 2 2], manifest wants [3 4]`},
		{"wrong dtype", shardFile(wrongDType), `shard a.safetensors: tensor "labels": dtype I32, manifest says U8`},
		{"wrong sample count", shardFile(wrongCount), `shard a.safetensors: tensor "images": shape [4 4], manifest wants [3 4]`},
		{"missing tensor", shardFile(missingTensor), `shard a.safetensors: tensor "labels" is missing`},
		{"extra tensor", shardFile(extraTensor), `shard a.safetensors: tensor "extra" is not in the manifest`},
		{"corrupt header", rawFile(func(b []byte) []byte { b[9] = 'X'; return b }), "shard a.safetensors: invalid safetensors: header JSON"},
		{"truncated", rawFile(func(b []byte) []byte { return b[:len(b)-2] }), "shard a.safetensors: truncated: the header describes"},
		{"trailing bytes", rawFile(func(b []byte) []byte { return append(b, 0) }), "shard a.safetensors: 1 trailing bytes after the last tensor"},
		{"empty file", rawFile(func([]byte) []byte { return nil }), "shard a.safetensors: invalid safetensors: file is 0 bytes"},
		{"shard is a folder", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "a.safetensors"))
			os.Mkdir(filepath.Join(dir, "a.safetensors"), 0o755)
		}, "shard a.safetensors: not a regular file"},
		{"no manifest", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ManifestFile)) }, "open dataset manifest (is "},
		{"bad manifest", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"format":"x"}`), 0o644)
		}, `manifest: format: "x" is not "gridswarm-dataset/1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTiny(t)
			tt.damage(t, dir)
			m, err := ValidateDir(context.Background(), dir)
			if err == nil {
				t.Fatalf("ValidateDir succeeded with %+v, want error %q", m, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidateDir error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateDirReportsEveryShard(t *testing.T) {
	dir := writeTiny(t)
	os.Remove(filepath.Join(dir, "a.safetensors"))
	os.Remove(filepath.Join(dir, "b.safetensors"))
	_, err := ValidateDir(context.Background(), dir)
	if err == nil {
		t.Fatal("ValidateDir succeeded with both shards missing")
	}
	for _, want := range []string{"2 of 2 shards are invalid", "shard a.safetensors: file is missing", "shard b.safetensors: file is missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
}

func TestValidateDirCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ValidateDir(ctx, writeTiny(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("ValidateDir on a canceled context = %v, want context.Canceled", err)
	}
}
