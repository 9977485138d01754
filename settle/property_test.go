package settle

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/gridswarm/gridswarm/settle/bindings"
	"github.com/gridswarm/gridswarm/settle/merkle"
	"pgregory.net/rapid"
)

// jobModel is what the escrow should hold for one job: the contract's
// rules written plainly in Go, checked against the chain after every step.
type jobModel struct {
	id                                              *big.Int
	deposit, bps                                    int64
	committed, royaltyAccrued, claimed, royaltyPaid int64
	refunded                                        int64
	closed                                          bool
	deadline                                        time.Time
	trees                                           []*merkle.PayoutTree // every root posted, oldest first
	cum                                             map[common.Address]int64
	claimedBy                                       map[common.Address]int64
}

// claimable reports what a claim of amount proven by trees[version] pays,
// or false when the contract must refuse it.
func (m *jobModel) claimable(version int, w common.Address, amount int64) (int64, bool) {
	if !m.provable(version) || amount <= m.claimedBy[w] {
		return 0, false
	}
	pay := amount - m.claimedBy[w]
	if m.claimed+pay > m.committed {
		return 0, false
	}
	return pay, true
}

// provable reports whether the contract still accepts proofs against
// trees[version]: it keeps the current and the replaced root, and an
// older root proves claims too when it equals one of them (a root posted
// again with nothing earned since).
func (m *jobModel) provable(version int) bool {
	r := m.trees[version].Root()
	for _, t := range m.trees[max(0, len(m.trees)-2):] {
		if t.Root() == r {
			return true
		}
	}
	return false
}

