package trainer

import "sync"

// Every matrix product in the trainer is one shape, C = A·B:
//
//	c[i*n+j] = Σ_p a[i*k+p] * b[p*n+j],   p = 0, 1, …, k-1 in that order
//
// with A (m×k), B (k×n) and C (m×n) row major. Each c[i,j] is one float32
// accumulator, started at zero and fed the explicitly rounded products in
// increasing p; that order is the definition of the result. The kernels
// compute many c[i,j] at once (register tiles, SIMD lanes) but never
// change the order within one of them, so any tiling, any remainder path,
// the assembly kernel and the pure-Go one, and any split of rows between
// goroutines give the same bits.
//
// float32(x*y) forbids the compiler to fuse the multiply into the add
// (Go spec, "Floating-point operators"): with GOAMD64=v3 or on arm64 it
// would otherwise emit FMA instructions and round differently. The amd64
// kernel uses separate MULPS and ADDPS for the same reason.

// minParallelWork is the number of multiply-adds below which a product is
// not worth handing to goroutines.
const minParallelWork = 1 << 16

// gemmNN computes C = A·B as described above, splitting the rows of C
// between up to workers goroutines. The split does not change the result.
// Without an assembly kernel B is first transposed into scratch (k*n
// values) so that the Go kernel reads both operands sequentially.
func gemmNN(c, a, b []float32, m, n, k, workers int, scratch []float32) {
	_, _, _ = c[:m*n], a[:m*k], b[:k*n] // the kernels rely on these lengths
	rows := func(i0, i1 int) { gemmRows(c, a, b, i0, i1, n, k, haveAVX) }
	if !haveKernel {
		bt := scratch[:n*k]
		transpose(bt, b, k, n)
		rows = func(i0, i1 int) { gemmRowsT(c, a, bt, i0, i1, n, k) }
	}
	if workers <= 1 || m < 8 || m*n*k < minParallelWork {
		rows(0, m)
		return
	}
	chunk := (m + workers - 1) / workers
	chunk = (chunk + 3) &^ 3 // whole 4-row tiles
	var wg sync.WaitGroup
	for i0 := 0; i0 < m; i0 += chunk {
		i1 := min(i0+chunk, m)
		wg.Go(func() { rows(i0, i1) })
	}
	wg.Wait()
}

// gemmRows computes rows [i0, i1) of C = A·B with the assembly kernels'
// tiles, 8×8 when avx (the CPU must have AVX) and then 4×8, and the edges
// in Go.
func gemmRows(c, a, b []float32, i0, i1, n, k int, avx bool) {
	i := i0
	if haveKernel && k > 0 {
		if avx {
			for ; i+8 <= i1; i += 8 {
				j := kernelTiles(c, a, b, i, n, k, 8)
				goBlock(c, a, b, i, i+8, j, n, n, k)
			}
		}
		for ; i+4 <= i1; i += 4 {
			j := kernelTiles(c, a, b, i, n, k, 4)
			goBlock(c, a, b, i, i+4, j, n, n, k)
		}
	}
	goBlock(c, a, b, i, i1, 0, n, n, k)
}

