// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Registry} from "./Registry.sol";

/// @title JobEscrow
/// @notice Holds each job's budget and pays verified work in batches.
///
/// The submitter deposits the budget with a deadline and names the job's
/// coordinator. After each batch the coordinator posts one Merkle root of
/// cumulative per-worker payouts (OpenZeppelin StandardMerkleTree leaves of
/// (address worker, uint256 amount)) with their committed total and the root
/// of the batch's receipts. Anyone claims for a worker with a proof; the
/// worker receives the difference between the proven cumulative amount and
/// what it was already paid. With each root the dataset owner's royalty share
/// of the committed total accrues. After the deadline (or when the
/// coordinator ends the job) whatever no root committed goes back to the
/// submitter.
///
/// Invariants: claimed <= committed; royaltyPaid <= royaltyAccrued;
/// committed + royaltyAccrued <= deposit; roots stop once the job is closed,
/// and the refund is deposit - committed - royaltyAccrued, paid once. So
/// claims + royalty + refund never exceed the deposit, even if a root's
/// leaves sum to more than its committed total.
///
/// A claim proven against the root the coordinator just replaced is still
/// accepted (amounts are cumulative and never decrease), so a claim racing a
/// new root neither fails nor pays twice.
contract JobEscrow is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    struct Job {
        // slot 0
        IERC20 token;
        uint64 deadline; // unix seconds: roots until then, refund after
        uint16 royaltyBps; // dataset owner's share, on top of what workers are committed
        bool closed; // refunded: no more roots
        // slot 1
        address coordinator;
        uint32 batches; // roots posted so far
        // slot 2
        address submitter; // receives the refund and the model token
        uint96 datasetId; // Registry token of the dataset; 0 = none
        // slot 3
        uint128 deposit;
        uint128 committed; // total of the latest root's cumulative payouts
        // slot 4
        uint128 claimed; // paid to workers so far
        uint128 royaltyAccrued;
        // slot 5
        uint128 royaltyPaid;
        // slots 6, 7
        bytes32 root;
        bytes32 prevRoot; // still accepted for claims racing a new root
    }

    /// @notice Claim of one worker's cumulative amount in one job.
    struct Claim {
        uint256 jobId;
        address worker;
        uint256 amount; // cumulative amount in the root's leaf
        bytes32[] proof;
    }

    uint256 public constant MAX_ROYALTY_BPS = 5000;
    uint256 public constant MAX_DURATION = 365 days;

    /// @notice The dataset and model registry this escrow mints models into.
    Registry public immutable registry;

    uint256 public lastJobId;
    mapping(uint256 jobId => Job) private _jobs;
    mapping(uint256 jobId => mapping(address worker => uint256)) public claimedBy;

    event JobCreated(
        uint256 indexed jobId,
        address indexed submitter,
        address indexed coordinator,
        IERC20 token,
        uint256 deposit,
        uint64 deadline,
        uint256 datasetId,
        uint16 royaltyBps,
        bytes32 ref
    );
    event RootPosted(
        uint256 indexed jobId,
        uint32 indexed batch,
        bytes32 root,
        uint256 committed,
        uint256 royaltyAccrued,
        bytes32 receiptsRoot
    );
    event Claimed(uint256 indexed jobId, address indexed worker, uint256 amount, uint256 cumulative);
    event RoyaltyPaid(uint256 indexed jobId, address indexed to, uint256 amount);
    event Refunded(uint256 indexed jobId, address indexed to, uint256 amount);

    error ZeroAmount();
    error AmountTooLarge(uint256 amount);
    error BadDeadline(uint64 deadline, uint256 now_, uint256 maxDuration);
    error ZeroCoordinator();
    error RoyaltyTooHigh(uint256 bps, uint256 max);
    error RoyaltyWithoutDataset();
    error DatasetIdTooLarge(uint256 datasetId);
    error UnknownJob(uint256 jobId);
    error NotCoordinator(address caller, address coordinator);
    error JobClosed(uint256 jobId);
    error DeadlinePassed(uint64 deadline);
    error DeadlineNotReached(uint64 deadline);
    error CommittedDecreased(uint256 committed, uint256 previous);
    error OverDeposit(uint256 committedWithRoyalty, uint256 deposit);
    error InvalidProof(uint256 jobId, address worker);
    error NothingToClaim(uint256 jobId, address worker, uint256 cumulative, uint256 alreadyClaimed);
    error ExceedsCommitted(uint256 jobId, uint256 wouldBeClaimed, uint256 committed);
    error NoRoyalty(uint256 jobId);

    constructor() {
        registry = new Registry(address(this));
    }

    // ---------------------------------------------------------------- deposit

    /// @notice Escrow `amount` of `token` for a new job. The caller is the
    /// submitter. `ref` is free for the caller (gridswarm puts the hash of
    /// its job ID there). Returns the escrow job ID.
    function deposit(
        IERC20 token,
        uint256 amount,
        uint64 deadline,
        address coordinator,
        uint256 datasetId,
        uint16 royaltyBps,
        bytes32 ref
    ) external nonReentrant returns (uint256 jobId) {
        if (amount == 0) revert ZeroAmount();
        if (deadline <= block.timestamp || deadline > block.timestamp + MAX_DURATION) {
            revert BadDeadline(deadline, block.timestamp, MAX_DURATION);
        }
        if (coordinator == address(0)) revert ZeroCoordinator();
        if (royaltyBps > MAX_ROYALTY_BPS) revert RoyaltyTooHigh(royaltyBps, MAX_ROYALTY_BPS);
        if (datasetId > type(uint96).max) revert DatasetIdTooLarge(datasetId);
        if (royaltyBps != 0) {
            if (datasetId == 0) revert RoyaltyWithoutDataset();
            registry.ownerOf(datasetId); // reverts for a dataset that does not exist
        }
        // Count what arrived, not what was asked: fee-on-transfer tokens.
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        if (received > type(uint128).max) revert AmountTooLarge(received);

        jobId = ++lastJobId;
        Job storage j = _jobs[jobId];
        j.token = token;
        j.deadline = deadline;
        j.royaltyBps = royaltyBps;
        j.coordinator = coordinator;
        j.submitter = msg.sender;
        j.datasetId = uint96(datasetId);
        j.deposit = uint128(received);
        emit JobCreated(jobId, msg.sender, coordinator, token, received, deadline, datasetId, royaltyBps, ref);
    }

    // ------------------------------------------------------------------ roots

    /// @notice Post the cumulative payout root of a job's latest batch. Only
    /// the coordinator, before the deadline, while the job is open.
    /// `committed` is the sum of the root's cumulative amounts; it never
    /// decreases, and with the royalty it accrues it must fit the deposit.
    function postRoot(uint256 jobId, bytes32 root, uint256 committed, bytes32 receiptsRoot) external nonReentrant {
        Job storage j = _job(jobId);
        if (msg.sender != j.coordinator) revert NotCoordinator(msg.sender, j.coordinator);
        if (j.closed) revert JobClosed(jobId);
        if (block.timestamp > j.deadline) revert DeadlinePassed(j.deadline);
        if (committed < j.committed) revert CommittedDecreased(committed, j.committed);
        uint256 royalty = committed * j.royaltyBps / 10_000;
        if (committed + royalty > j.deposit) revert OverDeposit(committed + royalty, j.deposit);

        j.committed = uint128(committed);
        j.royaltyAccrued = uint128(royalty);
        j.prevRoot = j.root;
        j.root = root;
        uint32 batch = ++j.batches;
        emit RootPosted(jobId, batch, root, committed, royalty, receiptsRoot);
    }

    // ----------------------------------------------------------------- claims

    /// @notice Pay `worker` what its cumulative `amount` in the job's current
    /// (or just replaced) root adds to what it was already paid. Anyone may
    /// call it; the tokens go to the worker.
    function claim(uint256 jobId, address worker, uint256 amount, bytes32[] calldata proof)
        external
        nonReentrant
        returns (uint256 paid)
    {
        Job storage j = _job(jobId);
        paid = _settle(j, jobId, worker, amount, proof);
        j.token.safeTransfer(worker, paid);
    }

    /// @notice Claim in several jobs in one transaction. Consecutive claims
    /// for the same worker in the same token are paid with one transfer.
    /// Reverts as a whole if any claim fails.
    function claimMany(Claim[] calldata claims) external nonReentrant returns (uint256 total) {
        IERC20 token;
        address to;
        uint256 pending;
        for (uint256 i = 0; i < claims.length; i++) {
            Claim calldata c = claims[i];
            Job storage j = _job(c.jobId);
            uint256 paid = _settle(j, c.jobId, c.worker, c.amount, c.proof);
            total += paid;
            if (address(j.token) != address(token) || c.worker != to) {
                if (pending != 0) token.safeTransfer(to, pending);
                token = j.token;
                to = c.worker;
                pending = 0;
            }
            pending += paid;
        }
        if (pending != 0) token.safeTransfer(to, pending);
    }

    /// @dev Checks one claim and books it; the caller transfers.
    function _settle(Job storage j, uint256 jobId, address worker, uint256 amount, bytes32[] calldata proof)
        private
        returns (uint256 paid)
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(worker, amount))));
        bytes32 r = MerkleProof.processProofCalldata(proof, leaf);
        if (r == bytes32(0) || (r != j.root && r != j.prevRoot)) revert InvalidProof(jobId, worker);
        uint256 already = claimedBy[jobId][worker];
        if (amount <= already) revert NothingToClaim(jobId, worker, amount, already);
        paid = amount - already;
        uint256 claimedAfter = uint256(j.claimed) + paid;
        if (claimedAfter > j.committed) revert ExceedsCommitted(jobId, claimedAfter, j.committed);
        claimedBy[jobId][worker] = amount;
        j.claimed = uint128(claimedAfter);
        emit Claimed(jobId, worker, paid, amount);
    }

    // ------------------------------------------------------ royalty and refund

    /// @notice Pay the dataset token's current owner the royalty accrued so
    /// far. Anyone may call it.
    function claimRoyalty(uint256 jobId) external nonReentrant returns (uint256 paid) {
        Job storage j = _job(jobId);
        paid = j.royaltyAccrued - j.royaltyPaid;
        if (paid == 0) revert NoRoyalty(jobId);
        j.royaltyPaid = j.royaltyAccrued;
        address to = registry.ownerOf(j.datasetId);
        j.token.safeTransfer(to, paid);
        emit RoyaltyPaid(jobId, to, paid);
    }

    /// @notice Close the job and return what no root committed to the
    /// submitter. Anyone after the deadline; the coordinator at any time
    /// (when the job ends early). Claims of committed amounts stay open.
    function refund(uint256 jobId) external nonReentrant returns (uint256 amount) {
        Job storage j = _job(jobId);
        if (j.closed) revert JobClosed(jobId);
        if (msg.sender != j.coordinator && block.timestamp <= j.deadline) revert DeadlineNotReached(j.deadline);
        j.closed = true;
        amount = uint256(j.deposit) - j.committed - j.royaltyAccrued;
        if (amount != 0) j.token.safeTransfer(j.submitter, amount);
        emit Refunded(jobId, j.submitter, amount);
    }

    // ------------------------------------------------------------------ model

    /// @notice Mint the job's final model to its submitter, with the CID of
    /// the job's provenance record. Only the coordinator, once per job.
    function mintModel(uint256 jobId, string calldata cid, string calldata provenanceCid)
        external
        nonReentrant
        returns (uint256 tokenId)
    {
        Job storage j = _job(jobId);
        if (msg.sender != j.coordinator) revert NotCoordinator(msg.sender, j.coordinator);
        tokenId = registry.mintModel(j.submitter, jobId, cid, provenanceCid);
    }

    // ------------------------------------------------------------------ views

    /// @notice The whole state of a job.
    function job(uint256 jobId) external view returns (Job memory) {
        return _job(jobId);
    }

    /// @notice What `worker` can still claim with a leaf of cumulative `amount`.
    function claimable(uint256 jobId, address worker, uint256 amount) external view returns (uint256) {
        uint256 already = claimedBy[jobId][worker];
        return amount > already ? amount - already : 0;
    }

    function _job(uint256 jobId) private view returns (Job storage j) {
        j = _jobs[jobId];
        if (address(j.token) == address(0)) revert UnknownJob(jobId);
    }
}
