// Package merkle builds Merkle trees and proofs exactly as OpenZeppelin's
// StandardMerkleTree (npm @openzeppelin/merkle-tree) does, so the escrow
// contract's MerkleProof check accepts our proofs and any tool built on the
// reference library reads our trees.
//
//	values ──abi.encode──► keccak256(keccak256(·)) = leaf hashes
//	leaf hashes sorted ascending, placed at the end of a 2n−1 array in reverse
//	node i = keccak256(sorted(node 2i+1, node 2i+2)), root = node 0
//	proof of a leaf = its siblings on the way up
//
// The package is pure: plain data in, hashes out, no I/O. Tree works on any
// leaf hashes; Payouts builds the escrow's (address worker, uint256 amount)
// leaves. Golden vectors in testdata/ come from the reference library
// (settle/contracts/vectors.js) and pin the layout and every proof.
package merkle
