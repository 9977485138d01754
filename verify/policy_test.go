package verify

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

func TestProbability(t *testing.T) {
	job := Rates{Rate: 0.05, MinRateNewPeers: 0.5}
	tests := []struct {
		name string
		rec  Record
		job  Rates
		want float64
	}{
		{"new peer", Record{}, job, 0.5},
		{"short record", Record{Consecutive: 9, Passed: 9}, job, 0.5},
		{"new peer, rate above new-peer rate", Record{}, Rates{Rate: 0.7, MinRateNewPeers: 0.5}, 0.7},
		{"BOINC 1/consecutive", Record{Consecutive: 10}, job, 0.1},
		{"floor", Record{Consecutive: 1000}, job, 0.05},
		{"suspect after a lost vote", Record{Consecutive: 3, Lost: 1}, job, 1},
		{"suspect earned its record back", Record{Consecutive: 40, Lost: 1}, job, 0.05},
		{"rates out of range clamp", Record{}, Rates{Rate: 2, MinRateNewPeers: -1}, 1},
		{"no checks", Record{Consecutive: 100}, Rates{}, 0.01},
	}
	for _, tt := range tests {
		if got := Probability(tt.rec, tt.job); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: Probability = %v, want %v", tt.name, got, tt.want)
		}
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestDrawEdges(t *testing.T) {
	rng := seeded(1)
	for range 1000 {
		if !Draw(Record{Lost: 1}, Rates{}, rng) {
			t.Fatal("Draw with probability 1 returned false")
		}
	}
	if !Draw(Record{Consecutive: 1000}, Rates{Rate: 0.01}, failing{}) {
		t.Error("Draw with a failing rng returned false, want true (fail safe)")
	}
	zero := 0
	for range 1000 {
		if Draw(Record{}, Rates{}, rng) {
			zero++
		}
	}
	if zero != 0 {
		t.Errorf("Draw with probability 0 returned true %d times", zero)
	}
}

// bernstein is the half-width ε of a two-sided Bernstein bound for the
// mean of n Bernoulli(q) trials that fails with probability at most delta:
// P(|mean − q| ≥ ε) ≤ 2 exp(−nε² / (2q(1−q) + 2ε/3)).
func bernstein(n int, q, delta float64) float64 {
	l := math.Log(2 / delta)
	v := q * (1 - q)
	return (l/3 + math.Sqrt(l*l/9+2*float64(n)*v*l)) / float64(n)
}

// TestPropertyEscapeRate checks the policy's central promise: a worker
// that fakes k tasklets, each drawn for a replica with probability p,
// escapes every check with probability (1 − p)^k. Each case runs n seeded
// cheaters; the observed escape share must lie within a Bernstein bound
// that a correct Draw breaks with probability below 1e-9, so the test is
// not flaky, and fixed seeds make it reproducible.
func TestPropertyEscapeRate(t *testing.T) {
	const n = 2000
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.Float64Range(0.01, 0.5).Draw(t, "p")
		k := rapid.IntRange(1, 60).Draw(t, "k")
		rng := seeded(rapid.Uint64().Draw(t, "seed"))
		rec := Record{Consecutive: 1 << 20} // 1/consecutive below any p
		escaped := 0
		for range n {
			caught := false
			for range k {
				if Draw(rec, Rates{Rate: p}, rng) {
					caught = true
					break
				}
			}
			if !caught {
				escaped++
			}
		}
		q := math.Pow(1-p, float64(k))
		got := float64(escaped) / n
		if eps := bernstein(n, q, 1e-9); math.Abs(got-q) > eps {
			t.Fatalf("p=%v k=%d: escape share %v, want (1-p)^k = %v ± %v", p, k, got, q, eps)
		}
	})
}

