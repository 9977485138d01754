package merkle

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// Payout is one leaf of the escrow's payout tree: the cumulative amount
// Worker has earned in a job (StandardMerkleTree types ["address","uint256"]).
type Payout struct {
	Worker common.Address
	Amount *big.Int
}

// PayoutLeaf returns the leaf hash of p: keccak256(keccak256(abi.encode(
// worker, amount))), what JobEscrow recomputes in a claim.
func PayoutLeaf(p Payout) Hash {
	var enc [64]byte
	copy(enc[12:32], p.Worker[:])
	p.Amount.FillBytes(enc[32:])
	return LeafHash(enc[:])
}

// PayoutTree is the Merkle tree of a job's cumulative payouts with each
// worker's proof.
type PayoutTree struct {
	*Tree
	Payouts []Payout
	Total   *big.Int // sum of the amounts: the root's committed total
	byAddr  map[common.Address]int
}

// Payouts builds the payout tree. It refuses an empty list, a worker listed
// twice (the contract pays each worker once per cumulative amount, so a
// second leaf would be ambiguous) and amounts outside uint256.
func Payouts(payouts []Payout) (*PayoutTree, error) {
	pt := &PayoutTree{Total: new(big.Int), byAddr: make(map[common.Address]int, len(payouts))}
	leaves := make([]Hash, len(payouts))
	for i, p := range payouts {
		if p.Amount == nil || p.Amount.Sign() < 0 || p.Amount.Cmp(maxUint256) > 0 {
			return nil, fmt.Errorf("payout %d (%s): amount %v is not a uint256", i, p.Worker, p.Amount)
		}
		if j, dup := pt.byAddr[p.Worker]; dup {
			return nil, fmt.Errorf("payout %d: worker %s is already payout %d; sum its amounts into one leaf", i, p.Worker, j)
		}
		pt.byAddr[p.Worker] = i
		pt.Payouts = append(pt.Payouts, Payout{Worker: p.Worker, Amount: new(big.Int).Set(p.Amount)})
		pt.Total.Add(pt.Total, p.Amount)
		leaves[i] = PayoutLeaf(p)
	}
	t, err := New(leaves)
	if err != nil {
		return nil, err
	}
	pt.Tree = t
	return pt, nil
}

// ProofFor returns worker's cumulative amount and its proof.
func (pt *PayoutTree) ProofFor(worker common.Address) (*big.Int, []Hash, error) {
	i, ok := pt.byAddr[worker]
	if !ok {
		return nil, nil, fmt.Errorf("worker %s has no payout in this tree", worker)
	}
	proof, err := pt.Proof(i)
	if err != nil {
		return nil, nil, err
	}
	return new(big.Int).Set(pt.Payouts[i].Amount), proof, nil
}