// gemmRowsT computes rows [i0, i1) of C = A·B in Go from bt = Bᵀ (n×k),
// on tiles of three rows of A by two columns of B: six accumulators and
// five loads per step keep every value in a register on amd64 and arm64.
func gemmRowsT(c, a, bt []float32, i0, i1, n, k int) {
	i := i0
	for ; i+3 <= i1; i += 3 {
		a0 := a[i*k : i*k+k]
		a1 := a[(i+1)*k : (i+2)*k][:len(a0)]
		a2 := a[(i+2)*k : (i+3)*k][:len(a0)]
		c0 := c[i*n : i*n+n]
		c1 := c[(i+1)*n : (i+2)*n][:len(c0)]
		c2 := c[(i+2)*n : (i+3)*n][:len(c0)]
		j := 0
		for ; j+2 <= n; j += 2 {
			b0 := bt[j*k : j*k+k][:len(a0)]
			b1 := bt[(j+1)*k : (j+2)*k][:len(a0)]
			var s00, s01, s10, s11, s20, s21 float32
			for p, x0 := range a0 {
				x1, x2 := a1[p], a2[p]
				y0, y1 := b0[p], b1[p]
				s00 += float32(x0 * y0)
				s01 += float32(x0 * y1)
				s10 += float32(x1 * y0)
				s11 += float32(x1 * y1)
				s20 += float32(x2 * y0)
				s21 += float32(x2 * y1)
			}
			c0[j], c0[j+1] = s00, s01
			c1[j], c1[j+1] = s10, s11
			c2[j], c2[j+1] = s20, s21
		}
		if j < n {
			bj := bt[j*k : j*k+k]
			c0[j], c1[j], c2[j] = dot(a0, bj), dot(a1, bj), dot(a2, bj)
		}
	}
	for ; i < i1; i++ {
		cr, ar := c[i*n:i*n+n], a[i*k:i*k+k]
		for j := range cr {
			cr[j] = dot(ar, bt[j*k:j*k+k])
		}
	}
}

// dot is Σ x[p]*y[p] in increasing p.
func dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s float32
	for p, v := range x {
		s += float32(v * y[p])
	}
	return s
}

// goBlock computes rows [i0, i1) and columns [j0, j1) of C = A·B in pure
// Go, eight columns at a time. It handles the edges the assembly kernel
// leaves; gemmRowsT is faster for whole products.
func goBlock(c, a, b []float32, i0, i1, j0, j1, n, k int) {
	for i := i0; i < i1; i++ {
		ar := a[i*k : i*k+k]
		cr := c[i*n : i*n+n]
		j := j0
		for ; j+8 <= j1; j += 8 {
			var s0, s1, s2, s3, s4, s5, s6, s7 float32
			off := j
			for _, x := range ar {
				bp := b[off : off+8 : off+8]
				s0 += float32(x * bp[0])
				s1 += float32(x * bp[1])
				s2 += float32(x * bp[2])
				s3 += float32(x * bp[3])
				s4 += float32(x * bp[4])
				s5 += float32(x * bp[5])
				s6 += float32(x * bp[6])
				s7 += float32(x * bp[7])
				off += n
			}
			cr[j], cr[j+1], cr[j+2], cr[j+3] = s0, s1, s2, s3
			cr[j+4], cr[j+5], cr[j+6], cr[j+7] = s4, s5, s6, s7
		}
		for ; j < j1; j++ {
			var s float32
			off := j
			for _, x := range ar {
				s += float32(x * b[off])
				off += n
			}
			cr[j] = s
		}
	}
}

// transpose writes the r×c row-major matrix src into dst as c×r: with the
// AVX kernel eight rows at a time where the CPU has it, the edges in Go.
func transpose(dst, src []float32, r, c int) {
	_, _ = dst[:r*c], src[:r*c]
	if haveAVX && r >= 8 && c >= 8 {
		r8, c8 := r&^7, c&^7
		for i := 0; i < r8; i += 8 {
			// Everything the kernel reads or writes lies within these.
			_ = src[(i+7)*c+c8-1]
			_ = dst[(c8-1)*r+i+7]
			transpose8avx(&dst[i], r, &src[i*c], c, c8/8)
		}
		transposeGo(dst, src, r, c, 0, r8, c8, c)
		transposeGo(dst, src, r, c, r8, r, 0, c)
		return
	}
	transposeGo(dst, src, r, c, 0, r, 0, c)
}

// transposeGo does transpose's work for rows [i0, i1) and columns [j0, j1)
// of src, in blocks that keep both sides in L1.
func transposeGo(dst, src []float32, r, c, i0, i1, j0, j1 int) {
	const blk = 16
	for ib := i0; ib < i1; ib += blk {
		ie := min(ib+blk, i1)
		for jb := j0; jb < j1; jb += blk {
			je := min(jb+blk, j1)
			for i := ib; i < ie; i++ {
				row := src[i*c+jb : i*c+je]
				for jj, v := range row {
					dst[(jb+jj)*r+i] = v
				}
			}
		}
	}
}
