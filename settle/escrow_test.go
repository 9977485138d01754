package settle

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/gridswarm/gridswarm/settle/bindings"
	"github.com/gridswarm/gridswarm/settle/merkle"
)

// gasBudget is the most gas each operation may take (21k base included).
// Measured figures are in docs/benchmarks.md; budgets leave ~15% headroom
// so a regression in the contracts fails here.
var gasBudget = map[string]uint64{
	"register dataset": 215_000,
	"deposit":          230_000,
	"post root first":  95_000,
	"post root second": 82_000, // prevRoot's slot is written for the first time
	"post root later":  55_000,
	"claim new holder": 110_000,
	"claim existing":   70_000,  // proof depth up to ~10
	"claim many (3)":   240_000, // two new holders, three new claimed-by slots
	"claim royalty":    105_000, // a new holder, the first royalty-paid write, a registry lookup
	"refund":           60_000,
	"mint model":       250_000,
	"stake":            110_000,
	"request unstake":  55_000,
	"withdraw":         62_000,
	"slash":            150_000,
}

func checkGas(t *testing.T, op string, rec *types.Receipt) {
	t.Helper()
	budget, ok := gasBudget[op]
	if !ok {
		t.Fatalf("no gas budget for %q", op)
	}
	t.Logf("gas %-18s %7d (budget %d)", op, rec.GasUsed, budget)
	if rec.GasUsed > budget {
		t.Errorf("%s used %d gas, over its budget of %d", op, rec.GasUsed, budget)
	}
}

