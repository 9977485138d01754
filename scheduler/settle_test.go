package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/ipfs/go-cid"
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

// pricedFake is a fake swarm whose workers sign receipts with an account
// derived from their peer ID and the offered price.
type pricedFake struct{ *fakeSwarm }

func accountOf(peer string) common.Address { return common.BytesToAddress([]byte(peer)) }

func (p pricedFake) OfferPriced(ctx context.Context, peer string, spec tasklet.Spec, price string, progress func(int, int)) (receipt.Receipt, error) {
	r, err := p.Offer(ctx, peer, spec, progress)
	if err != nil {
		return r, err
	}
	c, _ := spec.CID()
	r.TaskletCID, r.Worker, r.Price = c.String(), accountOf(peer), price
	return r, nil
}

// fakePayer records what the coordinator asks of the chain.
type fakePayer struct {
	mu      sync.Mutex
	escrows []EscrowRequest
	posts   [][]Payout
	closed  []string // model, provenance
}

func (f *fakePayer) Units(tokens string) (*big.Int, error) {
	r, ok := new(big.Rat).SetString(tokens)
	if !ok {
		return nil, errors.New("bad amount")
	}
	r.Mul(r, new(big.Rat).SetInt64(1000))
	return new(big.Int).Quo(r.Num(), r.Denom()), nil
}

func (f *fakePayer) Tokens(u *big.Int) string { return u.String() + " milli" }

func (f *fakePayer) Escrow(ctx context.Context, jobID string, req EscrowRequest) (Escrow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.escrows = append(f.escrows, req)
	return Escrow{ID: "1", Deposit: req.Budget.String(), Price: req.Price.String(), Per: req.Per, Tx: "0xdeposit"}, nil
}

func (f *fakePayer) Post(ctx context.Context, jobID string, e Escrow, payouts []Payout, receipts []receipt.Receipt) (Batch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts = append(f.posts, payouts)
	return Batch{Root: fmt.Sprintf("root-%d", len(f.posts)), Tx: "0xroot"}, nil
}

func (f *fakePayer) Close(ctx context.Context, jobID string, e Escrow, model, provenance string) (Closing, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = append(f.closed, model, provenance)
	return Closing{Refund: "0"}, nil
}