// Random sequences of roots (honest, inflated and by strangers), claims
// against current and stale roots, royalty claims, refunds and deadline
// passes. After each step the chain agrees with the model, and what left
// the escrow for the job (claims + royalty + refund) never exceeds its
// deposit; no worker is paid more than its highest committed amount.
func TestEscrowProperty(t *testing.T) {
	f := newFixture(t, 4)
	w := addrs(f.workers)
	dataset, _, err := f.owner.RegisterDataset(f.ctx, "bafybeipropertydataset", "bafybeiprov")
	if err != nil {
		t.Fatal(err)
	}
	f.mint(f.submitter.From(), new(big.Int).Lsh(big.NewInt(1), 100))

	rapid.Check(t, func(rt *rapid.T) {
		deposit := rapid.Int64Range(1, 20_000).Draw(rt, "deposit")
		bps := rapid.SampledFrom([]int64{0, 500, 2500}).Draw(rt, "royaltyBps")
		d := Deposit{Amount: big.NewInt(deposit), Deadline: f.now().Add(time.Hour), Coordinator: f.coordinator.From(), RoyaltyBps: uint16(bps)}
		if bps > 0 {
			d.DatasetID = dataset
		}
		startWorkers := make([]*big.Int, len(w))
		for i, a := range w {
			startWorkers[i] = f.balance(a)
		}
		startOwner, startSubmitter, startEscrow := f.balance(f.owner.From()), f.balance(f.submitter.From()), f.balance(f.addrs.Escrow)
		id, _, err := f.submitter.Deposit(f.ctx, d)
		if err != nil {
			rt.Fatalf("deposit: %v", err)
		}
		m := &jobModel{id: id, deposit: deposit, bps: bps, deadline: d.Deadline,
			cum: map[common.Address]int64{}, claimedBy: map[common.Address]int64{}}

		steps := rapid.IntRange(1, 12).Draw(rt, "steps")
		for s := 0; s < steps; s++ {
			switch rapid.IntRange(0, 6).Draw(rt, "action") {
			case 0, 1: // a root: cumulative amounts grow; sometimes the declared total lies
				next := map[common.Address]int64{}
				var ps []merkle.Payout
				var sum int64
				for _, a := range w {
					next[a] = m.cum[a] + rapid.Int64Range(0, deposit/3+1).Draw(rt, "earned")
					sum += next[a]
					ps = append(ps, merkle.Payout{Worker: a, Amount: big.NewInt(next[a])})
				}
				tree, err := merkle.Payouts(ps)
				if err != nil {
					rt.Fatal(err)
				}
				committed := sum
				if rapid.Bool().Draw(rt, "understate") {
					committed = rapid.Int64Range(0, sum).Draw(rt, "declared")
				}
				poster := f.coordinator
				if rapid.IntRange(0, 4).Draw(rt, "stranger") == 0 {
					poster = f.outsider
				}
				royalty := committed * bps / 10_000
				ok := poster == f.coordinator && !m.closed && !f.now().After(m.deadline) &&
					committed >= m.committed && committed+royalty <= deposit
				_, err = poster.send(f.ctx, "post root", poster.escrow, poster.abi.escrow.PackPostRoot(id, tree.Root(), big.NewInt(committed), [32]byte{}))
				if (err == nil) != ok {
					rt.Fatalf("post root (committed %d, sum %d, stranger %v): got err %v, model says ok=%v", committed, sum, poster != f.coordinator, err, ok)
				}
				if ok {
					m.trees = append(m.trees, tree)
					m.cum = next
					m.committed, m.royaltyAccrued = committed, royalty
				}
			case 2: // a claim against a recent or stale root
				if len(m.trees) == 0 {
					continue
				}
				version := rapid.IntRange(0, len(m.trees)-1).Draw(rt, "version")
				i := rapid.IntRange(0, len(w)-1).Draw(rt, "worker")
				amount, proof, err := m.trees[version].ProofFor(w[i])
				if err != nil {
					rt.Fatal(err)
				}
				pay, ok := m.claimable(version, w[i], amount.Int64())
				_, err = f.outsider.Claim(f.ctx, id, w[i], amount, proof)
				if (err == nil) != ok {
					rt.Fatalf("claim %d by worker %d with root %d of %d: got err %v, model says ok=%v", amount, i, version, len(m.trees), err, ok)
				}
				if ok {
					m.claimedBy[w[i]] = amount.Int64()
					m.claimed += pay
				}
			case 3:
				ok := m.royaltyAccrued > m.royaltyPaid
				_, err := f.outsider.ClaimRoyalty(f.ctx, id)
				if (err == nil) != ok {
					rt.Fatalf("claim royalty (accrued %d, paid %d): got err %v", m.royaltyAccrued, m.royaltyPaid, err)
				}
				m.royaltyPaid = m.royaltyAccrued
			case 4:
				by := f.outsider
				if rapid.Bool().Draw(rt, "byCoordinator") {
					by = f.coordinator
				}
				ok := !m.closed && (by == f.coordinator || f.now().After(m.deadline))
				_, err := by.Refund(f.ctx, id)
				if (err == nil) != ok {
					rt.Fatalf("refund (closed %v, coordinator %v): got err %v", m.closed, by == f.coordinator, err)
				}
				if ok {
					m.closed = true
					m.refunded = m.deposit - m.committed - m.royaltyAccrued
				}
			case 6: // two claims in one transaction: all or nothing
				if len(m.trees) == 0 {
					continue
				}
				var claims []Claim
				ok, booked := true, map[common.Address]int64{}
				var pays int64
				for k := 0; k < 2; k++ {
					version := rapid.IntRange(0, len(m.trees)-1).Draw(rt, "version")
					i := rapid.IntRange(0, len(w)-1).Draw(rt, "worker")
					amount, proof, err := m.trees[version].ProofFor(w[i])
					if err != nil {
						rt.Fatal(err)
					}
					claims = append(claims, Claim{JobID: id, Worker: w[i], Amount: amount, Proof: proof})
					// The second claim sees the first one's booking.
					saved := m.claimedBy[w[i]]
					if b, seen := booked[w[i]]; seen {
						m.claimedBy[w[i]] = b
					}
					m.claimed += pays
					pay, claimOK := m.claimable(version, w[i], amount.Int64())
					m.claimed -= pays
					m.claimedBy[w[i]] = saved
					ok = ok && claimOK
					booked[w[i]] = amount.Int64()
					pays += pay
				}
				_, err := f.outsider.ClaimMany(f.ctx, claims)
				if (err == nil) != ok {
					rt.Fatalf("claim many: got err %v, model says ok=%v", err, ok)
				}
				if ok {
					for a, v := range booked {
						m.claimedBy[a] = v
					}
					m.claimed += pays
				}
			case 5:
				f.advance(time.Duration(rapid.IntRange(1, 90).Draw(rt, "minutes")) * time.Minute)
			}
			checkModel(rt, f, m, startWorkers, startOwner, startSubmitter, startEscrow)
		}
	})
}

