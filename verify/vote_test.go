package verify

import (
	"slices"
	"strings"
	"testing"
)

func TestDecideExact(t *testing.T) {
	cmp := Comparator{Class: ClassBuiltin}
	o := func(peer, cid string) Output { return Output{Peer: peer, CID: cid} }
	tests := []struct {
		name     string
		outputs  []Output
		outcome  Outcome
		accepted int
		winners  []string
		losers   []string
		reason   string
	}{
		{"one output", []Output{o("A", "x")}, Invalid, -1, nil, nil, "2 or 3 outputs"},
		{"four outputs", []Output{o("A", "x"), o("B", "x"), o("C", "x"), o("D", "x")}, Invalid, -1, nil, nil, "got 4"},
		{"two agree", []Output{o("A", "x"), o("B", "x")}, Verified, 0, []string{"A", "B"}, nil, "agree"},
		{"two differ", []Output{o("A", "x"), o("B", "y")}, NeedThird, -1, nil, nil, "third replica decides"},
		{"three agree", []Output{o("A", "x"), o("B", "x"), o("C", "x")}, Verified, 0, []string{"A", "B", "C"}, nil, "agree"},
		{"first is odd", []Output{o("A", "y"), o("B", "x"), o("C", "x")}, OddOneOut, 1, []string{"B", "C"}, []string{"A"}, "peer A's output differed from two agreeing replicas on B and C"},
		{"second is odd", []Output{o("A", "x"), o("B", "y"), o("C", "x")}, OddOneOut, 2, []string{"C", "A"}, []string{"B"}, "peer B's output differed"},
		{"third is odd", []Output{o("A", "x"), o("B", "x"), o("C", "z")}, OddOneOut, 0, []string{"A", "B"}, []string{"C"}, "peer C's output differed"},
		{"all differ", []Output{o("A", "x"), o("B", "y"), o("C", "z")}, ExecutorFault, -1, nil, nil, "all three outputs differ"},
	}
	for _, tt := range tests {
		v := Decide(cmp, tt.outputs)
		if v.Outcome != tt.outcome || v.Accepted != tt.accepted || !slices.Equal(v.Winners, tt.winners) || !slices.Equal(v.Losers, tt.losers) {
			t.Errorf("%s: Decide = %+v, want outcome %s accepted %d winners %v losers %v", tt.name, v, tt.outcome, tt.accepted, tt.winners, tt.losers)
		}
		if len(v.Reasons) == 0 || !strings.Contains(strings.Join(v.Reasons, "; "), tt.reason) {
			t.Errorf("%s: reasons %q, want one containing %q", tt.name, v.Reasons, tt.reason)
		}
	}
}

// TestDecideTolerance votes on recorded process-class outputs: two honest
// replicas outvote a tampered one, and the reason names the distance.
func TestDecideTolerance(t *testing.T) {
	rec := loadDeltas(t)
	cmp := Comparator{Class: ClassProcess, Tolerance: Tolerance{RelL2: 1e-5, Loss: 1e-5}}
	honest := rec.Honest[0]
	cheat := rec.Tampered[2] // noised
	outs := []Output{
		{Peer: "A", CID: "a", Delta: ptr(honest.Pair[0].delta())},
		{Peer: "X", CID: "x", Delta: ptr(cheat.Cheat.delta())},
		{Peer: "B", CID: "b", Delta: ptr(honest.Pair[1].delta())},
	}
	v := Decide(cmp, outs)
	if v.Outcome != OddOneOut || !slices.Equal(v.Losers, []string{"X"}) || outs[v.Accepted].Peer == "X" {
		t.Fatalf("Decide = %+v, want X to lose", v)
	}
	if want := "peer X's output differed from two agreeing replicas on B and A (relative L2 0.000998 > threshold 1e-05"; !strings.HasPrefix(v.Reasons[0], want) {
		t.Errorf("reason %q, want it to start with %q", v.Reasons[0], want)
	}
	// Non-transitive agreement within a tolerance: A~M and M~B but A≁B.
	line := func(x float32) *Delta {
		return ptr(mapDelta(honest.Pair[0].delta(), func(v float32) float32 { return v * x }))
	}
	wide := Comparator{Class: ClassProcess, Tolerance: Tolerance{RelL2: 0.011, Loss: 1}}
	v = Decide(wide, []Output{{Peer: "A", CID: "a", Delta: line(1)}, {Peer: "M", CID: "m", Delta: line(1.01)}, {Peer: "B", CID: "b", Delta: line(1.02)}})
	if v.Outcome != ExecutorFault || len(v.Losers) != 0 {
		t.Errorf("non-transitive vote = %+v, want an executor fault with no loser", v)
	}
}
