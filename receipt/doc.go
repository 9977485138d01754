// Package receipt defines the worker's signed statement that it ran a
// tasklet, and signs and verifies it as EIP-712 typed data so that the
// settlement and stake contracts can check it with ecrecover.
//
//	worker                                    coordinator / contract
//	------                                    ----------------------
//	Receipt{tasklet, output, metrics}
//	digest = keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(Receipt))
//	Signature = secp256k1(digest), v = 27|28  ──►  Verify: ecrecover(digest, sig) == Worker
//
// # Domain
//
//	EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)
//	name = "gridswarm", version = "1", chainId and verifyingContract from Domain
//	(verifyingContract is WorkerStake's address when a chain is configured, [settle];
//	the zero address when settlement is off).
//
// # Primary type
//
// The exact type string (TypeString) is
//
//	Receipt(bytes taskletCid,bytes outputCid,address worker,bytes workerPeer,bytes coordinator,string jobId,uint64 round,uint64 samples,uint32 lossBits,uint64 startedAt,uint64 finishedAt,uint64 computeMillis)
//
// Why these types:
//   - CIDs are signed as `bytes` holding the binary CID (version, codec,
//     multihash), not as a bytes32 digest: a digest alone drops the codec and
//     hash function, so a raw block and a dag-pb node with the same bytes would
//     sign alike. EIP-712 hashes dynamic `bytes` with one keccak256 over ~36
//     bytes, so a contract pays almost nothing for the exactness, and two
//     receipts for the same tasklet compare by keccak256(outputCid). The
//     text form (base32, base58) is not signed, so re-encoding a CID string
//     does not break a signature.
//   - Peer IDs (workerPeer, coordinator) are likewise their binary multihash
//     bytes, so the legacy base58 and the CIDv1 text forms sign alike.
//   - The loss is the float32's IEEE-754 bit pattern as uint32 (lossBits):
//     exact, NaN-safe, and a contract never needs float arithmetic.
//   - Times are unix milliseconds as uint64 (negative times are rejected).
//
// The signature is 65 bytes r ‖ s ‖ v with v = 27 or 28 and a low s (EIP-2),
// the form OpenZeppelin's ECDSA.recover accepts. Verify rejects anything else.
//
// Hash builds the digest by hand (it is a dozen 32-byte words); the tests
// cross-check it against go-ethereum's apitypes.TypedDataAndHash and pin a
// golden vector so the encoding cannot drift.
package receipt
