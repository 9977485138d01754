package node

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/internal/units"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler"
)

// SettleService is the settle_ namespace: the chain this node settles on,
// for wallets, tools and `gridswarm wallet`.
type SettleService struct{ n *Node }

// ethSymbol is the gas currency's symbol shown to wallets: every
// Ethereum dev chain's, and what a wallet expects of one.
const ethSymbol = "ETH"

// Info returns the chain, its endpoints, the contracts and this node's
// account.
func (s *SettleService) Info(ctx context.Context) (api.SettleInfo, error) {
	st := s.n.settle
	if st == nil {
		return api.SettleInfo{}, ErrSettleOff
	}
	head, err := st.chain.BlockNumber(ctx)
	if err != nil {
		return api.SettleInfo{}, fmt.Errorf("cannot read the chain's head: %w", err)
	}
	a := st.client.Addresses()
	id := st.chain.ChainID()
	urls := []string{}
	if st.httpURL != "" {
		urls = append(urls, st.httpURL)
	}
	name := "gridswarm " + st.backend
	if st.backend == "embedded" {
		name = "gridswarm (" + shortAccount(st.client.From()) + ")"
	}
	return api.SettleInfo{
		Backend: st.backend,
		ChainID: id.Uint64(),
		RPCURLs: urls,
		WSURL:   st.wsURL,
		Contracts: api.SettleContracts{
			Token: a.Token.Hex(), Escrow: a.Escrow.Hex(), Registry: a.Registry.Hex(), Stake: a.Stake.Hex(),
		},
		Token:   api.SettleToken{Address: a.Token.Hex(), Name: st.token.Name, Symbol: st.token.Symbol, Decimals: st.token.Decimals},
		Account: st.client.From().Hex(),
		Head:    head,
		AddChain: api.AddEthereumChain{
			ChainID:        "0x" + id.Text(16),
			ChainName:      name,
			NativeCurrency: api.NativeCurrency{Name: "Ether", Symbol: ethSymbol, Decimals: 18},
			RPCURLs:        urls,
		},
		WatchAsset: api.WatchAsset{Type: "ERC20", Options: api.WatchAssetOption{
			Address: a.Token.Hex(), Symbol: st.token.Symbol, Decimals: st.token.Decimals,
		}},
	}, nil
}

// shortAccount is 0x1234…abcd, to tell daemons' chains apart in a wallet.
func shortAccount(a common.Address) string {
	h := a.Hex()
	return h[:6] + "…" + h[len(h)-4:]
}

// Balance returns the token and ether balance of an address (default: this
// node's account), both read at one block.
func (s *SettleService) Balance(ctx context.Context, address *string) (api.SettleBalance, error) {
	st := s.n.settle
	if st == nil {
		return api.SettleBalance{}, ErrSettleOff
	}
	who := st.client.From()
	if address != nil && strings.TrimSpace(*address) != "" {
		a := strings.TrimSpace(*address)
		if !common.IsHexAddress(a) {
			return api.SettleBalance{}, fmt.Errorf("%q is not an Ethereum address: give 0x and 40 hex digits, or nothing for this node's account", a)
		}
		who = common.HexToAddress(a)
	}
	head, err := st.chain.BlockNumber(ctx)
	if err != nil {
		return api.SettleBalance{}, fmt.Errorf("cannot read the chain's head: %w", err)
	}
	at := new(big.Int).SetUint64(head)
	eth, err := st.chain.BalanceAt(ctx, who, at)
	if err != nil {
		return api.SettleBalance{}, fmt.Errorf("cannot read the ether balance of %s: %w", who.Hex(), err)
	}
	tok, err := tokenBalanceAt(ctx, st.chain, st.client.Addresses().Token, who, at)
	if err != nil {
		return api.SettleBalance{}, fmt.Errorf("cannot read the token balance of %s: %w", who.Hex(), err)
	}
	return api.SettleBalance{
		Address: who.Hex(), Token: tok.String(), TokenSymbol: st.token.Symbol, TokenDecimals: st.token.Decimals,
		Ether: eth.String(), Block: head,
	}, nil
}

