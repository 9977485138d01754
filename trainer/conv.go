package trainer

import (
	"fmt"
	"strconv"
)

// Limits on a CNN's convolution stages, bounding what a spec from the
// network can make a worker allocate per sample.
const (
	MaxConvStages  = 8
	MaxFilters     = 1024
	MaxKernelSize  = 15
	MaxPool        = 8
	MaxImageSide   = 4096
	MaxConvPerItem = 1 << 24 // most im2col values of one stage for one sample
)

// Image is the shape of one input sample of a CNN: Channels planes of
// Height×Width values, row major.
type Image struct {
	Channels, Height, Width int
}

// Conv is one stage of a CNN: a convolution of Filters kernels of
// Size×Size over the input zero-padded by Padding on every side, stride 1;
// then ReLU; then a Pool×Pool max-pool of stride Pool (1: no pooling) that
// drops the last rows and columns that do not fill a window, as PyTorch's
// MaxPool2d does. Ties in a window go to the first value in row-major order.
type Conv struct {
	Filters, Size, Padding, Pool int
}

// stage is a Conv with its input and output geometry resolved.
type stage struct {
	c, ih, iw int // input channels, height, width
	f, k, pad int // filters, kernel side, padding
	pool      int
	ho, wo    int // convolution output
	hp, wp    int // pooled output
}

func (g stage) ckk() int { return g.c * g.k * g.k }

// stages resolves the geometry of m's convolution stages; nil unless m is
// a CNN. It assumes the stages were validated.
func (m Model) stages() []stage {
	if m.Kind != KindCNN {
		return nil
	}
	out := make([]stage, 0, len(m.Conv))
	c, h, w := m.Image.Channels, m.Image.Height, m.Image.Width
	for _, cv := range m.Conv {
		g := stage{c: c, ih: h, iw: w, f: cv.Filters, k: cv.Size, pad: cv.Padding, pool: cv.Pool}
		g.ho, g.wo = h+2*g.pad-g.k+1, w+2*g.pad-g.k+1
		g.hp, g.wp = g.ho/g.pool, g.wo/g.pool
		out = append(out, g)
		c, h, w = g.f, g.hp, g.wp
	}
	return out
}

// features is the width of a CNN's flattened last stage. It assumes m is valid.
func (m Model) features() int {
	st := m.stages()
	g := st[len(st)-1]
	return g.f * g.hp * g.wp
}

