package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/internal/fsutil"
	"github.com/gridswarm/gridswarm/internal/units"
	"github.com/gridswarm/gridswarm/p2p"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/settle"
	"github.com/gridswarm/gridswarm/settle/merkle"
	"github.com/gridswarm/gridswarm/verify"
)

// SettleTopic carries payout notices: a coordinator that posted a root
// tells the swarm the cumulative payouts it commits, so that each worker
// can rebuild the tree, prove its leaf and claim. A notice is only a hint:
// a worker checks the root it rebuilds against the chain before it claims,
// so a forged notice costs nothing but a read.
const SettleTopic = "gridswarm/settle/1.0.0"

// Limits on a notice. Gossip carries at most 64 KiB a message, so a root
// paying more than maxNoticePayouts accounts is announced by its record's
// CID, which workers fetch from the data grid (at most maxRecordSize).
const (
	maxNoticePayouts = 400
	maxNoticeSize    = 64 << 10
	maxRecordSize    = 64 << 20
)

// PayoutNotice is what SettleTopic carries.
type PayoutNotice struct {
	ChainID  uint64             `json:"chain_id"`
	Escrow   string             `json:"escrow"` // JobEscrow's address
	EscrowID string             `json:"escrow_id"`
	Job      string             `json:"job"`
	Batch    int                `json:"batch"`
	Root     string             `json:"root"`
	Payouts  []scheduler.Payout `json:"payouts,omitempty"`
	// Record is the CID of the root's batch record, whose payouts a
	// notice too large for gossip leaves out.
	Record string `json:"record,omitempty"`
}

// tree rebuilds the notice's payout tree and checks it has the root the
// notice names and is for this node's chain and escrow.
func (pn PayoutNotice) tree(chainID uint64, escrow common.Address) (*merkle.PayoutTree, error) {
	if pn.ChainID != chainID || !strings.EqualFold(pn.Escrow, escrow.Hex()) {
		return nil, fmt.Errorf("notice for chain %d escrow %s; this node settles on chain %d escrow %s", pn.ChainID, pn.Escrow, chainID, escrow.Hex())
	}
	if len(pn.Payouts) == 0 || len(pn.Payouts) > maxNoticePayouts {
		return nil, fmt.Errorf("notice has %d payouts, want 1 to %d", len(pn.Payouts), maxNoticePayouts)
	}
	ps, err := merklePayouts(pn.Payouts)
	if err != nil {
		return nil, err
	}
	t, err := merkle.Payouts(ps)
	if err != nil {
		return nil, err
	}
	if t.Root().Hex() != pn.Root {
		return nil, fmt.Errorf("the payouts' root is %s, the notice says %s", t.Root().Hex(), pn.Root)
	}
	return t, nil
}

func merklePayouts(in []scheduler.Payout) ([]merkle.Payout, error) {
	out := make([]merkle.Payout, len(in))
	for i, p := range in {
		if !common.IsHexAddress(p.Account) {
			return nil, fmt.Errorf("payout %d: %q is not an address", i, p.Account)
		}
		a, ok := new(big.Int).SetString(p.Amount, 10)
		if !ok || a.Sign() < 0 || a.BitLen() > 256 {
			return nil, fmt.Errorf("payout %d: %q is not an amount of base units", i, p.Amount)
		}
		out[i] = merkle.Payout{Worker: common.HexToAddress(p.Account), Amount: a}
	}
	return out, nil
}

// payer is the coordinator's scheduler.Payer on this node's chain.
type payer struct{ n *Node }

var _ scheduler.Payer = payer{}

func (p payer) st() *settlement { return p.n.settle }

func (p payer) Units(tokens string) (*big.Int, error) {
	return units.ParseTokens(tokens, p.st().token.Decimals)
}

func (p payer) Tokens(v *big.Int) string {
	return units.Tokens(v, p.st().token.Decimals)
}

