package cli

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/scheduler"
)

// The demo's money: what node0 escrows for the job per worker (enough for
// ten rounds with every tasklet checked), pays per verified tasklet run,
// gives each worker to stake and for gas, and the royalty of the dataset
// it registers.
const (
	demoBudgetPerWorker = 20
	demoPrice           = "0.5"
	demoStake           = "10"
	demoGas             = "1"
	demoRoyalty         = 500 // bps of what workers are paid
)

// setConfig sets keys in a repo's config.toml (as `gridswarm config set`).
func setConfig(dir string, kv [][2]string) error {
	p := filepath.Join(dir, "config.toml")
	c, err := config.Load(p)
	if err != nil {
		return err
	}
	for _, x := range kv {
		if c, err = c.Set(x[0], x[1]); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	b, err := c.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o600)
}

// chainOnFirst makes node0 run the embedded chain (before it starts).
func (d *demo) chainOnFirst() error {
	return setConfig(d.nodes[0].dir, [][2]string{{"settle.backend", config.SettleEmbedded}})
}

// chainForOthers points the other daemons at node0's chain (before they
// start): its endpoint and the contracts it deployed.
func (d *demo) chainForOthers(ctx context.Context) error {
	c, err := client.Dial(ctx, d.nodes[0].dir, false)
	if err != nil {
		return err
	}
	defer c.Close()
	info, err := c.SettleInfo(ctx)
	if err != nil {
		return fmt.Errorf("node0's chain: %w", err)
	}
	if len(info.RPCURLs) == 0 {
		return errors.New("node0's chain serves no HTTP endpoint")
	}
	fmt.Fprintf(d.e.Out, "  node0 runs the chain (ID %d) at %s; the others settle there\n", info.ChainID, info.RPCURLs[0])
	for _, nd := range d.nodes[1:] {
		if err := setConfig(nd.dir, [][2]string{
			{"settle.rpc_url", info.RPCURLs[0]},
			{"settle.token", info.Contracts.Token}, {"settle.escrow", info.Contracts.Escrow},
			{"settle.registry", info.Contracts.Registry}, {"settle.stake", info.Contracts.Stake},
			{"settle.backend", config.SettleRPC}, // last: the keys it needs are set
		}); err != nil {
			return err
		}
	}
	return nil
}

