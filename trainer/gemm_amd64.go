//go:build amd64 && !purego

package trainer

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

// kernelTiles computes columns [0, n&^7) of rows i..i+3 of C = A·B with
// the assembly kernel and returns n&^7. k must be positive.
func kernelTiles(c, a, b []float32, i, n, k int) int {
	j1 := n &^ 7
	if j1 == 0 {
		return 0
	}
	// Everything the kernel reads or writes lies within these slices.
	_ = a[(i+4)*k-1]
	_ = b[(k-1)*n+j1-1]
	_ = c[(i+3)*n+j1-1]
	for j := 0; j < j1; j += 8 {
		kernel4x8(&c[i*n+j], n, &a[i*k], k, &b[j], n, k)
	}
	return j1
}
