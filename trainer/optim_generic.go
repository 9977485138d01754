//go:build !amd64 || purego

package trainer

// adamUpdate applies Adam step k to every parameter w. g, m and v are as
// long as w.
func adamUpdate(w, g, m, v []float32, k *adamStep) { adamGo(w, g, m, v, k) }

// sgdUpdate applies SGD step k to every parameter w. g and v are as long
// as w.
func sgdUpdate(w, g, v []float32, k *sgdStep) { sgdGo(w, g, v, k) }
