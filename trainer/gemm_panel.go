package trainer

import "sync"

// The convolutions' products have a B with tens of thousands of columns
// (every position of every sample in the batch). Walking such a B down a
// column strip, as gemmNN does, touches a new cache line and often a new
// page at every step of the sum. gemmPacked reads B from panels instead:
// B cut into strips of eight columns, each strip stored contiguously row
// after row ([strip][p][8], the last strip padded with zeros), so a tile's
// whole sum streams through one small, contiguous block. The arithmetic is
// gemmNN's: each c[i,j] is one float32 accumulator fed the rounded products
// a[i,p]·b[p,j] in increasing p, so the packing changes no bit.

// panelWidth is the number of columns in a panel.
const panelWidth = 8

// panels is the number of panels of a matrix with n columns.
func panels(n int) int { return (n + panelWidth - 1) / panelWidth }

// packB stores the k×n row-major matrix b in bp as panels (panels(n)·k·8
// values).
func packB(bp, b []float32, k, n int) {
	_, _ = bp[:panels(n)*k*panelWidth], b[:k*n]
	for q := 0; q < panels(n); q++ {
		j := q * panelWidth
		w := min(panelWidth, n-j)
		dst := bp[q*k*panelWidth : (q+1)*k*panelWidth]
		if w < panelWidth {
			for p := 0; p < k; p++ {
				d := dst[p*panelWidth : p*panelWidth+panelWidth]
				copy(d, b[p*n+j:p*n+j+w])
				clear(d[w:])
			}
			continue
		}
		for p := 0; p < k; p++ { // eight moves, cheaper than a call to copy
			d := dst[p*panelWidth : p*panelWidth+panelWidth : p*panelWidth+panelWidth]
			s := b[p*n+j : p*n+j+panelWidth : p*n+j+panelWidth]
			d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
		}
	}
}

// packBT stores B as panels given its transpose bt (n×k, row major): the
// panel of columns j..j+7 of B is rows j..j+7 of bt, interleaved.
func packBT(bp, bt []float32, n, k int) {
	_, _ = bp[:panels(n)*k*panelWidth], bt[:n*k]
	for q := 0; q < panels(n); q++ {
		j := q * panelWidth
		w := min(panelWidth, n-j)
		dst := bp[q*k*panelWidth : (q+1)*k*panelWidth]
		if w < panelWidth {
			clear(dst)
		}
		for t := 0; t < w; t++ {
			row := bt[(j+t)*k : (j+t+1)*k]
			for p, v := range row {
				dst[p*panelWidth+t] = v
			}
		}
	}
}

// gemmPacked computes C = A·B (m×n) from A (m×k, row major) and B packed
// by packB or packBT, splitting the panels between up to workers
// goroutines. Neither the split nor the kernel changes the result.
func gemmPacked(c, a, bp []float32, m, n, k, workers int) {
	np := panels(n)
	_, _, _ = c[:m*n], a[:m*k], bp[:np*k*panelWidth]
	cols := func(q0, q1 int) {
		for q := q0; q < q1; q++ {
			panelProduct(c, a, bp[q*k*panelWidth:(q+1)*k*panelWidth], m, n, k, q*panelWidth)
		}
	}
	if workers <= 1 || np < 2 || m*n*k < minParallelWork {
		cols(0, np)
		return
	}
	chunk := (np + workers - 1) / workers
	var wg sync.WaitGroup
	for q0 := 0; q0 < np; q0 += chunk {
		q1 := min(q0+chunk, np)
		wg.Go(func() { cols(q0, q1) })
	}
	wg.Wait()
}

// panelProduct computes columns j..j+7 (fewer at the right edge) of every
// row of C from one panel pb of B: eight rows at a time with the AVX
// kernel, four with the SSE one, the rest in Go.
func panelProduct(c, a, pb []float32, m, n, k, j int) {
	w := min(panelWidth, n-j)
	i := 0
	if haveKernel && k > 0 {
		i = kernelPanel(c, a, pb, m, n, k, j, w, haveAVX)
	}
	for ; i < m; i++ {
		goPanelRow(c[i*n+j:i*n+j+w], a[i*k:i*k+k], pb)
	}
}

// goPanelRow sets c (at most eight values) to row a times the panel pb.
func goPanelRow(c, a, pb []float32) {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	pb = pb[:len(a)*panelWidth]
	for p, x := range a {
		b := pb[p*panelWidth : p*panelWidth+panelWidth : p*panelWidth+panelWidth]
		s0 += float32(x * b[0])
		s1 += float32(x * b[1])
		s2 += float32(x * b[2])
		s3 += float32(x * b[3])
		s4 += float32(x * b[4])
		s5 += float32(x * b[5])
		s6 += float32(x * b[6])
		s7 += float32(x * b[7])
	}
	s := [panelWidth]float32{s0, s1, s2, s3, s4, s5, s6, s7}
	copy(c, s[:len(c)])
}