func (p payer) Escrow(ctx context.Context, jobID string, req scheduler.EscrowRequest) (scheduler.Escrow, error) {
	st := p.st()
	c := st.client
	var dataset *big.Int
	if req.DatasetToken != 0 {
		dataset = new(big.Int).SetUint64(req.DatasetToken)
		item, err := c.Item(ctx, dataset)
		if err != nil {
			return scheduler.Escrow{}, fmt.Errorf("payment.dataset_token %d: %w", req.DatasetToken, err)
		}
		if item.Cid != req.Dataset {
			return scheduler.Escrow{}, fmt.Errorf("payment.dataset_token %d is for dataset %s, not this job's %s: give the token of this dataset", req.DatasetToken, item.Cid, req.Dataset)
		}
	}
	if bal, err := c.BalanceOf(ctx, c.From()); err == nil && bal.Cmp(req.Budget) < 0 {
		return scheduler.Escrow{}, fmt.Errorf("this daemon's account %s holds %s %s, less than the budget %s", c.From().Hex(), p.Tokens(bal), st.token.Symbol, p.Tokens(req.Budget))
	}
	var ref [32]byte
	copy(ref[:], crypto.Keccak256([]byte(jobID)))
	id, rec, err := c.Deposit(ctx, settle.Deposit{
		Amount: req.Budget, Deadline: req.Deadline, Coordinator: c.From(),
		DatasetID: dataset, RoyaltyBps: uint16(req.RoyaltyBps), Ref: ref,
	})
	if err != nil {
		return scheduler.Escrow{}, err
	}
	a := c.Addresses()
	p.n.log.Info("escrowed a job's budget", "job", jobID, "escrow_id", id, "deposit", p.Tokens(req.Budget), "tx", rec.TxHash)
	return scheduler.Escrow{
		ChainID: st.chain.ChainID().Uint64(), Contract: a.Escrow.Hex(), Token: a.Token.Hex(), ID: id.String(),
		Deposit: req.Budget.String(), Price: req.Price.String(), Per: req.Per, RoyaltyBps: req.RoyaltyBps,
		DatasetToken: req.DatasetToken, Deadline: req.Deadline.Unix(), Tx: rec.TxHash.Hex(),
		Symbol: st.token.Symbol, Decimals: st.token.Decimals,
	}, nil
}

// batchRecord is a root's record in the data grid: the payouts and the
// receipts they pay for, whose EIP-712 digests the receipts root covers.
type batchRecord struct {
	Job      string             `json:"job"`
	EscrowID string             `json:"escrow_id"`
	Payouts  []scheduler.Payout `json:"payouts"`
	Receipts []receipt.Receipt  `json:"receipts"`
}

// receiptsRoot is the Merkle root of the receipts' EIP-712 digests (leaves
// in the StandardMerkleTree form of a bytes32 value).
func receiptsRoot(d receipt.Domain, rs []receipt.Receipt) ([32]byte, error) {
	if len(rs) == 0 {
		return [32]byte{}, nil
	}
	leaves := make([]merkle.Hash, len(rs))
	for i, r := range rs {
		h, err := receipt.Hash(d, r)
		if err != nil {
			return [32]byte{}, err
		}
		leaves[i] = merkle.LeafHash(h[:])
	}
	t, err := merkle.New(leaves)
	if err != nil {
		return [32]byte{}, err
	}
	return t.Root(), nil
}

