package trainer

import (
	"context"
	"math"
	"runtime"
	"strings"
	"testing"
)

// smallCNNs are the CNNs of the gradient and reproducibility tests: padding,
// no padding, pools that drop a row, several channels, with and without a
// hidden dense layer.
var smallCNNs = []Model{
	{Kind: KindCNN, Inputs: 1 * 6 * 6, Classes: 3, Image: Image{1, 6, 6}, Conv: []Conv{{Filters: 2, Size: 3, Padding: 1, Pool: 2}}},
	{Kind: KindCNN, Inputs: 2 * 7 * 6, Hidden: []int{5}, Classes: 3, Image: Image{2, 7, 6},
		Conv: []Conv{{Filters: 3, Size: 3, Padding: 1, Pool: 2}, {Filters: 4, Size: 2, Padding: 0, Pool: 1}}},
	{Kind: KindCNN, Inputs: 1 * 9 * 9, Classes: 4, Image: Image{1, 9, 9},
		Conv: []Conv{{Filters: 3, Size: 5, Padding: 2, Pool: 2}, {Filters: 2, Size: 3, Padding: 1, Pool: 2}}},
}

// refConvLoss is the mean softmax cross-entropy of a CNN in float64, by
// direct convolution: the reference for the trainer's im2col version.
func refConvLoss(m Model, w [][]float64, d Data) float64 {
	st := m.stages()
	var total float64
	for r := range d.N {
		act := make([]float64, m.Inputs)
		for i := range act {
			act[i] = float64(d.X[r*m.Inputs+i])
		}
		for s, g := range st {
			wt, b := w[2*s], w[2*s+1]
			z := make([]float64, g.f*g.ho*g.wo)
			for f := range g.f {
				for y := range g.ho {
					for x := range g.wo {
						v := b[f]
						for c := range g.c {
							for ky := range g.k {
								for kx := range g.k {
									iy, ix := y+ky-g.pad, x+kx-g.pad
									if iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw {
										continue
									}
									v += wt[((f*g.c+c)*g.k+ky)*g.k+kx] * act[(c*g.ih+iy)*g.iw+ix]
								}
							}
						}
						z[(f*g.ho+y)*g.wo+x] = math.Max(v, 0)
					}
				}
			}
			out := make([]float64, g.f*g.hp*g.wp)
			for f := range g.f {
				for y := range g.hp {
					for x := range g.wp {
						mx := math.Inf(-1)
						for dy := range g.pool {
							for dx := range g.pool {
								mx = math.Max(mx, z[(f*g.ho+y*g.pool+dy)*g.wo+x*g.pool+dx])
							}
						}
						out[(f*g.hp+y)*g.wp+x] = mx
					}
				}
			}
			act = out
		}
		dims := m.dims()
		for l := 0; l+1 < len(dims); l++ {
			in, out := dims[l], dims[l+1]
			weight, bias := w[2*(len(st)+l)], w[2*(len(st)+l)+1]
			z := make([]float64, out)
			for o := range out {
				z[o] = bias[o]
				for i := range in {
					z[o] += weight[o*in+i] * act[i]
				}
				if l+2 < len(dims) {
					z[o] = math.Max(z[o], 0)
				}
			}
			act = z
		}
		mx := math.Inf(-1)
		for _, v := range act {
			mx = math.Max(mx, v)
		}
		var s float64
		for _, v := range act {
			s += math.Exp(v - mx)
		}
		total += mx + math.Log(s) - act[d.Y[r]]
	}
	return total / float64(d.N)
}

func TestConvGradientMatchesFiniteDifferences(t *testing.T) {
	for i, m := range smallCNNs {
		if err := m.Validate(); err != nil {
			t.Fatalf("model %d: %v", i, err)
		}
		p := randParams(m, uint64(40+i), 0.5)
		d := blobs(uint64(50+i), 5, m.Inputs, m.Classes, 0.5)
		w := make([][]float64, len(p))
		for ti, tn := range p {
			for _, v := range tn.Data {
				w[ti] = append(w[ti], float64(v))
			}
		}
		loss, grad := analyticGrad(m, p, d)
		if ref := refConvLoss(m, w, d); math.Abs(float64(loss)-ref) > 1e-5*math.Max(1, ref) {
			t.Errorf("model %d: loss = %v, float64 reference = %v", i, loss, ref)
		}
		const h = 1e-6
		k, bad := 0, 0
		for ti := range w {
			for j := range w[ti] {
				orig := w[ti][j]
				w[ti][j] = orig + h
				up := refConvLoss(m, w, d)
				w[ti][j] = orig - h
				down := refConvLoss(m, w, d)
				w[ti][j] = orig
				num := (up - down) / (2 * h)
				if diff := math.Abs(float64(grad[k]) - num); diff > 2e-5+1e-3*math.Abs(num) {
					t.Errorf("model %d: d loss / d %s[%d] = %v, finite difference = %v", i, p[ti].Name, j, grad[k], num)
					if bad++; bad > 10 {
						t.FailNow()
					}
				}
				k++
			}
		}
	}
}