// A paid job escrows at submit, offers its price, posts a root once five
// rounds are payable and a last one at the end, and closes with the final
// model and a provenance record that names the escrow.
func TestCoordinatorPaysVerifiedWork(t *testing.T) {
	store, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	grid, sw, pay := newFakeGrid(), newFakeSwarm(), &fakePayer{}
	sw.add("w1", 1, healthy)
	sw.add("w2", 1, healthy)
	c := New(store, grid, pricedFake{sw}, Options{Payer: pay, RetryEvery: 20 * time.Millisecond, Backoff: time.Millisecond})
	t.Cleanup(c.Close)
	h := &harness{grid: grid, swarm: sw, store: store, c: c}
	root := grid.addDataset(t)
	paid := tinySpec(root, 7, 2) + "payment: {budget: \"20\", price: \"0.5\"}\n"

	// Too small a budget is refused before any money moves.
	if _, err := c.Submit(context.Background(), []byte(tinySpec(root, 7, 2)+"payment: {budget: \"1\", price: \"0.5\"}\n")); err == nil || !strings.Contains(err.Error(), "payment.budget") {
		t.Fatalf("a budget of 1 for 14 runs at 0.5: %v", err)
	}
	if len(pay.escrows) != 0 {
		t.Fatalf("a refused job escrowed %+v", pay.escrows)
	}

	j, err := c.Submit(context.Background(), []byte(paid))
	if err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s)", got.Status, got.Error)
	}
	pay.mu.Lock()
	defer pay.mu.Unlock()
	if len(pay.escrows) != 1 || pay.escrows[0].Budget.Int64() != 20000 || pay.escrows[0].Price.Int64() != 500 {
		t.Fatalf("escrows %+v, want one of 20000 at 500", pay.escrows)
	}
	if len(pay.posts) != 2 {
		t.Fatalf("%d roots posted, want 2 (after 6 rounds, then at the end): %+v", len(pay.posts), pay.posts)
	}
	total := func(ps []Payout) (sum int64, runs int) {
		for _, p := range ps {
			a, _ := new(big.Int).SetString(p.Amount, 10)
			sum += a.Int64()
			runs += p.Tasklets
		}
		return
	}
	if sum, runs := total(pay.posts[0]); runs != 10 || sum != 5000 {
		t.Errorf("first root pays %d runs for %d, want rounds 1-5: 10 runs, 5000", runs, sum)
	}
	if sum, runs := total(pay.posts[1]); runs != 14 || sum != 7000 {
		t.Errorf("last root pays %d runs for %d, want all 14 runs, 7000", runs, sum)
	}
	s := got.Settlement
	if s == nil || len(s.Batches) != 2 || s.Batches[1].Through != 7 || s.Closing == nil {
		t.Fatalf("settlement %+v", s)
	}
	if len(pay.closed) != 2 || pay.closed[0] != got.FinalModel || pay.closed[1] != s.Closing.Provenance {
		t.Fatalf("closed with %q, want the final model %s and the provenance", pay.closed, got.FinalModel)
	}
	pc, _ := cid.Decode(s.Closing.Provenance)
	b, err := grid.ReadFile(context.Background(), pc, 1<<20)
	var prov Provenance
	if err != nil || json.Unmarshal(b, &prov) != nil || prov.Settlement == nil || prov.Settlement.Escrow.Tx != "0xdeposit" || len(prov.Settlement.Batches) != 2 {
		t.Errorf("provenance record: %v, %+v", err, prov.Settlement)
	}
	// Every accepted receipt names the price of one run.
	for _, rd := range got.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Receipt == nil || tk.Receipt.Price != "500" {
				t.Errorf("round %d tasklet %d receipt %+v, want price 500", rd.Index, tk.Index, tk.Receipt)
			}
		}
	}
}

func TestPaidJobWithoutPayerIsRefused(t *testing.T) {
	h := newHarness(t, Options{})
	root := h.grid.addDataset(t)
	_, err := h.c.Submit(context.Background(), []byte(tinySpec(root, 1, 1)+"payment: {budget: \"2\", price: \"1\"}\n"))
	if err == nil || !strings.Contains(err.Error(), "settle.backend") {
		t.Fatalf("paid job without a chain: %v, want an error naming settle.backend", err)
	}
}

// A paid job stops before a round its escrow might not cover: a root over
// the deposit would be refused and nobody paid.
func TestBudgetLeft(t *testing.T) {
	spec := &jobspec.Spec{Rounds: 10, InnerSteps: 1, BatchSize: 1}
	job := func(deposit string, paidRuns int) *run {
		j := &Job{Round: 1, Settlement: &Settlement{Escrow: Escrow{Deposit: deposit, Price: "100", Per: jobspec.PerTasklet}}}
		var rd Round
		for i := range paidRuns {
			rd.Tasklets = append(rd.Tasklets, done(fmt.Sprint("t", i), byte(1+i%3), "good", nil))
			rd.Tasklets[i].Receipt.Price = "100"
		}
		j.Rounds = []Round{rd}
		return &run{job: j, spec: spec}
	}
	c := &Coordinator{}
	if err := c.budgetLeft(job("1000", 4), 2); err != nil {
		t.Errorf("400 owed + 200 next of 1000: %v", err)
	}
	err := c.budgetLeft(job("1000", 9), 2)
	if !errors.Is(err, errBudgetSpent) || !strings.Contains(err.Error(), "payment.budget") {
		t.Errorf("900 owed + 200 next of 1000: %v, want errBudgetSpent saying what to do", err)
	}
	if err := c.budgetLeft(&run{job: &Job{}, spec: spec}, 2); err != nil {
		t.Errorf("an unpaid job: %v", err)
	}
}
