package safetensors

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestF32RoundTrip(t *testing.T) {
	in := []float32{0, float32(math.Copysign(0, -1)), 1, -1.5, math.MaxFloat32, math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc00001)} // a NaN with payload
	tn := FromF32("w", []int64{3, 3}, in)
	if tn.DType != DTypeF32 || len(tn.Data) != 36 {
		t.Fatalf("FromF32 = %s with %d bytes, want F32 with 36", tn.DType, len(tn.Data))
	}
	if got := tn.Data[8:12]; !slices.Equal(got, []byte{0, 0, 0x80, 0x3f}) {
		t.Fatalf("1.0 encoded as %x, want 0000803f (little-endian)", got)
	}
	out, err := F32(tn)
	if err != nil {
		t.Fatalf("F32: %v", err)
	}
	for i := range in {
		if math.Float32bits(out[i]) != math.Float32bits(in[i]) {
			t.Errorf("element %d = %08x, want %08x", i, math.Float32bits(out[i]), math.Float32bits(in[i]))
		}
	}
}

func TestIntRoundTrips(t *testing.T) {
	i64 := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64}
	if got, err := I64(FromI64("x", []int64{5}, i64)); err != nil || !slices.Equal(got, i64) {
		t.Errorf("I64 round trip = %v, %v; want %v", got, err, i64)
	}
	i32 := []int32{math.MinInt32, -1, 0, 9, math.MaxInt32}
	if got, err := I32(FromI32("x", []int64{5}, i32)); err != nil || !slices.Equal(got, i32) {
		t.Errorf("I32 round trip = %v, %v; want %v", got, err, i32)
	}
	u8 := []uint8{0, 7, 255}
	tn := FromU8("x", []int64{3}, u8)
	u8[0] = 99 // FromU8 copies
	if got, err := U8(tn); err != nil || !slices.Equal(got, []uint8{0, 7, 255}) {
		t.Errorf("U8 round trip = %v, %v; want [0 7 255]", got, err)
	}
	if got, err := U8View(tn); err != nil || &got[0] != &tn.Data[0] || !slices.Equal(got, []uint8{0, 7, 255}) {
		t.Errorf("U8View = %v, %v; want the tensor's own bytes [0 7 255]", got, err)
	}
}

func TestConvertRejects(t *testing.T) {
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"F32 of U8", func() error { _, err := F32(FromU8("x", []int64{4}, make([]uint8, 4))); return err }, `tensor "x" is U8, not F32`},
		{"I64 of I32", func() error { _, err := I64(FromI32("x", []int64{2}, make([]int32, 2))); return err }, `tensor "x" is I32, not I64`},
		{"F32 short data", func() error { _, err := F32(FromF32("x", []int64{4}, make([]float32, 3))); return err }, `shape [4] needs 16 bytes of F32, data has 12`},
		{"U8 bad shape", func() error { _, err := U8(FromU8("x", []int64{-2}, nil)); return err }, "dimension 0 is negative"},
		{"U8View of F32", func() error { _, err := U8View(FromF32("x", []int64{1}, make([]float32, 1))); return err }, `tensor "x" is F32, not U8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDTypeSizes(t *testing.T) {
	tests := []struct {
		d    DType
		want int
	}{
		{DTypeBOOL, 1}, {DTypeU8, 1}, {DTypeI8, 1}, {DTypeF8E5M2, 1}, {DTypeF8E4M3, 1},
		{DTypeI16, 2}, {DTypeU16, 2}, {DTypeF16, 2}, {DTypeBF16, 2},
		{DTypeI32, 4}, {DTypeU32, 4}, {DTypeF32, 4},
		{DTypeF64, 8}, {DTypeI64, 8}, {DTypeU64, 8},
		{"f32", 0}, {"", 0}, {"C64", 0},
	}
	for _, tt := range tests {
		if got := tt.d.Size(); got != tt.want {
			t.Errorf("%q.Size() = %d, want %d", tt.d, got, tt.want)
		}
		if got := tt.d.Valid(); got != (tt.want > 0) {
			t.Errorf("%q.Valid() = %v, want %v", tt.d, got, tt.want > 0)
		}
	}
}
