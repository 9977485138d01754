package trainer

import (
	"math"
	"testing"
)

// ulps32 is the distance between a and b in units in the last place.
func ulps32(a, b float32) int64 {
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if ia > ib {
		return ia - ib
	}
	return ib - ia
}

func TestExp32MatchesMath(t *testing.T) {
	worst := int64(0)
	for x := float32(-103.5); x < 88.7; x += 0.0137 {
		got := exp32(x)
		want := float32(math.Exp(float64(x)))
		if d := ulps32(got, want); d > worst {
			worst = d
			if d > 1 {
				t.Fatalf("exp32(%v) = %v, math.Exp gives %v (%d ulps apart)", x, got, want, d)
			}
		}
	}
	t.Logf("worst distance from math.Exp: %d ulp", worst)
}

func TestLog32MatchesMath(t *testing.T) {
	for x := float32(1e-30); x < 3e38; x *= 1.0173 {
		got := log32(x)
		want := float32(math.Log(float64(x)))
		if d := ulps32(got, want); d > 1 {
			t.Fatalf("log32(%v) = %v, math.Log gives %v (%d ulps apart)", x, got, want, d)
		}
	}
}

func TestExpLogSpecialCases(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	tests := []struct {
		name      string
		got, want float32
	}{
		{"exp(0)", exp32(0), 1},
		{"exp(-inf)", exp32(-inf), 0},
		{"exp(-200)", exp32(-200), 0},
		{"exp(+inf)", exp32(inf), inf},
		{"exp(89)", exp32(89), inf},
		{"exp(88.72)", exp32(88.72), float32(math.Exp(float64(float32(88.72))))},
		{"exp(-103.9) is denormal", exp32(-103.9), float32(math.Exp(float64(float32(-103.9))))},
		{"log(1)", log32(1), 0},
		{"log(0)", log32(0), -inf},
		{"log(+inf)", log32(inf), inf},
		{"log(denormal)", log32(1e-45), float32(math.Log(float64(float32(1e-45))))},
	}
	for _, tt := range tests {
		if math.Float32bits(tt.got) != math.Float32bits(tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	for _, v := range []float32{exp32(nan), log32(nan), log32(-1)} {
		if v == v {
			t.Errorf("got %v, want NaN", v)
		}
	}
}
