package settle

import (
	"math/big"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/settle/merkle"
)

// Gas per settled tasklet at 1,000 tasklets a batch and 50 workers, each
// worker claiming once every 10 batches (the figure docs/benchmarks.md
// records), against a naive ERC-20 transfer per tasklet measured on the
// same chain. Target: at most 500 gas a tasklet.
//
//	go test ./settle -run TestGasPerTasklet -v
func TestGasPerTasklet(t *testing.T) {
	const (
		workers             = 50
		taskletsPerBatch    = 1000
		batches             = 10
		price               = 1_000_000 // token units a tasklet
		taskletsPerWorker   = taskletsPerBatch / workers
		budgetPerTaskletGas = 500
	)
	f := newFixture(t, workers)
	w := addrs(f.workers)
	f.mint(f.submitter.From(), new(big.Int).Lsh(big.NewInt(1), 100))
	budget := big.NewInt(2 * batches * taskletsPerBatch * price)
	job, _, err := f.submitter.Deposit(f.ctx, Deposit{Amount: budget, Deadline: f.now().Add(time.Hour), Coordinator: f.coordinator.From()})
	if err != nil {
		t.Fatal(err)
	}
	post := func(batch int) (*merkle.PayoutTree, uint64) {
		ps := make([]merkle.Payout, workers)
		for i := range ps {
			ps[i] = merkle.Payout{Worker: w[i], Amount: big.NewInt(int64(batch * taskletsPerWorker * price))}
		}
		tree, err := merkle.Payouts(ps)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := f.coordinator.PostRoot(f.ctx, job, tree, [32]byte{byte(batch)})
		if err != nil {
			t.Fatal(err)
		}
		return tree, rec.GasUsed
	}
	claimAll := func(tree *merkle.PayoutTree) (total uint64, depth int) {
		for _, a := range w {
			amount, proof, err := tree.ProofFor(a)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := f.outsider.Claim(f.ctx, job, a, amount, proof)
			if err != nil {
				t.Fatal(err)
			}
			total += rec.GasUsed
			depth = max(depth, len(proof))
		}
		return total, depth
	}

	// Warm-up period: the job's first roots and every worker's first claim
	// write fresh storage; the steady state is measured after it.
	tree, firstRoot := post(1)
	_, secondRoot := post(2)
	firstClaims, _ := claimAll(tree)
	tree, _ = post(3)
	var roots uint64
	for b := 4; b < 4+batches; b++ {
		var g uint64
		tree, g = post(b)
		roots += g
	}
	claims, depth := claimAll(tree)
	perTasklet := float64(roots+claims) / float64(batches*taskletsPerBatch)

	// Naive: one ERC-20 transfer per tasklet, to a new and to an existing holder.
	f.mint(f.outsider.From(), big.NewInt(10))
	recNew, err := f.outsider.send(f.ctx, "transfer", f.outsider.token, f.outsider.abi.token.PackTransfer(f.owner.From(), big.NewInt(1)))
	if err != nil {
		t.Fatal(err)
	}
	recOld, err := f.outsider.send(f.ctx, "transfer", f.outsider.token, f.outsider.abi.token.PackTransfer(f.owner.From(), big.NewInt(1)))
	if err != nil {
		t.Fatal(err)
	}

	t.Logf("first root %d gas, second %d, later roots %d on average", firstRoot, secondRoot, roots/batches)
	t.Logf("claims, proof depth %d: first (new holder) %d on average, later %d on average", depth, firstClaims/workers, claims/workers)
	t.Logf("%d batches of %d tasklets, %d workers claiming once: roots %d + claims %d gas = %.0f gas a tasklet",
		batches, taskletsPerBatch, workers, roots, claims, perTasklet)
	t.Logf("naive ERC-20 transfer per tasklet: %d (new holder), %d (existing): %.0fx more than batched",
		recNew.GasUsed, recOld.GasUsed, float64(recOld.GasUsed)/perTasklet)
	if perTasklet > budgetPerTaskletGas {
		t.Errorf("%.0f gas a tasklet, over the %d target", perTasklet, budgetPerTaskletGas)
	}
	if roots/batches > gasBudget["post root later"] {
		t.Errorf("a later root takes %d gas, over its budget %d", roots/batches, gasBudget["post root later"])
	}
	if claims/workers > gasBudget["claim existing"] {
		t.Errorf("a later claim takes %d gas, over its budget %d", claims/workers, gasBudget["claim existing"])
	}
}
