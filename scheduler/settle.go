package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
)

// Payer moves a paid job's money on a chain. The coordinator decides who
// is owed what (Payouts); the Payer only escrows, commits and closes.
// Options.Payer nil refuses paid jobs.
type Payer interface {
	// Units converts a decimal number of whole tokens to base units, and
	// Tokens back, with the token's decimals.
	Units(tokens string) (*big.Int, error)
	Tokens(units *big.Int) string
	// Escrow deposits the job's budget before the job starts and returns
	// what was escrowed.
	Escrow(ctx context.Context, jobID string, req EscrowRequest) (Escrow, error)
	// Post commits the job's cumulative payouts in one root, with the
	// receipts they pay for.
	Post(ctx context.Context, jobID string, e Escrow, payouts []Payout, receipts []receipt.Receipt) (Batch, error)
	// Close ends the job's escrow: the model token to the submitter with
	// the provenance CID (when the job has a model), the royalty to the
	// dataset's owner and what no root committed back to the submitter.
	Close(ctx context.Context, jobID string, e Escrow, model, provenance string) (Closing, error)
}

// EscrowRequest is what a paid job asks the chain to hold.
type EscrowRequest struct {
	Budget, Price *big.Int // base units
	Per           string   // jobspec.PerTasklet or PerSample
	DatasetToken  uint64   // Registry token of the dataset, 0 for none
	Dataset       string   // the dataset's root CID, which the token must carry
	RoyaltyBps    int
	Deadline      time.Time // roots until then, refund after
}

// Settlement is a paid job's money: its escrow, the roots posted and how
// it was closed.
type Settlement struct {
	Escrow  Escrow   `json:"escrow"`
	Batches []Batch  `json:"batches,omitempty"`
	Closing *Closing `json:"closing,omitempty"`
	// Error is the last settlement step that failed; the coordinator
	// tries again at the next batch (roots are cumulative).
	Error string `json:"error,omitempty"`
}

// Escrow is a job's deposit on the chain. Amounts are base units of the
// token, in decimal.
type Escrow struct {
	ChainID  uint64 `json:"chain_id"`
	Contract string `json:"contract"` // JobEscrow
	Token    string `json:"token"`
	ID       string `json:"id"` // the escrow's job ID
	Deposit  string `json:"deposit"`
	// Price is per Per (jobspec.PerTasklet or PerSample).
	Price        string `json:"price"`
	Per          string `json:"per"`
	RoyaltyBps   int    `json:"royalty_bps,omitempty"`
	DatasetToken uint64 `json:"dataset_token,omitempty"`
	Deadline     int64  `json:"deadline"` // unix seconds
	Tx           string `json:"tx"`
	// Symbol and Decimals are the token's, to show amounts.
	Symbol   string `json:"symbol,omitempty"`
	Decimals uint8  `json:"decimals,omitempty"`
}

// Payout is one account's cumulative amount in a root.
type Payout struct {
	Account  string `json:"account"`
	Amount   string `json:"amount"`
	Tasklets int    `json:"tasklets"` // verified runs it is paid for
}

// Batch is one posted root.
type Batch struct {
	Index     int       `json:"index"`   // 1-based, as the contract counts
	Through   int       `json:"through"` // rounds before this one are paid
	Root      string    `json:"root"`
	Committed string    `json:"committed"`
	Receipts  string    `json:"receipts_root"`
	Record    string    `json:"record,omitempty"` // CID of the batch record in the data grid
	Tx        string    `json:"tx"`
	Posted    time.Time `json:"posted"`
	Payouts   []Payout  `json:"payouts"`
}

// Closing is how a job's escrow ended.
type Closing struct {
	Refund     string `json:"refund"`
	RefundTx   string `json:"refund_tx,omitempty"`
	Royalty    string `json:"royalty,omitempty"`
	RoyaltyTx  string `json:"royalty_tx,omitempty"`
	ModelToken string `json:"model_token,omitempty"`
	MintTx     string `json:"mint_tx,omitempty"`
	Provenance string `json:"provenance,omitempty"`
}

