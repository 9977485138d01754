package trainer

import (
	"math"
	"testing"

	"pgregory.net/rapid"
)

// firstNonFiniteRef is the plain definition firstNonFinite must agree with.
func firstNonFiniteRef(x []float32) int {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i
		}
	}
	return -1
}

// TestFirstNonFiniteMatchesMath draws slices of arbitrary bit patterns
// (every NaN payload, both infinities, subnormals, -0) of lengths around
// the block size, with bad values planted anywhere.
func TestFirstNonFiniteMatchesMath(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		bits := rapid.SliceOfN(rapid.Uint32(), 0, 200).Draw(rt, "bits")
		x := make([]float32, len(bits))
		for i, b := range bits {
			x[i] = math.Float32frombits(b)
		}
		// Most uniform bit patterns are finite: plant a few edge values.
		if len(x) > 0 {
			edges := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
				math.Float32frombits(0x7f800001), math.Float32frombits(0xffffffff), math.MaxFloat32, -math.MaxFloat32,
				math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1))}
			n := rapid.IntRange(0, 3).Draw(rt, "planted")
			for range n {
				i := rapid.IntRange(0, len(x)-1).Draw(rt, "at")
				x[i] = edges[rapid.IntRange(0, len(edges)-1).Draw(rt, "edge")]
			}
		}
		if got, want := firstNonFinite(x), firstNonFiniteRef(x); got != want {
			rt.Fatalf("firstNonFinite = %d, want %d", got, want)
		}
	})
}

func TestFirstNonFiniteEdges(t *testing.T) {
	tests := []struct {
		name string
		bits uint32
		want int
	}{
		{"largest finite", math.Float32bits(math.MaxFloat32), -1},
		{"-largest finite", math.Float32bits(-math.MaxFloat32), -1},
		{"+inf", 0x7f800000, 99},
		{"-inf", 0xff800000, 99},
		{"quiet nan", 0x7fc00000, 99},
		{"signalling nan", 0x7f800001, 99},
		{"negative nan", 0xffffffff, 99},
		{"subnormal", 0x00000001, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := make([]float32, 130) // two full blocks and a short one
			x[99] = math.Float32frombits(tt.bits)
			if got := firstNonFinite(x); got != tt.want {
				t.Errorf("firstNonFinite with x[99] = %#08x: %d, want %d", tt.bits, got, tt.want)
			}
		})
	}
}

// BenchmarkValidate is an MNIST shard's worth of features (4,285 samples).
func BenchmarkValidate(b *testing.B) {
	x := make([]float32, 4285*784)
	for i := range x {
		x[i] = float32(i%256) / 255
	}
	b.Run("bits", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			if firstNonFinite(x) >= 0 {
				b.Fatal("found a non-finite value")
			}
		}
	})
	b.Run("math", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			if firstNonFiniteRef(x) >= 0 {
				b.Fatal("found a non-finite value")
			}
		}
	})
}
