package trainer

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
)

// blobs returns n samples in classes Gaussian clusters around random
// centres in [-1, 1]^inputs: separable when spread is small.
func blobs(seed uint64, n, inputs, classes int, spread float64) Data {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float64, classes*inputs)
	for i := range centres {
		centres[i] = 2*r.Float64() - 1
	}
	d := Data{X: make([]float32, n*inputs), Y: make([]int32, n), N: n}
	for i := range n {
		c := r.IntN(classes)
		d.Y[i] = int32(c)
		for j := range inputs {
			d.X[i*inputs+j] = float32(centres[c*inputs+j] + spread*r.NormFloat64())
		}
	}
	return d
}

// xor returns n points of the XOR problem in [-1, 1]², keeping a margin
// of 0.1 around both axes: learnable by an MLP, not by a linear model.
func xor(seed uint64, n int) Data {
	r := rand.New(rand.NewPCG(seed, 2))
	d := Data{X: make([]float32, 0, 2*n), Y: make([]int32, 0, n), N: n}
	for len(d.Y) < n {
		a, b := 2*r.Float64()-1, 2*r.Float64()-1
		if math.Abs(a) < 0.1 || math.Abs(b) < 0.1 {
			continue
		}
		y := int32(0)
		if (a > 0) != (b > 0) {
			y = 1
		}
		d.X = append(d.X, float32(a), float32(b))
		d.Y = append(d.Y, y)
	}
	return d
}

func digestHex(p Params) string {
	d := p.Digest()
	return hex.EncodeToString(d[:])
}

// randParams returns parameters for m with every value, biases included,
// drawn from U(-scale, scale).
func randParams(m Model, seed uint64, scale float64) Params {
	r := rand.New(rand.NewPCG(seed, 3))
	p := Zeros(m)
	for _, t := range p {
		for i := range t.Data {
			t.Data[i] = float32(scale * (2*r.Float64() - 1))
		}
	}
	return p
}