// Batching: a round's outputs are paid only once HoldRounds more rounds
// have ended (a cheater caught meanwhile forfeits them), and a root is
// posted once BatchRounds rounds are payable; the job's end pays the rest.
const (
	DefaultHoldRounds  = 1
	DefaultBatchRounds = 5
)

// TaskletPrice is what one run of a tasklet of spec pays, in base units:
// the price per tasklet, or per sample times the samples a tasklet trains.
func TaskletPrice(e Escrow, spec *jobspec.Spec) (*big.Int, error) {
	p, ok := new(big.Int).SetString(e.Price, 10)
	if !ok || p.Sign() < 0 {
		return nil, fmt.Errorf("escrow price %q is not a number of base units", e.Price)
	}
	if e.Per == jobspec.PerSample {
		p.Mul(p, big.NewInt(int64(spec.InnerSteps)*int64(spec.BatchSize)))
	}
	return p, nil
}

// Payouts is what the job owes through round through (exclusive): each
// verified run of a tasklet pays its signed price to the account that
// signed the receipt. A run is verified when its output was accepted: the
// accepted output of an unchecked tasklet, or every replica that agreed
// with the vote's winner. Outputs the screen kept out, dropped tasklets
// and anything from an excluded (banned) peer or account pay nothing.
// The receipts returned are those paid, in a fixed order.
func Payouts(j *Job, through int, excluded func(peer, account string) bool) ([]Payout, []receipt.Receipt) {
	type key struct{ tasklet, worker string }
	paid := map[key]bool{}
	sums := map[common.Address]*big.Int{}
	counts := map[common.Address]int{}
	var receipts []receipt.Receipt
	pay := func(peer string, r *receipt.Receipt) {
		if r == nil || excluded(peer, r.Worker.Hex()) {
			return
		}
		k := key{r.TaskletCID, r.Worker.Hex()}
		price, err := receipt.ParsePrice(r.Price)
		if paid[k] || err != nil {
			return
		}
		paid[k] = true
		if sums[r.Worker] == nil {
			sums[r.Worker] = new(big.Int)
		}
		sums[r.Worker].Add(sums[r.Worker], price)
		counts[r.Worker]++
		receipts = append(receipts, *r)
	}
	for i := 0; i < through && i < len(j.Rounds); i++ {
		for _, t := range j.Rounds[i].Tasklets {
			if t.State != TaskDone || t.Output == "" || t.Screened != "" {
				continue
			}
			if t.Check == nil || t.Check.Outcome == "" || t.Check.Outcome == OutcomeUnverifiable {
				pay(t.Peer, t.Receipt)
				continue
			}
			for k := range t.Check.Results {
				res := &t.Check.Results[k]
				if res.Output == t.Output {
					pay(res.Peer, &res.Receipt)
				}
			}
		}
	}
	out := make([]Payout, 0, len(sums))
	for a, s := range sums {
		out = append(out, Payout{Account: a.Hex(), Amount: s.String(), Tasklets: counts[a]})
	}
	slices.SortFunc(out, func(a, b Payout) int { return strings.Compare(a.Account, b.Account) })
	slices.SortFunc(receipts, func(a, b receipt.Receipt) int {
		return strings.Compare(a.TaskletCID+a.Worker.Hex(), b.TaskletCID+b.Worker.Hex())
	})
	return out, receipts
}

// payable is the round before which outputs may be paid after rounds
// rounds ended: all of them at the job's end, else those HoldRounds old.
func payable(rounds int, final bool) int {
	if final {
		return rounds
	}
	return max(0, rounds-DefaultHoldRounds)
}

// due reports whether a root should be posted now: at the job's end when
// anything changed, else once BatchRounds more rounds became payable.
func due(s *Settlement, through int, final bool) bool {
	last := 0
	if n := len(s.Batches); n > 0 {
		last = s.Batches[n-1].Through
	}
	if final {
		return through > last || len(s.Batches) == 0
	}
	return through-last >= DefaultBatchRounds
}

