//go:build !amd64 || purego

package trainer

// haveKernel is false: every product runs in goBlock.
const haveKernel = false

// kernelTiles is never called without an assembly kernel.
func kernelTiles(c, a, b []float32, i, n, k, rows int) int { return 0 }

// haveAVX is false: there is no AVX kernel.
const haveAVX = false

// kernelPanel is never called without an assembly kernel.
func kernelPanel(c, a, pb []float32, m, n, k, j, w int, avx bool) int { return 0 }

// transpose8avx is never called without AVX.
func transpose8avx(dst *float32, ldd int, src *float32, lds int, blocks int) {}

// haveAVX2 is false: bytes are widened in Go.
const haveAVX2 = false

// scaleBytesAVX2 is never called without AVX2.
func scaleBytesAVX2(dst *float32, src *uint8, n int, scale float32) {}
