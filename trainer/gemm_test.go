package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveNN is the definition every product must match bit for bit.
func naiveNN(a, b []float32, m, n, k int) []float32 {
	c := make([]float32, m*n)
	for i := range m {
		for j := range n {
			var s float32
			for p := range k {
				s += float32(a[i*k+p] * b[p*n+j])
			}
			c[i*n+j] = s
		}
	}
	return c
}

// awkward returns values that stress rounding: ordinary ones mixed with
// zeros of both signs, subnormals, huge values and exact ties.
func awkward(r *rand.Rand, n int) []float32 {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -3e-40, 1.1754942e-38, 3e38, -3e38, 1, 0.5, 1 + 0x1p-23}
	s := make([]float32, n)
	for i := range s {
		if r.IntN(4) == 0 {
			s[i] = specials[r.IntN(len(specials))]
		} else {
			s[i] = float32(2*r.Float64() - 1)
		}
	}
	return s
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: c[%d] = %v (%#08x), want %v (%#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func TestGemmNNMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {1, 2, 3}, {2, 1, 5}, {3, 2, 7}, {4, 8, 1}, {4, 8, 2}, {5, 9, 5},
		{7, 11, 13}, {8, 16, 3}, {128, 64, 100}, {65, 10, 33}, {128, 97, 64}, {10, 64, 128}, {3, 5, 0},
	}
	for _, s := range shapes {
		a, b := awkward(r, s.m*s.k), awkward(r, s.k*s.n)
		want := naiveNN(a, b, s.m, s.n, s.k)
		for _, workers := range []int{1, 2, 3, 8} {
			got := make([]float32, s.m*s.n)
			for i := range got {
				got[i] = float32(math.NaN()) // every element must be written
			}
			gemmNN(got, a, b, s.m, s.n, s.k, workers, make([]float32, s.m*s.k+s.k*s.n))
			sameBits(t, "gemmNN", got, want)
		}
	}
}

// TestKernelsAgree runs the same products through every kernel: the
// assembly ones (SSE, and AVX where the CPU has it), goBlock alone and gemmRowsT on
// the transposed B. Builds with and without assembly must agree bit for bit.
func TestKernelsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, s := range []struct{ m, n, k int }{{4, 8, 1}, {8, 64, 784}, {12, 40, 17}, {4, 784, 64}, {7, 9, 3}, {128, 64, 784}, {128, 784, 64}, {21, 23, 5}} {
		a, b := awkward(r, s.m*s.k), awkward(r, s.k*s.n)
		want := make([]float32, s.m*s.n)
		goBlock(want, a, b, 0, s.m, 0, s.n, s.n, s.k)
		bt := make([]float32, s.k*s.n)
		transpose(bt, b, s.k, s.n)
		got := make([]float32, s.m*s.n)
		gemmRowsT(got, a, bt, 0, s.m, s.n, s.k)
		sameBits(t, "gemmRowsT vs goBlock", got, want)
		if haveKernel {
			for _, avx := range []bool{false, haveAVX} {
				clear(got)
				gemmRows(got, a, b, 0, s.m, s.n, s.k, avx)
				sameBits(t, fmt.Sprintf("assembly (avx %v) vs goBlock", avx), got, want)
			}
		}
	}
}

func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, s := range []struct{ r, c int }{{1, 1}, {1, 5}, {5, 1}, {8, 8}, {8, 9}, {9, 8}, {17, 33}, {64, 784}, {784, 64}, {23, 40}, {128, 10}} {
		src := awkward(r, s.r*s.c)
		dst := make([]float32, len(src))
		transpose(dst, src, s.r, s.c)
		for i := range s.r {
			for j := range s.c {
				if math.Float32bits(dst[j*s.r+i]) != math.Float32bits(src[i*s.c+j]) {
					t.Fatalf("%dx%d: dst[%d,%d] = %v, want %v", s.r, s.c, j, i, dst[j*s.r+i], src[i*s.c+j])
				}
			}
		}
	}
}

// TestGemmPackedMatchesDefinition checks the panel products, from B packed
// either way, with every kernel this build has, against the definition.
func TestGemmPackedMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {3, 5, 2}, {4, 8, 1}, {8, 8, 3}, {9, 17, 5}, {16, 25, 40}, {12, 64, 7}, {17, 9, 33}, {32, 100, 25}, {3, 5, 0},
	}
	for _, s := range shapes {
		a, b := awkward(r, s.m*s.k), awkward(r, s.k*s.n)
		want := naiveNN(a, b, s.m, s.n, s.k)
		bt := make([]float32, s.n*s.k)
		transpose(bt, b, s.k, s.n)
		bp := make([]float32, panels(s.n)*s.k*panelWidth)
		bpt := make([]float32, len(bp))
		packB(bp, b, s.k, s.n)
		packBT(bpt, bt, s.n, s.k)
		sameBits(t, "packBT vs packB", bpt, bp)
		for _, workers := range []int{1, 3} {
			got := make([]float32, s.m*s.n)
			for i := range got {
				got[i] = float32(math.NaN())
			}
			gemmPacked(got, a, bp, s.m, s.n, s.k, workers)
			sameBits(t, "gemmPacked", got, want)
		}
		if !haveKernel || s.k == 0 {
			continue
		}
		for _, avx := range []bool{false, haveAVX} {
			got := make([]float32, s.m*s.n)
			for q := 0; q < panels(s.n); q++ {
				j := q * panelWidth
				pb := bp[q*s.k*panelWidth : (q+1)*s.k*panelWidth]
				i := kernelPanel(got, a, pb, s.m, s.n, s.k, j, min(panelWidth, s.n-j), avx)
				for ; i < s.m; i++ {
					goPanelRow(got[i*s.n+j:i*s.n+j+min(panelWidth, s.n-j)], a[i*s.k:(i+1)*s.k], pb)
				}
			}
			sameBits(t, "kernelPanel", got, want)
		}
	}
}