func checkModel(rt *rapid.T, f *fixture, m *jobModel, startWorkers []*big.Int, startOwner, startSubmitter, startEscrow *big.Int) {
	j, err := f.outsider.Job(f.ctx, m.id)
	if err != nil {
		rt.Fatal(err)
	}
	got := [5]int64{j.Committed.Int64(), j.Claimed.Int64(), j.RoyaltyAccrued.Int64(), j.RoyaltyPaid.Int64(), int64(j.Batches)}
	want := [5]int64{m.committed, m.claimed, m.royaltyAccrued, m.royaltyPaid, int64(len(m.trees))}
	if got != want || j.Closed != m.closed {
		rt.Fatalf("job state [committed claimed royaltyAccrued royaltyPaid batches]: got %v closed=%v, want %v closed=%v", got, j.Closed, want, m.closed)
	}
	delta := func(who common.Address, start *big.Int) int64 {
		return new(big.Int).Sub(f.balance(who), start).Int64()
	}
	var workersPaid int64
	for i, a := range addrs(f.workers) {
		paid := delta(a, startWorkers[i])
		if paid != m.claimedBy[a] {
			rt.Fatalf("worker %d received %d, model %d", i, paid, m.claimedBy[a])
		}
		var highest int64
		for _, tr := range m.trees {
			amount, _, _ := tr.ProofFor(a)
			highest = max(highest, amount.Int64())
		}
		if paid > highest {
			rt.Fatalf("worker %d received %d, more than its highest committed amount %d", i, paid, highest)
		}
		workersPaid += paid
	}
	royalty := delta(f.owner.From(), startOwner)
	refund := delta(f.submitter.From(), startSubmitter) + m.deposit // the deposit left the submitter
	escrowHolds := delta(f.addrs.Escrow, startEscrow)
	if royalty != m.royaltyPaid || refund != m.refunded {
		rt.Fatalf("royalty %d (model %d), refund %d (model %d)", royalty, m.royaltyPaid, refund, m.refunded)
	}
	if out := workersPaid + royalty + refund; out > m.deposit || out+escrowHolds != m.deposit {
		rt.Fatalf("paid out %d (workers %d, royalty %d, refund %d) and still held %d, of a deposit of %d", out, workersPaid, royalty, refund, escrowHolds, m.deposit)
	}
}

// A claim proven against a root that a new root replaces in the same
// block still pays, whichever transaction the block orders first, and the
// worker then claims exactly the rest with the new root.
func TestClaimRacingRoot(t *testing.T) {
	for _, rootFirst := range []bool{true, false} {
		f := newFixture(t, 2)
		w := addrs(f.workers)
		f.mint(f.submitter.From(), n(10_000))
		job, _, err := f.submitter.Deposit(f.ctx, Deposit{Amount: n(10_000), Deadline: f.now().Add(time.Hour), Coordinator: f.coordinator.From()})
		if err != nil {
			t.Fatal(err)
		}
		r1 := payoutTree(t, map[common.Address]int64{w[0]: 100, w[1]: 50})
		r2 := payoutTree(t, map[common.Address]int64{w[0]: 300, w[1]: 80})
		r3 := payoutTree(t, map[common.Address]int64{w[0]: 400, w[1]: 90})
		if _, err := f.coordinator.PostRoot(f.ctx, job, r1, [32]byte{}); err != nil {
			t.Fatal(err)
		}
		amount1, proof1 := proofOf(t, r1, w[0])
		rootTx := func() {
			opts := f.coordinator.opts(f.ctx)
			opts.GasLimit = 200_000
			if _, err := bind.Transact(f.coordinator.escrow, opts, f.coordinator.abi.escrow.PackPostRoot(job, r2.Root(), r2.Total, [32]byte{})); err != nil {
				t.Fatal(err)
			}
		}
		claimTx := func() {
			opts := f.workers[0].opts(f.ctx)
			opts.GasLimit = 200_000
			if _, err := bind.Transact(f.workers[0].escrow, opts, f.workers[0].abi.escrow.PackClaim(job, w[0], amount1, proofWords(proof1))); err != nil {
				t.Fatal(err)
			}
		}
		if rootFirst {
			rootTx()
			claimTx()
		} else {
			claimTx()
			rootTx()
		}
		f.chain.b.Commit()
		block, err := f.chain.BlockByNumber(f.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(block.Transactions()) != 2 {
			t.Fatalf("rootFirst=%v: block holds %d transactions, want both", rootFirst, len(block.Transactions()))
		}
		for _, tx := range block.Transactions() {
			rec, err := f.chain.TransactionReceipt(f.ctx, tx.Hash())
			if err != nil || rec.Status != 1 {
				t.Fatalf("rootFirst=%v: transaction %s failed: %v", rootFirst, tx.Hash(), err)
			}
		}
		wantBalance(t, f, w[0], 100, "worker after the racing claim")
		// A third root retires r1: a claim with it now fails clearly...
		if _, err := f.coordinator.PostRoot(f.ctx, job, r3, [32]byte{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.workers[0].Claim(f.ctx, job, w[0], amount1, proof1); !isRevert[bindings.JobEscrowInvalidProof](err) {
			t.Errorf("claim with a retired root: got %v, want InvalidProof", err)
		}
		// ...and the current root pays exactly the rest, once.
		amount3, proof3 := proofOf(t, r3, w[0])
		if _, err := f.workers[0].Claim(f.ctx, job, w[0], amount3, proof3); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, f, w[0], 400, "worker after claiming the rest")
		if _, err := f.workers[0].Claim(f.ctx, job, w[0], amount3, proof3); !isRevert[bindings.JobEscrowNothingToClaim](err) {
			t.Errorf("claim again: got %v, want NothingToClaim", err)
		}
	}
}
