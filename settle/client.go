package settle

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/settle/bindings"
	"github.com/gridswarm/gridswarm/settle/merkle"
)

// Addresses are the deployed settlement contracts of one chain.
type Addresses struct {
	Token    common.Address `json:"token"`
	Escrow   common.Address `json:"escrow"`
	Registry common.Address `json:"registry"`
	Stake    common.Address `json:"stake"`
}

// contracts are the parsed ABIs of the bindings.
type contracts struct {
	token    *bindings.GridToken
	escrow   *bindings.JobEscrow
	registry *bindings.Registry
	stake    *bindings.WorkerStake
}

func newContracts() *contracts {
	return &contracts{
		token:    bindings.NewGridToken(),
		escrow:   bindings.NewJobEscrow(),
		registry: bindings.NewRegistry(),
		stake:    bindings.NewWorkerStake(),
	}
}

// Client sends one account's settlement transactions and reads the
// contracts' state. Every method that sends waits for the backend's
// confirmations and returns the transaction's receipt (its GasUsed is what
// docs/benchmarks.md records).
type Client struct {
	chain  Chain
	from   common.Address
	signer bind.SignerFn
	addrs  Addresses
	abi    *contracts
	dec    errorDecoders

	token, escrow, registry, stake *bind.BoundContract

	// sending serialises this account's transactions: two sent at once
	// would be given the same nonce.
	sending sync.Mutex
}

// NewClient returns a client acting as auth.From (signing with
// auth.Signer) on the contracts at addrs.
func NewClient(chain Chain, auth *bind.TransactOpts, addrs Addresses) *Client {
	abi := newContracts()
	return &Client{
		chain:    chain,
		from:     auth.From,
		signer:   auth.Signer,
		addrs:    addrs,
		abi:      abi,
		dec:      newErrorDecoders(abi),
		token:    abi.token.Instance(chain, addrs.Token),
		escrow:   abi.escrow.Instance(chain, addrs.Escrow),
		registry: abi.registry.Instance(chain, addrs.Registry),
		stake:    abi.stake.Instance(chain, addrs.Stake),
	}
}

// From returns the account the client sends as.
func (c *Client) From() common.Address { return c.from }

// Addresses returns the contracts the client talks to.
func (c *Client) Addresses() Addresses { return c.addrs }

// ReceiptDomain is the EIP-712 domain receipts are signed under so that
// WorkerStake can check them: this chain and the stake contract.
func (c *Client) ReceiptDomain() receipt.Domain {
	return receipt.Domain{ChainID: c.chain.ChainID().Uint64(), VerifyingContract: c.addrs.Stake}
}

func (c *Client) opts(ctx context.Context) *bind.TransactOpts {
	return &bind.TransactOpts{From: c.from, Signer: c.signer, Context: ctx}
}

func (c *Client) call(ctx context.Context) *bind.CallOpts {
	return &bind.CallOpts{From: c.from, Context: ctx}
}

// send signs and sends calldata to contract, waits for confirmation and
// turns a refusal into a *RevertError naming op.
func (c *Client) send(ctx context.Context, op string, contract *bind.BoundContract, data []byte) (*types.Receipt, error) {
	c.sending.Lock()
	tx, err := bind.Transact(contract, c.opts(ctx), data)
	c.sending.Unlock()
	if err != nil {
		return nil, c.dec.asRevert(op, err)
	}
	rec, err := c.chain.Confirm(ctx, tx.Hash())
	if err != nil {
		return nil, fmt.Errorf("%s: waiting for transaction %s: %w", op, tx.Hash(), err)
	}
	if rec.Status != types.ReceiptStatusSuccessful {
		// Replay it on the state it ran on to learn why (the estimate
		// passed, so the state changed between estimate and inclusion).
		to := contract.Address()
		_, cerr := c.chain.CallContract(ctx, ethereum.CallMsg{From: c.from, To: &to, Data: data, Gas: tx.Gas()}, rec.BlockNumber)
		if cerr != nil {
			return rec, c.dec.asRevert(op, cerr)
		}
		return rec, fmt.Errorf("%s: transaction %s failed in block %v", op, tx.Hash(), rec.BlockNumber)
	}
	return rec, nil
}

// ------------------------------------------------------------------ token

// BalanceOf returns who's balance of the settlement token.
func (c *Client) BalanceOf(ctx context.Context, who common.Address) (*big.Int, error) {
	b, err := bind.Call(c.token, c.call(ctx), c.abi.token.PackBalanceOf(who), c.abi.token.UnpackBalanceOf)
	if err != nil {
		return nil, c.dec.asRevert("token balance", err)
	}
	return b, nil
}