func (p payer) Post(ctx context.Context, jobID string, e scheduler.Escrow, payouts []scheduler.Payout, receipts []receipt.Receipt) (scheduler.Batch, error) {
	st := p.st()
	ps, err := merklePayouts(payouts)
	if err != nil {
		return scheduler.Batch{}, err
	}
	tree, err := merkle.Payouts(ps)
	if err != nil {
		return scheduler.Batch{}, err
	}
	rr, err := receiptsRoot(p.n.domain, receipts)
	if err != nil {
		return scheduler.Batch{}, fmt.Errorf("receipts root: %w", err)
	}
	b, err := json.Marshal(batchRecord{Job: jobID, EscrowID: e.ID, Payouts: payouts, Receipts: receipts})
	if err != nil {
		return scheduler.Batch{}, err
	}
	recCID, err := p.n.grid.AddBytesOwned(ctx, jobID+"-payouts.json", b, fmt.Sprintf("job/%s/settle/%s", jobID, tree.Root().Hex()))
	if err != nil {
		return scheduler.Batch{}, fmt.Errorf("cannot store the batch record: %w", err)
	}
	id, ok := new(big.Int).SetString(e.ID, 10)
	if !ok {
		return scheduler.Batch{}, fmt.Errorf("escrow ID %q is not a number", e.ID)
	}
	rec, err := st.client.PostRoot(ctx, id, tree, rr)
	if err != nil {
		return scheduler.Batch{}, err
	}
	j, err := st.client.Job(ctx, id)
	if err != nil {
		return scheduler.Batch{}, err
	}
	out := scheduler.Batch{
		Root: tree.Root().Hex(), Committed: tree.Total.String(), Receipts: common.Hash(rr).Hex(),
		Record: recCID.String(), Tx: rec.TxHash.Hex(), Posted: time.Now().UTC(),
	}
	notice := PayoutNotice{
		ChainID: e.ChainID, Escrow: e.Contract, EscrowID: e.ID, Job: jobID, Batch: int(j.Batches),
		Root: out.Root, Payouts: payouts, Record: out.Record,
	}
	if len(payouts) > maxNoticePayouts {
		notice.Payouts = nil // workers read them from the record
	}
	p.n.log.Info("posted a payout root", "job", jobID, "batch", j.Batches, "committed", p.Tokens(tree.Total), "accounts", len(payouts), "tx", rec.TxHash)
	p.n.settleEvents.publish(settleEventsKey, api.SettleEvent{Kind: "batch", Job: jobID, EscrowID: e.ID, Batch: int(j.Batches), Amount: out.Committed, Tx: out.Tx})
	p.n.publishNotice(ctx, notice)
	if p.n.renotice != nil {
		p.n.renotice.posted(notice)
	}
	return out, nil
}

func (p payer) Close(ctx context.Context, jobID string, e scheduler.Escrow, model, provenance string) (scheduler.Closing, error) {
	st := p.st()
	c := st.client
	id, ok := new(big.Int).SetString(e.ID, 10)
	if !ok {
		return scheduler.Closing{}, fmt.Errorf("escrow ID %q is not a number", e.ID)
	}
	var out scheduler.Closing
	j, err := c.Job(ctx, id)
	if err != nil {
		return out, err
	}
	if model != "" {
		// A close that stopped after the mint (kill -9, the chain gone)
		// is done again from the start: mint only once.
		tok, err := c.ModelOf(ctx, id)
		if err != nil {
			return out, err
		}
		if tok.Sign() == 0 {
			var rec *types.Receipt
			if tok, rec, err = c.MintModel(ctx, id, model, provenance); err != nil {
				return out, err
			}
			out.MintTx = rec.TxHash.Hex()
		}
		out.ModelToken = tok.String()
	}
	if !j.Closed {
		rec, err := c.Refund(ctx, id)
		if err != nil {
			return out, err
		}
		out.RefundTx = rec.TxHash.Hex()
	}
	if j, err = c.Job(ctx, id); err != nil {
		return out, err
	}
	out.Refund = new(big.Int).Sub(new(big.Int).Sub(j.Deposit, j.Committed), j.RoyaltyAccrued).String()
	if j.RoyaltyAccrued.Cmp(j.RoyaltyPaid) > 0 {
		rec, err := c.ClaimRoyalty(ctx, id)
		if err != nil {
			return out, err
		}
		out.RoyaltyTx = rec.TxHash.Hex()
	}
	out.Royalty = j.RoyaltyAccrued.String()
	p.n.log.Info("closed a job's escrow", "job", jobID, "refund", p.Tokens(mustBig(out.Refund)), "royalty", p.Tokens(j.RoyaltyAccrued), "model_token", out.ModelToken)
	return out, nil
}