func payoutTree(t *testing.T, amounts map[common.Address]int64) *merkle.PayoutTree {
	t.Helper()
	var ps []merkle.Payout
	for a, v := range amounts {
		ps = append(ps, merkle.Payout{Worker: a, Amount: big.NewInt(v)})
	}
	pt, err := merkle.Payouts(ps)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func proofOf(t *testing.T, pt *merkle.PayoutTree, w common.Address) (*big.Int, []merkle.Hash) {
	t.Helper()
	amount, proof, err := pt.ProofFor(w)
	if err != nil {
		t.Fatal(err)
	}
	return amount, proof
}

func wantBalance(t *testing.T, f *fixture, who common.Address, want int64, what string) {
	t.Helper()
	if got := f.balance(who); got.Cmp(big.NewInt(want)) != 0 {
		t.Errorf("%s balance: got %v, want %d", what, got, want)
	}
}

// A job from deposit to refund the way the daemon drives it: a dataset
// token, a deposit with a 10% royalty, two batches, claims (one, then one
// across two jobs), the royalty, the model token and the refund. Every
// balance is checked to the unit.
func TestEscrowLifecycle(t *testing.T) {
	f := newFixture(t, 3)
	w := addrs(f.workers)
	dataset, rec, err := f.owner.RegisterDataset(f.ctx, "bafybeidataset", "bafybeiprovenance")
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "register dataset", rec)

	f.mint(f.submitter.From(), n(100_000))
	deadline := f.now().Add(time.Hour)
	job, rec, err := f.submitter.Deposit(f.ctx, Deposit{
		Amount: n(10_000), Deadline: deadline, Coordinator: f.coordinator.From(),
		DatasetID: dataset, RoyaltyBps: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "deposit", rec)
	// A second job, without royalty, for the claim across jobs.
	job2, _, err := f.submitter.Deposit(f.ctx, Deposit{Amount: n(1_000), Deadline: deadline, Coordinator: f.coordinator.From()})
	if err != nil {
		t.Fatal(err)
	}

	batch1 := payoutTree(t, map[common.Address]int64{w[0]: 3000, w[1]: 2000})
	rec, err = f.coordinator.PostRoot(f.ctx, job, batch1, [32]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "post root first", rec)

	amount, proof := proofOf(t, batch1, w[0])
	rec, err = f.outsider.Claim(f.ctx, job, w[0], amount, proof) // anyone may claim for a worker
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "claim new holder", rec)
	wantBalance(t, f, w[0], 3000, "worker 0 after batch 1")

	batch2 := payoutTree(t, map[common.Address]int64{w[0]: 5000, w[1]: 2500, w[2]: 1000})
	rec, err = f.coordinator.PostRoot(f.ctx, job, batch2, [32]byte{2})
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "post root second", rec)

	amount, proof = proofOf(t, batch2, w[0])
	rec, err = f.workers[0].Claim(f.ctx, job, w[0], amount, proof)
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "claim existing", rec)
	wantBalance(t, f, w[0], 5000, "worker 0 after batch 2")
	if _, err := f.workers[0].Claim(f.ctx, job, w[0], amount, proof); err == nil {
		t.Error("second claim of the same cumulative amount: got no error")
	} else if _, ok := IsRevert[bindings.JobEscrowNothingToClaim](err); !ok {
		t.Errorf("second claim: got %v, want NothingToClaim", err)
	}

	job2Tree := payoutTree(t, map[common.Address]int64{w[1]: 400, w[2]: 100})
	if _, err := f.coordinator.PostRoot(f.ctx, job2, job2Tree, [32]byte{3}); err != nil {
		t.Fatal(err)
	}
	a1, p1 := proofOf(t, batch2, w[1])
	a2, p2 := proofOf(t, job2Tree, w[1])
	a3, p3 := proofOf(t, batch2, w[2])
	rec, err = f.workers[1].ClaimMany(f.ctx, []Claim{
		{JobID: job, Worker: w[1], Amount: a1, Proof: p1},
		{JobID: job2, Worker: w[1], Amount: a2, Proof: p2},
		{JobID: job, Worker: w[2], Amount: a3, Proof: p3},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "claim many (3)", rec)
	wantBalance(t, f, w[1], 2900, "worker 1 after claiming in two jobs")
	wantBalance(t, f, w[2], 1000, "worker 2")

	rec, err = f.outsider.ClaimRoyalty(f.ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "claim royalty", rec)
	wantBalance(t, f, f.owner.From(), 850, "dataset owner (10% of 8500)")

	if _, err := f.submitter.Refund(f.ctx, job); err == nil {
		t.Error("refund before the deadline by the submitter: got no error")
	} else if _, ok := IsRevert[bindings.JobEscrowDeadlineNotReached](err); !ok {
		t.Errorf("early refund: got %v, want DeadlineNotReached", err)
	}
	if none, err := f.coordinator.ModelOf(f.ctx, job); err != nil || none.Sign() != 0 {
		t.Errorf("model token before the mint: %v, %v; want 0", none, err)
	}
	tokenID, rec, err := f.coordinator.MintModel(f.ctx, job, "bafybeimodel", "bafybeijobprovenance")
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "mint model", rec)
	if got, err := f.coordinator.ModelOf(f.ctx, job); err != nil || got.Cmp(tokenID) != 0 {
		t.Errorf("model token after the mint: %v, %v; want %v", got, err, tokenID)
	}
	if owner, err := f.submitter.OwnerOf(f.ctx, tokenID); err != nil || owner != f.submitter.From() {
		t.Errorf("model token owner: got %s, %v; want the submitter %s", owner, err, f.submitter.From())
	}
	item, err := f.submitter.Item(f.ctx, tokenID)
	if err != nil || item.Cid != "bafybeimodel" || item.ProvenanceCid != "bafybeijobprovenance" || item.JobId.Cmp(job) != 0 {
		t.Errorf("model token: got %+v, %v", item, err)
	}

	f.advance(2 * time.Hour)
	if _, err := f.coordinator.PostRoot(f.ctx, job, batch2, [32]byte{4}); err == nil {
		t.Error("root after the deadline: got no error")
	}
	rec, err = f.outsider.Refund(f.ctx, job) // anyone, once the deadline passed
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "refund", rec)
	// 100000 minted − 10000 − 1000 deposited + (10000 − 8500 − 850) refunded.
	wantBalance(t, f, f.submitter.From(), 89_650, "submitter after refund")
	if _, err := f.outsider.Refund(f.ctx, job); err == nil {
		t.Error("second refund: got no error")
	}
	// Committed work stays claimable after the refund.
	a1, p1 = proofOf(t, batch2, w[1])
	if _, err := f.workers[1].Claim(f.ctx, job, w[1], a1, p1); err == nil {
		t.Error("claim of an already-claimed amount after refund: got no error")
	}
	// job: 10000 = 5000 + 2500 + 1000 paid + 850 royalty + 650 refund; job2 still holds 1000 − 400.
	wantBalance(t, f, f.addrs.Escrow, 600, "escrow")
	j, err := f.outsider.Job(f.ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Closed || j.Batches != 2 || j.Claimed.Int64() != 8500 || j.RoyaltyPaid.Int64() != 850 {
		t.Errorf("job state: %+v", j)
	}
}