// SettleWindow is how long after a job's deadline its escrow takes roots,
// so that a job ending at its deadline can still post its last one.
const SettleWindow = time.Hour

// escrow checks that a paid job's budget covers what it will likely cost
// and deposits it. The estimate counts every tasklet of every round, the
// spot checks' replicas at the job's verify rate twice over (a mismatch
// needs a third run) and the dataset's royalty.
func (c *Coordinator) escrow(ctx context.Context, id string, spec *jobspec.Spec, ds DatasetInfo, deadline time.Time) (*Settlement, error) {
	p := spec.Payment
	if c.opts.Payer == nil {
		return nil, jobspec.FieldErr("payment", "%v", errNoPayer)
	}
	budget, err := c.opts.Payer.Units(p.Budget)
	if err != nil {
		return nil, jobspec.FieldErr("payment.budget", "%v", err)
	}
	price, err := c.opts.Payer.Units(p.Price)
	if err != nil {
		return nil, jobspec.FieldErr("payment.price", "%v", err)
	}
	each, err := TaskletPrice(Escrow{Price: price.String(), Per: p.Per}, spec)
	if err != nil {
		return nil, err
	}
	perRound := spec.TaskletsFor(availableWorkers(c.swarm.Workers(), spec.Executor), len(ds.Train))
	need := roundsCost(spec, spec.Rounds, perRound, each, p.RoyaltyBps)
	if budget.Cmp(need) < 0 {
		return nil, jobspec.FieldErr("payment.budget", "%s tokens do not cover this job: %d rounds × %d tasklets, plus spot-check replicas (at most %g of a worker's tasklets while its record is short) and a %d bps royalty, at %s tokens a run, come to about %s tokens; raise the budget or lower the price",
			p.Budget, spec.Rounds, perRound, checkRate(spec), p.RoyaltyBps, c.opts.Payer.Tokens(each), c.opts.Payer.Tokens(need))
	}
	e, err := c.opts.Payer.Escrow(ctx, id, EscrowRequest{
		Budget: budget, Price: price, Per: p.Per, DatasetToken: p.DatasetToken, Dataset: ds.Root,
		RoyaltyBps: p.RoyaltyBps, Deadline: deadline.Add(SettleWindow),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot escrow the budget: %w", err)
	}
	return &Settlement{Escrow: e}, nil
}

// checkRate is the highest spot-check rate a job's workers run at: a new
// worker's, unless the job's floor is higher.
func checkRate(spec *jobspec.Spec) float64 {
	return max(spec.Verify.Rate, spec.Verify.MinRateNewPeers)
}

// roundsCost is what rounds rounds of perRound tasklets likely cost with
// the royalty: each tasklet once, checked at checkRate, a check needing up
// to two more runs.
func roundsCost(spec *jobspec.Spec, rounds, perRound int, each *big.Int, royaltyBps int) *big.Int {
	runs := float64(rounds*perRound) * (1 + 2*checkRate(spec))
	need := new(big.Int).Mul(each, big.NewInt(int64(runs+0.999)))
	need.Mul(need, big.NewInt(int64(10_000+royaltyBps)))
	return need.Quo(need, big.NewInt(10_000))
}

// errBudgetSpent ends a paid job whose escrow cannot pay another round.
var errBudgetSpent = errors.New("budget spent")

// budgetLeft reports an error when the next round might cost more than the
// escrow has left: what the job owes so far (banned workers included, to
// be safe) plus the round's likely cost must fit the deposit. A root over
// the deposit would be refused by the escrow and nobody would be paid.
func (c *Coordinator) budgetLeft(r *run, perRound int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.job.Settlement
	if s == nil {
		return nil
	}
	each, err := TaskletPrice(s.Escrow, r.spec)
	if err != nil {
		return err
	}
	payouts, _ := Payouts(r.job, len(r.job.Rounds), func(string, string) bool { return false })
	owed := new(big.Int)
	for _, p := range payouts {
		a, _ := new(big.Int).SetString(p.Amount, 10)
		owed.Add(owed, a)
	}
	owed.Mul(owed, big.NewInt(int64(10_000+s.Escrow.RoyaltyBps)))
	owed.Quo(owed, big.NewInt(10_000))
	next := roundsCost(r.spec, 1, perRound, each, s.Escrow.RoyaltyBps)
	deposit, _ := new(big.Int).SetString(s.Escrow.Deposit, 10)
	if deposit == nil || new(big.Int).Add(owed, next).Cmp(deposit) > 0 {
		return fmt.Errorf("%w after %d of %d rounds: the escrow holds %s base units, %s are owed and the next round may cost %s; the rounds done are paid and the rest refunded (submit again with a larger payment.budget to train further)",
			errBudgetSpent, r.job.Round, r.spec.Rounds, deposit, owed, next)
	}
	return nil
}

// offerPrice is what one run of r's tasklets pays ("" unpaid).
func offerPrice(r *run) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.job.Settlement == nil {
		return ""
	}
	p, err := TaskletPrice(r.job.Settlement.Escrow, r.spec)
	if err != nil {
		return ""
	}
	return p.String()
}

