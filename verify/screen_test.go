package verify

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/trainer"
)

func TestScreen(t *testing.T) {
	d := func(loss float32, xs ...float32) Delta {
		return Delta{Params: trainer.Params{{Name: "w", Shape: []int{len(xs)}, Data: xs}}, Loss: loss}
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name   string
		deltas map[string]Delta
		bad    map[string]string // id → part of the error
	}{
		{"honest round", map[string]Delta{"a": d(1, 3, 4), "b": d(1, 4, 3), "c": d(1, 5, 0), "d": d(1, 0, 6)}, nil},
		{"NaN and Inf", map[string]Delta{"a": d(1, 3, 4), "b": d(1, nan, 3), "c": d(1, 5, inf), "d": d(nan, 1, 1)},
			map[string]string{"b": "w[0] is NaN", "c": "w[1] is +Inf", "d": "loss is NaN"}},
		{"scaled poison", map[string]Delta{"a": d(1, 3, 4), "b": d(1, 4, 3), "c": d(1, 5, 0), "x": d(1, 300, 400)},
			map[string]string{"x": "more than 10× the round's median"}},
		{"lazy zero delta", map[string]Delta{"a": d(1, 3, 4), "b": d(1, 4, 3), "c": d(1, 5, 0), "z": d(1, 0, 0)},
			map[string]string{"z": "less than 1/10 of the round's median"}},
		{"too few to compare norms", map[string]Delta{"a": d(1, 3, 4), "x": d(1, 300, 400)}, nil},
		{"poison in a round of three", map[string]Delta{"a": d(1, 3, 4), "b": d(1, 4, 3), "x": d(1, 3000, 4000)},
			map[string]string{"x": "more than 10×"}},
	}
	for _, tt := range tests {
		got := Screen(tt.deltas)
		var gotIDs, wantIDs []string
		for id := range got {
			gotIDs = append(gotIDs, id)
		}
		for id := range tt.bad {
			wantIDs = append(wantIDs, id)
		}
		slices.Sort(gotIDs)
		slices.Sort(wantIDs)
		if !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("%s: Screen refused %v (%v), want %v", tt.name, gotIDs, got, wantIDs)
			continue
		}
		for id, part := range tt.bad {
			if !strings.Contains(got[id].Error(), part) {
				t.Errorf("%s: %s: error %q, want it to contain %q", tt.name, id, got[id], part)
			}
		}
	}
}

// TestScreenRecorded: the recorded honest deltas of one round pass; the
// gross poisons among the tampered results are refused without a replica.
func TestScreenRecorded(t *testing.T) {
	rec := loadDeltas(t)
	round := map[string]Delta{}
	for i, p := range rec.Honest {
		round[string(rune('a'+i))] = p.Pair[0].delta()
	}
	if bad := Screen(round); len(bad) != 0 {
		t.Fatalf("Screen refused honest deltas: %v", bad)
	}
	round["zeroed"] = rec.Tampered[1].Cheat.delta()
	round["huge"] = mapDelta(rec.Honest[0].Pair[0].delta(), func(x float32) float32 { return x * 50 })
	bad := Screen(round)
	if len(bad) != 2 || bad["zeroed"] == nil || bad["huge"] == nil {
		t.Errorf("Screen = %v, want exactly zeroed and huge refused", bad)
	}
}
