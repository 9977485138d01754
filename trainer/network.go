package trainer

import "slices"

// network holds a model's parameters, gradients and every buffer one
// training step needs, allocated once for batches of up to rows samples.
//
// Activations are stored feature-major (one row per feature, one column
// per sample), so that every product is C = A·B with the weights as A:
//
//	forward, layer l:   zᵀ = w · inᵀ + b        (out×n = out×in · in×n)
//	                    relu(zᵀ) in place: it is layer l+1's inᵀ
//	backward, layer l:  gw = dzᵀ · in           (out×in = out×n · n×in)
//	                    gb = Σ_columns dzᵀ      (samples in order)
//	                    dz'ᵀ = (wᵀ · dzᵀ) ⊙ [inᵀ > 0]
//
// in (sample-major) and wᵀ are transposed copies made as needed.
//
// A CNN's convolution stages (conv.go) come first; the last one's pooled
// output, flattened per sample, is the first dense layer's inB, and the
// gradient with respect to it (inGradT = w₀ᵀ · dz₀ᵀ) flows back into them.
type network struct {
	convs   []convLayer
	layers  []layer
	w, g    []float32 // all parameters / gradients, in Params order
	workers int
	scratch []float32 // for gemmNN without an assembly kernel
	x       []float32 // rows×Inputs, sample-major: where the caller puts the batch
	inGradT []float32 // CNN only: in×rows gradient of the first dense layer's input
}

type layer struct {
	in, out int
	w, b    []float32 // views into network.w
	gw, gb  []float32 // views into network.g
	inT     []float32 // in×n input: Xᵀ, or the layer below's activations
	inB     []float32 // n×in, the same input sample-major
	zT      []float32 // out×n pre-activations; after relu, the next layer's inT
	dzT     []float32 // out×n gradient of the loss with respect to z
	wT      []float32 // in×out, only for layers above the first
}

// newNetwork allocates a network for m (which must be valid) for batches
// of up to rows samples.
func newNetwork(m Model, rows, workers int) *network {
	d := m.dims()
	nt := &network{workers: workers}
	total := m.numParams()
	nt.w = make([]float32, total)
	nt.g = make([]float32, total)
	off := 0
	view := func(s []float32, n int) []float32 { return s[off : off+n : off+n] }
	scratch := rows * slices.Max(d)
	for s, g := range m.stages() {
		cl := newConvLayer(g, rows, s == 0)
		if s > 0 {
			below := &nt.convs[s-1]
			cl.in, cl.din = below.out, below.dout
		}
		cl.w, cl.gw = view(nt.w, g.f*g.ckk()), view(nt.g, g.f*g.ckk())
		off += g.f * g.ckk()
		cl.b, cl.gb = view(nt.w, g.f), view(nt.g, g.f)
		off += g.f
		nt.convs = append(nt.convs, cl)
	}
	if !haveKernel {
		nt.scratch = make([]float32, scratch)
	}
	inT := make([]float32, d[0]*rows)
	for l := 0; l+1 < len(d); l++ {
		in, out := d[l], d[l+1]
		ly := layer{in: in, out: out, inT: inT, inB: make([]float32, rows*in)}
		ly.w, ly.gw = view(nt.w, out*in), view(nt.g, out*in)
		off += out * in
		ly.b, ly.gb = view(nt.w, out), view(nt.g, out)
		off += out
		ly.zT = make([]float32, out*rows)
		ly.dzT = make([]float32, out*rows)
		if l > 0 || len(nt.convs) > 0 {
			ly.wT = make([]float32, in*out)
		}
		nt.layers = append(nt.layers, ly)
		inT = ly.zT
	}
	nt.x = nt.layers[0].inB
	if len(nt.convs) > 0 {
		nt.x = make([]float32, rows*m.Inputs)
		nt.inGradT = make([]float32, d[0]*rows)
	}
	return nt
}

