package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/settle/merkle"
)

// demoPassphrase is the passphrase of the demo's repos (cli.demoPassphrase).
const demoPassphrase = "gridswarm-demo"

// checkDemoPayouts checks the money of a paid demo that is still up (its
// output so far in out), on the chain itself: each honest worker's token
// balance is the price times its verified tasklet runs, the cheater got
// nothing, the workers' payouts, the royalty and the refund add up to the
// deposit and the escrow holds nothing more, and the model token belongs
// to the submitter and carries the provenance CID. Then it reports an
// equivocation by the cheater (a second receipt for one of its tasklets
// signed with its key) and checks that its stake was slashed.
func checkDemoPayouts(t *testing.T, out string, cheater int) {
	t.Helper()
	m := regexp.MustCompile(`repos in (\S+)`).FindStringSubmatch(out)
	jm := regexp.MustCompile(`node0 coordinates job (\S+)`).FindStringSubmatch(out)
	if m == nil || jm == nil {
		t.Fatalf("the demo printed no repo folder or job:\n%s", out)
	}
	nodeDir := func(i int) string { return filepath.Join(m[1], fmt.Sprintf("node%d", i)) }
	jobID := jm[1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c0, err := client.Dial(ctx, nodeDir(0), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c0.Close()

	var s scheduler.Settlement
	if err := c0.SettleJob(ctx, jobID, &s); err != nil {
		t.Fatalf("settle_job: %v", err)
	}
	if s.Closing == nil || len(s.Batches) == 0 {
		t.Fatalf("the job's escrow is not closed: %+v", s)
	}
	last := s.Batches[len(s.Batches)-1]
	price, _ := new(big.Int).SetString(s.Escrow.Price, 10)
	earned := map[string]scheduler.Payout{}
	for _, p := range last.Payouts {
		earned[strings.ToLower(p.Account)] = p
	}

	// Each worker's balance, on the chain: 0 left after staking, plus what
	// it claimed on its own.
	var cheaterAccount string
	for i := 1; i <= 3; i++ {
		var info api.SettleInfo
		mustJSON(t, nodeDir(i), &info, "wallet", "info")
		p := earned[strings.ToLower(info.Account)]
		want := new(big.Int).Mul(price, big.NewInt(int64(p.Tasklets)))
		if i == cheater {
			cheaterAccount = info.Account
			if p.Tasklets != 0 {
				t.Errorf("the cheater node%d was paid for %d tasklets", i, p.Tasklets)
			}
			want.SetInt64(0)
		} else if p.Tasklets == 0 {
			t.Errorf("honest node%d was paid for no tasklet: %+v", i, last.Payouts)
		}
		eventually(t, time.Minute, func() (bool, string) {
			var b api.SettleBalance
			mustJSON(t, nodeDir(i), &b, "wallet", "balance")
			return b.Token == want.String(), fmt.Sprintf("node%d holds %s, want %d verified runs × %s = %s", i, b.Token, p.Tasklets, price, want)
		})
	}

	// Payouts + royalty + refund = deposit, and the escrow holds nothing.
	sum := new(big.Int)
	for _, v := range []string{last.Committed, s.Closing.Royalty, s.Closing.Refund} {
		x, _ := new(big.Int).SetString(v, 10)
		sum.Add(sum, x)
	}
	if sum.String() != s.Escrow.Deposit || s.Closing.Royalty == "0" {
		t.Errorf("workers %s + royalty %s + refund %s = %s, deposit %s (a royalty is due)", last.Committed, s.Closing.Royalty, s.Closing.Refund, sum, s.Escrow.Deposit)
	}
	var escrow api.SettleBalance
	mustJSON(t, nodeDir(0), &escrow, "wallet", "balance", s.Escrow.Contract)
	if escrow.Token != "0" {
		t.Errorf("the escrow still holds %s after every claim, the royalty and the refund", escrow.Token)
	}

	// The model token: the submitter's, with the provenance CID.
	var submitter api.SettleInfo
	mustJSON(t, nodeDir(0), &submitter, "wallet", "info")
	tok, err := c0.SettleToken(ctx, s.Closing.ModelToken)
	if err != nil {
		t.Fatalf("settle_token %s: %v", s.Closing.ModelToken, err)
	}
	var j scheduler.Job
	mustJSON(t, nodeDir(0), &j, "job", "show", jobID)
	if tok.Kind != "model" || tok.Owner != submitter.Account || tok.CID != j.FinalModel || tok.Provenance == "" || tok.Provenance != s.Closing.Provenance {
		t.Errorf("model token %+v, want a model owned by %s with CID %s and provenance %s", tok, submitter.Account, j.FinalModel, s.Closing.Provenance)
	}
	var prov scheduler.Provenance
	pp := filepath.Join(t.TempDir(), "provenance.json")
	r := gs(t, nodeDir(0), "data", "get", tok.Provenance, "-o", pp)
	b, _ := os.ReadFile(pp)
	if r.code != 0 || json.Unmarshal(b, &prov) != nil || prov.Settlement == nil || prov.Settlement.Escrow.Tx != s.Escrow.Tx || len(prov.Rounds) != len(j.Rounds) {
		t.Errorf("the provenance %s is not the job's record with its escrow (exit %d %s): %.300s", tok.Provenance, r.code, r.err, b)
	}

	// A tasklet's receipt as EIP-712 typed data: go-ethereum's own
	// implementation gives the digest the worker signed.
	tr, err := c0.SettleReceipt(ctx, jobID, 1, 0)
	if err != nil {
		t.Fatalf("settle_receipt: %v", err)
	}
	var td apitypes.TypedData
	if err := json.Unmarshal(tr.TypedData, &td); err != nil {
		t.Fatalf("settle_receipt typed data: %v", err)
	}
	digest, _, err := apitypes.TypedDataAndHash(td)
	sig := common.FromHex(tr.Signature)
	if err != nil || len(sig) != 65 || common.BytesToHash(digest).Hex() != tr.Digest {
		t.Fatalf("typed data hashes to %x (%v), settle_receipt says %s", digest, err, tr.Digest)
	}
	sig[64] -= 27
	pub, err := crypto.SigToPub(digest, sig)
	if err != nil || crypto.PubkeyToAddress(*pub).Hex() != tr.Signer || td.Message["price"] == nil {
		t.Errorf("the receipt's signature recovers %v (%v), signer %s; price %v", pub, err, tr.Signer, td.Message["price"])
	}

	// Each root's record in the data grid holds the receipts whose EIP-712
	// digests its receipts root covers, and the payouts it committed.
	ev, err := c0.SettleEvidence(ctx, jobID)
	if err != nil || len(ev.Batches) != len(s.Batches) || len(ev.Checks) == 0 {
		t.Fatalf("settle_evidence: %+v, %v; want %d batches and the spot checks", ev, err, len(s.Batches))
	}
	for _, b := range ev.Batches {
		rp := filepath.Join(t.TempDir(), "batch.json")
		if r := gs(t, nodeDir(0), "data", "get", b.Record, "-o", rp); r.code != 0 {
			t.Fatalf("data get %s: %s", b.Record, r.err)
		}
		var rec struct {
			Payouts  []scheduler.Payout `json:"payouts"`
			Receipts []receipt.Receipt  `json:"receipts"`
		}
		raw, _ := os.ReadFile(rp)
		if err := json.Unmarshal(raw, &rec); err != nil || len(rec.Receipts) == 0 {
			t.Fatalf("batch record %s: %v", b.Record, err)
		}
		var leaves []merkle.Hash
		for _, r := range rec.Receipts {
			if _, err := receipt.Verify(domainOf(t, nodeDir(0)), r); err != nil {
				t.Errorf("batch %d pays a receipt that does not verify: %v", b.Batch, err)
			}
			h, _ := receipt.Hash(domainOf(t, nodeDir(0)), r)
			leaves = append(leaves, merkle.LeafHash(h[:]))
		}
		tree, err := merkle.New(leaves)
		if err != nil || tree.Root().Hex() != b.ReceiptsRoot {
			t.Errorf("batch %d: its receipts hash to %v (%v), the root posted says %s", b.Batch, tree.Root(), err, b.ReceiptsRoot)
		}
	}

	// A budget that cannot pay the job is refused with the numbers.
	cheap := filepath.Join(t.TempDir(), "cheap.yaml")
	writeFile(t, cheap, []byte(fmt.Sprintf("version: 1\nname: cheap\nmodel: {kind: softmax, inputs: 784, classes: 10}\ndataset: {cid: %s}\nrounds: 5\npayment: {budget: \"0.1\", price: \"0.5\"}\n", j.Dataset.Root)))
	if r := gs(t, nodeDir(0), "submit", cheap); r.code == 0 || !strings.Contains(r.err, "payment.budget") || !strings.Contains(r.err, "raise the budget") {
		t.Errorf("a job its budget cannot pay: exit %d, %s", r.code, r.err)
	}

	// The cheater equivocates: a second receipt for a tasklet it ran, with
	// another output, signed with its key. Reported to node0, its stake goes.
	var first *receipt.Receipt
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Check == nil {
				continue
			}
			for _, res := range tk.Check.Results {
				if strings.EqualFold(res.Receipt.Worker.Hex(), cheaterAccount) && first == nil {
					r := res.Receipt
					first = &r
				}
			}
		}
	}
	if first == nil {
		t.Fatalf("no receipt of the cheater %s in the job's spot checks", cheaterAccount)
	}
	second := *first
	second.OutputCID = j.FinalModel
	key, err := repo.EthKey(nodeDir(cheater), demoPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	var info api.SettleInfo
	mustJSON(t, nodeDir(0), &info, "wallet", "info")
	domain := receipt.Domain{ChainID: info.ChainID, VerifyingContract: common.HexToAddress(info.Contracts.Stake)}
	if second, err = receipt.Sign(key, domain, second); err != nil {
		t.Fatal(err)
	}
	proof, _ := json.Marshal(map[string]any{"a": first, "b": second})
	pf := filepath.Join(t.TempDir(), "proof.json")
	writeFile(t, pf, proof)
	var rep api.ReportResult
	mustJSON(t, nodeDir(0), &rep, "verify", "report", pf)
	if rep.Slashed == "" || rep.Slashed == "0" {
		t.Errorf("the equivocation report slashed nothing: %+v", rep)
	}
	var st api.StakeInfo
	mustJSON(t, nodeDir(0), &st, "wallet", "stake-info", cheaterAccount)
	if st.Bonded != "0" || st.Unbonding != "0" {
		t.Errorf("the cheater's stake after the slash: %+v, want nothing left", st)
	}
}

// domainOf is the EIP-712 domain receipts are signed in on a daemon's chain.
func domainOf(t *testing.T, dir string) receipt.Domain {
	t.Helper()
	var info api.SettleInfo
	mustJSON(t, dir, &info, "wallet", "info")
	return receipt.Domain{ChainID: info.ChainID, VerifyingContract: common.HexToAddress(info.Contracts.Stake)}
}
