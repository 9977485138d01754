//go:build amd64 && !purego

package trainer

import "golang.org/x/sys/cpu"

// haveKernel says that kernel4x8 is the SSE kernel in gemm_amd64.s. It
// uses only SSE (every amd64 CPU has it), with separate multiplies and
// adds, so it gives the same bits as the Go code on every machine. Build
// with -tags purego to leave it out.
const haveKernel = true

// kernel4x8 sets the 4×8 tile of C at row i, column j of C = A·B:
// c[(i+r)*ldc+j+q] = Σ_p a[(i+r)*lda+p] * b[p*ldb+j+q] for r < 4, q < 8,
// accumulated in increasing p. c, a and b point at the tile's first
// element, the first element of row i of A, and column j of row 0 of B.
//
//go:noescape
func kernel4x8(c *float32, ldc int, a *float32, lda int, b *float32, ldb int, k int)

// kernelTiles computes columns [0, n&^7) of rows i..i+rows-1 of C = A·B
// with the assembly kernel for that many rows (8: kernel8x8avx, and the
// CPU must have AVX; 4: kernel4x8) and returns n&^7. k must be positive.
func kernelTiles(c, a, b []float32, i, n, k, rows int) int {
	j1 := n &^ 7
	if j1 == 0 {
		return 0
	}
	// Everything the kernel reads or writes lies within these slices.
	_ = a[(i+rows)*k-1]
	_ = b[(k-1)*n+j1-1]
	_ = c[(i+rows-1)*n+j1-1]
	for j := 0; j < j1; j += 8 {
		if rows == 8 {
			kernel8x8avx(&c[i*n+j], n, &a[i*k], k, &b[j], n, k)
		} else {
			kernel4x8(&c[i*n+j], n, &a[i*k], k, &b[j], n, k)
		}
	}
	return j1
}

// transpose8avx transposes the 8×(8·blocks) strip of a matrix at src
// (rows lds floats apart) into dst (rows ldd floats apart):
// dst[j*ldd+i] = src[i*lds+j] for i < 8, j < 8·blocks. Needs AVX.
//
//go:noescape
func transpose8avx(dst *float32, ldd int, src *float32, lds int, blocks int)

// haveAVX2 says that the CPU has AVX2, so byte features can be widened
// with scaleBytesAVX2.
var haveAVX2 = cpu.X86.HasAVX2

// scaleBytesAVX2 sets dst[i] = float32(src[i]) * scale for the n values,
// eight at a time; n must be a positive multiple of 8. The conversion is
// exact and the multiply the same IEEE one as Go's, so the bits are
// copyRows' own. Needs AVX2.
//
//go:noescape
func scaleBytesAVX2(dst *float32, src *uint8, n int, scale float32)

// haveAVX says that the CPU and OS support AVX, so the products, the
// optimizers' steps and the transposes can use their AVX kernels. It
// changes speed, not results.
var haveAVX = cpu.X86.HasAVX

// kernel8x8avx sets the 8×8 tile of C at c from the eight rows of A at a
// (lda apart) and eight columns of B at b (rows ldb apart: a panel, or B
// itself): c[r*ldc+q] = Σ_p a[r*lda+p] * b[p*ldb+q], accumulated in
// increasing p. k must be positive.
//
//go:noescape
func kernel8x8avx(c *float32, ldc int, a *float32, lda int, b *float32, ldb int, k int)

// kernelPanel computes columns j..j+w-1 (w <= 8) of the first rows of C =
// A·B from the panel pb with the assembly kernels, eight rows at a time
// when avx, then four, and returns how many rows it did. k must be
// positive.
func kernelPanel(c, a, pb []float32, m, n, k, j, w int, avx bool) int {
	_ = pb[k*panelWidth-1]
	var tile [8 * panelWidth]float32
	i := 0
	if avx {
		for ; i+8 <= m; i += 8 {
			_ = a[(i+8)*k-1]
			if w == panelWidth {
				_ = c[(i+7)*n+j+panelWidth-1]
				kernel8x8avx(&c[i*n+j], n, &a[i*k], k, &pb[0], panelWidth, k)
				continue
			}
			kernel8x8avx(&tile[0], panelWidth, &a[i*k], k, &pb[0], panelWidth, k)
			for r := range 8 {
				copy(c[(i+r)*n+j:(i+r)*n+j+w], tile[r*panelWidth:])
			}
		}
	}
	for ; i+4 <= m; i += 4 {
		_ = a[(i+4)*k-1]
		if w == panelWidth {
			_ = c[(i+3)*n+j+panelWidth-1]
			kernel4x8(&c[i*n+j], n, &a[i*k], k, &pb[0], panelWidth, k)
			continue
		}
		kernel4x8(&tile[0], panelWidth, &a[i*k], k, &pb[0], panelWidth, k)
		for r := range 4 {
			copy(c[(i+r)*n+j:(i+r)*n+j+w], tile[r*panelWidth:])
		}
	}
	return i
}
