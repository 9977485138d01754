// Package settle pays for verified work on an Ethereum chain: the job's
// budget is escrowed, verified work accrues to each worker, a batch settles
// with one Merkle root, and workers (or anyone for them) claim with a proof.
//
//	submitter ──deposit(budget, deadline, coordinator, dataset, royalty)──► JobEscrow
//	coordinator, per batch ──postRoot(root of cumulative payouts, total, receiptsRoot)──► JobEscrow
//	                                      royalty share of the total accrues to the dataset token's owner
//	anyone ──claim / claimMany(worker, cumulative amount, proof)──► worker gets amount − already paid
//	after the deadline (or the coordinator ending the job) ──refund──► submitter gets deposit − committed − royalty
//	reporter ──slash(two receipts, one worker, one tasklet, two outputs)──► WorkerStake: bounty + burn
//	coordinator ──mintModel(model CID, provenance CID)──► Registry (ERC-721) token to the submitter
//
// # Pieces
//
//   - settle/contracts: Solidity 0.8 sources on OpenZeppelin 5.7 (npm),
//     compiled by solc 0.8.37 (npm solc, evmVersion cancun, optimizer 200
//     runs) through compile.js into artifacts.json; versions locked by
//     package-lock.json. vectors.js writes the Merkle golden vectors.
//   - settle/bindings: abigen v2 bindings generated from artifacts.json
//     (go generate ./settle/bindings); a test fails when bindings,
//     artifacts and sources drift apart.
//   - settle/merkle: OpenZeppelin StandardMerkleTree in pure Go.
//   - this package: the Chain interface, the pinned fork schedule
//     (ChainConfig), Deploy, and Client (one account's transactions and
//     reads, contract refusals decoded into *RevertError).
//   - settle/embedded and settle/rpcchain: the two Chain backends.
//
// # Decisions
//
//   - Amounts in roots are cumulative per worker, so a claim pays the
//     difference and a missed claim is never lost. A claim proven against
//     the root just replaced is still accepted: a claim racing a new root
//     neither fails nor pays twice. Cumulative amounts cannot be clawed
//     back, so the coordinator must include a tasklet only after its
//     spot-check window closed.
//   - Claims are capped by the committed total of the latest root, and
//     committed + royalty by the deposit, so a bad root cannot reach the
//     royalty or the refund.
//   - The royalty is royaltyBps of the workers' committed total, on top of
//     it, paid to whoever owns the dataset's Registry token at claim time.
//   - Receipts are signed under the EIP-712 domain {gridswarm, 1, chain ID,
//     WorkerStake's address} (Client.ReceiptDomain): WorkerStake is the
//     contract that checks them. Equivocation (one key, one tasklet, two
//     outputs) is the only fraud a contract can check alone; it slashes the
//     worker's whole stake, bonded and unbonding, once per (worker,
//     tasklet). The unbonding delay must exceed the dispute window.
//   - Slashed stake is "burned" by sending it to 0x…dEaD: any ERC-20 can
//     receive there, not all can burn.
//
// # In the daemon
//
// The daemon opens a chain ([settle] backend = embedded or rpc, package
// node), deploys or checks the contracts and signs receipts in the chain's
// domain. The scheduler decides who is owed what (scheduler/settle.go);
// node/settle_flow.go escrows paid jobs at submit, posts their roots,
// gossips payout notices, claims for its own account and slashes on
// equivocation proofs with this package's Client.
package settle