// input is where the caller puts the batch: rows×Inputs, sample-major.
func (nt *network) input() []float32 { return nt.x }

// load copies p (already checked against the model) into the network.
func (nt *network) load(p Params) {
	off := 0
	for _, t := range p {
		off += copy(nt.w[off:], t.Data)
	}
}

// params returns a copy of the network's parameters as Params.
func (nt *network) params(m Model) Params {
	p := Zeros(m)
	off := 0
	for _, t := range p {
		off += copy(t.Data, nt.w[off:])
	}
	return p
}

// forward computes the logits of the first n input samples, classes×n.
func (nt *network) forward(n int) []float32 {
	if len(nt.convs) > 0 {
		nt.forwardConv(n)
	}
	first := &nt.layers[0]
	transpose(first.inT, first.inB, n, first.in)
	last := len(nt.layers) - 1
	for l := range nt.layers {
		ly := &nt.layers[l]
		z := ly.zT[:ly.out*n]
		gemmNN(z, ly.w, ly.inT[:ly.in*n], ly.out, n, ly.in, nt.workers, nt.scratch)
		for o, bo := range ly.b {
			row := z[o*n : (o+1)*n]
			for j := range row {
				row[j] += bo
			}
		}
		if l < last {
			relu(z)
		}
	}
	return nt.layers[last].zT[:nt.layers[last].out*n]
}

// forwardConv runs the convolution stages on the batch in x and leaves
// the flattened result in the first dense layer's inB.
func (nt *network) forwardConv(n int) {
	first := &nt.convs[0]
	plane := first.ih * first.iw
	for s := 0; s < n; s++ { // [sample][channel] → [channel][sample]
		for ch := 0; ch < first.c; ch++ {
			copy(first.in[(ch*n+s)*plane:][:plane], nt.x[(s*first.c+ch)*plane:][:plane])
		}
	}
	for i := range nt.convs {
		nt.convs[i].forward(n, nt.workers)
	}
	top := &nt.convs[len(nt.convs)-1]
	q := top.hp * top.wp
	inB := nt.layers[0].inB
	for f := 0; f < top.f; f++ { // [filter][sample][q] → [sample][filter][q]
		for s := 0; s < n; s++ {
			copy(inB[(s*top.f+f)*q:][:q], top.out[(f*n+s)*q:][:q])
		}
	}
}

// backwardConv hands the gradient in inGradT to the top stage and runs the
// stages' backward passes, top down.
func (nt *network) backwardConv(n int) {
	top := &nt.convs[len(nt.convs)-1]
	q := top.hp * top.wp
	for f := 0; f < top.f; f++ { // [filter·q][sample] → [filter][sample][q]
		transpose(top.dout[f*n*q:][:n*q], nt.inGradT[f*q*n:][:q*n], q, n)
	}
	for i := len(nt.convs) - 1; i >= 0; i-- {
		nt.convs[i].backward(n, nt.workers)
	}
}

func relu(z []float32) {
	for i, v := range z {
		if !(v > 0) {
			z[i] = 0
		}
	}
}

// backward fills nt.g with the gradient of the loss, given the gradient of
// the last layer's pre-activations in that layer's dzT.
func (nt *network) backward(n int) {
	for l := len(nt.layers) - 1; l >= 0; l-- {
		ly := &nt.layers[l]
		dz := ly.dzT[:ly.out*n]
		if l > 0 { // the first layer's inB is the batch itself
			transpose(ly.inB, ly.inT, ly.in, n)
		}
		gemmNN(ly.gw, dz, ly.inB[:n*ly.in], ly.out, ly.in, n, nt.workers, nt.scratch)
		for o := range ly.gb {
			var s float32
			for _, v := range dz[o*n : (o+1)*n] {
				s += v
			}
			ly.gb[o] = s
		}
		if l == 0 {
			if nt.inGradT != nil {
				transpose(ly.wT, ly.w, ly.out, ly.in)
				gemmNN(nt.inGradT[:ly.in*n], ly.wT, dz, ly.in, n, ly.out, nt.workers, nt.scratch)
				nt.backwardConv(n)
			}
			break
		}
		below := &nt.layers[l-1]
		transpose(ly.wT, ly.w, ly.out, ly.in)
		da := below.dzT[:ly.in*n]
		gemmNN(da, ly.wT, dz, ly.in, n, ly.out, nt.workers, nt.scratch)
		// inT is below's z after relu: positive exactly where z was.
		act := ly.inT[:len(da)]
		for i, v := range act {
			if !(v > 0) {
				da[i] = 0
			}
		}
	}
}

