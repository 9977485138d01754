package dataset

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
)

func TestLoadShard(t *testing.T) {
	dir := writeTiny(t)
	sh, err := LoadShard(filepath.Join(dir, "a.safetensors"), tinyManifest())
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	if sh.File != "a.safetensors" || sh.Split != SplitTrain || sh.Samples != 3 || sh.Classes != 3 || len(sh.Tensors) != 2 {
		t.Fatalf("LoadShard = %+v, want a.safetensors, train, 3 samples, 3 classes, 2 tensors", sh)
	}
	img, err := sh.Float32("images", 1.0/255)
	if err != nil {
		t.Fatalf("Float32: %v", err)
	}
	if len(img) != 12 {
		t.Fatalf("Float32 returned %d values, want 12", len(img))
	}
	for i, v := range img {
		want := float32(10*(i/4)+i%4) * float32(1.0/255)
		if math.Float32bits(v) != math.Float32bits(want) {
			t.Errorf("pixel %d = %v, want %v", i, v, want)
		}
	}
	lbl, err := sh.Labels("labels")
	if err != nil {
		t.Fatalf("Labels: %v", err)
	}
	if want := []int32{0, 1, 2}; !slices.Equal(lbl, want) {
		t.Fatalf("Labels = %v, want %v", lbl, want)
	}
}

func TestShardConversions(t *testing.T) {
	sh := &Shard{File: "s.safetensors", Samples: 2, Classes: 0, Tensors: map[string]safetensors.Tensor{
		"f":   safetensors.FromF32("f", []int64{2}, []float32{1.5, -2}),
		"i32": safetensors.FromI32("i32", []int64{2}, []int32{-3, 7}),
		"i64": safetensors.FromI64("i64", []int64{2}, []int64{5, 1 << 40}),
		"neg": safetensors.FromI32("neg", []int64{2}, []int32{0, -1}),
		"img": safetensors.FromU8("img", []int64{2, 2}, []uint8{1, 2, 3, 4}),
		"i8":  {Name: "i8", DType: safetensors.DTypeI8, Shape: []int64{2}, Data: []byte{0xff, 0x02}},
		"f64": {Name: "f64", DType: safetensors.DTypeF64, Shape: []int64{2}, Data: make([]byte, 16)},
	}}
	if got, err := sh.Float32("f", 2); err != nil || !slices.Equal(got, []float32{3, -4}) {
		t.Errorf("Float32(f, 2) = %v, %v; want [3 -4]", got, err)
	}
	if got, err := sh.Float32("i8", 1); err != nil || !slices.Equal(got, []float32{-1, 2}) {
		t.Errorf("Float32(i8) = %v, %v; want [-1 2]", got, err)
	}
	if got, err := sh.Labels("i32"); err == nil {
		t.Errorf("Labels(i32) = %v, want an error for the negative label", got)
	}
	if got, err := sh.Labels("i8"); err == nil {
		t.Errorf("Labels(i8) = %v, want an error for label -1", got)
	}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"no tensor", func() error { _, err := sh.Float32("nope", 1); return err }, `shard s.safetensors has no tensor "nope"`},
		{"float64 unsupported", func() error { _, err := sh.Float32("f64", 1); return err }, `tensor "f64" is F64; Float32 reads`},
		{"negative label", func() error { _, err := sh.Labels("neg"); return err }, `tensor "neg": sample 1 has label -1, outside 0..2147483647`},
		{"label over int32", func() error { _, err := sh.Labels("i64"); return err }, `sample 1 has label 1099511627776`},
		{"labels of images", func() error { _, err := sh.Labels("img"); return err }, `tensor "img" has shape [2 2]; labels need [2]`},
		{"short label data", func() error {
			s := &Shard{File: "s.safetensors", Samples: 3, Tensors: map[string]safetensors.Tensor{"l": {Name: "l", DType: safetensors.DTypeU8, Shape: []int64{3}, Data: []byte{1}}}}
			_, err := s.Labels("l")
			return err
		}, `tensor "l" has 1 bytes; 3 samples of U8 need 3`},
		{"float labels", func() error { _, err := sh.Labels("f"); return err }, `tensor "f" is F32; Labels reads`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadShardRejects(t *testing.T) {
	dir := writeTiny(t)
	bad := tinyShard(3)
	bad.Tensors[1] = safetensors.FromU8("labels", []int64{3}, []uint8{0, 1, 7})
	writeShard(t, filepath.Join(dir, "a.safetensors"), bad)
	sh, err := LoadShard(filepath.Join(dir, "a.safetensors"), tinyManifest())
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	if _, err := sh.Labels("labels"); err == nil || !strings.Contains(err.Error(), "sample 2 has label 7, outside 0..2") {
		t.Errorf("Labels error = %v, want label 7 outside 0..2", err)
	}

	os.WriteFile(filepath.Join(dir, "c.safetensors"), []byte("x"), 0o644)
	writeShard(t, filepath.Join(dir, "b.safetensors"), tinyShard(3))
	tests := []struct {
		name, file, want string
	}{
		{"not listed", "c.safetensors", `not listed in the manifest of dataset "tiny"`},
		{"missing", "missing.safetensors", "not listed"},
		{"wrong samples", "b.safetensors", `tensor "images": shape [3 4], manifest wants [2 4]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadShard(filepath.Join(dir, tt.file), tinyManifest())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadShard error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	m := tinyManifest()
	m.Shards = append(m.Shards, ShardInfo{"gone.safetensors", SplitTest, 1})
	if _, err := LoadShard(filepath.Join(dir, "gone.safetensors"), m); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("LoadShard of a missing file = %v, want a no-such-file error", err)
	}
}

func TestReadCapped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("12345"), 0o644)
	if b, err := readCapped(p, 5); err != nil || string(b) != "12345" {
		t.Fatalf("readCapped(5) = %q, %v; want 12345", b, err)
	}
	if _, err := readCapped(p, 4); err == nil || !strings.Contains(err.Error(), "5 bytes, over the 4-byte limit") {
		t.Fatalf("readCapped(4) = %v, want the size limit error", err)
	}
}