// TestEscapeRateFixedSeeds is the escape-rate check on a fixed grid of
// rates, fake counts and seeds, including the figures of the notes
// (p = 0.05, k = 60 → 4.6%; p = 0.1, k = 44 → 0.97%): deterministic, so
// it never flakes, and a wrong Draw fails it.
func TestEscapeRateFixedSeeds(t *testing.T) {
	const n = 5000
	cases := []struct {
		p float64
		k int
	}{{0.05, 60}, {0.05, 100}, {0.1, 44}, {0.1, 1}, {0.2, 10}, {0.5, 3}, {0.01, 100}}
	for i, c := range cases {
		rng := seeded(uint64(1000 + i))
		rec := Record{Consecutive: 1 << 20}
		escaped := 0
		for range n {
			caught := false
			for range c.k {
				if Draw(rec, Rates{Rate: c.p}, rng) {
					caught = true
					break
				}
			}
			if !caught {
				escaped++
			}
		}
		q := math.Pow(1-c.p, float64(c.k))
		got := float64(escaped) / n
		if eps := bernstein(n, q, 1e-6); math.Abs(got-q) > eps {
			t.Errorf("p=%v k=%d: escape share %v, want (1-p)^k = %v ± %v", c.p, c.k, got, q, eps)
		}
	}
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestReplicaCandidates(t *testing.T) {
	primary := PeerInfo{Peer: "P", Addrs: addrs("203.0.113.7", "2001:db8:1:2::7"), Account: "0xaaa"}
	cands := []PeerInfo{
		{Peer: "P", Addrs: addrs("198.51.100.1")},
		{Peer: "same24", Addrs: addrs("203.0.113.200")},
		{Peer: "same48", Addrs: addrs("2001:db8:1:ffff::1")},
		{Peer: "mapped", Addrs: addrs("::ffff:203.0.113.9")},
		{Peer: "sameAccount", Addrs: addrs("192.0.2.1"), Account: "0xaaa"},
		{Peer: "other24", Addrs: addrs("203.0.114.7", "2001:db8:2::1")},
		{Peer: "unknown"},
	}
	ok, out := ReplicaCandidates([]PeerInfo{primary}, cands)
	var gotOK []string
	for _, c := range ok {
		gotOK = append(gotOK, c.Peer)
	}
	if want := []string{"other24", "unknown"}; !slices.Equal(gotOK, want) {
		t.Errorf("allowed = %v, want %v", gotOK, want)
	}
	wantOut := map[string]string{
		"P":           "same peer",
		"same24":      "same network as P (203.0.113.0/24)",
		"same48":      "same network as P (2001:db8:1::/48)",
		"mapped":      "same network as P (203.0.113.0/24)",
		"sameAccount": "same payout account as P",
	}
	if len(out) != len(wantOut) {
		t.Errorf("excluded %v, want %d", out, len(wantOut))
	}
	for _, e := range out {
		if wantOut[e.Peer] != e.Reason {
			t.Errorf("excluded %s for %q, want %q", e.Peer, e.Reason, wantOut[e.Peer])
		}
	}
}

func TestPickThird(t *testing.T) {
	now := epoch
	b := NewBook(DefaultRule)
	trust := func(peer string, consecutive int) {
		b.Update(Key{Peer: peer, Class: ClassWasm}, func(r *Record) {
			for range consecutive {
				r.Verified(now, b.Rule)
			}
		})
	}
	trust("A", 50)
	trust("B", 50)
	trust("C", 30)
	trust("D", 5)
	trust("E", 90)
	b.Update(Key{Peer: "E", Class: ClassBuiltin}, func(r *Record) { r.Equivocated(now, b.Rule, "t") })
	placed := []PeerInfo{{Peer: "P"}, {Peer: "R", Account: "0xr"}}
	cands := []PeerInfo{{Peer: "R"}, {Peer: "B"}, {Peer: "A"}, {Peer: "C", Account: "0xr"}, {Peer: "D"}, {Peer: "E"}, {Peer: "F"}}
	pick, ok, out := PickThird(b, ClassWasm, placed, cands, now)
	if !ok || pick.Peer != "A" {
		t.Errorf("PickThird = %v %v, want A (ties on consecutive and verified break by peer ID)", pick.Peer, ok)
	}
	reasons := map[string]string{}
	for _, e := range out {
		reasons[e.Peer] = e.Reason
	}
	for peer, prefix := range map[string]string{"R": ReasonSamePeer, "C": ReasonSameAccount, "D": ReasonLowTrust, "E": ReasonBanned, "F": ReasonLowTrust} {
		if got := reasons[peer]; len(got) < len(prefix) || got[:len(prefix)] != prefix {
			t.Errorf("%s excluded for %q, want %q…", peer, got, prefix)
		}
	}
	if pick, ok, _ := PickThird(b, ClassWasm, placed, []PeerInfo{{Peer: "F"}, {Peer: "D"}}, now); !ok || pick.Peer != "D" {
		t.Errorf("with no full record among the candidates PickThird = %v %v, want D (the longest short record)", pick.Peer, ok)
	}
	b.Update(Key{Peer: "D", Class: ClassWasm}, func(r *Record) { r.LostVote(now, b.Rule) })
	if pick, ok, out := PickThird(b, ClassWasm, placed, []PeerInfo{{Peer: "D"}}, now); ok || len(out) != 1 || out[0].Reason != ReasonSuspect {
		t.Errorf("PickThird = %v %v %v, want no pick: D lost a vote", pick.Peer, ok, out)
	}
	if _, ok, _ := PickThird(b, ClassWasm, placed, []PeerInfo{{Peer: "E"}}, now.Add(2*time.Hour)); !ok {
		t.Error("PickThird refused E after its ban expired")
	}
}