// Transfer sends amount of the settlement token to to.
func (c *Client) Transfer(ctx context.Context, to common.Address, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, "transfer", c.token, c.abi.token.PackTransfer(to, amount))
}

// SendEther sends amount wei to to, for gas: a new worker's account holds
// none on a fresh chain.
func (c *Client) SendEther(ctx context.Context, to common.Address, amount *big.Int) (*types.Receipt, error) {
	c.sending.Lock()
	tx, err := c.etherTx(ctx, to, amount)
	if err == nil {
		err = c.chain.SendTransaction(ctx, tx)
	}
	c.sending.Unlock()
	if err != nil {
		return nil, fmt.Errorf("send ether: %w", err)
	}
	rec, err := c.chain.Confirm(ctx, tx.Hash())
	if err != nil {
		return nil, fmt.Errorf("send ether: waiting for transaction %s: %w", tx.Hash(), err)
	}
	if rec.Status != types.ReceiptStatusSuccessful {
		return rec, fmt.Errorf("send ether: transaction %s failed in block %v", tx.Hash(), rec.BlockNumber)
	}
	return rec, nil
}

func (c *Client) etherTx(ctx context.Context, to common.Address, amount *big.Int) (*types.Transaction, error) {
	nonce, err := c.chain.PendingNonceAt(ctx, c.from)
	if err != nil {
		return nil, err
	}
	tip, err := c.chain.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, err
	}
	head, err := c.chain.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, err
	}
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: c.chain.ChainID(), Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: params.TxGas, To: &to, Value: amount,
	})
	return c.signer(c.from, tx)
}

// Mint mints test tokens (GridToken only; the client must be its owner).
func (c *Client) Mint(ctx context.Context, to common.Address, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, "mint", c.token, c.abi.token.PackMint(to, amount))
}

// Approve lets spender move amount of the client's tokens.
func (c *Client) Approve(ctx context.Context, spender common.Address, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, "approve", c.token, c.abi.token.PackApprove(spender, amount))
}

// ensureAllowance approves spender for amount unless it already may spend it.
func (c *Client) ensureAllowance(ctx context.Context, spender common.Address, amount *big.Int) error {
	have, err := bind.Call(c.token, c.call(ctx), c.abi.token.PackAllowance(c.from, spender), c.abi.token.UnpackAllowance)
	if err != nil {
		return c.dec.asRevert("token allowance", err)
	}
	if have.Cmp(amount) >= 0 {
		return nil
	}
	_, err = c.Approve(ctx, spender, amount)
	return err
}

// ----------------------------------------------------------------- escrow

// Deposit describes a job's escrowed budget.
type Deposit struct {
	Amount      *big.Int
	Deadline    time.Time      // roots until then, refund after
	Coordinator common.Address // the only account that may post roots
	DatasetID   *big.Int       // Registry token of the dataset; nil for none
	RoyaltyBps  uint16         // dataset owner's share, in 1/10000 of what workers are paid
	Ref         [32]byte       // free: gridswarm puts keccak256 of its job ID here
}

// Deposit escrows d (approving the escrow first if needed) and returns the
// escrow's job ID.
func (c *Client) Deposit(ctx context.Context, d Deposit) (*big.Int, *types.Receipt, error) {
	if d.Amount == nil || d.Amount.Sign() <= 0 {
		return nil, nil, errors.New("deposit: amount must be positive")
	}
	if d.Deadline.Unix() <= 0 {
		return nil, nil, errors.New("deposit: deadline must be set")
	}
	dataset := d.DatasetID
	if dataset == nil {
		dataset = new(big.Int)
	}
	if err := c.ensureAllowance(ctx, c.addrs.Escrow, d.Amount); err != nil {
		return nil, nil, fmt.Errorf("deposit: %w", err)
	}
	rec, err := c.send(ctx, "deposit", c.escrow, c.abi.escrow.PackDeposit(
		c.addrs.Token, d.Amount, uint64(d.Deadline.Unix()), d.Coordinator, dataset, d.RoyaltyBps, d.Ref))
	if err != nil {
		return nil, nil, err
	}
	for _, l := range rec.Logs {
		if l.Address != c.addrs.Escrow {
			continue
		}
		if ev, err := c.abi.escrow.UnpackJobCreatedEvent(l); err == nil {
			return ev.JobId, rec, nil
		}
	}
	return nil, rec, fmt.Errorf("deposit: transaction %s has no JobCreated event", rec.TxHash)
}