func mustBig(s string) *big.Int {
	v, _ := new(big.Int).SetString(s, 10)
	if v == nil {
		return new(big.Int)
	}
	return v
}

// settleEventsKey is the one key of the settle events hub.
const settleEventsKey = "events"

// claimsFile keeps the notices that pay this node, so that a daemon
// stopped (or killed) before it claimed still knows its proofs.
const claimsFile = "claims.json"

// maxClaimsFile bounds claims.json when it is read back.
const maxClaimsFile = 64 << 20

// claims is what this node's account is owed: the latest notice of each
// escrowed job that pays it, saved in the repo at every change.
type claims struct {
	path   string // "" keeps them in memory only
	mu     sync.Mutex
	latest map[string]PayoutNotice // escrow ID → newest notice naming us
	wake   chan struct{}
}

// loadClaims reads the notices a previous daemon kept; a missing file is
// no claims, an unreadable one is an error saying what to do.
func loadClaims(path string) (*claims, error) {
	c := &claims{path: path, latest: map[string]PayoutNotice{}, wake: make(chan struct{}, 1)}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	if err := json.NewDecoder(io.LimitReader(f, maxClaimsFile)).Decode(&c.latest); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v): move it away to start without the payout notices it held (what the escrow owes stays claimable; `gridswarm wallet claims` shows them again after the next root)", path, err)
	}
	if len(c.latest) > 0 {
		c.wake <- struct{}{} // claim what a previous daemon had not
	}
	return c, nil
}

func (c *claims) add(n PayoutNotice) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.latest[n.EscrowID]; ok && old.Batch >= n.Batch {
		return false, nil
	}
	c.latest[n.EscrowID] = n
	var err error
	if c.path != "" {
		var b []byte
		if b, err = json.Marshal(c.latest); err == nil {
			err = fsutil.WriteFile(c.path, b, 0o600)
		}
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true, err
}

func (c *claims) list() []PayoutNotice {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]PayoutNotice, 0, len(c.latest))
	for _, n := range c.latest {
		out = append(out, n)
	}
	return out
}

// settleSpec is the notice topic's rules: a notice must decode within its
// size, be for this chain and rebuild to the root it names.
func (n *Node) settleSpec() p2p.TopicSpec {
	a := n.settle.client.Addresses()
	chainID := n.settle.chain.ChainID().Uint64()
	return p2p.TopicSpec{
		Name:             SettleTopic,
		MaxSize:          maxNoticeSize,
		PerPeerPerSecond: 2,
		Burst:            20,
		Check: func(from peer.ID, b []byte) error {
			var pn PayoutNotice
			if err := json.Unmarshal(b, &pn); err != nil {
				return fmt.Errorf("payout notice: %w", err)
			}
			if len(pn.Payouts) == 0 && pn.Record != "" {
				// Checked once fetched: the record's payouts must rebuild the root.
				if _, err := parseCID(pn.Record); err != nil {
					return fmt.Errorf("payout notice record: %w", err)
				}
				if pn.ChainID != chainID || !strings.EqualFold(pn.Escrow, a.Escrow.Hex()) {
					return fmt.Errorf("notice for chain %d escrow %s", pn.ChainID, pn.Escrow)
				}
				return nil
			}
			_, err := pn.tree(chainID, a.Escrow)
			return err
		},
	}
}

