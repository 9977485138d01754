//go:build !amd64 || purego

package trainer

// adamUpdate applies Adam step k to every parameter w. g, m and v are as
// long as w.
func adamUpdate(w, g, m, v []float32, k *adamStep) { adamGo(w, g, m, v, k) }
