// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title WorkerStake
/// @notice Workers' stake, slashed on proof of equivocation.
///
/// A worker stakes tokens; to leave it requests an unstake and withdraws
/// after `unbondDelay`, which is longer than the dispute window so evidence
/// found late still reaches stake that is on its way out. Unbonding stake can
/// be slashed like bonded stake.
///
/// The one fraud a contract can check by itself is equivocation: two
/// receipts signed by one worker key for one tasklet with different outputs.
/// Receipts are gridswarm's EIP-712 typed data (package receipt), signed
/// under the domain {name "gridswarm", version "1", this chain, this
/// contract}. A valid proof slashes the worker's whole stake: `bountyBps` of
/// it to the reporter, the rest sent to the burn address 0x…dEaD (any ERC-20
/// can receive there; not all can burn).
contract WorkerStake is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice gridswarm's receipt, field for field (receipt.TypeString).
    struct Receipt {
        bytes taskletCid;
        bytes outputCid;
        address worker;
        bytes workerPeer;
        bytes coordinator;
        string jobId;
        uint64 round;
        uint64 samples;
        uint32 lossBits;
        uint64 startedAt;
        uint64 finishedAt;
        uint64 computeMillis;
        uint256 price; // base units of the settlement token
    }

    struct Stake {
        uint128 bonded;
        uint128 unbonding;
        uint64 unlockAt; // when unbonding can be withdrawn
    }

    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(bytes taskletCid,bytes outputCid,address worker,bytes workerPeer,bytes coordinator,string jobId,uint64 round,uint64 samples,uint32 lossBits,uint64 startedAt,uint64 finishedAt,uint64 computeMillis,uint256 price)"
    );
    address public constant BURN_ADDRESS = 0x000000000000000000000000000000000000dEaD;
    uint256 public constant MAX_BOUNTY_BPS = 10_000;

    IERC20 public immutable token;
    uint64 public immutable disputeWindow;
    uint64 public immutable unbondDelay;
    uint16 public immutable bountyBps;

    mapping(address worker => Stake) private _stakes;
    /// @notice Evidence already used, by keccak256(worker, keccak256(taskletCid)).
    mapping(bytes32 => bool) public slashedFor;

    event Staked(address indexed worker, uint256 amount, uint256 bonded);
    event UnstakeRequested(address indexed worker, uint256 amount, uint64 unlockAt);
    event Withdrawn(address indexed worker, uint256 amount);
    event Slashed(
        address indexed worker,
        address indexed reporter,
        bytes32 indexed taskletCidHash,
        uint256 amount,
        uint256 bounty,
        uint256 burned
    );

    error ZeroAmount();
    error AmountTooLarge(uint256 amount);
    error UnbondNotLongerThanDispute(uint64 unbondDelay, uint64 disputeWindow);
    error BountyTooHigh(uint256 bps, uint256 max);
    error InsufficientStake(uint256 requested, uint256 bonded);
    error NothingToWithdraw();
    error StillUnbonding(uint64 unlockAt);
    error NotSameWorker(address first, address second);
    error NotSameTasklet();
    error SameOutput();
    error WrongSigner(address recovered, address worker);
    error AlreadySlashed(bytes32 evidence);
    error NothingToSlash(address worker);

    constructor(IERC20 token_, uint64 disputeWindow_, uint64 unbondDelay_, uint16 bountyBps_)
        EIP712("gridswarm", "1")
    {
        if (unbondDelay_ <= disputeWindow_) revert UnbondNotLongerThanDispute(unbondDelay_, disputeWindow_);
        if (bountyBps_ > MAX_BOUNTY_BPS) revert BountyTooHigh(bountyBps_, MAX_BOUNTY_BPS);
        token = token_;
        disputeWindow = disputeWindow_;
        unbondDelay = unbondDelay_;
        bountyBps = bountyBps_;
    }

    /// @notice Add `amount` to the caller's bonded stake.
    function stake(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        Stake storage s = _stakes[msg.sender];
        uint256 bonded = uint256(s.bonded) + received;
        if (bonded > type(uint128).max) revert AmountTooLarge(bonded);
        s.bonded = uint128(bonded);
        emit Staked(msg.sender, received, bonded);
    }

    /// @notice Move `amount` of bonded stake to unbonding; it can be
    /// withdrawn `unbondDelay` seconds from now (a new request restarts the
    /// delay for everything unbonding).
    function requestUnstake(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Stake storage s = _stakes[msg.sender];
        if (amount > s.bonded) revert InsufficientStake(amount, s.bonded);
        s.bonded -= uint128(amount);
        s.unbonding += uint128(amount);
        uint64 unlockAt = uint64(block.timestamp) + unbondDelay;
        s.unlockAt = unlockAt;
        emit UnstakeRequested(msg.sender, amount, unlockAt);
    }

    /// @notice Withdraw the caller's unbonded stake once the delay is over.
    function withdraw() external nonReentrant returns (uint256 amount) {
        Stake storage s = _stakes[msg.sender];
        amount = s.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < s.unlockAt) revert StillUnbonding(s.unlockAt);
        s.unbonding = 0;
        s.unlockAt = 0;
        token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    /// @notice Slash a worker that signed two receipts for one tasklet with
    /// different outputs. Pays the bounty to the caller.
    function slash(Receipt calldata a, bytes calldata sigA, Receipt calldata b, bytes calldata sigB)
        external
        nonReentrant
        returns (uint256 amount)
    {
        address worker = a.worker;
        if (b.worker != worker) revert NotSameWorker(worker, b.worker);
        bytes32 tasklet = keccak256(a.taskletCid);
        if (keccak256(b.taskletCid) != tasklet) revert NotSameTasklet();
        if (keccak256(a.outputCid) == keccak256(b.outputCid)) revert SameOutput();
        _checkSigner(a, sigA);
        _checkSigner(b, sigB);

        bytes32 evidence = keccak256(abi.encode(worker, tasklet));
        if (slashedFor[evidence]) revert AlreadySlashed(evidence);
        Stake storage s = _stakes[worker];
        amount = uint256(s.bonded) + s.unbonding;
        if (amount == 0) revert NothingToSlash(worker);
        slashedFor[evidence] = true;
        s.bonded = 0;
        s.unbonding = 0;
        s.unlockAt = 0;
        uint256 bounty = amount * bountyBps / 10_000;
        uint256 burned = amount - bounty;
        if (bounty != 0) token.safeTransfer(msg.sender, bounty);
        if (burned != 0) token.safeTransfer(BURN_ADDRESS, burned);
        emit Slashed(worker, msg.sender, tasklet, amount, bounty, burned);
    }

    /// @notice The EIP-712 digest a worker signs for `r` (receipt.Hash).
    function receiptDigest(Receipt calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(hashReceipt(r));
    }

    /// @notice hashStruct(Receipt) (receipt.StructHash).
    function hashReceipt(Receipt calldata r) public pure returns (bytes32) {
        // Two encodes of whole words concatenate to the one encode EIP-712
        // specifies; one call with fourteen values is too deep for the stack.
        return keccak256(
            bytes.concat(
                abi.encode(
                    RECEIPT_TYPEHASH,
                    keccak256(r.taskletCid),
                    keccak256(r.outputCid),
                    r.worker,
                    keccak256(r.workerPeer),
                    keccak256(r.coordinator),
                    keccak256(bytes(r.jobId))
                ),
                abi.encode(r.round, r.samples, r.lossBits, r.startedAt, r.finishedAt, r.computeMillis, r.price)
            )
        );
    }

    /// @notice A worker's bonded and unbonding stake and when it unlocks.
    function stakeOf(address worker) external view returns (Stake memory) {
        return _stakes[worker];
    }

    function _checkSigner(Receipt calldata r, bytes calldata sig) private view {
        address signer = ECDSA.recoverCalldata(receiptDigest(r), sig);
        if (signer != r.worker) revert WrongSigner(signer, r.worker);
    }
}