// softmaxXent computes the softmax cross-entropy of n samples whose
// logits are the columns of zT (c×n) against labels y. It returns the sum
// of the per-sample losses and, when dzT is not nil, stores the gradient
// of their mean in dzT (c×n).
//
// loss = lse(z) - z[y] with lse(z) = max + log Σ exp(z - max), which
// cannot overflow; the gradient is (softmax(z) - onehot(y)) / n.
func softmaxXent(zT []float32, y []int32, n, c int, dzT []float32) float64 {
	var sum float64
	fn := float32(n)
	for s := 0; s < n; s++ {
		mx := zT[s]
		for j := 1; j < c; j++ {
			if v := zT[j*n+s]; v > mx {
				mx = v
			}
		}
		var tot float32
		for j := 0; j < c; j++ {
			e := exp32(zT[j*n+s] - mx)
			if dzT != nil {
				dzT[j*n+s] = e
			}
			tot += e
		}
		t := int(y[s])
		sum += float64(mx + log32(tot) - zT[t*n+s])
		if dzT == nil {
			continue
		}
		for j := 0; j < c; j++ {
			p := dzT[j*n+s] / tot
			if j == t {
				p -= 1
			}
			dzT[j*n+s] = p / fn
		}
	}
	return sum
}

// argmaxColumn is the row of the first largest value in column s of the
// c×n matrix zT.
func argmaxColumn(zT []float32, n, c, s int) int {
	best := 0
	for j := 1; j < c; j++ {
		if zT[j*n+s] > zT[best*n+s] {
			best = j
		}
	}
	return best
}

// BatchBuffers is the number of float32-sized values a training network
// for m allocates besides its parameters and gradients, for batches of
// rows samples: activations, their gradients, unrolled convolution inputs
// and transposed weights. m must be valid. It is what admission counts as
// a worker's activation memory.
func (m Model) BatchBuffers(rows int) int64 {
	r := int64(rows)
	d := m.dims()
	var n int64
	scratch := r * int64(slices.Max(d))
	for s, g := range m.stages() {
		cols := r * int64(g.ho*g.wo)
		ckk, f := int64(g.ckk()), int64(g.f)
		pooled := f * r * int64(g.hp*g.wp)
		pcols := int64(panels(int(cols)) * panelWidth)
		n += ckk*cols + ckk*pcols + int64(panels(int(f))*panelWidth)*cols + ckk*f // col, colP, dzTP, gwT
		n += 2*f*cols + 4*pooled                                                  // z, dz, out, dout, arg (8-byte ints)
		if s == 0 {
			n += int64(g.c) * r * int64(g.ih*g.iw)
		} else {
			n += ckk*f + ckk*cols + f*pcols // wT, dcol, dzP
		}
	}
	n += int64(d[0]) * r // the first dense layer's inT
	for l := 0; l+1 < len(d); l++ {
		in, out := int64(d[l]), int64(d[l+1])
		n += r*in + 2*r*out // inB, zT, dzT
		if l > 0 || m.Kind == KindCNN {
			n += in * out // wT
		}
	}
	if m.Kind == KindCNN {
		n += r*int64(m.Inputs) + int64(d[0])*r // x, inGradT
	}
	if !haveKernel {
		n += scratch
	}
	return n
}