// startSettle joins the notice topic and starts the claimer: a notice that
// pays this node's account is claimed when its amount reaches
// settle.claim_threshold.
func (n *Node) startSettle(ctx context.Context, threshold *big.Int) error {
	if n.settle == nil {
		return nil
	}
	var err error
	if n.claims, err = loadClaims(filepath.Join(n.repo.Dir, claimsFile)); err != nil {
		return err
	}
	me := n.settle.client.From()
	ctx, cancel := context.WithCancel(ctx)
	n.stopSettle = cancel
	t, err := n.swarm.Gossip(n.settleSpec(), func(from peer.ID, b []byte) {
		var pn PayoutNotice
		if json.Unmarshal(b, &pn) != nil {
			return
		}
		if len(pn.Payouts) == 0 {
			n.fetchNotice(ctx, pn, me)
			return
		}
		n.noticed(pn, me)
	})
	if err != nil {
		return err
	}
	n.settleTopic.Store(t)
	n.renotice = newRenoticeBox()
	n.startRenotice(ctx, t)
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		retry := time.NewTimer(0)
		retry.Stop()
		defer retry.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-n.claims.wake:
			case <-retry.C:
			}
			cctx, stop := context.WithTimeout(ctx, 2*time.Minute)
			if _, err := n.claimDue(cctx, threshold); err != nil && !errors.Is(err, errNothingToClaim) {
				// No gas yet, the chain unreachable: try again later, not
				// only at the next root (the last root has no next).
				n.log.Warn("cannot claim payouts; trying again", "in", claimRetry, "err", err)
				retry.Reset(claimRetry)
			}
			stop()
		}
	}()
	return nil
}

// claimRetry is how long a failed claim waits before it is tried again.
const claimRetry = time.Minute

// fetchNotice completes a notice that names only its record: the payouts
// are read from the data grid, off the gossip handler.
func (n *Node) fetchNotice(ctx context.Context, pn PayoutNotice, me common.Address) {
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		c, err := parseCID(pn.Record)
		if err != nil {
			return
		}
		b, err := n.grid.ReadFile(ctx, c, maxRecordSize)
		var rec batchRecord
		if err == nil {
			err = json.Unmarshal(b, &rec)
		}
		if err != nil {
			n.log.Warn("cannot read a payout record", "record", pn.Record, "err", err)
			return
		}
		pn.Payouts = rec.Payouts
		if _, err := pn.tree(n.settle.chain.ChainID().Uint64(), n.settle.client.Addresses().Escrow); err != nil {
			n.log.Warn("payout record does not match its notice", "record", pn.Record, "err", err)
			return
		}
		n.noticed(pn, me)
	}()
}

// noticed keeps a notice that pays me (our own notices arrive here too).
func (n *Node) noticed(pn PayoutNotice, me common.Address) {
	for _, p := range pn.Payouts {
		if strings.EqualFold(p.Account, me.Hex()) {
			added, err := n.claims.add(pn)
			if err != nil {
				n.log.Warn("cannot save a payout notice; it is kept in memory until the daemon stops", "job", pn.Job, "err", err)
			}
			if added {
				n.settleEvents.publish(settleEventsKey, api.SettleEvent{Kind: "batch", Job: pn.Job, EscrowID: pn.EscrowID, Batch: pn.Batch, Account: me.Hex(), Amount: p.Amount})
			}
			return
		}
	}
}

// publishNotice gossips a root's notice, and keeps it when it pays this
// node itself.
func (n *Node) publishNotice(ctx context.Context, pn PayoutNotice) {
	if n.claims != nil {
		n.noticed(pn, n.settle.client.From())
	}
	t := n.settleTopic.Load()
	if t == nil {
		return
	}
	if err := gossipNotice(ctx, t, pn); err != nil {
		n.log.Warn("cannot gossip a payout notice", "job", pn.Job, "err", err)
	}
}

