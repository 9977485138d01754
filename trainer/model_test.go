package trainer

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestModelValidate(t *testing.T) {
	tests := []struct {
		name    string
		m       Model
		wantErr string // substring; "" means valid
	}{
		{"softmax", Model{Kind: KindSoftmax, Inputs: 784, Classes: 10}, ""},
		{"mlp", Model{Kind: KindMLP, Inputs: 784, Hidden: []int{128}, Classes: 10}, ""},
		{"deep mlp", Model{Kind: KindMLP, Inputs: 3, Hidden: []int{4, 5, 6}, Classes: 2}, ""},
		{"unknown kind", Model{Kind: "rnn", Inputs: 3, Classes: 2}, "kind"},
		{"empty kind", Model{Inputs: 3, Classes: 2}, "kind"},
		{"softmax with hidden", Model{Kind: KindSoftmax, Inputs: 3, Hidden: []int{4}, Classes: 2}, "hidden"},
		{"mlp without hidden", Model{Kind: KindMLP, Inputs: 3, Classes: 2}, "hidden"},
		{"zero inputs", Model{Kind: KindSoftmax, Classes: 2}, "inputs"},
		{"huge inputs", Model{Kind: KindSoftmax, Inputs: MaxWidth + 1, Classes: 2}, "inputs"},
		{"zero hidden width", Model{Kind: KindMLP, Inputs: 3, Hidden: []int{4, 0}, Classes: 2}, "hidden[1]"},
		{"one class", Model{Kind: KindSoftmax, Inputs: 3, Classes: 1}, "classes"},
		{"too many layers", Model{Kind: KindMLP, Inputs: 3, Hidden: make([]int, MaxHidden+1), Classes: 2}, "hidden"},
		{"too many params", Model{Kind: KindMLP, Inputs: MaxWidth, Hidden: []int{MaxWidth}, Classes: 2}, "parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestInitLayoutAndRange(t *testing.T) {
	m := Model{Kind: KindMLP, Inputs: 20, Hidden: []int{30}, Classes: 5}
	p, err := Init(m, 42)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		shape []int
		limit float64 // 0: all zero
	}{
		{"layer0.weight", []int{30, 20}, math.Sqrt(6.0 / 20)},
		{"layer0.bias", []int{30}, 0},
		{"layer1.weight", []int{5, 30}, math.Sqrt(6.0 / 35)},
		{"layer1.bias", []int{5}, 0},
	}
	if len(p) != len(want) {
		t.Fatalf("Init gave %d tensors, want %d", len(p), len(want))
	}
	for i, w := range want {
		got := p[i]
		if got.Name != w.name || !equalShape(got.Shape, w.shape) {
			t.Fatalf("tensor %d = %s %v, want %s %v", i, got.Name, got.Shape, w.name, w.shape)
		}
		var maxAbs float64
		for _, v := range got.Data {
			maxAbs = max(maxAbs, math.Abs(float64(v)))
		}
		if maxAbs > w.limit || (w.limit > 0 && maxAbs < w.limit/2) {
			t.Errorf("%s: max |value| = %v, want in [%v, %v]", w.name, maxAbs, w.limit/2, w.limit)
		}
	}
	if err := p.Check(m); err != nil {
		t.Errorf("Check(Init) = %v, want nil", err)
	}
}

func TestInitDeterministic(t *testing.T) {
	m := Model{Kind: KindMLP, Inputs: 7, Hidden: []int{5}, Classes: 3}
	a, _ := Init(m, 1)
	b, _ := Init(m, 1)
	c, _ := Init(m, 2)
	if digestHex(a) != digestHex(b) {
		t.Errorf("Init with the same seed gave different parameters")
	}
	if digestHex(a) == digestHex(c) {
		t.Errorf("Init with seeds 1 and 2 gave the same parameters")
	}
	if _, err := Init(Model{Kind: "x"}, 1); err == nil {
		t.Errorf("Init(invalid model) = nil error, want one")
	}
}

func TestParamsCheck(t *testing.T) {
	m := Model{Kind: KindSoftmax, Inputs: 3, Classes: 2}
	good := func() Params { p, _ := Init(m, 1); return p }
	tests := []struct {
		name    string
		edit    func(Params) Params
		wantErr string
	}{
		{"valid", func(p Params) Params { return p }, ""},
		{"missing tensor", func(p Params) Params { return p[:1] }, "1 tensors, want 2"},
		{"renamed", func(p Params) Params { p[0].Name = "w"; return p }, `named "w"`},
		{"reordered", func(p Params) Params { p[0], p[1] = p[1], p[0]; return p }, "layer0.bias"},
		{"bad shape", func(p Params) Params { p[0].Shape = []int{3, 2}; return p }, "shape"},
		{"short data", func(p Params) Params { p[1].Data = p[1].Data[:1]; return p }, "values"},
		{"nan", func(p Params) Params { p[0].Data[4] = float32(math.NaN()); return p }, "layer0.weight[4]"},
		{"inf", func(p Params) Params { p[1].Data[0] = float32(math.Inf(-1)); return p }, "diverged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.edit(good()).Check(m)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	p := good()
	p[0].Data[0] = float32(math.NaN())
	if err := p.Check(m); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Check(NaN) = %v, want it to wrap ErrNonFinite", err)
	}
}

func TestDigestSeesEveryBit(t *testing.T) {
	m := Model{Kind: KindSoftmax, Inputs: 3, Classes: 2}
	p, _ := Init(m, 1)
	base := digestHex(p)
	tests := []struct {
		name string
		edit func(Params)
	}{
		{"lowest bit of a weight", func(p Params) { p[0].Data[5] = math.Float32frombits(math.Float32bits(p[0].Data[5]) ^ 1) }},
		{"sign of a zero bias", func(p Params) { p[1].Data[0] = float32(math.Copysign(0, -1)) }},
		{"name", func(p Params) { p[1].Name = "layer0.bias2" }},
		{"shape", func(p Params) { p[0].Shape = []int{3, 2} }},
	}
	for _, tt := range tests {
		q := p.Clone()
		tt.edit(q)
		if digestHex(q) == base {
			t.Errorf("%s: digest unchanged", tt.name)
		}
	}
	if digestHex(p) != base {
		t.Errorf("editing a clone changed the original")
	}
}
