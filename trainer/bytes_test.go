package trainer

import (
	"context"
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// scaled is d's bytes as the floats they stand for.
func scaled(d Data) Data {
	x := make([]float32, len(d.X8))
	for i, b := range d.X8 {
		x[i] = float32(b) * ByteScale
	}
	return Data{X: x, Y: d.Y, N: d.N}
}

// TestBytesTrainAsTheirFloats: data held as bytes (X8) trains and
// evaluates to the same bits as the same data scaled to floats up front,
// for MLPs and CNNs, whatever the bytes, seed and batch.
func TestBytesTrainAsTheirFloats(t *testing.T) {
	models := []Model{
		{Kind: KindMLP, Inputs: 12, Hidden: []int{5}, Classes: 3},
		{Kind: KindCNN, Inputs: 16, Classes: 3, Image: Image{Channels: 1, Height: 4, Width: 4},
			Conv: []Conv{{Filters: 2, Size: 3, Padding: 1, Pool: 2}}},
	}
	rapid.Check(t, func(rt *rapid.T) {
		m := models[rapid.IntRange(0, len(models)-1).Draw(rt, "model")]
		n := rapid.IntRange(1, 20).Draw(rt, "samples")
		d := Data{X8: make([]uint8, n*m.Inputs), Y: make([]int32, n), N: n}
		for i := range d.X8 {
			d.X8[i] = uint8(rapid.IntRange(0, 255).Draw(rt, "byte"))
		}
		for i := range d.Y {
			d.Y[i] = int32(rapid.IntRange(0, m.Classes-1).Draw(rt, "label"))
		}
		p0, err := Init(m, rapid.Uint64().Draw(rt, "init"))
		if err != nil {
			rt.Fatal(err)
		}
		cfg := TrainConfig{Steps: rapid.IntRange(1, 4).Draw(rt, "steps"), BatchSize: rapid.IntRange(1, 8).Draw(rt, "batch"),
			Optimizer: Adam(1e-2), Seed: rapid.Uint64().Draw(rt, "seed")}
		got, gotMet, err := Train(context.Background(), m, p0, d, cfg, nil)
		if err != nil {
			rt.Fatal(err)
		}
		want, wantMet, err := Train(context.Background(), m, p0, scaled(d), cfg, nil)
		if err != nil {
			rt.Fatal(err)
		}
		if digestHex(got) != digestHex(want) || gotMet != wantMet {
			rt.Fatalf("bytes trained to %s (%+v), their floats to %s (%+v)", digestHex(got), gotMet, digestHex(want), wantMet)
		}
		gl, ga, err := Evaluate(m, got, d)
		if err != nil {
			rt.Fatal(err)
		}
		wl, wa, err := Evaluate(m, got, scaled(d))
		if err != nil {
			rt.Fatal(err)
		}
		if gl != wl || ga != wa {
			rt.Fatalf("bytes evaluate to loss %v accuracy %v, their floats to %v, %v", gl, ga, wl, wa)
		}
	})
}

// Every byte stands for a value in [0, 1].
func TestByteScaleIntoUnitRange(t *testing.T) {
	d := Data{X8: make([]uint8, 256), Y: make([]int32, 256), N: 256}
	for i := range d.X8 {
		d.X8[i] = uint8(i)
	}
	x := make([]float32, 256)
	d.copyRows(x, 0, 256, 1)
	for i, v := range x {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("byte %d reads as %v, want a value in [0, 1]", i, v)
		}
	}
	if x[0] != 0 || x[255] != 1 {
		t.Errorf("bytes 0 and 255 read as %v and %v, want 0 and 1", x[0], x[255])
	}
}

func TestValidateBytes(t *testing.T) {
	m := Model{Kind: KindSoftmax, Inputs: 2, Classes: 2}
	for _, tt := range []struct {
		name    string
		d       Data
		wantErr string
	}{
		{"bytes", Data{X8: []uint8{0, 255, 7, 9}, Y: []int32{0, 1}, N: 2}, ""},
		{"bytes of the wrong length", Data{X8: []uint8{0, 255, 7}, Y: []int32{0, 1}, N: 2}, "x8 has 3 values"},
		{"bytes and floats", Data{X: []float32{0, 1, 0, 1}, X8: []uint8{0, 255, 7, 9}, Y: []int32{0, 1}, N: 2}, "both x and x8"},
		{"bytes, label out of range", Data{X8: []uint8{0, 255, 7, 9}, Y: []int32{0, 2}, N: 2}, "y[1] = 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate(m)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestCopyRowsScalesEveryByte: copyRows turns every byte value, at every
// position of a row (the assembly's eight at a time and the tail), into
// exactly float32(b) * ByteScale.
func TestCopyRowsScalesEveryByte(t *testing.T) {
	for _, inputs := range []int{1, 7, 8, 9, 16, 31, 256, 784} {
		n := (256 + inputs - 1) / inputs
		d := Data{X8: make([]uint8, n*inputs), Y: make([]int32, n), N: n}
		for i := range d.X8 {
			d.X8[i] = uint8(i * 7) // every value, at shifting positions
		}
		want := scaled(d).X
		got := make([]float32, len(want))
		for s := range n {
			d.copyRows(got[s*inputs:], s, 1, inputs)
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("inputs %d: byte %d became %v (%#08x), want %v (%#08x)", inputs, d.X8[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			}
		}
	}
}