// gossipNotice publishes pn on t, within 10 s.
func gossipNotice(ctx context.Context, t *p2p.Topic, pn PayoutNotice) error {
	b, err := json.Marshal(pn)
	if err != nil {
		return fmt.Errorf("encode the payout notice: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return t.Publish(ctx, b)
}

var errNothingToClaim = errors.New("nothing to claim: no payout root this node was told of pays its account more than it was paid")

// claimable works out, for every notice that pays me, what the chain would
// pay now.
func (n *Node) claimable(ctx context.Context) ([]api.SettleClaim, []settle.Claim, error) {
	st := n.settle
	me := st.client.From()
	var views []api.SettleClaim
	var out []settle.Claim
	for _, pn := range n.claims.list() {
		tree, err := pn.tree(st.chain.ChainID().Uint64(), st.client.Addresses().Escrow)
		if err != nil {
			continue
		}
		amount, proof, err := tree.ProofFor(me)
		if err != nil {
			continue
		}
		id, _ := new(big.Int).SetString(pn.EscrowID, 10)
		j, err := st.client.Job(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		root := tree.Root()
		current := common.Hash(j.Root) == root
		if !current && common.Hash(j.PrevRoot) != root {
			continue // the chain never held this root: a stale or forged notice
		}
		paid, err := st.client.ClaimedBy(ctx, id, me)
		if err != nil {
			return nil, nil, err
		}
		due := new(big.Int).Sub(amount, paid)
		v := api.SettleClaim{Job: pn.Job, EscrowID: pn.EscrowID, Batch: pn.Batch, Amount: amount.String(), Claimed: paid.String(), Claimable: "0", Stale: !current}
		for _, p := range pn.Payouts {
			if strings.EqualFold(p.Account, me.Hex()) {
				v.Tasklets = p.Tasklets
			}
		}
		for _, h := range proof {
			v.Proof = append(v.Proof, h.Hex())
		}
		if due.Sign() > 0 {
			v.Claimable = due.String()
			out = append(out, settle.Claim{JobID: id, Worker: me, Amount: amount, Proof: proof})
		}
		views = append(views, v)
	}
	return views, out, nil
}

// claimDue claims, in one transaction, everything owed to this node once
// it reaches threshold.
func (n *Node) claimDue(ctx context.Context, threshold *big.Int) (api.TxResult, error) {
	views, cls, err := n.claimable(ctx)
	if err != nil {
		return api.TxResult{}, err
	}
	total := new(big.Int)
	for _, v := range views {
		total.Add(total, mustBig(v.Claimable))
	}
	if len(cls) == 0 || total.Sign() == 0 {
		return api.TxResult{}, errNothingToClaim
	}
	if threshold != nil && total.Cmp(threshold) < 0 {
		return api.TxResult{}, fmt.Errorf("%w: %s owed is under settle.claim_threshold", errNothingToClaim, total)
	}
	rec, err := n.settle.client.ClaimMany(ctx, cls)
	if err != nil {
		return api.TxResult{}, err
	}
	paid := n.settle.client.Claimed(rec)[n.settle.client.From()]
	if paid == nil {
		paid = new(big.Int)
	}
	n.log.Info("claimed payouts", "jobs", len(cls), "amount", paid, "tx", rec.TxHash)
	n.settleEvents.publish(settleEventsKey, api.SettleEvent{Kind: "claim", Account: n.settle.client.From().Hex(), Amount: paid.String(), Tx: rec.TxHash.Hex()})
	return api.TxResult{Tx: rec.TxHash.Hex(), Block: rec.BlockNumber.Uint64(), Amount: paid.String()}, nil
}

// slash turns an equivocation proof into a slash of the worker's stake,
// when this node settles and the worker has stake; the bounty comes here.
func (n *Node) slash(ctx context.Context, p verify.Proof) (api.TxResult, error) {
	st := n.settle
	if st == nil {
		return api.TxResult{}, ErrSettleOff
	}
	s, err := st.client.StakeOf(ctx, p.A.Worker)
	if err != nil {
		return api.TxResult{}, err
	}
	if s.Bonded.Sign() == 0 && s.Unbonding.Sign() == 0 {
		return api.TxResult{}, fmt.Errorf("worker %s has no stake to slash", p.A.Worker.Hex())
	}
	rec, err := st.client.Slash(ctx, p.A, p.B)
	if err != nil {
		return api.TxResult{}, err
	}
	amount := st.client.SlashedAmount(rec)
	n.log.Info("slashed an equivocating worker", "worker", p.A.Worker, "amount", amount, "tx", rec.TxHash)
	n.settleEvents.publish(settleEventsKey, api.SettleEvent{Kind: "slash", Account: p.A.Worker.Hex(), Amount: amount.String(), Tx: rec.TxHash.Hex()})
	return api.TxResult{Tx: rec.TxHash.Hex(), Block: rec.BlockNumber.Uint64(), Amount: amount.String()}, nil
}
