package trainer

import "math/bits"

// Stream identifiers keep the initialisation and shuffling sequences of
// the same seed independent of each other.
const (
	streamInit    = 0x696e6974 // "init"
	streamShuffle = 0x73687566 // "shuf"
)

// rng is splitmix64 (Steele, Lea, Flood 2014). It is written here rather
// than taken from math/rand so that its output is fixed by this file alone,
// whatever the Go version.
type rng struct{ state uint64 }

func newRNG(seed, stream uint64) *rng {
	r := &rng{state: seed}
	r.state ^= mix64(stream + 0x9e3779b97f4a7c15)
	return r
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// sym returns a uniform float64 in [-1, 1) on a grid of 2**-52. The
// integer is converted exactly and scaled by a power of two, so there is
// no rounding and no product for a compiler to fuse.
func (r *rng) sym() float64 {
	return float64(int64(r.next()>>11)-1<<52) * 0x1p-52
}

// intn returns a uniform integer in [0, n), n > 0, without modulo bias
// (Lemire 2019).
func (r *rng) intn(n uint64) uint64 {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return hi
}

// shuffle sets perm to the identity and applies a Fisher-Yates shuffle.
func (r *rng) shuffle(perm []int32) {
	for i := range perm {
		perm[i] = int32(i)
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := r.intn(uint64(i + 1))
		perm[i], perm[j] = perm[j], perm[i]
	}
}