func TestEscrowRejectsBadInput(t *testing.T) {
	f := newFixture(t, 2)
	w := addrs(f.workers)
	f.mint(f.submitter.From(), n(100_000))
	deadline := f.now().Add(time.Hour)
	job, _, err := f.submitter.Deposit(f.ctx, Deposit{Amount: n(1000), Deadline: deadline, Coordinator: f.coordinator.From()})
	if err != nil {
		t.Fatal(err)
	}
	fits := payoutTree(t, map[common.Address]int64{w[0]: 600, w[1]: 400})
	over := payoutTree(t, map[common.Address]int64{w[0]: 600, w[1]: 401})
	smaller := payoutTree(t, map[common.Address]int64{w[0]: 100})

	tests := []struct {
		name string
		do   func() error
		want func(error) bool
	}{
		{"deposit without amount", func() error {
			_, _, err := f.submitter.Deposit(f.ctx, Deposit{Amount: n(0), Deadline: deadline, Coordinator: f.coordinator.From()})
			return err
		}, func(err error) bool { return err != nil }},
		{"deposit with a past deadline", func() error {
			_, _, err := f.submitter.Deposit(f.ctx, Deposit{Amount: n(1), Deadline: f.now().Add(-time.Minute), Coordinator: f.coordinator.From()})
			return err
		}, isRevert[bindings.JobEscrowBadDeadline]},
		{"royalty without a dataset", func() error {
			_, _, err := f.submitter.Deposit(f.ctx, Deposit{Amount: n(1), Deadline: deadline, Coordinator: f.coordinator.From(), RoyaltyBps: 100})
			return err
		}, isRevert[bindings.JobEscrowRoyaltyWithoutDataset]},
		{"royalty for a dataset that does not exist", func() error {
			_, _, err := f.submitter.Deposit(f.ctx, Deposit{Amount: n(1), Deadline: deadline, Coordinator: f.coordinator.From(), RoyaltyBps: 100, DatasetID: n(99)})
			return err
		}, isRevert[bindings.RegistryERC721NonexistentToken]},
		{"deposit over the allowance and balance", func() error {
			_, _, err := f.outsider.Deposit(f.ctx, Deposit{Amount: n(5), Deadline: deadline, Coordinator: f.coordinator.From()})
			return err
		}, isRevert[bindings.GridTokenERC20InsufficientBalance]},
		{"root by someone else than the coordinator", func() error {
			_, err := f.submitter.PostRoot(f.ctx, job, fits, [32]byte{})
			return err
		}, isRevert[bindings.JobEscrowNotCoordinator]},
		{"root over the deposit", func() error {
			_, err := f.coordinator.PostRoot(f.ctx, job, over, [32]byte{})
			return err
		}, isRevert[bindings.JobEscrowOverDeposit]},
		{"root for an unknown job", func() error {
			_, err := f.coordinator.PostRoot(f.ctx, n(77), fits, [32]byte{})
			return err
		}, isRevert[bindings.JobEscrowUnknownJob]},
		{"root that fits", func() error {
			_, err := f.coordinator.PostRoot(f.ctx, job, fits, [32]byte{})
			return err
		}, func(err error) bool { return err == nil }},
		{"root with a smaller committed total", func() error {
			_, err := f.coordinator.PostRoot(f.ctx, job, smaller, [32]byte{})
			return err
		}, isRevert[bindings.JobEscrowCommittedDecreased]},
		{"claim of more than the leaf", func() error {
			_, proof := proofOf(t, fits, w[0])
			_, err := f.outsider.Claim(f.ctx, job, w[0], n(601), proof)
			return err
		}, isRevert[bindings.JobEscrowInvalidProof]},
		{"claim with another worker's proof", func() error {
			amount, proof := proofOf(t, fits, w[1])
			_, err := f.outsider.Claim(f.ctx, job, w[0], amount, proof)
			return err
		}, isRevert[bindings.JobEscrowInvalidProof]},
	}
	for _, tt := range tests {
		err := tt.do()
		if !tt.want(err) {
			t.Errorf("%s: unexpected result %v", tt.name, err)
		} else if err != nil {
			t.Logf("%s: %v", tt.name, err)
		}
	}
}

func isRevert[T any](err error) bool {
	_, ok := IsRevert[T](err)
	return ok
}
