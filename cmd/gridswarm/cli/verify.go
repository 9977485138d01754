package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/client"
)

func newVerifyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "spot checks of a job's tasklets and what they found of each worker",
		Long: `Spot checks run some tasklets on two independent workers and compare the
outputs; a mismatch gets a third run that decides 2 to 1. Losing votes bans a
worker; so does signing two different outputs for one tasklet (equivocation).`,
	}
	cmd.AddCommand(newVerifyShowCmd(e), newVerifyPeerCmd(e), newVerifyPeersCmd(e), newVerifyReportCmd(e))
	return cmd
}

func newVerifyShowCmd(e *env) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "show JOB",
		Args:  exactArgs(1),
		Short: "a job's spot checks, their verdicts and each worker's tally",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				v, err := c.VerifyJob(ctx, args[0])
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, v)
				}
				printVerifyJob(e.Out, v, all)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list every spot check, not only those that found something")
	return cmd
}

// printVerifyJob prints the summary, the per-worker table and the checks
// (by default only mismatches, drops and unverifiable ones).
func printVerifyJob(w io.Writer, v api.VerifyJob, all bool) {
	fmt.Fprintf(w, "job %s: %d of %d tasklets spot-checked: %d verified, %d mismatches, %d dropped, %d unverifiable; %d outputs refused by the cheap checks\n",
		v.Job, v.Checked, v.Tasklets, v.Verified, v.Mismatches, v.Dropped, v.Unverifiable, v.Screened)
	if v.UsedSeconds > 0 {
		fmt.Fprintf(w, "cost: %.1f%% extra compute (%.1f s of replicas over %.1f s of results used)\n", 100*v.Overhead, v.ReplicaSeconds, v.UsedSeconds)
	}
	if len(v.Workers) > 0 {
		fmt.Fprintln(w)
		printTally(w, v.Workers)
	}
	shown := 0
	for _, c := range v.Checks {
		if !all && c.Outcome == "verified" {
			continue
		}
		if shown == 0 {
			fmt.Fprintln(w)
		}
		shown++
		var rs []string
		for _, r := range c.Results {
			rs = append(rs, shortID(r.Peer)+"="+shortCID(r.Output))
		}
		fmt.Fprintf(w, "round %d tasklet %d: %s [%s]\n", c.Round, c.Tasklet, c.Outcome, strings.Join(rs, " "))
		for _, r := range c.Reasons {
			fmt.Fprintf(w, "    %s\n", r)
		}
		if c.Evidence != "" {
			fmt.Fprintf(w, "    evidence: %s\n", c.Evidence)
		}
	}
	if !all && shown == 0 && v.Checked > 0 {
		fmt.Fprintln(w, "\nevery decided spot check agreed (--all lists them)")
	}
}

// printTally is the per-worker table of a job's verification.
func printTally(w io.Writer, ws []api.SpotTally) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tTASKLETS\tSPOT CHECKS\tCAUGHT\tBANNED")
	for _, t := range ws {
		banned := "no"
		if t.Banned {
			banned = "yes"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", shortID(t.Peer), t.Ran, t.Checked, t.Caught, banned)
	}
	tw.Flush()
}

func newVerifyPeerCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "peer PEER|ACCOUNT",
		Args:  exactArgs(1),
		Short: "a worker's trust records: runs, votes, check rate, bans",
		Long:  "PEER is a peer ID (whole, the short form `gridswarm peers` prints, or a unique start or end); ACCOUNT a payout account 0x….",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				id := args[0]
				if !strings.HasPrefix(id, "0x") {
					var err error
					if id, err = resolvePeerArg(ctx, c, id); err != nil {
						return err
					}
				}
				p, err := c.VerifyPeer(ctx, id)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, p)
				}
				printVerifyPeer(e.Out, p)
				return nil
			})
		},
	}
}

func printVerifyPeer(w io.Writer, p api.VerifyPeer) {
	fmt.Fprintf(w, "peer %s", p.Peer)
	if p.Account != "" {
		fmt.Fprintf(w, " (payout account %s)", p.Account)
	}
	fmt.Fprintln(w)
	if p.Banned {
		fmt.Fprintf(w, "BANNED: %s\n", p.BanReason)
	}
	if len(p.Records) == 0 {
		fmt.Fprintln(w, "no record: it never returned a tasklet to this coordinator")
		return
	}
	printRecords(w, p.Records)
}

func printRecords(w io.Writer, rs []api.TrustRecord) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tCLASS\tRAN\tCHECKED\tVERIFIED\tLOST\tIN A ROW\tAGREEMENT\tCHECK RATE\tFIRST SEEN\tBAN")
	for _, r := range rs {
		first := "-"
		if r.FirstSeen != nil {
			first = r.FirstSeen.Local().Format(time.DateTime)
		}
		ban := "-"
		if r.Banned {
			ban = r.BanReason
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.0f%%\t%.0f%%\t%s\t%s\n", shortID(r.Peer), r.Class, r.Run, r.Checked, r.Verified, r.Lost,
			r.Consecutive, 100*r.Agreement, 100*r.CheckRate, first, ban)
	}
	tw.Flush()
}

func newVerifyPeersCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "peers",
		Args:  noArgs,
		Short: "every worker's trust records, banned ones included",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				rs, err := c.VerifyPeers(ctx)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, rs)
				}
				if len(rs) == 0 {
					fmt.Fprintln(e.Out, "no records yet: they start when workers return tasklets of this node's jobs")
					return nil
				}
				printRecords(e.Out, rs)
				return nil
			})
		},
	}
}

func newVerifyReportCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "report FILE",
		Args:  exactArgs(1),
		Short: "report an equivocation: two receipts one worker signed for one tasklet with different outputs",
		Long: `FILE holds {"a": receipt, "b": receipt} as JSON (- reads standard input).
A valid proof bans the worker on this node and is gossiped to every
coordinator of the swarm; anything else is refused with the reason.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var b []byte
			var err error
			if args[0] == "-" {
				b, err = io.ReadAll(io.LimitReader(e.In, 1<<20))
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return fmt.Errorf("cannot read the proof: %w", err)
			}
			return e.withClient(ctx, false, func(c *client.Client) error {
				r, err := c.VerifyReport(ctx, b)
				if err != nil {
					return err
				}
				gossip := "gossiped to the swarm"
				if !r.Gossiped {
					gossip = "not gossiped (see the daemon's log)"
				}
				return e.done(r, "banned worker %s (peer %s); %s", r.Worker, shortID(r.Peer), gossip)
			})
		},
	}
}