// balanceOfSelector is ERC-20 balanceOf(address).
var balanceOfSelector = []byte{0x70, 0xa0, 0x82, 0x31}

// tokenBalanceAt reads an ERC-20 balance at a block (settle.Client reads
// the latest only, and ether must match the token's block).
func tokenBalanceAt(ctx context.Context, c bind.ContractCaller, token, who common.Address, block *big.Int) (*big.Int, error) {
	data := append(append([]byte{}, balanceOfSelector...), common.LeftPadBytes(who.Bytes(), 32)...)
	out, err := c.CallContract(ctx, ethereum.CallMsg{To: &token, Data: data}, block)
	if err != nil {
		return nil, err
	}
	if len(out) != 32 {
		return nil, fmt.Errorf("token %s answered balanceOf with %d bytes, want 32: is it an ERC-20?", token.Hex(), len(out))
	}
	return new(big.Int).SetBytes(out), nil
}

// Claims lists what this node's account is owed, job by job, from the
// latest payout roots it was told of, with the proofs a claim needs.
func (s *SettleService) Claims(ctx context.Context) ([]api.SettleClaim, error) {
	if s.n.settle == nil {
		return nil, ErrSettleOff
	}
	views, _, err := s.n.claimable(ctx)
	if views == nil {
		views = []api.SettleClaim{}
	}
	return views, err
}

// Claim claims everything owed to this node now, in one transaction,
// whatever settle.claim_threshold says.
func (s *SettleService) Claim(ctx context.Context) (api.TxResult, error) {
	if s.n.settle == nil {
		return api.TxResult{}, ErrSettleOff
	}
	return s.n.claimDue(ctx, nil)
}

// amount parses a decimal number of whole tokens.
func (s *SettleService) amount(what, tokens string) (*big.Int, error) {
	v, err := units.ParseTokens(tokens, s.n.settle.token.Decimals)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if v.Sign() <= 0 {
		return nil, fmt.Errorf("%s: must be more than 0", what)
	}
	return v, nil
}

func txResult(rec *types.Receipt, amount *big.Int) api.TxResult {
	out := api.TxResult{Tx: rec.TxHash.Hex(), Block: rec.BlockNumber.Uint64()}
	if amount != nil {
		out.Amount = amount.String()
	}
	return out
}

// Stake bonds tokens (whole tokens, decimal) in WorkerStake: what an
// equivocation proof would cost this node's worker.
func (s *SettleService) Stake(ctx context.Context, tokens string) (api.TxResult, error) {
	if s.n.settle == nil {
		return api.TxResult{}, ErrSettleOff
	}
	v, err := s.amount("stake", tokens)
	if err != nil {
		return api.TxResult{}, err
	}
	rec, err := s.n.settle.client.Stake(ctx, v)
	if err != nil {
		return api.TxResult{}, err
	}
	return txResult(rec, v), nil
}

// Unstake starts unbonding tokens; settle_withdraw takes them out once the
// unbonding delay (longer than the dispute window) is over.
func (s *SettleService) Unstake(ctx context.Context, tokens string) (api.TxResult, error) {
	if s.n.settle == nil {
		return api.TxResult{}, ErrSettleOff
	}
	v, err := s.amount("unstake", tokens)
	if err != nil {
		return api.TxResult{}, err
	}
	rec, err := s.n.settle.client.RequestUnstake(ctx, v)
	if err != nil {
		return api.TxResult{}, err
	}
	return txResult(rec, v), nil
}

// Withdraw takes out the unbonded stake.
func (s *SettleService) Withdraw(ctx context.Context) (api.TxResult, error) {
	if s.n.settle == nil {
		return api.TxResult{}, ErrSettleOff
	}
	before, err := s.n.settle.client.StakeOf(ctx, s.n.settle.client.From())
	if err != nil {
		return api.TxResult{}, err
	}
	rec, err := s.n.settle.client.Withdraw(ctx)
	if err != nil {
		return api.TxResult{}, err
	}
	return txResult(rec, before.Unbonding), nil
}