// fund gives each worker ether for gas and tokens, and has it stake them.
func (d *demo) fund(ctx context.Context) error {
	c0, err := client.Dial(ctx, d.nodes[0].dir, false)
	if err != nil {
		return err
	}
	defer c0.Close()
	fmt.Fprintf(d.e.Out, "\nnode0 sends each worker %s ETH for gas and %s tokens, which it stakes\n", demoGas, demoStake)
	for _, nd := range d.nodes[1:] {
		c, err := client.Dial(ctx, nd.dir, false)
		if err != nil {
			return err
		}
		err = func() error {
			defer c.Close()
			info, err := c.SettleInfo(ctx)
			if err != nil {
				return err
			}
			if _, err := c0.SettleSend(ctx, info.Account, demoStake, demoGas); err != nil {
				return fmt.Errorf("funding %s: %w", nd.name, err)
			}
			if _, err := c.SettleStake(ctx, demoStake); err != nil {
				return fmt.Errorf("%s staking: %w", nd.name, err)
			}
			nd.account = info.Account
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// payment is the job spec's payment section; node0 registers the dataset
// so that its royalty has an owner.
func (d *demo) payment(ctx context.Context, c *client.Client, dataset string) (string, error) {
	t, err := c.SettleRegisterDataset(ctx, dataset)
	if err != nil {
		return "", err
	}
	budget := fmt.Sprint(demoBudgetPerWorker * (len(d.nodes) - 1))
	fmt.Fprintf(d.e.Out, "node0 registers the dataset as token %s (it earns a %d%% royalty); the job escrows %s tokens and pays %s per verified tasklet run\n",
		t.TokenID, demoRoyalty/100, budget, demoPrice)
	return fmt.Sprintf("\npayment:\n  budget: %q\n  price: %q\n  dataset_token: %s\n  royalty_bps: %d\n", budget, demoPrice, t.TokenID, demoRoyalty), nil
}

// payoutWait bounds how long the demo waits for the workers' own claims.
const payoutWait = 2 * time.Minute

// printPayouts waits until every worker the job's last root pays has
// claimed it, then ends the demo with the money: per worker its verified
// tasklets, what it earned and claimed and its stake; the royalty, the
// refund, and that it all adds up to the deposit.
func (d *demo) printPayouts(ctx context.Context, c *client.Client, j *scheduler.Job) error {
	// The escrow closes just after the job ends (final root, model token,
	// refund): wait for it.
	for end := time.Now().Add(payoutWait); j.Settlement != nil && j.Settlement.Closing == nil && time.Now().Before(end); {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if err := c.Call(ctx, j, "job_show", j.ID); err != nil {
			return err
		}
	}
	s := j.Settlement
	if s == nil {
		return nil
	}
	tok, err := tokenMeta(ctx, c)
	if err != nil {
		return err
	}
	units := func(v string) string { return formatUnits(v, tok.Decimals) }
	w := d.e.Out
	if s.Closing == nil || len(s.Batches) == 0 {
		fmt.Fprintf(w, "\nthe escrow is not settled yet: %s\n", s.Error)
		return nil
	}
	last := s.Batches[len(s.Batches)-1]
	earned := map[string]scheduler.Payout{}
	for _, p := range last.Payouts {
		earned[strings.ToLower(p.Account)] = p
	}
	claimed := map[string]string{}
	staked := map[string]string{}
	deadline := time.Now().Add(payoutWait)
	for _, nd := range d.nodes[1:] {
		wc, err := client.Dial(ctx, nd.dir, false)
		if err != nil {
			return err
		}
		p := earned[strings.ToLower(nd.account)]
		for {
			cls, err := wc.SettleClaims(ctx)
			if err != nil {
				wc.Close()
				return err
			}
			got := "0"
			for _, cl := range cls {
				if cl.EscrowID == s.Escrow.ID {
					got = cl.Claimed
				}
			}
			claimed[nd.name] = got
			if p.Amount == "" || got == p.Amount || time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				wc.Close()
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
		if st, err := wc.SettleStakeOf(ctx, ""); err == nil {
			staked[nd.name] = st.Bonded
		}
		wc.Close()
	}
	fmt.Fprintf(w, "\npayouts (%s), escrow %s on chain %d, %d root(s):\n", tok.Symbol, s.Escrow.ID, s.Escrow.ChainID, len(s.Batches))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tACCOUNT\tVERIFIED\tEARNED\tCLAIMED\tSTAKE")
	for _, nd := range d.nodes[1:] {
		name := nd.name
		if d.cheaters[name] {
			name += " (cheater)"
		}
		p := earned[strings.ToLower(nd.account)]
		amount := p.Amount
		if amount == "" {
			amount = "0"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", name, shortAccount(nd.account), p.Tasklets, units(amount), units(claimed[nd.name]), units(staked[nd.name]))
	}
	tw.Flush()
	sum := new(big.Int)
	for _, v := range []string{last.Committed, s.Closing.Royalty, s.Closing.Refund} {
		x, _ := new(big.Int).SetString(v, 10)
		if x != nil {
			sum.Add(sum, x)
		}
	}
	fmt.Fprintf(w, "workers %s + dataset royalty %s + refund %s = %s of the %s deposited\n",
		units(last.Committed), units(s.Closing.Royalty), units(s.Closing.Refund), units(sum.String()), units(s.Escrow.Deposit))
	if s.Closing.ModelToken != "" {
		fmt.Fprintf(w, "model token %s minted to node0 with provenance %s\n", s.Closing.ModelToken, s.Closing.Provenance)
	}
	return nil
}

func shortAccount(a string) string {
	if len(a) < 10 {
		return a
	}
	return a[:6] + "…" + a[len(a)-4:]
}
