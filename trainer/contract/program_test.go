package contract

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
)

func header(t interface{ Fatal(...any) }, ts ...safetensors.Tensor) *safetensors.Header {
	b, err := safetensors.Encode(&safetensors.File{Tensors: ts})
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := safetensors.DecodeHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func f32(name string, shape ...int64) safetensors.Tensor {
	n := int64(1)
	for _, s := range shape {
		n *= s
	}
	return safetensors.FromF32(name, shape, make([]float32, n))
}

func TestCheckDelta(t *testing.T) {
	weights := header(t, f32("conv0.weight", 4, 1, 3, 3), f32("conv0.bias", 4), f32("layer0.weight", 10, 36))
	tests := []struct {
		name  string
		delta *safetensors.Header
		want  string // "" for no error
	}{
		{"equal layout", header(t, f32("layer0.weight", 10, 36), f32("conv0.bias", 4), f32("conv0.weight", 4, 1, 3, 3)), ""},
		{"missing tensor", header(t, f32("conv0.weight", 4, 1, 3, 3), f32("conv0.bias", 4)), `lacks tensor "layer0.weight"`},
		{"extra tensor", header(t, f32("conv0.weight", 4, 1, 3, 3), f32("conv0.bias", 4), f32("layer0.weight", 10, 36), f32("x", 1)), `holds tensor "x"`},
		{"shape", header(t, f32("conv0.weight", 4, 1, 3, 3), f32("conv0.bias", 4), f32("layer0.weight", 36, 10)), "has shape [36 10], the weights' has [10 36]"},
		{"dtype", header(t, f32("conv0.weight", 4, 1, 3, 3), safetensors.FromI32("conv0.bias", []int64{4}, make([]int32, 4)), f32("layer0.weight", 10, 36)), `tensor "conv0.bias" is I32, the weights' is F32`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDelta(weights, tc.delta)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckDelta = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrContract) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckDelta = %v, want ErrContract containing %q", err, tc.want)
			}
		})
	}
}

// TestCheckDeltaProperty: a delta passes exactly when it has the weights'
// names, dtypes and shapes.
func TestCheckDeltaProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 5).Draw(t, "tensors")
		var ws, ds []safetensors.Tensor
		same := true
		for i := range n {
			name := string(rune('a' + i))
			shape := []int64{int64(rapid.IntRange(1, 4).Draw(t, "d0")), int64(rapid.IntRange(1, 4).Draw(t, "d1"))}
			ws = append(ws, f32(name, shape...))
			switch rapid.IntRange(0, 3).Draw(t, "change") {
			case 0: // drop it
				same = false
			case 1: // another shape
				ds = append(ds, f32(name, shape[0]+1, shape[1]))
				same = false
			default:
				ds = append(ds, f32(name, shape...))
			}
		}
		if len(ds) == 0 {
			return // an empty file cannot be encoded
		}
		err := CheckDelta(header(t, ws...), header(t, ds...))
		if (err == nil) != same {
			t.Fatalf("CheckDelta = %v, layouts equal: %v", err, same)
		}
	})
}

func TestParseMetrics(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`{"loss": 0.25, "samples": 6400, "steps": 100, "device": "cpu"}`, ""},
		{`{"loss": 0.25, "samples": 6400}`, `lacks "steps"`},
		{`[1, 2]`, "is not a JSON object"},
		{`{"loss": "low", "samples": 1, "steps": 1}`, "want a number for loss"},
		{`{"loss": 1, "samples": 0, "steps": 1}`, "samples = 0"},
		{`{"loss": 1e999, "samples": 1, "steps": 1}`, "want a number"},
		{`{"loss": 1, "samples": 1, "steps": 1}` + strings.Repeat(" ", MaxMetricsBytes), "over the"},
	}
	for _, tc := range tests {
		m, err := ParseMetrics([]byte(tc.in))
		if tc.want == "" {
			if err != nil || m.Samples != 6400 || m.Steps != 100 || m.Loss != 0.25 {
				t.Errorf("ParseMetrics(%.40q) = %+v, %v", tc.in, m, err)
			}
			continue
		}
		if !errors.Is(err, ErrContract) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMetrics(%.40q) = %v, want ErrContract containing %q", tc.in, err, tc.want)
		}
	}
}