// validateConv checks a CNN's image and stages, naming the first bad field.
func (m Model) validateConv() error {
	im := m.Image
	for _, f := range []struct {
		name string
		v    int
		max  int
	}{{"image.channels", im.Channels, MaxFilters}, {"image.height", im.Height, MaxImageSide}, {"image.width", im.Width, MaxImageSide}} {
		if f.v < 1 || f.v > f.max {
			return fmt.Errorf("model: %s = %d, want 1 to %d", f.name, f.v, f.max)
		}
	}
	if n := int64(im.Channels) * int64(im.Height) * int64(im.Width); n != int64(m.Inputs) {
		return fmt.Errorf("model: image %d×%d×%d has %d values but inputs = %d: make inputs channels×height×width", im.Channels, im.Height, im.Width, n, m.Inputs)
	}
	if len(m.Conv) == 0 || len(m.Conv) > MaxConvStages {
		return fmt.Errorf("model: conv has %d stages, want 1 to %d", len(m.Conv), MaxConvStages)
	}
	c, h, w := im.Channels, im.Height, im.Width
	for i, cv := range m.Conv {
		field := "conv[" + strconv.Itoa(i) + "]"
		switch {
		case cv.Filters < 1 || cv.Filters > MaxFilters:
			return fmt.Errorf("model: %s.filters = %d, want 1 to %d", field, cv.Filters, MaxFilters)
		case cv.Size < 1 || cv.Size > MaxKernelSize:
			return fmt.Errorf("model: %s.size = %d, want 1 to %d", field, cv.Size, MaxKernelSize)
		case cv.Padding < 0 || cv.Padding >= cv.Size:
			return fmt.Errorf("model: %s.padding = %d, want 0 to size-1 = %d", field, cv.Padding, cv.Size-1)
		case cv.Pool < 1 || cv.Pool > MaxPool:
			return fmt.Errorf("model: %s.pool = %d, want 1 (no pooling) to %d", field, cv.Pool, MaxPool)
		}
		ho, wo := h+2*cv.Padding-cv.Size+1, w+2*cv.Padding-cv.Size+1
		if ho < cv.Pool || wo < cv.Pool {
			return fmt.Errorf("model: %s turns a %d×%d input into %d×%d, too small for its %d×%d pool: use a smaller size or pool, more padding, or fewer stages", field, h, w, ho, wo, cv.Pool, cv.Pool)
		}
		if n := int64(c) * int64(cv.Size*cv.Size) * int64(ho) * int64(wo); n > MaxConvPerItem {
			return fmt.Errorf("model: %s unrolls to %d values per sample (channels×size²×output), more than the limit of %d: use fewer channels or a smaller image", field, n, MaxConvPerItem)
		}
		c, h, w = cv.Filters, ho/cv.Pool, wo/cv.Pool
	}
	if n := int64(c) * int64(h) * int64(w); n > MaxWidth {
		return fmt.Errorf("model: the last conv stage has %d outputs, more than the limit of %d: add pooling or use fewer filters", n, MaxWidth)
	}
	return nil
}

func convWeightName(s int) string { return "conv" + strconv.Itoa(s) + ".weight" }
func convBiasName(s int) string   { return "conv" + strconv.Itoa(s) + ".bias" }

// convLayer is one stage with its parameters and per-batch buffers.
// Activations are channel-major across the batch, [channel][sample][row]
// [column], so that one product covers the whole batch:
//
//	forward:  col = im2col(in)                 (c·k·k)×(n·ho·wo), packed
//	          z   = relu(w · col + b)          f×(n·ho·wo)
//	          out = maxpool(z), arg = argmax   f×(n·hp·wp)
//	backward: dz  = scatter(dout, arg) ⊙ [z > 0]
//	          gw  = (col · dzᵀ)ᵀ               (sum over samples and positions in order)
//	          gb  = Σ_columns dz
//	          din = col2im(wᵀ · dz)            only above the first stage
type convLayer struct {
	stage
	w, b   []float32 // views into network.w; w is f×(c·k·k)
	gw, gb []float32 // views into network.g
	in     []float32 // c×n×h×w: the batch, or the stage below's out
	col    []float32 // (c·k·k)×(n·ho·wo)
	colP   []float32 // col packed as B for the forward product
	dzTP   []float32 // dzᵀ packed as B for gwᵀ = col · dzᵀ
	gwT    []float32 // (c·k·k)×f
	z, dz  []float32 // f×(n·ho·wo)
	out    []float32 // f×(n·hp·wp)
	dout   []float32 // f×(n·hp·wp), filled by the layer above
	arg    []int     // f×(n·hp·wp): index into z of each pooled value
	wT     []float32 // (c·k·k)×f, above the first stage only
	dcol   []float32 // (c·k·k)×(n·ho·wo), above the first stage only
	dzP    []float32 // dz packed as B for dcol, above the first stage only
	din    []float32 // c×n×h×w: the stage below's dout, above the first stage only
}