// PostRoot posts the job's cumulative payout tree: its root and committed
// total, with the root of the batch's receipts.
func (c *Client) PostRoot(ctx context.Context, jobID *big.Int, tree *merkle.PayoutTree, receiptsRoot [32]byte) (*types.Receipt, error) {
	return c.send(ctx, "post root", c.escrow, c.abi.escrow.PackPostRoot(jobID, tree.Root(), tree.Total, receiptsRoot))
}

// Claim pays worker the part of its cumulative amount not yet paid.
func (c *Client) Claim(ctx context.Context, jobID *big.Int, worker common.Address, amount *big.Int, proof []merkle.Hash) (*types.Receipt, error) {
	return c.send(ctx, "claim", c.escrow, c.abi.escrow.PackClaim(jobID, worker, amount, proofWords(proof)))
}

// Claim is one entry of ClaimMany.
type Claim struct {
	JobID  *big.Int
	Worker common.Address
	Amount *big.Int // cumulative, as in the root's leaf
	Proof  []merkle.Hash
}

// ClaimMany claims in several jobs in one transaction.
func (c *Client) ClaimMany(ctx context.Context, claims []Claim) (*types.Receipt, error) {
	args := make([]bindings.JobEscrowClaim, len(claims))
	for i, cl := range claims {
		args[i] = bindings.JobEscrowClaim{JobId: cl.JobID, Worker: cl.Worker, Amount: cl.Amount, Proof: proofWords(cl.Proof)}
	}
	return c.send(ctx, "claim many", c.escrow, c.abi.escrow.PackClaimMany(args))
}

// ClaimRoyalty pays the dataset token's owner the royalty accrued so far.
func (c *Client) ClaimRoyalty(ctx context.Context, jobID *big.Int) (*types.Receipt, error) {
	return c.send(ctx, "claim royalty", c.escrow, c.abi.escrow.PackClaimRoyalty(jobID))
}

// Refund closes the job and returns what no root committed to its submitter.
func (c *Client) Refund(ctx context.Context, jobID *big.Int) (*types.Receipt, error) {
	return c.send(ctx, "refund", c.escrow, c.abi.escrow.PackRefund(jobID))
}

// MintModel mints the job's model token to its submitter (coordinator only).
func (c *Client) MintModel(ctx context.Context, jobID *big.Int, cid, provenanceCID string) (*big.Int, *types.Receipt, error) {
	rec, err := c.send(ctx, "mint model", c.escrow, c.abi.escrow.PackMintModel(jobID, cid, provenanceCID))
	if err != nil {
		return nil, nil, err
	}
	for _, l := range rec.Logs {
		if ev, err := c.abi.registry.UnpackModelMintedEvent(l); err == nil && l.Address == c.addrs.Registry {
			return ev.TokenId, rec, nil
		}
	}
	return nil, rec, fmt.Errorf("mint model: transaction %s has no ModelMinted event", rec.TxHash)
}

// ModelOf returns the model token minted for an escrow job, or 0 when
// none was: what a coordinator closing a job again must not mint twice.
func (c *Client) ModelOf(ctx context.Context, jobID *big.Int) (*big.Int, error) {
	id, err := bind.Call(c.registry, c.call(ctx), c.abi.registry.PackModelOfJob(jobID), c.abi.registry.UnpackModelOfJob)
	if err != nil {
		return nil, c.dec.asRevert("read model token", err)
	}
	return id, nil
}

// Job returns the escrow's record of a job.
func (c *Client) Job(ctx context.Context, jobID *big.Int) (bindings.JobEscrowJob, error) {
	j, err := bind.Call(c.escrow, c.call(ctx), c.abi.escrow.PackJob(jobID), c.abi.escrow.UnpackJob)
	if err != nil {
		return j, c.dec.asRevert("read job", err)
	}
	return j, nil
}

// ClaimedBy returns what worker was paid in the job so far.
func (c *Client) ClaimedBy(ctx context.Context, jobID *big.Int, worker common.Address) (*big.Int, error) {
	v, err := bind.Call(c.escrow, c.call(ctx), c.abi.escrow.PackClaimedBy(jobID, worker), c.abi.escrow.UnpackClaimedBy)
	if err != nil {
		return nil, c.dec.asRevert("read claimed", err)
	}
	return v, nil
}

func proofWords(proof []merkle.Hash) [][32]byte {
	out := make([][32]byte, len(proof))
	for i, h := range proof {
		out[i] = h
	}
	return out
}

// --------------------------------------------------------------- registry

