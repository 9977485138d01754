package contract

import (
	"math"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
	"github.com/gridswarm/gridswarm/trainer"
)

var shardModel = trainer.Model{Kind: trainer.KindMLP, Inputs: 4, Hidden: []int{3}, Classes: 3}

func encodeShard(t testing.TB, x safetensors.Tensor, y safetensors.Tensor) []byte {
	t.Helper()
	b, err := safetensors.Encode(&safetensors.File{Tensors: []safetensors.Tensor{x, y}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Byte images stay bytes (X8) and need no scan for NaN or Inf; float
// images are checked for them; labels and shapes are checked either way.
func TestDecodeShard(t *testing.T) {
	u8 := safetensors.FromU8("images", []int64{2, 4}, []uint8{0, 64, 128, 255, 1, 2, 3, 4})
	f32 := func(v ...float32) safetensors.Tensor { return safetensors.FromF32("images", []int64{2, 4}, v) }
	labels := func(v ...uint8) safetensors.Tensor { return safetensors.FromU8("labels", []int64{int64(len(v))}, v) }
	for _, tc := range []struct {
		name    string
		x, y    safetensors.Tensor
		bytes   bool // the features come back as X8
		wantErr string
	}{
		{"u8 images", u8, labels(0, 2), true, ""},
		{"u8 images, label out of range", u8, labels(0, 3), true, "y[1] = 3"},
		{"u8 images, too few labels", u8, labels(1), true, "do not fit"},
		{"f32 images", f32(0, 0.5, 1, -1, 2, 3, 4, 5), labels(1, 1), false, ""},
		{"f32 images with NaN", f32(0, 0.5, 1, -1, 2, float32(math.NaN()), 4, 5), labels(1, 1), false, "x[5] (sample 1, feature 1)"},
		{"f32 images with Inf", f32(float32(math.Inf(-1)), 0.5, 1, -1, 2, 3, 4, 5), labels(1, 1), false, "x[0] (sample 0, feature 0)"},
		{"f32 images, label out of range", f32(0, 0.5, 1, -1, 2, 3, 4, 5), labels(1, 9), false, "y[1] = 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DecodeShard(encodeShard(t, tc.x, tc.y), "images", "labels", shardModel)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("DecodeShard error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			x, x8 := len(d.X), len(d.X8)
			if tc.bytes {
				x, x8 = x8, x
			}
			if d.N != 2 || x != 8 || x8 != 0 || len(d.Y) != 2 {
				t.Fatalf("decoded %d samples, %d features as floats and %d as bytes, %d labels; want 2 samples, 8 features as %s, 2 labels",
					d.N, len(d.X), len(d.X8), len(d.Y), map[bool]string{true: "bytes", false: "floats"}[tc.bytes])
			}
			if tc.bytes && string(d.X8) != string(tc.x.Data) {
				t.Errorf("x8 = %v, want the shard's bytes %v", d.X8, tc.x.Data)
			}
			if err := d.Validate(shardModel); err != nil {
				t.Errorf("a decoded shard fails Validate: %v", err)
			}
		})
	}
}

// BenchmarkDecodeShard decodes one MNIST-sized shard (5,000 images of
// 784 bytes), as a worker does at the start of each tasklet.
func BenchmarkDecodeShard(b *testing.B) {
	const n, inputs = 5000, 784
	x := make([]uint8, n*inputs)
	y := make([]uint8, n)
	for i := range x {
		x[i] = uint8(i * 7)
	}
	for i := range y {
		y[i] = uint8(i % 10)
	}
	raw := encodeShard(b, safetensors.FromU8("images", []int64{n, inputs}, x), safetensors.FromU8("labels", []int64{n}, y))
	m := trainer.Model{Kind: trainer.KindMLP, Inputs: inputs, Hidden: []int{128}, Classes: 10}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := DecodeShard(raw, "images", "labels", m); err != nil {
			b.Fatal(err)
		}
	}
}