// newConvLayer allocates a stage for batches of up to rows samples.
func newConvLayer(g stage, rows int, first bool) convLayer {
	cols := rows * g.ho * g.wo
	pooled := g.f * rows * g.hp * g.wp
	cl := convLayer{
		stage: g,
		col:   make([]float32, g.ckk()*cols),
		dzTP:  make([]float32, panels(g.f)*panelWidth*cols),
		gwT:   make([]float32, g.ckk()*g.f),
		colP:  make([]float32, g.ckk()*panels(cols)*panelWidth),
		z:     make([]float32, g.f*cols),
		dz:    make([]float32, g.f*cols),
		out:   make([]float32, pooled),
		dout:  make([]float32, pooled),
		arg:   make([]int, pooled),
	}
	if first {
		cl.in = make([]float32, g.c*rows*g.ih*g.iw)
	} else {
		cl.wT = make([]float32, g.ckk()*g.f)
		cl.dcol = make([]float32, g.ckk()*cols)
		cl.dzP = make([]float32, g.f*panels(cols)*panelWidth)
	}
	return cl
}

// forward computes out from in for n samples.
func (cl *convLayer) forward(n, workers int) {
	cols := n * cl.ho * cl.wo
	col := cl.col[:cl.ckk()*cols]
	im2col(col, cl.in, cl.stage, n)
	packB(cl.colP, col, cl.ckk(), cols)
	z := cl.z[:cl.f*cols]
	gemmPacked(z, cl.w, cl.colP, cl.f, cols, cl.ckk(), workers)
	for o, bo := range cl.b {
		row := z[o*cols : (o+1)*cols]
		for j, v := range row {
			v += bo
			if !(v > 0) {
				v = 0
			}
			row[j] = v
		}
	}
	maxPool(cl.out, cl.arg, z, cl.stage, n)
}

// backward computes gw and gb from dout, and din when the stage has one.
func (cl *convLayer) backward(n, workers int) {
	cols := n * cl.ho * cl.wo
	dz := cl.dz[:cl.f*cols]
	clear(dz)
	pooled := cl.f * n * cl.hp * cl.wp
	z := cl.z[:len(dz)]
	for i, a := range cl.arg[:pooled] {
		if z[a] > 0 { // ReLU passes the gradient only where it passed the value
			dz[a] = cl.dout[i]
		}
	}
	for o := range cl.gb {
		var s float32
		for _, v := range dz[o*cols : (o+1)*cols] {
			s += v
		}
		cl.gb[o] = s
	}
	ckk := cl.ckk()
	// gwᵀ = col · dzᵀ: the same products summed in the same order as
	// dz · colᵀ, with the long col as A, which the kernels stream best.
	packBT(cl.dzTP, dz, cl.f, cols)
	gemmPacked(cl.gwT, cl.col[:ckk*cols], cl.dzTP, ckk, cl.f, cols, workers)
	transpose(cl.gw, cl.gwT, ckk, cl.f)
	if cl.din == nil {
		return
	}
	transpose(cl.wT, cl.w, cl.f, ckk)
	packB(cl.dzP, dz, cl.f, cols)
	dcol := cl.dcol[:ckk*cols]
	gemmPacked(dcol, cl.wT, cl.dzP, ckk, cols, cl.f, workers)
	col2im(cl.din, dcol, cl.stage, n)
}