func TestConvLayoutAndInit(t *testing.T) {
	m := Model{Kind: KindCNN, Inputs: 784, Hidden: []int{32}, Classes: 10, Image: Image{1, 28, 28},
		Conv: []Conv{{Filters: 16, Size: 5, Padding: 2, Pool: 2}, {Filters: 32, Size: 5, Padding: 2, Pool: 2}}}
	p, err := Init(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		shape []int
	}{
		{"conv0.weight", []int{16, 1, 5, 5}}, {"conv0.bias", []int{16}},
		{"conv1.weight", []int{32, 16, 5, 5}}, {"conv1.bias", []int{32}},
		{"layer0.weight", []int{32, 32 * 7 * 7}}, {"layer0.bias", []int{32}},
		{"layer1.weight", []int{10, 32}}, {"layer1.bias", []int{10}},
	}
	if len(p) != len(want) {
		t.Fatalf("%d tensors, want %d", len(p), len(want))
	}
	for i, w := range want {
		if p[i].Name != w.name || !equalShape(p[i].Shape, w.shape) {
			t.Errorf("tensor %d = %s %v, want %s %v", i, p[i].Name, p[i].Shape, w.name, w.shape)
		}
	}
	if got, want := int64(p.NumElements()), m.NumParams(); got != want {
		t.Errorf("NumParams = %d, tensors hold %d", want, got)
	}
	limit := float32(math.Sqrt(6.0 / 400)) // conv1's fan-in is 16·5·5
	for _, v := range p[2].Data {
		if v < -limit || v > limit {
			t.Fatalf("conv1.weight value %v outside He-uniform ±%v", v, limit)
		}
	}
}

func TestConvValidateNamesTheField(t *testing.T) {
	base := func() Model {
		return Model{Kind: KindCNN, Inputs: 64, Classes: 2, Image: Image{1, 8, 8}, Conv: []Conv{{Filters: 4, Size: 3, Padding: 1, Pool: 2}}}
	}
	tests := []struct {
		edit func(*Model)
		want string
	}{
		{func(m *Model) { m.Inputs = 63 }, "inputs = 63"},
		{func(m *Model) { m.Image.Height = 0 }, "image.height = 0"},
		{func(m *Model) { m.Conv = nil }, "conv has 0 stages"},
		{func(m *Model) { m.Conv[0].Filters = 0 }, "conv[0].filters = 0"},
		{func(m *Model) { m.Conv[0].Padding = 3 }, "conv[0].padding = 3"},
		{func(m *Model) { m.Conv[0].Pool = 9 }, "conv[0].pool = 9"},
		{func(m *Model) { m.Conv[0] = Conv{Filters: 1, Size: 8, Pool: 2} }, "too small for its 2×2 pool"},
		{func(m *Model) { m.Kind = KindMLP; m.Hidden = []int{3} }, "conv and image belong to kind"},
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("base model: %v", err)
	}
	for _, tt := range tests {
		m := base()
		tt.edit(&m)
		err := m.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
		}
	}
}

// TestConvTrainReproducible trains a CNN with several Workers values and
// GOMAXPROCS settings and requires the same bits every time.
func TestConvTrainReproducible(t *testing.T) {
	m := smallCNNs[1]
	p0, err := Init(m, 3)
	if err != nil {
		t.Fatal(err)
	}
	d := blobs(9, 120, m.Inputs, m.Classes, 0.4)
	var first string
	for _, procs := range []int{1, 2, 4} {
		for _, workers := range []int{1, 2, 5} {
			prev := runtime.GOMAXPROCS(procs)
			cfg := TrainConfig{Steps: 12, BatchSize: 16, Optimizer: Adam(3e-3), Seed: 5, Workers: workers}
			p, met, err := Train(context.Background(), m, p0, d, cfg, nil)
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			got := digestHex(p)
			if first == "" {
				first = got
				if met.FinalLoss >= met.Loss {
					t.Logf("loss did not fall: mean %v, final %v", met.Loss, met.FinalLoss)
				}
				continue
			}
			if got != first {
				t.Errorf("GOMAXPROCS=%d Workers=%d: digest %s, want %s", procs, workers, got, first)
			}
		}
	}
}

