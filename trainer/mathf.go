package trainer

import "math"

// The trainer does not call math.Exp or math.Log: on amd64 both have
// assembly versions, and math.Exp switches to fused multiply-adds when the
// CPU has FMA, so its last bit depends on the machine. exp32 and log32 are
// ports of the portable algorithms in Go's math package (from FreeBSD's
// msun) with every product explicitly rounded, so no compiler or CPU can
// fuse them and the results are the same everywhere.

const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
	log2e = 1.44269504088896338700e+00

	// expMax is above ln(MaxFloat32); expMin is below ln of half the
	// smallest float32 denormal, where every float32 result is 0.
	expMax = 89
	expMin = -104
	// f32Overflow is MaxFloat32 plus half an ulp: float64 values from here
	// up round to +Inf in float32. Go leaves out-of-range conversions to
	// the implementation, so exp32 rounds those by hand.
	f32Overflow = 0x1.ffffffp127
)

// exp32 returns e**x rounded to float32.
func exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > expMax:
		return float32(math.Inf(1))
	case x < expMin:
		return 0
	}
	y := exp64(float64(x))
	if y >= f32Overflow {
		return float32(math.Inf(1))
	}
	return float32(y)
}

// exp64 is e**x for expMin <= x <= expMax, with an error below 1 ulp.
func exp64(x float64) float64 {
	const (
		p1 = 1.66666666666666657415e-01
		p2 = -2.77777777770155933842e-03
		p3 = 6.61375632143793436117e-05
		p4 = -1.65339022054652515390e-06
		p5 = 4.13813679705723846039e-08
	)
	// Reduce x = k*ln2 + r with |r| <= ln2/2; r = hi - lo for extra precision.
	var k int
	if x < 0 {
		k = int(float64(log2e*x) - 0.5)
	} else {
		k = int(float64(log2e*x) + 0.5)
	}
	kf := float64(k)
	hi := x - float64(kf*ln2Hi)
	lo := float64(kf * ln2Lo)
	r := hi - lo
	t := float64(r * r)
	poly := p4 + float64(t*p5)
	poly = p3 + float64(t*poly)
	poly = p2 + float64(t*poly)
	poly = p1 + float64(t*poly)
	c := r - float64(t*poly)
	y := 1 - ((lo - float64(r*c)/(2-c)) - hi)
	// |k| <= 151 here, so 2**k is a normal float64 and the scaling is exact.
	return y * math.Float64frombits(uint64(k+1023)<<52)
}

// log32 returns the natural logarithm of x rounded to float32.
func log32(x float32) float32 {
	switch {
	case x != x || x > math.MaxFloat32:
		return x
	case x < 0:
		return float32(math.NaN())
	case x == 0:
		return float32(math.Inf(-1))
	}
	return float32(log64(float64(x)))
}

// log64 is ln(x) for a positive normal float64 x, with an error below 1 ulp.
func log64(x float64) float64 {
	const (
		l1 = 6.666666666666735130e-01
		l2 = 3.999999999940941908e-01
		l3 = 2.857142874366239149e-01
		l4 = 2.222219843214978396e-01
		l5 = 1.818357216161805012e-01
		l6 = 1.531383769920937332e-01
		l7 = 1.479819860511658591e-01
	)
	// x = f1 * 2**ki with f1 in [sqrt(2)/2, sqrt(2)).
	b := math.Float64bits(x)
	ki := int((b>>52)&0x7ff) - 1022
	f1 := math.Float64frombits(b&^(0x7ff<<52) | 1022<<52)
	if f1 < math.Sqrt2/2 {
		f1 *= 2
		ki--
	}
	f := f1 - 1
	k := float64(ki)
	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	t1 := l5 + float64(s4*l7)
	t1 = l3 + float64(s4*t1)
	t1 = float64(s2 * (l1 + float64(s4*t1)))
	t2 := l4 + float64(s4*l6)
	t2 = float64(s4 * (l2 + float64(s4*t2)))
	rr := t1 + t2
	hfsq := float64(float64(0.5*f) * f)
	return float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+rr)) + float64(k*ln2Lo))) - f)
}