// RegisterDataset mints the dataset cid's token to the client's account.
func (c *Client) RegisterDataset(ctx context.Context, cid, provenanceCID string) (*big.Int, *types.Receipt, error) {
	rec, err := c.send(ctx, "register dataset", c.registry, c.abi.registry.PackRegisterDataset(cid, provenanceCID))
	if err != nil {
		return nil, nil, err
	}
	for _, l := range rec.Logs {
		if ev, err := c.abi.registry.UnpackDatasetRegisteredEvent(l); err == nil && l.Address == c.addrs.Registry {
			return ev.TokenId, rec, nil
		}
	}
	return nil, rec, fmt.Errorf("register dataset: transaction %s has no DatasetRegistered event", rec.TxHash)
}

// Item returns what registry token tokenID is.
func (c *Client) Item(ctx context.Context, tokenID *big.Int) (bindings.RegistryItem, error) {
	it, err := bind.Call(c.registry, c.call(ctx), c.abi.registry.PackItem(tokenID), c.abi.registry.UnpackItem)
	if err != nil {
		return it, c.dec.asRevert("read registry item", err)
	}
	return it, nil
}

// OwnerOf returns the owner of registry token tokenID.
func (c *Client) OwnerOf(ctx context.Context, tokenID *big.Int) (common.Address, error) {
	o, err := bind.Call(c.registry, c.call(ctx), c.abi.registry.PackOwnerOf(tokenID), c.abi.registry.UnpackOwnerOf)
	if err != nil {
		return o, c.dec.asRevert("read token owner", err)
	}
	return o, nil
}

// ------------------------------------------------------------------ stake

// Stake adds amount to the client's bonded stake (approving first if needed).
func (c *Client) Stake(ctx context.Context, amount *big.Int) (*types.Receipt, error) {
	if err := c.ensureAllowance(ctx, c.addrs.Stake, amount); err != nil {
		return nil, fmt.Errorf("stake: %w", err)
	}
	return c.send(ctx, "stake", c.stake, c.abi.stake.PackStake(amount))
}

// RequestUnstake starts unbonding amount of the client's stake.
func (c *Client) RequestUnstake(ctx context.Context, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, "request unstake", c.stake, c.abi.stake.PackRequestUnstake(amount))
}

// Withdraw takes out the client's unbonded stake once its delay is over.
func (c *Client) Withdraw(ctx context.Context) (*types.Receipt, error) {
	return c.send(ctx, "withdraw stake", c.stake, c.abi.stake.PackWithdraw())
}

// StakeOf returns worker's bonded and unbonding stake.
func (c *Client) StakeOf(ctx context.Context, worker common.Address) (bindings.WorkerStakeStake, error) {
	s, err := bind.Call(c.stake, c.call(ctx), c.abi.stake.PackStakeOf(worker), c.abi.stake.UnpackStakeOf)
	if err != nil {
		return s, c.dec.asRevert("read stake", err)
	}
	return s, nil
}

// Slash submits two receipts one worker signed for one tasklet with
// different outputs; the contract checks them and pays the client the
// bounty. Both must be signed under ReceiptDomain.
func (c *Client) Slash(ctx context.Context, a, b receipt.Receipt) (*types.Receipt, error) {
	ra, err := StakeReceipt(a)
	if err != nil {
		return nil, fmt.Errorf("slash: first receipt: %w", err)
	}
	rb, err := StakeReceipt(b)
	if err != nil {
		return nil, fmt.Errorf("slash: second receipt: %w", err)
	}
	return c.send(ctx, "slash", c.stake, c.abi.stake.PackSlash(ra, a.Signature, rb, b.Signature))
}

// SlashedAmount is the stake a slash transaction took (bounty and burn),
// from its Slashed event; 0 when it has none.
func (c *Client) SlashedAmount(rec *types.Receipt) *big.Int {
	for _, l := range rec.Logs {
		if l.Address != c.addrs.Stake {
			continue
		}
		if ev, err := c.abi.stake.UnpackSlashedEvent(l); err == nil {
			return ev.Amount
		}
	}
	return new(big.Int)
}

// Claimed returns what a claim or claimMany transaction paid, by worker,
// from its Claimed events.
func (c *Client) Claimed(rec *types.Receipt) map[common.Address]*big.Int {
	out := map[common.Address]*big.Int{}
	for _, l := range rec.Logs {
		if l.Address != c.addrs.Escrow {
			continue
		}
		if ev, err := c.abi.escrow.UnpackClaimedEvent(l); err == nil {
			if out[ev.Worker] == nil {
				out[ev.Worker] = new(big.Int)
			}
			out[ev.Worker].Add(out[ev.Worker], ev.Amount)
		}
	}
	return out
}
