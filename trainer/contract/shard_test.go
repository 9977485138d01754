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

// Byte images need no scan for NaN or Inf, float ones do; labels and
// shapes are checked either way.
func TestDecodeShard(t *testing.T) {
	u8 := safetensors.FromU8("images", []int64{2, 4}, []uint8{0, 64, 128, 255, 1, 2, 3, 4})
	f32 := func(v ...float32) safetensors.Tensor { return safetensors.FromF32("images", []int64{2, 4}, v) }
	labels := func(v ...uint8) safetensors.Tensor { return safetensors.FromU8("labels", []int64{int64(len(v))}, v) }
	for _, tc := range []struct {
		name    string
		x, y    safetensors.Tensor
		wantErr string
	}{
		{"u8 images", u8, labels(0, 2), ""},
		{"u8 images, label out of range", u8, labels(0, 3), "y[1] = 3"},
		{"u8 images, too few labels", u8, labels(1), "do not fit"},
		{"f32 images", f32(0, 0.5, 1, -1, 2, 3, 4, 5), labels(1, 1), ""},
		{"f32 images with NaN", f32(0, 0.5, 1, -1, 2, float32(math.NaN()), 4, 5), labels(1, 1), "x[5] (sample 1, feature 1)"},
		{"f32 images with Inf", f32(float32(math.Inf(-1)), 0.5, 1, -1, 2, 3, 4, 5), labels(1, 1), "x[0] (sample 0, feature 0)"},
		{"f32 images, label out of range", f32(0, 0.5, 1, -1, 2, 3, 4, 5), labels(1, 9), "y[1] = 9"},
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
			if d.N != 2 || len(d.X) != 8 || len(d.Y) != 2 {
				t.Fatalf("decoded %d samples, %d features, %d labels; want 2, 8, 2", d.N, len(d.X), len(d.Y))
			}
			if err := d.Validate(shardModel); err != nil {
				t.Errorf("a decoded shard fails Validate: %v", err)
			}
		})
	}
	// Every byte scales into [0, 1], so skipping the scan loses nothing.
	all := make([]uint8, 256*4)
	for i := range all {
		all[i] = uint8(i / 4)
	}
	ys := make([]uint8, 256)
	d, err := DecodeShard(encodeShard(t, safetensors.FromU8("images", []int64{256, 4}, all), safetensors.FromU8("labels", []int64{256}, ys)), "images", "labels", shardModel)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range d.X {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("x[%d] = %v from byte %d, want a value in [0, 1]", i, v, all[i])
		}
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