// im2col unrolls the c×n×h×w input into col, (c·k·k)×(n·ho·wo): row
// (ch, ky, kx), column (s, y, x) holds in[ch][s][y+ky-pad][x+kx-pad], or 0
// in the padding.
func im2col(col, in []float32, g stage, n int) {
	cols := n * g.ho * g.wo
	plane := g.ih * g.iw
	for ch := 0; ch < g.c; ch++ {
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				row := col[((ch*g.k+ky)*g.k+kx)*cols:][:cols]
				dx := kx - g.pad
				x0, x1 := max(0, -dx), min(g.wo, g.iw-dx) // x with 0 <= x+dx < w
				for s := 0; s < n; s++ {
					src := in[(ch*n+s)*plane:][:plane]
					for y := 0; y < g.ho; y++ {
						dst := row[(s*g.ho+y)*g.wo:][:g.wo]
						iy := y + ky - g.pad
						if iy < 0 || iy >= g.ih || x0 >= x1 {
							clear(dst)
							continue
						}
						clear(dst[:x0])
						copy(dst[x0:x1], src[iy*g.iw+x0+dx:iy*g.iw+x1+dx])
						clear(dst[x1:])
					}
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it sets din (c×n×h×w) to the sum, over
// every place a value was copied to, of dcol there. The sum for each din
// value runs over (ky, kx) in increasing order.
func col2im(din, dcol []float32, g stage, n int) {
	cols := n * g.ho * g.wo
	plane := g.ih * g.iw
	clear(din[:g.c*n*plane])
	for ch := 0; ch < g.c; ch++ {
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				row := dcol[((ch*g.k+ky)*g.k+kx)*cols:][:cols]
				dx := kx - g.pad
				x0, x1 := max(0, -dx), min(g.wo, g.iw-dx)
				if x0 >= x1 {
					continue
				}
				for s := 0; s < n; s++ {
					dst := din[(ch*n+s)*plane:][:plane]
					for y := 0; y < g.ho; y++ {
						iy := y + ky - g.pad
						if iy < 0 || iy >= g.ih {
							continue
						}
						src := row[(s*g.ho+y)*g.wo+x0:][:x1-x0]
						d := dst[iy*g.iw+x0+dx:][:len(src)]
						for j, v := range src {
							d[j] += v
						}
					}
				}
			}
		}
	}
}

// maxPool takes the pool×pool maxima of z (f×n×ho×wo) into out
// (f×n×hp×wp) and records in arg the index into z of each.
func maxPool(out []float32, arg []int, z []float32, g stage, n int) {
	if g.pool == 2 {
		maxPool2(out, arg, z, g, n)
		return
	}
	maxPoolGeneral(out, arg, z, g, n, g.pool)
}

// maxPoolGeneral is maxPool with p×p windows, scanned in row-major order.
func maxPoolGeneral(out []float32, arg []int, z []float32, g stage, n, p int) {
	for fs := 0; fs < g.f*n; fs++ { // one (filter, sample) plane at a time
		zp := fs * g.ho * g.wo
		op := fs * g.hp * g.wp
		for y := 0; y < g.hp; y++ {
			for x := 0; x < g.wp; x++ {
				best := zp + y*p*g.wo + x*p
				for dy := 0; dy < p; dy++ {
					r := zp + (y*p+dy)*g.wo + x*p
					for dx := 0; dx < p; dx++ {
						if z[r+dx] > z[best] {
							best = r + dx
						}
					}
				}
				out[op+y*g.wp+x] = z[best]
				arg[op+y*g.wp+x] = best
			}
		}
	}
}

// maxPool2 is maxPool for 2×2 windows, with maxPool's order of
// comparisons: (0,0), (0,1), (1,0), (1,1), the first of equal values kept.
func maxPool2(out []float32, arg []int, z []float32, g stage, n int) {
	for fs := 0; fs < g.f*n; fs++ {
		zp := fs * g.ho * g.wo
		op := fs * g.hp * g.wp
		o, a := out[op:op+g.hp*g.wp], arg[op:op+g.hp*g.wp]
		for y := 0; y < g.hp; y++ {
			r0 := zp + 2*y*g.wo
			top := z[r0 : r0+2*g.wp]
			bot := z[r0+g.wo : r0+g.wo+2*g.wp]
			oy, ay := o[y*g.wp:(y+1)*g.wp], a[y*g.wp:(y+1)*g.wp]
			for x := range oy {
				best, bi := top[2*x], r0+2*x
				if v := top[2*x+1]; v > best {
					best, bi = v, r0+2*x+1
				}
				if v := bot[2*x]; v > best {
					best, bi = v, r0+g.wo+2*x
				}
				if v := bot[2*x+1]; v > best {
					best, bi = v, r0+g.wo+2*x+1
				}
				oy[x], ay[x] = best, bi
			}
		}
	}
}
