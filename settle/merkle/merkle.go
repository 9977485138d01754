package merkle

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Hash is a 32-byte keccak256 digest: a leaf, a node or a root.
type Hash = common.Hash

// ErrEmpty is returned when a tree would have no leaves (the reference
// library refuses them too: there is no root to post).
var ErrEmpty = errors.New("merkle tree needs at least one leaf")

// LeafHash returns the StandardMerkleTree leaf of ABI-encoded values:
// keccak256(keccak256(encoded)). The double hash keeps a leaf from being
// read as an inner node.
func LeafHash(encoded []byte) Hash {
	return crypto.Keccak256Hash(crypto.Keccak256(encoded))
}

// HashPair returns keccak256 of a and b in ascending byte order, so a proof
// needs no left/right flags.
func HashPair(a, b Hash) Hash {
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	return crypto.Keccak256Hash(a[:], b[:])
}

// Tree is a StandardMerkleTree over leaf hashes. The zero value is not
// usable; build one with New.
type Tree struct {
	nodes []Hash // 2n−1 nodes, root first, leaves at the end
	index []int  // index[i] = position in nodes of the i-th leaf given to New
}

// New builds the tree of leaves (hashes from LeafHash), sorting them as the
// reference library does. Leaves keep their input order for Proof.
func New(leaves []Hash) (*Tree, error) {
	n := len(leaves)
	if n == 0 {
		return nil, ErrEmpty
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return bytes.Compare(leaves[a][:], leaves[b][:])
	})
	t := &Tree{nodes: make([]Hash, 2*n-1), index: make([]int, n)}
	for pos, i := range order {
		at := len(t.nodes) - 1 - pos
		t.nodes[at] = leaves[i]
		t.index[i] = at
	}
	for i := len(t.nodes) - 1 - n; i >= 0; i-- {
		t.nodes[i] = HashPair(t.nodes[2*i+1], t.nodes[2*i+2])
	}
	return t, nil
}

// Root returns the tree's root.
func (t *Tree) Root() Hash { return t.nodes[0] }

// Len returns the number of leaves.
func (t *Tree) Len() int { return len(t.index) }

// Nodes returns a copy of the tree array in the reference library's layout
// (its dump().tree).
func (t *Tree) Nodes() []Hash { return slices.Clone(t.nodes) }

// Proof returns the proof of the i-th leaf given to New: its siblings from
// the leaf up to (not including) the root.
func (t *Tree) Proof(i int) ([]Hash, error) {
	if i < 0 || i >= len(t.index) {
		return nil, fmt.Errorf("leaf %d out of range: the tree has %d leaves", i, len(t.index))
	}
	var proof []Hash
	for at := t.index[i]; at > 0; at = (at - 1) / 2 {
		sibling := at + 1
		if at%2 == 0 {
			sibling = at - 1
		}
		proof = append(proof, t.nodes[sibling])
	}
	return proof, nil
}

// ProcessProof returns the root that leaf and proof hash up to
// (OpenZeppelin MerkleProof.processProof).
func ProcessProof(leaf Hash, proof []Hash) Hash {
	h := leaf
	for _, p := range proof {
		h = HashPair(h, p)
	}
	return h
}

// Verify reports whether proof proves leaf under root.
func Verify(root, leaf Hash, proof []Hash) bool {
	return ProcessProof(leaf, proof) == root
}

// maxUint256 bounds a payout amount: it is an ABI uint256.
var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
