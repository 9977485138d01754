package scheduler

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"pgregory.net/rapid"
)

func rcpt(worker byte, tasklet string, price string) *receipt.Receipt {
	return &receipt.Receipt{TaskletCID: tasklet, Worker: common.Address{worker}, Price: price}
}

func peerOf(worker byte) string { return "peer-" + common.Address{worker}.Hex() }

// done is an accepted tasklet produced by worker, optionally spot-checked
// by the others (each result's output given).
func done(tasklet string, worker byte, output string, checks map[byte]string) Tasklet {
	t := Tasklet{State: TaskDone, Output: output, Peer: peerOf(worker), Receipt: rcpt(worker, tasklet, "10")}
	if checks != nil {
		t.Check = &SpotCheck{Outcome: "verified"}
		for w, out := range checks {
			t.Check.Results = append(t.Check.Results, CheckResult{Peer: peerOf(w), Output: out, Receipt: *rcpt(w, tasklet, "10")})
		}
	}
	return t
}

func TestPayouts(t *testing.T) {
	none := func(string, string) bool { return false }
	j := &Job{Rounds: []Round{
		{Tasklets: []Tasklet{
			done("t0", 1, "good", nil),
			done("t1", 2, "good", map[byte]string{2: "good", 3: "good"}),           // replica by 3 agrees: both paid
			done("t2", 4, "good", map[byte]string{4: "good", 5: "bad", 6: "good"}), // 5 lost the vote
			{State: TaskDone, Output: "x", Peer: peerOf(7), Receipt: rcpt(7, "t3", "10"), Screened: "delta too large"},
			{State: TaskDropped, Peer: peerOf(8), Receipt: rcpt(8, "t4", "10")},
		}},
		{Tasklets: []Tasklet{done("t5", 1, "good", nil)}},
	}}
	tests := []struct {
		name     string
		through  int
		excluded func(peer, account string) bool
		want     map[byte]string
	}{
		{"first round", 1, none, map[byte]string{1: "10", 2: "10", 3: "10", 4: "10", 6: "10"}},
		{"both rounds", 2, none, map[byte]string{1: "20", 2: "10", 3: "10", 4: "10", 6: "10"}},
		{"nothing yet", 0, none, map[byte]string{}},
		{"a banned account forfeits", 2, func(_, a string) bool { return a == common.Address{1}.Hex() }, map[byte]string{2: "10", 3: "10", 4: "10", 6: "10"}},
		{"a banned peer forfeits", 2, func(p, _ string) bool { return p == peerOf(3) }, map[byte]string{1: "20", 2: "10", 4: "10", 6: "10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, receipts := Payouts(j, tt.through, tt.excluded)
			m := map[byte]string{}
			n := 0
			for _, p := range got {
				m[common.HexToAddress(p.Account)[0]] = p.Amount
				n += p.Tasklets
			}
			if len(m) != len(tt.want) {
				t.Fatalf("payouts %+v, want %v", got, tt.want)
			}
			for w, a := range tt.want {
				if m[w] != a {
					t.Errorf("worker %d paid %q, want %q (all: %+v)", w, m[w], a, got)
				}
			}
			if n != len(receipts) {
				t.Errorf("%d tasklets paid but %d receipts returned", n, len(receipts))
			}
		})
	}
}

// Whatever the job's record, payouts add up to the prices of the receipts
// they return, pay no receipt twice and nothing to an excluded account.
func TestPayoutsProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		j := &Job{}
		for r := rapid.IntRange(0, 4).Draw(rt, "rounds"); r > 0; r-- {
			var rd Round
			for k := rapid.IntRange(0, 5).Draw(rt, "tasklets"); k > 0; k-- {
				w := byte(rapid.IntRange(1, 6).Draw(rt, "worker"))
				tk := rapid.SampledFrom([]string{"a", "b", "c", "d"}).Draw(rt, "tasklet")
				var checks map[byte]string
				if rapid.Bool().Draw(rt, "checked") {
					checks = map[byte]string{w: "good", byte(rapid.IntRange(1, 6).Draw(rt, "replica")): rapid.SampledFrom([]string{"good", "bad"}).Draw(rt, "out")}
				}
				t := done(tk, w, "good", checks)
				t.Receipt.Price = big.NewInt(rapid.Int64Range(0, 1e18).Draw(rt, "price")).String()
				if t.Check != nil {
					for i := range t.Check.Results {
						t.Check.Results[i].Receipt.Price = t.Receipt.Price
					}
				}
				if rapid.Bool().Draw(rt, "screened") {
					t.Screened = "refused"
				}
				rd.Tasklets = append(rd.Tasklets, t)
			}
			j.Rounds = append(j.Rounds, rd)
		}
		banned := common.Address{byte(rapid.IntRange(0, 6).Draw(rt, "banned"))}.Hex()
		payouts, receipts := Payouts(j, rapid.IntRange(0, 5).Draw(rt, "through"), func(_, a string) bool { return a == banned })
		sum, paid := new(big.Int), new(big.Int)
		seen := map[string]bool{}
		for _, r := range receipts {
			k := r.TaskletCID + r.Worker.Hex()
			if seen[k] {
				rt.Fatalf("receipt %s paid twice", k)
			}
			seen[k] = true
			p, _ := receipt.ParsePrice(r.Price)
			sum.Add(sum, p)
		}
		for _, p := range payouts {
			if p.Account == banned {
				rt.Fatalf("banned account %s paid %s", banned, p.Amount)
			}
			a, _ := new(big.Int).SetString(p.Amount, 10)
			paid.Add(paid, a)
		}
		if sum.Cmp(paid) != 0 {
			rt.Fatalf("payouts total %s, receipts' prices %s", paid, sum)
		}
	})
}

func TestTaskletPriceAndBatching(t *testing.T) {
	spec := &jobspec.Spec{InnerSteps: 10, BatchSize: 32}
	if p, _ := TaskletPrice(Escrow{Price: "7", Per: jobspec.PerTasklet}, spec); p.Int64() != 7 {
		t.Errorf("per tasklet: %v, want 7", p)
	}
	if p, _ := TaskletPrice(Escrow{Price: "7", Per: jobspec.PerSample}, spec); p.Int64() != 7*320 {
		t.Errorf("per sample: %v, want 7 × 320", p)
	}
	s := &Settlement{}
	for _, tt := range []struct {
		rounds int
		final  bool
		want   bool
	}{
		{1, false, false}, {DefaultBatchRounds, false, false}, {DefaultBatchRounds + DefaultHoldRounds, false, true}, {2, true, true},
	} {
		if got := due(s, payable(tt.rounds, tt.final), tt.final); got != tt.want {
			t.Errorf("after %d rounds (final %v): due = %v, want %v", tt.rounds, tt.final, got, tt.want)
		}
	}
	s.Batches = []Batch{{Through: 2}}
	if due(s, 2, true) {
		t.Error("a final root was due though nothing changed since the last one")
	}
}