// errNoPayer refuses a paid job on a coordinator without a chain.
var errNoPayer = errors.New("this daemon settles on no chain: set settle.backend (`gridswarm config set settle.backend embedded`, or rpc with settle.rpc_url) and restart it, or remove payment from the spec")

// excluded reports whether peer or its account is banned now: a banned
// worker forfeits what it has not been paid yet.
func (c *Coordinator) excluded(peer, account string) bool {
	banned, _ := c.trust.BannedPeer(peer, account, c.now())
	return banned
}

// settle posts a root when one is due; final also closes the escrow with
// the model and provenance (finish calls it). Failures are recorded on the
// job and retried at the next batch: roots are cumulative, so a missed one
// loses nothing.
func (c *Coordinator) settle(ctx context.Context, r *run, final bool) {
	r.mu.Lock()
	s := r.job.Settlement
	if s == nil || c.opts.Payer == nil || s.Closing != nil {
		r.mu.Unlock()
		return
	}
	through := payable(r.job.Round, final)
	post := due(s, through, final)
	var payouts []Payout
	var receipts []receipt.Receipt
	if post {
		payouts, receipts = Payouts(r.job, through, c.excluded)
		post = len(payouts) > 0 // nothing owed: no root to post
	}
	e, id := s.Escrow, r.job.ID
	r.mu.Unlock()

	if post {
		b, err := c.opts.Payer.Post(ctx, id, e, payouts, receipts)
		r.mu.Lock()
		if err != nil {
			s.Error = fmt.Sprintf("posting the root through round %d: %v", through, err)
			c.log.Warn("cannot post a payout root", "job", id, "err", err)
			r.mu.Unlock()
			c.save(r)
			return
		}
		b.Through, b.Payouts, b.Index = through, payouts, len(s.Batches)+1
		s.Batches, s.Error = append(s.Batches, b), ""
		r.mu.Unlock()
		c.save(r)
	}
	if !final {
		return
	}
	model, prov, err := c.provenance(ctx, r)
	if err == nil {
		var cl Closing
		cl, err = c.opts.Payer.Close(ctx, id, e, model, prov)
		if err == nil {
			cl.Provenance = prov
			r.mu.Lock()
			s.Closing, s.Error = &cl, ""
			r.mu.Unlock()
		}
	}
	if err != nil {
		r.mu.Lock()
		s.Error = fmt.Sprintf("closing the escrow: %v", err)
		r.mu.Unlock()
		c.log.Warn("cannot close the escrow", "job", id, "err", err)
	}
	c.save(r)
}
