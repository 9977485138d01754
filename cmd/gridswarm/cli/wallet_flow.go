package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/client"
)

// tokenMeta reads the token's symbol and decimals, to print amounts.
func tokenMeta(ctx context.Context, c *client.Client) (api.SettleToken, error) {
	i, err := c.SettleInfo(ctx)
	return i.Token, err
}

func newWalletClaimsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "claims",
		Args:  noArgs,
		Short: "what this node is owed, job by job, from the payout roots it was told of",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				cl, err := c.SettleClaims(ctx)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, cl)
				}
				tok, err := tokenMeta(ctx, c)
				if err != nil {
					return err
				}
				if len(cl) == 0 {
					fmt.Fprintln(e.Out, "No payout root pays this node yet: roots are posted as a paid job's rounds are verified.")
					return nil
				}
				tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "JOB\tESCROW\tBATCH\tTASKLETS\tEARNED\tCLAIMED\tCLAIMABLE (%s)\n", tok.Symbol)
				for _, v := range cl {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", v.Job, v.EscrowID, v.Batch, v.Tasklets,
						formatUnits(v.Amount, tok.Decimals), formatUnits(v.Claimed, tok.Decimals), formatUnits(v.Claimable, tok.Decimals))
				}
				return tw.Flush()
			})
		},
	}
}

// txCmd is a wallet command that sends one transaction.
func txCmd(e *env, use, short string, args cobra.PositionalArgs, send func(ctx context.Context, c *client.Client, args []string) (api.TxResult, error), done string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Args:  args,
		Short: short,
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				r, err := send(ctx, c, a)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, r)
				}
				tok, err := tokenMeta(ctx, c)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Out, "%s %s %s (transaction %s, block %d)\n", done, formatUnits(r.Amount, tok.Decimals), tok.Symbol, r.Tx, r.Block)
				return nil
			})
		},
	}
}

func newWalletClaimCmd(e *env) *cobra.Command {
	return txCmd(e, "claim", "claim everything this node is owed now, in one transaction", noArgs,
		func(ctx context.Context, c *client.Client, _ []string) (api.TxResult, error) {
			return c.SettleClaim(ctx)
		}, "claimed")
}

func newWalletStakeCmd(e *env) *cobra.Command {
	return txCmd(e, "stake AMOUNT", "bond AMOUNT tokens: what an equivocation proof against this worker would cost it", exactArgs(1),
		func(ctx context.Context, c *client.Client, a []string) (api.TxResult, error) {
			return c.SettleStake(ctx, a[0])
		}, "staked")
}

func newWalletUnstakeCmd(e *env) *cobra.Command {
	return txCmd(e, "unstake AMOUNT", "start unbonding AMOUNT tokens (withdraw them after the unbonding delay)", exactArgs(1),
		func(ctx context.Context, c *client.Client, a []string) (api.TxResult, error) {
			return c.SettleUnstake(ctx, a[0])
		}, "unbonding")
}

func newWalletWithdrawCmd(e *env) *cobra.Command {
	return txCmd(e, "withdraw", "take out the stake whose unbonding delay is over", noArgs,
		func(ctx context.Context, c *client.Client, _ []string) (api.TxResult, error) {
			return c.SettleWithdraw(ctx)
		}, "withdrew")
}

func newWalletStakeInfoCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "stake-info [ADDRESS]",
		Args:  rangeArgs(0, 1),
		Short: "an account's bonded and unbonding stake (default: this node's)",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			addr := firstArg(args)
			return e.withClient(ctx, false, func(c *client.Client) error {
				s, err := c.SettleStakeOf(ctx, addr)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, s)
				}
				tok, err := tokenMeta(ctx, c)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "account\t%s\n", s.Address)
				fmt.Fprintf(tw, "bonded\t%s %s\n", formatUnits(s.Bonded, tok.Decimals), tok.Symbol)
				fmt.Fprintf(tw, "unbonding\t%s %s\n", formatUnits(s.Unbonding, tok.Decimals), tok.Symbol)
				return tw.Flush()
			})
		},
	}
}

func newWalletSendCmd(e *env) *cobra.Command {
	var tokens, ether string
	cmd := &cobra.Command{
		Use:   "send ADDRESS --tokens AMOUNT --ether AMOUNT",
		Args:  exactArgs(1),
		Short: "send tokens and/or ether (for gas) from this node's account",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				rs, err := c.SettleSend(ctx, args[0], tokens, ether)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, rs)
				}
				for _, r := range rs {
					fmt.Fprintf(e.Out, "sent (transaction %s, block %d)\n", r.Tx, r.Block)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&tokens, "tokens", "", "tokens to send, e.g. 25 or 0.5")
	cmd.Flags().StringVar(&ether, "ether", "", "ether to send for gas, e.g. 1")
	return cmd
}

func newWalletRegisterCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "register-dataset CID",
		Args:  exactArgs(1),
		Short: "mint a Registry token for a dataset to this node's account: paid jobs that name it pay it a royalty",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				t, err := c.SettleRegisterDataset(ctx, args[0])
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, t)
				}
				fmt.Fprintf(e.Out, "dataset token %s for %s, owned by %s (transaction %s)\nName it in a paid job: payment.dataset_token: %s\n", t.TokenID, t.CID, t.Owner, t.Tx, t.TokenID)
				return nil
			})
		},
	}
}
