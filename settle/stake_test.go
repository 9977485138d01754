package settle

import (
	"crypto/ecdsa"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/settle/bindings"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"pgregory.net/rapid"
)

const (
	testTasklet = "bafkreidlkti7wqw6s3gukygmfhducaiw7izdwnrca53rdojqc6tshtu7cm"
	testOutputA = "bafybeiha52f3kbuf4bp2b5d62bbahluvh7p5avpvxuujf2qymucckt4mhi"
	testOutputB = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	testWorker  = "12D3KooWCdG56E8PmTiY1fbNdstB3i9ZtLRLbcatvUigWj6kBJN2"
	testCoord   = "12D3KooWJxvKmQYjQ7f8h7GCYWtTBxGggPFskR6ZU5GP341NgjVZ"
)

func testReceipt(output string) receipt.Receipt {
	r := receipt.Receipt{
		TaskletCID: testTasklet, OutputCID: output, WorkerPeer: testWorker, Coordinator: testCoord,
		JobID: "mnist-softmax", Round: 3, Samples: 6000,
		StartedAt: 1767225600000, FinishedAt: 1767225601500, ComputeMillis: 1200,
	}
	r.SetLoss(0.6931472)
	return r
}

func sign(t testing.TB, k *ecdsa.PrivateKey, d receipt.Domain, r receipt.Receipt) receipt.Receipt {
	t.Helper()
	s, err := receipt.Sign(k, d, r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The contract hashes a receipt exactly as package receipt does: the
// struct hash and the EIP-712 digest under the stake contract's domain,
// for arbitrary field values.
func TestReceiptHashMatchesContract(t *testing.T) {
	f := newFixture(t, 0)
	stake := f.outsider.stake
	abi := f.outsider.abi.stake
	d := f.outsider.ReceiptDomain()
	rapid.Check(t, func(rt *rapid.T) {
		r := testReceipt(rapid.SampledFrom([]string{testOutputA, testOutputB}).Draw(rt, "output"))
		r.JobID = rapid.StringMatching(`[a-z0-9-]{1,40}`).Draw(rt, "job")
		r.Round = rapid.Uint64().Draw(rt, "round")
		r.Samples = rapid.Uint64().Draw(rt, "samples")
		r.LossBits = rapid.Uint32().Draw(rt, "loss")
		r.StartedAt = rapid.Int64Range(0, 1<<62).Draw(rt, "started")
		r.FinishedAt = r.StartedAt + rapid.Int64Range(0, 1<<20).Draw(rt, "took")
		r.ComputeMillis = rapid.Uint64().Draw(rt, "compute")
		r.Price = new(big.Int).Lsh(big.NewInt(rapid.Int64Min(0).Draw(rt, "price")), rapid.UintRange(0, 190).Draw(rt, "shift")).String()
		copy(r.Worker[:], rapid.SliceOfN(rapid.Byte(), 20, 20).Draw(rt, "worker"))
		sr, err := StakeReceipt(r)
		if err != nil {
			rt.Fatal(err)
		}
		call := &bind.CallOpts{Context: f.ctx}
		gotStruct, err := bind.Call(stake, call, abi.PackHashReceipt(sr), abi.UnpackHashReceipt)
		if err != nil {
			rt.Fatal(err)
		}
		wantStruct, _ := receipt.StructHash(r)
		if gotStruct != wantStruct {
			rt.Fatalf("struct hash: contract %x, Go %x", gotStruct, wantStruct)
		}
		gotDigest, err := bind.Call(stake, call, abi.PackReceiptDigest(sr), abi.UnpackReceiptDigest)
		if err != nil {
			rt.Fatal(err)
		}
		wantDigest, _ := receipt.Hash(d, r)
		if gotDigest != wantDigest {
			rt.Fatalf("digest: contract %x, Go %x", gotDigest, wantDigest)
		}
	})
}

func TestStakeUnbondAndSlash(t *testing.T) {
	f := newFixture(t, 2)
	cheat, honest := f.workers[0], f.workers[1]
	cheatKey := f.workerKeys[0]
	d := cheat.ReceiptDomain()
	for _, c := range f.workers {
		f.mint(c.From(), n(1000))
	}
	rec, err := cheat.Stake(f.ctx, n(1000))
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "stake", rec)
	if _, err := honest.Stake(f.ctx, n(1000)); err != nil {
		t.Fatal(err)
	}
	// The cheat tries to leave with part of its stake: unbonding stake is
	// still slashable.
	rec, err = cheat.RequestUnstake(f.ctx, n(400))
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "request unstake", rec)
	if _, err := cheat.Withdraw(f.ctx); !isRevert[bindings.WorkerStakeStillUnbonding](err) {
		t.Errorf("withdraw before the delay: got %v, want StillUnbonding", err)
	}

	a := sign(t, cheatKey, d, testReceipt(testOutputA))
	b := sign(t, cheatKey, d, testReceipt(testOutputB))
	otherTasklet := testReceipt(testOutputB)
	otherTasklet.TaskletCID = testOutputA
	honestA := sign(t, f.workerKeys[1], d, testReceipt(testOutputA))
	wrongDomain := sign(t, cheatKey, receipt.Domain{ChainID: d.ChainID}, testReceipt(testOutputB))
	forged := b
	forged.Worker = cheat.From()
	forged.Signature = sign(t, f.workerKeys[1], d, testReceipt(testOutputB)).Signature

	refusals := []struct {
		name string
		a, b receipt.Receipt
		want func(error) bool
	}{
		{"same output twice", a, a, isRevert[bindings.WorkerStakeSameOutput]},
		{"two workers", a, sign(t, f.workerKeys[1], d, testReceipt(testOutputB)), isRevert[bindings.WorkerStakeNotSameWorker]},
		{"two tasklets", a, sign(t, cheatKey, d, otherTasklet), isRevert[bindings.WorkerStakeNotSameTasklet]},
		{"signed by another key", a, forged, isRevert[bindings.WorkerStakeWrongSigner]},
		{"signed under another domain", a, wrongDomain, isRevert[bindings.WorkerStakeWrongSigner]},
		{"honest worker with one receipt", honestA, honestA, isRevert[bindings.WorkerStakeSameOutput]},
	}
	for _, tt := range refusals {
		if _, err := f.outsider.Slash(f.ctx, tt.a, tt.b); !tt.want(err) {
			t.Errorf("%s: got %v", tt.name, err)
		}
	}

	rec, err = f.outsider.Slash(f.ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "slash", rec)
	wantBalance(t, f, f.outsider.From(), 100, "reporter's 10% bounty")
	wantBalance(t, f, common.HexToAddress("0x000000000000000000000000000000000000dEaD"), 900, "burned")
	s, err := f.outsider.StakeOf(f.ctx, cheat.From())
	if err != nil || s.Bonded.Sign() != 0 || s.Unbonding.Sign() != 0 {
		t.Errorf("cheat's stake after slash: %+v, %v", s, err)
	}
	if _, err := f.outsider.Slash(f.ctx, b, a); !isRevert[bindings.WorkerStakeAlreadySlashed](err) {
		t.Errorf("same evidence again: got %v, want AlreadySlashed", err)
	}

	// The honest worker leaves after the unbonding delay with all of it.
	if _, err := honest.RequestUnstake(f.ctx, n(1000)); err != nil {
		t.Fatal(err)
	}
	f.advance(DefaultDeployParams().UnbondDelay + time.Second)
	rec, err = honest.Withdraw(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkGas(t, "withdraw", rec)
	wantBalance(t, f, honest.From(), 1000, "honest worker after withdrawing")
}

func TestDeployParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    DeployParams
		ok   bool
	}{
		{"defaults", DefaultDeployParams(), true},
		{"unbond equal to dispute window", DeployParams{DisputeWindow: time.Hour, UnbondDelay: time.Hour}, false},
		{"no dispute window", DeployParams{UnbondDelay: time.Hour}, false},
		{"bounty over 100%", DeployParams{DisputeWindow: time.Hour, UnbondDelay: 2 * time.Hour, BountyBps: 10_001}, false},
	}
	for _, tt := range tests {
		if err := tt.p.validate(); (err == nil) != tt.ok {
			t.Errorf("%s: got %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// A slash succeeds exactly when the two receipts are a valid
// equivocation: one worker, one tasklet, two outputs, both signatures that
// worker's under the stake contract's domain. Each case starts from a valid
// pair on a fresh tasklet and applies at most one fault (5 in 12 cases
// none), so both outcomes come up even in -short's 20 cases.
func TestSlashNeedsValidEquivocation(t *testing.T) {
	f := newFixture(t, 2)
	d := f.outsider.ReceiptDomain()
	for _, c := range f.workers {
		f.mint(c.From(), n(1_000_000))
	}
	faults := []string{"none", "none", "none", "none", "none",
		"other signer", "other tasklet", "same output", "other domain", "altered after signing", "names the other worker", "first altered"}
	var slashed, refused int
	rapid.Check(t, func(rt *rapid.T) {
		tasklet := cid.NewCidV1(cid.Raw, mustHash(rt, rapid.SliceOfN(rapid.Byte(), 8, 8).Draw(rt, "tasklet"))).String()
		signer := rapid.IntRange(0, 1).Draw(rt, "signer")
		fault := rapid.SampledFrom(faults).Draw(rt, "fault")
		ra, rb := testReceipt(testOutputA), testReceipt(testOutputB)
		ra.TaskletCID, rb.TaskletCID = tasklet, tasklet
		ka, kb, db := f.workerKeys[signer], f.workerKeys[signer], d
		switch fault {
		case "other signer":
			kb = f.workerKeys[1-signer]
		case "other tasklet":
			rb.TaskletCID = testTasklet
		case "same output":
			rb.OutputCID = ra.OutputCID
		case "other domain":
			db.VerifyingContract = f.addrs.Escrow
		}
		a, b := sign(t, ka, d, ra), sign(t, kb, db, rb)
		switch fault {
		case "altered after signing":
			b.Samples++
		case "names the other worker":
			b.Worker = f.workers[1-signer].From()
		case "first altered":
			a.Round++
		}
		worker := f.workers[signer]
		if s, err := worker.StakeOf(f.ctx, worker.From()); err != nil {
			rt.Fatal(err)
		} else if s.Bonded.Sign() == 0 {
			if _, err := worker.Stake(f.ctx, n(1000)); err != nil {
				rt.Fatal(err)
			}
		}
		before := f.balance(f.outsider.From())
		_, err := f.outsider.Slash(f.ctx, a, b)
		if (err == nil) != (fault == "none") {
			rt.Fatalf("slash with fault %q: got err %v", fault, err)
		}
		if fault != "none" {
			refused++
			return
		}
		slashed++
		if got := new(big.Int).Sub(f.balance(f.outsider.From()), before); got.Int64() != 100 {
			rt.Fatalf("bounty: got %v, want 100", got)
		}
	})
	t.Logf("%d slashed, %d refused", slashed, refused)
	if slashed == 0 || refused == 0 {
		t.Errorf("the draws never tried both kinds: %d slashed, %d refused", slashed, refused)
	}
}

func mustHash(t *rapid.T, b []byte) multihash.Multihash {
	h, err := multihash.Sum(b, multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