// StakeOf returns an account's stake (default: this node's).
func (s *SettleService) StakeOf(ctx context.Context, address *string) (api.StakeInfo, error) {
	if s.n.settle == nil {
		return api.StakeInfo{}, ErrSettleOff
	}
	who, err := s.who(address)
	if err != nil {
		return api.StakeInfo{}, err
	}
	st, err := s.n.settle.client.StakeOf(ctx, who)
	if err != nil {
		return api.StakeInfo{}, err
	}
	return api.StakeInfo{Address: who.Hex(), Bonded: st.Bonded.String(), Unbonding: st.Unbonding.String(), UnlockAt: int64(st.UnlockAt)}, nil
}

func (s *SettleService) who(address *string) (common.Address, error) {
	if address == nil || strings.TrimSpace(*address) == "" {
		return s.n.settle.client.From(), nil
	}
	a := strings.TrimSpace(*address)
	if !common.IsHexAddress(a) {
		return common.Address{}, fmt.Errorf("%q is not an Ethereum address: give 0x and 40 hex digits, or nothing for this node's account", a)
	}
	return common.HexToAddress(a), nil
}

// Send sends tokens (whole tokens, decimal) and/or ether (decimal) from
// this node's account to another: how a swarm's first daemon funds the
// others on its own chain.
func (s *SettleService) Send(ctx context.Context, to string, tokens string, ether string) ([]api.TxResult, error) {
	if s.n.settle == nil {
		return nil, ErrSettleOff
	}
	if !common.IsHexAddress(strings.TrimSpace(to)) {
		return nil, fmt.Errorf("%q is not an Ethereum address: give 0x and 40 hex digits", to)
	}
	dest := common.HexToAddress(strings.TrimSpace(to))
	if tokens == "" && ether == "" {
		return nil, fmt.Errorf("nothing to send: give an amount of tokens, of ether, or both")
	}
	var out []api.TxResult
	if ether != "" {
		v, err := units.ParseTokens(ether, 18)
		if err != nil {
			return out, fmt.Errorf("ether: %w", err)
		}
		rec, err := s.n.settle.client.SendEther(ctx, dest, v)
		if err != nil {
			return out, err
		}
		out = append(out, txResult(rec, v))
	}
	if tokens != "" {
		v, err := s.amount("tokens", tokens)
		if err != nil {
			return out, err
		}
		rec, err := s.n.settle.client.Transfer(ctx, dest, v)
		if err != nil {
			return out, err
		}
		out = append(out, txResult(rec, v))
	}
	return out, nil
}

// Job returns a paid job's settlement on this coordinator: its escrow,
// the roots posted (batches) and how the escrow was closed.
func (s *SettleService) Job(id string) (*scheduler.Settlement, error) {
	j, err := s.n.coord.Get(id)
	if err != nil {
		return nil, err
	}
	if j.Settlement == nil {
		return nil, fmt.Errorf("job %s is not paid: its spec has no payment", id)
	}
	return j.Settlement, nil
}

// Receipt returns the accepted receipt of a tasklet (round 1-based, index
// 0-based) as EIP-712 typed data, with its signature: what a wallet or
// any EIP-712 library checks.
func (s *SettleService) Receipt(id string, round, index int) (api.TypedReceipt, error) {
	j, err := s.n.coord.Get(id)
	if err != nil {
		return api.TypedReceipt{}, err
	}
	if round < 1 || round > len(j.Rounds) {
		return api.TypedReceipt{}, fmt.Errorf("job %s has rounds 1 to %d, not %d", id, len(j.Rounds), round)
	}
	ts := j.Rounds[round-1].Tasklets
	if index < 0 || index >= len(ts) {
		return api.TypedReceipt{}, fmt.Errorf("round %d of job %s has tasklets 0 to %d, not %d", round, id, len(ts)-1, index)
	}
	r := ts[index].Receipt
	if r == nil {
		return api.TypedReceipt{}, fmt.Errorf("tasklet %d of round %d has no accepted receipt (state %s)", index, round, ts[index].State)
	}
	td, err := receipt.TypedData(s.n.domain, *r)
	if err != nil {
		return api.TypedReceipt{}, err
	}
	b, err := json.Marshal(td)
	if err != nil {
		return api.TypedReceipt{}, err
	}
	digest, err := receipt.Hash(s.n.domain, *r)
	if err != nil {
		return api.TypedReceipt{}, err
	}
	return api.TypedReceipt{TypedData: b, Digest: common.Hash(digest).Hex(), Signature: hexutil.Encode(r.Signature), Signer: r.Worker.Hex()}, nil
}

