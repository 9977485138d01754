//go:build amd64 && !purego

package trainer

// adamAVX applies Adam step k to the n parameters at w, with their
// gradients at grad and moments at m and v, eight at a time; n must be a
// positive multiple of 8. It is adamGo's loop in AVX, operation for
// operation (VMULPS, VADDPS, VSQRTPS, VDIVPS: each rounded as Go's
// float32 arithmetic is, never fused), so it gives the same bits.
//
//go:noescape
func adamAVX(w, grad, m, v *float32, n int, k *adamStep)

// adamUpdate applies Adam step k to every parameter w, with the assembly
// kernel where the CPU has AVX. g, m and v are as long as w.
func adamUpdate(w, g, m, v []float32, k *adamStep) {
	i := 0
	if haveAVX && len(w) >= 8 {
		i = len(w) &^ 7
		_, _, _ = g[i-1], m[i-1], v[i-1]
		adamAVX(&w[0], &g[0], &m[0], &v[0], i, k)
	}
	adamGo(w[i:], g[i:], m[i:], v[i:], k)
}

// sgdAVX applies SGD step k to the n parameters at w, with their gradients
// at grad and momenta at v, eight at a time; n must be a positive
// multiple of 8. It is sgdGo's loop in AVX, operation for operation (the
// weight-decay term only when k.wd is not zero), so it gives the same
// bits.
//
//go:noescape
func sgdAVX(w, grad, v *float32, n int, k *sgdStep)

// sgdUpdate applies SGD step k to every parameter w, with the assembly
// kernel where the CPU has AVX. g and v are as long as w.
func sgdUpdate(w, g, v []float32, k *sgdStep) {
	i := 0
	if haveAVX && len(w) >= 8 {
		i = len(w) &^ 7
		_, _ = g[i-1], v[i-1]
		sgdAVX(&w[0], &g[0], &v[0], i, k)
	}
	sgdGo(w[i:], g[i:], v[i:], k)
}