// TestConvLearnsOrientation trains a small CNN to tell horizontal bars
// from vertical ones at random places, which a position-blind linear
// model on so few samples does badly and a convolution does well.
func TestConvLearnsOrientation(t *testing.T) {
	const side = 10
	gen := func(seed uint64, n int) Data {
		r := newRNG(seed, 99)
		d := Data{X: make([]float32, n*side*side), Y: make([]int32, n), N: n}
		for s := range n {
			cls := int32(r.next() % 2)
			pos := int(r.next() % side)
			from, ln := int(r.next()%(side-4)), 4
			img := d.X[s*side*side:][:side*side]
			for i := range ln {
				if cls == 0 {
					img[pos*side+from+i] = 1
				} else {
					img[(from+i)*side+pos] = 1
				}
			}
			d.Y[s] = cls
		}
		return d
	}
	m := Model{Kind: KindCNN, Inputs: side * side, Classes: 2, Image: Image{1, side, side},
		Conv: []Conv{{Filters: 4, Size: 3, Padding: 1, Pool: 2}}}
	p, err := Init(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := TrainConfig{Steps: 150, BatchSize: 16, Optimizer: Adam(0.01), Seed: 2}
	p, _, err = Train(context.Background(), m, p, gen(1, 400), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, acc, err := Evaluate(m, p, gen(2, 400))
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.95 {
		t.Errorf("held-out accuracy %.3f, want at least 0.95", acc)
	}
}

// TestBatchBuffersCountsAllocations builds networks and adds up what they
// hold, so that admission's memory estimate cannot drift from the code.
func TestBatchBuffersCountsAllocations(t *testing.T) {
	models := append([]Model{{Kind: KindMLP, Inputs: 5, Hidden: []int{7, 3}, Classes: 4}, {Kind: KindSoftmax, Inputs: 9, Classes: 3}}, smallCNNs...)
	for i, m := range models {
		const rows = 6
		nt := newNetwork(m, rows, 1)
		var got int64
		seen := map[*float32]bool{}
		add := func(s []float32) {
			if len(s) > 0 && !seen[&s[:1][0]] {
				seen[&s[:1][0]] = true
				got += int64(len(s))
			}
		}
		for _, c := range nt.convs {
			for _, s := range [][]float32{c.in, c.col, c.colP, c.dzTP, c.gwT, c.z, c.dz, c.out, c.dout, c.wT, c.dcol, c.dzP} {
				add(s)
			}
			got += 2 * int64(len(c.arg))
		}
		for _, l := range nt.layers {
			for _, s := range [][]float32{l.inT, l.inB, l.zT, l.dzT, l.wT} {
				add(s)
			}
		}
		add(nt.x)
		add(nt.inGradT)
		add(nt.scratch)
		if want := m.BatchBuffers(rows); got != want {
			t.Errorf("model %d (%s): network holds %d values, BatchBuffers says %d", i, m.Kind, got, want)
		}
	}
}

// TestMaxPool2MatchesGeneral compares the 2×2 fast path with the general
// loop, ties included, on odd sizes that drop a row and a column.
func TestMaxPool2MatchesGeneral(t *testing.T) {
	g := stage{f: 3, ho: 7, wo: 9, pool: 2, hp: 3, wp: 4}
	const n = 2
	r := newRNG(1, 1)
	z := make([]float32, g.f*n*g.ho*g.wo)
	for i := range z {
		z[i] = float32(r.next()%4) - 1 // many ties, negatives and zeros
	}
	out1, out2 := make([]float32, g.f*n*g.hp*g.wp), make([]float32, g.f*n*g.hp*g.wp)
	arg1, arg2 := make([]int, len(out1)), make([]int, len(out1))
	g.pool = 3 // any pool but 2 takes the general path; make it compute 2×2 windows
	maxPoolGeneral(out1, arg1, z, g, n, 2)
	g.pool = 2
	maxPool2(out2, arg2, z, g, n)
	for i := range out1 {
		if out1[i] != out2[i] || arg1[i] != arg2[i] {
			t.Fatalf("window %d: fast path (%v at %d), general (%v at %d)", i, out2[i], arg2[i], out1[i], arg1[i])
		}
	}
}