// RegisterDataset mints a Registry token for a dataset CID to this node's
// account, which then receives the royalties of paid jobs that name it.
func (s *SettleService) RegisterDataset(ctx context.Context, cid string) (api.DatasetToken, error) {
	if s.n.settle == nil {
		return api.DatasetToken{}, ErrSettleOff
	}
	c, err := parseCID(cid)
	if err != nil {
		return api.DatasetToken{}, err
	}
	id, rec, err := s.n.settle.client.RegisterDataset(ctx, c.String(), "")
	if err != nil {
		return api.DatasetToken{}, err
	}
	return api.DatasetToken{TokenID: id.String(), CID: c.String(), Owner: s.n.settle.client.From().Hex(), Tx: rec.TxHash.Hex()}, nil
}

// Events is settle_subscribe("events"): payout roots posted or noticed,
// claims paid, slashes.
func (s *SettleService) Events(ctx context.Context) (*rpc.Subscription, error) {
	if s.n.settle == nil {
		return nil, ErrSettleOff
	}
	return s.n.settleEvents.subscribe(ctx, settleEventsKey)
}

// registryModel is Registry.Kind.Model.
const registryModel = 2

// Token reads a Registry token: what it is, its owner, its CID and the
// provenance CID it carries.
func (s *SettleService) Token(ctx context.Context, id string) (api.RegistryToken, error) {
	if s.n.settle == nil {
		return api.RegistryToken{}, ErrSettleOff
	}
	tid, ok := new(big.Int).SetString(strings.TrimSpace(id), 10)
	if !ok || tid.Sign() <= 0 {
		return api.RegistryToken{}, fmt.Errorf("%q is not a token ID: give a positive integer", id)
	}
	it, err := s.n.settle.client.Item(ctx, tid)
	if err != nil {
		return api.RegistryToken{}, err
	}
	owner, err := s.n.settle.client.OwnerOf(ctx, tid)
	if err != nil {
		return api.RegistryToken{}, err
	}
	out := api.RegistryToken{TokenID: tid.String(), Kind: "dataset", Owner: owner.Hex(), CID: it.Cid, Provenance: it.ProvenanceCid}
	if it.Kind == registryModel {
		out.Kind, out.EscrowID = "model", it.JobId.String()
	}
	return out, nil
}

// Evidence returns what backs a paid job's payouts: its roots with their
// receipt records, and its decided spot checks with their bundles.
func (s *SettleService) Evidence(id string) (api.SettleEvidence, error) {
	j, err := s.n.coord.Get(id)
	if err != nil {
		return api.SettleEvidence{}, err
	}
	if j.Settlement == nil {
		return api.SettleEvidence{}, fmt.Errorf("job %s is not paid: its spec has no payment", id)
	}
	out := api.SettleEvidence{Job: j.ID, EscrowID: j.Settlement.Escrow.ID, Batches: []api.BatchEvidence{}, Checks: []api.CheckEvidence{}}
	for _, b := range j.Settlement.Batches {
		out.Batches = append(out.Batches, api.BatchEvidence{Batch: b.Index, Root: b.Root, ReceiptsRoot: b.Receipts, Record: b.Record, Tx: b.Tx})
	}
	for _, rd := range j.Rounds {
		for _, t := range rd.Tasklets {
			if t.Check == nil || t.Check.Outcome == "" {
				continue
			}
			out.Checks = append(out.Checks, api.CheckEvidence{Round: rd.Index + 1, Tasklet: t.Index, Outcome: t.Check.Outcome, Losers: t.Check.Losers, Evidence: t.Check.Evidence})
		}
	}
	if c := j.Settlement.Closing; c != nil {
		out.Provenance = c.Provenance
	}
	return out, nil
}
