package merkle

import (
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"pgregory.net/rapid"
)

// golden is a file written by settle/contracts/vectors.js from the
// reference @openzeppelin/merkle-tree.
type golden struct {
	Generator string `json:"generator"`
	Root      Hash   `json:"root"`
	Tree      []Hash `json:"tree"`
	Leaves    []struct {
		Worker   common.Address `json:"worker"`
		Amount   string         `json:"amount"`
		LeafHash Hash           `json:"leafHash"`
		Proof    []Hash         `json:"proof"`
	} `json:"leaves"`
}

func TestGoldenVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/payouts-*.json")
	if err != nil || len(files) < 10 {
		t.Fatalf("golden vectors: %v files, err %v; regenerate with node settle/contracts/vectors.js", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatalf("decode %s: %v", f, err)
			}
			payouts := make([]Payout, len(g.Leaves))
			for i, l := range g.Leaves {
				amount, ok := new(big.Int).SetString(l.Amount, 10)
				if !ok {
					t.Fatalf("leaf %d: bad amount %q", i, l.Amount)
				}
				payouts[i] = Payout{Worker: l.Worker, Amount: amount}
				if got := PayoutLeaf(payouts[i]); got != l.LeafHash {
					t.Errorf("leaf %d hash: got %s, want %s", i, got, l.LeafHash)
				}
			}
			pt, err := Payouts(payouts)
			if err != nil {
				t.Fatal(err)
			}
			if got := pt.Root(); got != g.Root {
				t.Errorf("root: got %s, want %s", got, g.Root)
			}
			nodes := pt.Nodes()
			if len(nodes) != len(g.Tree) {
				t.Fatalf("tree: got %d nodes, want %d", len(nodes), len(g.Tree))
			}
			for i := range nodes {
				if nodes[i] != g.Tree[i] {
					t.Errorf("tree[%d]: got %s, want %s", i, nodes[i], g.Tree[i])
				}
			}
			for i, l := range g.Leaves {
				_, proof, err := pt.ProofFor(l.Worker)
				if err != nil {
					t.Fatal(err)
				}
				if len(proof) != len(l.Proof) {
					t.Fatalf("leaf %d proof: got %d hashes, want %d", i, len(proof), len(l.Proof))
				}
				for k := range proof {
					if proof[k] != l.Proof[k] {
						t.Errorf("leaf %d proof[%d]: got %s, want %s", i, k, proof[k], l.Proof[k])
					}
				}
			}
		})
	}
}

func TestPayoutsRejectsBadInput(t *testing.T) {
	a := common.HexToAddress("0x01")
	over := new(big.Int).Lsh(big.NewInt(1), 256)
	tests := []struct {
		name    string
		payouts []Payout
	}{
		{"empty", nil},
		{"nil amount", []Payout{{Worker: a}}},
		{"negative", []Payout{{Worker: a, Amount: big.NewInt(-1)}}},
		{"over uint256", []Payout{{Worker: a, Amount: over}}},
		{"duplicate worker", []Payout{{Worker: a, Amount: big.NewInt(1)}, {Worker: a, Amount: big.NewInt(2)}}},
	}
	for _, tt := range tests {
		if _, err := Payouts(tt.payouts); err == nil {
			t.Errorf("%s: got no error", tt.name)
		}
	}
	pt, err := Payouts([]Payout{{Worker: a, Amount: big.NewInt(5)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pt.ProofFor(common.HexToAddress("0x02")); err == nil {
		t.Error("ProofFor of an unknown worker: got no error")
	}
	if _, err := pt.Proof(1); err == nil {
		t.Error("Proof(1) of a one-leaf tree: got no error")
	}
}

// Every leaf's proof verifies under the root; a proof never verifies
// another amount, and the proof length is the leaf's depth (at most
// ceil(log2 n)).
func TestProofsProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 300).Draw(t, "n")
		payouts := make([]Payout, n)
		for i := range payouts {
			var w common.Address
			copy(w[:], rapid.SliceOfN(rapid.Byte(), 20, 20).Draw(t, "worker"))
			w[0], w[1] = byte(i>>8), byte(i) // distinct workers
			payouts[i] = Payout{Worker: w, Amount: new(big.Int).SetUint64(rapid.Uint64().Draw(t, "amount"))}
		}
		pt, err := Payouts(payouts)
		if err != nil {
			t.Fatal(err)
		}
		if pt.Len() != n {
			t.Fatalf("Len: got %d, want %d", pt.Len(), n)
		}
		maxDepth := 0
		for 1<<maxDepth < n {
			maxDepth++
		}
		for _, p := range payouts {
			amount, proof, err := pt.ProofFor(p.Worker)
			if err != nil {
				t.Fatal(err)
			}
			if len(proof) > maxDepth {
				t.Fatalf("proof of %d hashes in a tree of %d leaves", len(proof), n)
			}
			if !Verify(pt.Root(), PayoutLeaf(Payout{p.Worker, amount}), proof) {
				t.Fatalf("proof of %s does not verify", p.Worker)
			}
			more := Payout{p.Worker, new(big.Int).Add(amount, big.NewInt(1))}
			if Verify(pt.Root(), PayoutLeaf(more), proof) {
				t.Fatalf("proof of %s verifies amount+1", p.Worker)
			}
		}
	})
}
