package cli

import (
	"fmt"
	"io"
	"math/big"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/internal/units"
	"github.com/gridswarm/gridswarm/node/repo"
)

func newWalletCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wallet",
		Short: "this node's Ethereum account, balances, and the chain it settles on",
		Long: `Work is paid in an ERC-20 token on an Ethereum chain: the daemon's own
(settle.backend = "embedded") or one it reaches (settle.backend = "rpc").
The account's key stays in the repo keystore.`,
	}
	cmd.AddCommand(newWalletInfoCmd(e), newWalletAddressCmd(e), newWalletBalanceCmd(e), newWalletClaimsCmd(e),
		newWalletClaimCmd(e), newWalletStakeCmd(e), newWalletUnstakeCmd(e), newWalletWithdrawCmd(e), newWalletStakeInfoCmd(e),
		newWalletSendCmd(e), newWalletRegisterCmd(e))
	return cmd
}

func newWalletInfoCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Args:  noArgs,
		Short: "the chain, its endpoints and contracts, and what to type into a wallet to add them",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				info, err := c.SettleInfo(ctx)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, info)
				}
				printWalletInfo(e.Out, info)
				return nil
			})
		},
	}
}

// printWalletInfo prints the chain, then the fields a wallet's "add a
// network" and "import token" forms ask for, in their order.
func printWalletInfo(w io.Writer, i api.SettleInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "chain\t%d (%s), %s backend, head block %d\n", i.ChainID, i.AddChain.ChainID, i.Backend, i.Head)
	for _, u := range i.RPCURLs {
		fmt.Fprintf(tw, "rpc\t%s\n", u)
	}
	if i.WSURL != "" {
		fmt.Fprintf(tw, "websocket\t%s\n", i.WSURL)
	}
	fmt.Fprintf(tw, "account\t%s\n", i.Account)
	fmt.Fprintf(tw, "token\t%s  %s (%s), %d decimals\n", i.Contracts.Token, i.Token.Symbol, i.Token.Name, i.Token.Decimals)
	fmt.Fprintf(tw, "escrow\t%s\n", i.Contracts.Escrow)
	fmt.Fprintf(tw, "registry\t%s\n", i.Contracts.Registry)
	fmt.Fprintf(tw, "stake\t%s\n", i.Contracts.Stake)
	tw.Flush()

	rpc := "(this node reaches the chain over WebSocket only: use an HTTP endpoint of the same chain)"
	if len(i.RPCURLs) > 0 {
		rpc = i.RPCURLs[0]
	}
	fmt.Fprintln(w, "\nTo add the chain to a wallet (e.g. MetaMask: Networks, Add a network manually):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  Network name\t%s\n", i.AddChain.ChainName)
	fmt.Fprintf(tw, "  RPC URL\t%s\n", rpc)
	fmt.Fprintf(tw, "  Chain ID\t%d\n", i.ChainID)
	fmt.Fprintf(tw, "  Currency symbol\t%s\n", i.AddChain.NativeCurrency.Symbol)
	tw.Flush()
	fmt.Fprintln(w, "then the token (Import tokens):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  Token contract address\t%s\n", i.Token.Address)
	fmt.Fprintf(tw, "  Token symbol\t%s\n", i.Token.Symbol)
	fmt.Fprintf(tw, "  Decimals\t%d\n", i.Token.Decimals)
	tw.Flush()
	if i.Backend == "embedded" {
		fmt.Fprintln(w, "\nThe chain listens on 127.0.0.1 only: the wallet must run on this machine.")
	}
}

func newWalletAddressCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "address",
		Args:  noArgs,
		Short: "this node's Ethereum account (read from the repo; no daemon needed)",
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := repo.Account(e.repo)
			if err != nil {
				return err
			}
			if e.json {
				return printJSON(e.Out, map[string]string{"address": a.Hex()})
			}
			fmt.Fprintln(e.Out, a.Hex())
			return nil
		},
	}
}

func newWalletBalanceCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "balance [ADDRESS]",
		Args:  rangeArgs(0, 1),
		Short: "token and ether balance of an account (default: this node's)",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			addr := firstArg(args)
			return e.withClient(ctx, false, func(c *client.Client) error {
				b, err := c.SettleBalance(ctx, addr)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, b)
				}
				tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "account\t%s\n", b.Address)
				fmt.Fprintf(tw, "token\t%s %s\n", formatUnits(b.Token, b.TokenDecimals), b.TokenSymbol)
				fmt.Fprintf(tw, "ether\t%s ETH\n", formatUnits(b.Ether, 18))
				fmt.Fprintf(tw, "block\t%d\n", b.Block)
				return tw.Flush()
			})
		},
	}
}

// formatUnits writes an integer amount of 10^-decimals units as a decimal
// number without trailing zeros: "1500000000000000000", 18 → "1.5". A
// value that is not an integer is printed as it came.
func formatUnits(v string, decimals uint8) string {
	n, ok := new(big.Int).SetString(v, 10)
	if !ok {
		return v
	}
	return units.Tokens(n, decimals)
}

// firstArg is the optional [ADDRESS] argument, "" for this node's account.
func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
