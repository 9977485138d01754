package verify

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gridswarm/gridswarm/trainer"
)

// Delta is a decoded tasklet result: the weight delta (local − global, by
// tensor name) and the loss the worker reported.
type Delta struct {
	Params trainer.Params
	Loss   float32
}

// Output is one replica's result of a tasklet.
type Output struct {
	Peer  string // worker peer ID
	CID   string // output CID
	Delta *Delta // decoded output; needed only for ClassProcess
}

// Tolerance is how far apart two honest outputs of a tolerance class may
// be: the relative L2 distance of their weight deltas and the absolute
// difference of their losses.
type Tolerance struct {
	RelL2 float64 `json:"relL2"`
	Loss  float64 `json:"loss"`
}

// Comparison is the result of comparing two outputs.
type Comparison struct {
	Agree    bool
	RelL2    float64 // ‖a − b‖₂ / max(‖a‖₂, ‖b‖₂); 0 for exact classes
	LossDiff float64 // |loss a − loss b|; 0 for exact classes
	Reason   string  // why they differ, readable by a user; "" if they agree
}

// Comparator decides whether two outputs of one tasklet agree.
type Comparator struct {
	Class     Class
	Tolerance Tolerance // used by ClassProcess only
}

// Compare compares two outputs. Exact classes (builtin, wasm) agree only
// on equal output CIDs. ClassProcess outputs agree on equal CIDs, or when
// their deltas have the same tensor names and shapes, all values finite,
// and both the relative L2 distance and the loss difference are within
// the tolerance (≤).
func (c Comparator) Compare(a, b Output) Comparison {
	if a.CID != "" && a.CID == b.CID {
		return Comparison{Agree: true}
	}
	if c.Class.Exact() || c.Class == "" {
		return Comparison{Reason: fmt.Sprintf("output CID %s differs from %s", short(a.CID), short(b.CID))}
	}
	if a.Delta == nil || b.Delta == nil {
		return Comparison{Reason: "output CIDs differ and an output was not decoded"}
	}
	d, err := Distance(*a.Delta, *b.Delta)
	if err != nil {
		return Comparison{RelL2: math.Inf(1), LossDiff: math.Inf(1), Reason: err.Error()}
	}
	cmp := Comparison{RelL2: d.RelL2, LossDiff: d.Loss}
	switch {
	case !(d.RelL2 <= c.Tolerance.RelL2):
		cmp.Reason = fmt.Sprintf("relative L2 %.3g > threshold %.3g", d.RelL2, c.Tolerance.RelL2)
	case !(d.Loss <= c.Tolerance.Loss):
		cmp.Reason = fmt.Sprintf("loss difference %.3g > threshold %.3g", d.Loss, c.Tolerance.Loss)
	default:
		cmp.Agree = true
	}
	return cmp
}

func short(cid string) string {
	if len(cid) > 16 {
		return cid[:8] + "…" + cid[len(cid)-6:]
	}
	if cid == "" {
		return "(none)"
	}
	return cid
}

// Distance measures two deltas: relative L2 distance of the weights
// (computed in float64) and the absolute loss difference. It fails if the
// tensor names or shapes differ or a value is not finite.
func Distance(a, b Delta) (Tolerance, error) {
	if len(a.Params) != len(b.Params) {
		return Tolerance{}, fmt.Errorf("deltas have %d and %d tensors", len(a.Params), len(b.Params))
	}
	var diff, na, nb float64
	for _, ta := range a.Params {
		tb, ok := b.Params.Lookup(ta.Name)
		if !ok {
			return Tolerance{}, fmt.Errorf("tensor %q is missing from one delta", ta.Name)
		}
		if !slices.Equal(ta.Shape, tb.Shape) || len(ta.Data) != len(tb.Data) {
			return Tolerance{}, fmt.Errorf("tensor %q has shape %v in one delta and %v in the other", ta.Name, ta.Shape, tb.Shape)
		}
		for i, x := range ta.Data {
			y := tb.Data[i]
			if !finite(x) || !finite(y) {
				return Tolerance{}, fmt.Errorf("tensor %q[%d] is not finite (%v, %v)", ta.Name, i, x, y)
			}
			d := float64(x) - float64(y)
			diff += d * d
			na += float64(x) * float64(x)
			nb += float64(y) * float64(y)
		}
	}
	if !finite(a.Loss) || !finite(b.Loss) {
		return Tolerance{}, fmt.Errorf("loss is not finite (%v, %v)", a.Loss, b.Loss)
	}
	rel := 0.0
	if den := math.Sqrt(max(na, nb)); den > 0 {
		rel = math.Sqrt(diff) / den
	}
	return Tolerance{RelL2: rel, Loss: math.Abs(float64(a.Loss) - float64(b.Loss))}, nil
}

func finite(x float32) bool {
	return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0)
}

// Calibration defaults: the threshold is SafetyFactor × the largest
// distance seen between honest replicas, and at least the floor, so that
// a class whose honest replicas happened to agree bit for bit still
// tolerates float32 rounding (float32 epsilon is 1.2e-7).
const (
	SafetyFactor = 4.0
	MinRelL2     = 1e-6
	MinLossDiff  = 1e-6
)

// Calibration is the record of a threshold: how it was derived, from how
// many honest pairs, and when. The coordinator persists it per class.
type Calibration struct {
	Class       Class     `json:"class"`
	Pairs       int       `json:"pairs"`
	MaxObserved Tolerance `json:"maxObserved"`
	Factor      float64   `json:"factor"`
	Threshold   Tolerance `json:"threshold"`
	At          time.Time `json:"at"`
}

// Calibrate derives a threshold for class from honest replica pairs (two
// outputs of one tasklet run by honest workers): each component is
// max(factor × the largest observed, its floor). It fails with no pairs,
// a factor below 1, or a pair that cannot be compared.
func Calibrate(class Class, pairs [][2]Delta, factor float64, now time.Time) (Calibration, error) {
	if len(pairs) == 0 {
		return Calibration{}, fmt.Errorf("cannot calibrate %s: no honest pairs", class)
	}
	if !(factor >= 1) {
		return Calibration{}, fmt.Errorf("cannot calibrate %s: safety factor %v, want at least 1", class, factor)
	}
	var worst Tolerance
	for i, p := range pairs {
		d, err := Distance(p[0], p[1])
		if err != nil {
			return Calibration{}, fmt.Errorf("cannot calibrate %s: pair %d: %w", class, i, err)
		}
		worst.RelL2 = max(worst.RelL2, d.RelL2)
		worst.Loss = max(worst.Loss, d.Loss)
	}
	return Calibration{
		Class:       class,
		Pairs:       len(pairs),
		MaxObserved: worst,
		Factor:      factor,
		Threshold:   Tolerance{RelL2: max(worst.RelL2*factor, MinRelL2), Loss: max(worst.Loss*factor, MinLossDiff)},
		At:          now.UTC(),
	}, nil
}
