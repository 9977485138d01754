package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/worker"
)

func newWorkerCmd(e *env) *cobra.Command {
	return parentCmd(&cobra.Command{
		Use:   "worker",
		Short: "see and control what this node offers the swarm",
	}, newWorkerStatusCmd(e), newWorkerSwitchCmd(e, "pause", "stop accepting tasklets (running ones finish)"),
		newWorkerSwitchCmd(e, "resume", "accept tasklets again"))
}

// newWorkerSwitchCmd is worker pause or worker resume.
func newWorkerSwitchCmd(e *env, verb, short string) *cobra.Command {
	return &cobra.Command{
		Use:   verb,
		Args:  noArgs,
		Short: short,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				if err := c.Call(ctx, nil, "worker_"+verb); err != nil {
					return err
				}
				return e.done(map[string]bool{"accepting": verb == "resume"}, "worker %sd", verb)
			})
		},
	}
}

func newWorkerStatusCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Args:  noArgs,
		Short: "idle state and why, slots, executors, trainer throughput, hardware",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				var s worker.Status
				if err := c.Call(ctx, &s, "worker_status"); err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, s)
				}
				printWorkerStatus(e.Out, &s)
				return nil
			})
		},
	}
}

// printWorkerStatus writes worker status as labelled lines.
func printWorkerStatus(w io.Writer, s *worker.Status) {
	state := "idle: accepting tasklets"
	if !s.Idle {
		state = "not accepting tasklets: " + s.Reason
	}
	fmt.Fprintf(w, "%s\nslots       %d of %d in use, %d done\nexecutors   %s\nthroughput  %.0f samples/s (builtin MLP 784-128-10)\nprice       %g per hour\naccount     %s\ncpu         %d cores, %s memory, %s disk free\n",
		state, s.SlotsInUse, s.Slots, s.Completed, strings.Join(s.Executors, ", "), s.Throughput, s.PricePerHour, s.Account,
		s.Probe.CPUCores, humanBytes(int64(s.Probe.MemoryTotal)), humanBytes(int64(s.Probe.DiskFree)))
	if len(s.Probe.GPUs) == 0 {
		fmt.Fprintf(w, "gpus        none (%s)\n", s.Probe.NoGPUReason)
	}
	for _, g := range s.Probe.GPUs {
		fmt.Fprintf(w, "gpu%d        %s, %s of %s free, %d%% busy, compute %s\n", g.Index, g.Name, humanBytes(int64(g.MemoryFree)), humanBytes(int64(g.MemoryTotal)), g.UtilizationGPU, g.ComputeCapability)
	}
	if p := s.Prefetch; p != (tasklet.PrefetchStats{}) {
		fmt.Fprintf(w, "prefetch    %d done, %d failed, %d skipped (next rounds' data, fetched while training)\n", p.Done, p.Failed, p.Skipped)
	}
	if f := s.Fault; f != nil {
		fmt.Fprintf(w, "cheating    %s on %g of builtin tasklets, %d so far ([worker.fault], local profile only)\n", f.Kind, f.Rate, f.Cheated)
	}
}

// printCapabilities is `peers --gpu`: what each worker offers.
func printCapabilities(ctx context.Context, e *env, c *client.Client) error {
	var cs []node.Capability
	if err := c.Call(ctx, &cs, "peer_capabilities"); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.Out, cs)
	}
	tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tIDLE\tSLOTS\tEXECUTORS\tGPUS\tSAMPLES/S\tPRICE/H\tRTT")
	for _, p := range cs {
		gpus := "-"
		if len(p.GPUs) > 0 {
			var names []string
			for _, g := range p.GPUs {
				names = append(names, fmt.Sprintf("%s %s", g.Name, humanBytes(int64(g.MemoryTotal))))
			}
			gpus = strings.Join(names, ", ")
		}
		rtt := "-"
		switch {
		case p.PeerID == c.Endpoint.PeerID:
			rtt = "self"
		case p.RTTMeasured:
			rtt = fmt.Sprintf("%.2f ms", p.RTTMillis)
		case p.RTTMillis > 0:
			rtt = fmt.Sprintf("~%.2f ms (est.)", p.RTTMillis)
		}
		idle := "yes"
		if !p.Idle {
			idle = "no"
			if why := idleWhy(p.IdleReason); why != "" {
				idle += " (" + why + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%.0f\t%g\t%s\n", shortID(p.PeerID), idle, p.SlotsFree, p.Slots, strings.Join(p.Executors, ","), gpus, p.Throughput, p.PricePerHour, rtt)
	}
	return tw.Flush()
}

// idleWhy shortens a capability record's idle reason for the peers table:
// the reason token of "over-quota: …" or "unwritable: …", else the first
// words.
func idleWhy(reason string) string {
	if head, _, ok := strings.Cut(reason, ": "); ok && !strings.Contains(head, " ") {
		return head
	}
	if r := []rune(reason); len(r) > 24 {
		return string(r[:24]) + "…"
	}
	return reason
}

func newTaskletCmd(e *env) *cobra.Command {
	return parentCmd(&cobra.Command{
		Use:   "tasklet",
		Short: "run one tasklet here or offer it to a peer (for testing workers)",
	}, newTaskletRunCmd(e))
}

func newTaskletRunCmd(e *env) *cobra.Command {
	var peerID string
	cmd := &cobra.Command{
		Use:   "run SPEC.json",
		Args:  exactArgs(1),
		Short: "run one tasklet here, or with --peer on that worker, and check its receipt",
		Long: `Reads a tasklet spec (JSON: executor, inputs by CID, params, seed) and runs it
on this node's own executor, or with --peer offers it to that worker over
/gridswarm/tasklet/1.0.0 and checks the signed receipt it returns. It prints a
short summary: the output CID, samples, and the loss as the receipt reports
it (builtin: the mean minibatch loss over the tasklet's steps; the same figure
run here or on a peer) beside the last step's loss. --json prints the whole
answer instead (with --peer, the receipt itself).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			b, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("cannot read the spec: %w", err)
			}
			spec, err := tasklet.ParseSpec(b)
			if err != nil {
				return err
			}
			c, err := client.Dial(ctx, e.repo, true)
			if err != nil {
				return err
			}
			defer c.Close()
			var result any
			var sum taskletSummary
			if peerID == "" {
				var r node.LocalResult
				err = withBarNS(ctx, e, c, "tasklet", "tasklet", func(op string) error {
					return c.Call(ctx, &r, "tasklet_runLocal", spec, op)
				})
				result, sum = r, localSummary(r)
			} else {
				if peerID, err = resolvePeerArg(ctx, c, peerID); err != nil {
					return fmt.Errorf("--peer: %w", err)
				}
				var r node.OfferResult
				err = withBarNS(ctx, e, c, "tasklet", "tasklet", func(op string) error {
					return c.Call(ctx, &r, "tasklet_offer", peerID, spec, node.OfferOptions{Op: op})
				})
				result, sum = r, offerSummary(peerID, r)
			}
			if err != nil {
				return err
			}
			if e.json {
				return printJSON(e.Out, result)
			}
			printTaskletSummary(e.Out, sum)
			return nil
		},
	}
	cmd.Flags().StringVar(&peerID, "peer", "", "offer the tasklet to the worker `PEER-ID` instead of running it here (the whole ID or the short form that peers prints)")
	return cmd
}

// taskletSummary is what tasklet run tells a person: the same lines for a
// local run and for an offer, so that each figure means one thing.
type taskletSummary struct {
	SpecCID, OutputCID string
	Worker             string // the peer that ran it; "" for a local run
	Samples            uint64
	// Loss is the receipt's loss: for builtin tasklets the mean minibatch
	// loss over the tasklet's steps (LocalResult.Loss, Receipt.Loss).
	Loss          float32
	Metrics       map[string]float64 // the executor's extra figures
	Seconds       float64            // wall time of the call
	ComputeMillis uint64             // the receipt's compute time; 0 for a local run
}

func localSummary(r node.LocalResult) taskletSummary {
	return taskletSummary{SpecCID: r.SpecCID, OutputCID: r.OutputCID, Samples: r.Samples, Loss: r.Loss, Metrics: r.Metrics, Seconds: r.Seconds}
}

func offerSummary(worker string, r node.OfferResult) taskletSummary {
	return taskletSummary{
		SpecCID: r.SpecCID, OutputCID: r.Receipt.OutputCID, Worker: worker, Samples: r.Receipt.Samples,
		Loss: r.Receipt.Loss(), Metrics: r.Metrics, Seconds: r.Seconds, ComputeMillis: r.Receipt.ComputeMillis,
	}
}

// printTaskletSummary writes s as a few labelled lines.
func printTaskletSummary(w io.Writer, s taskletSummary) {
	if s.Worker == "" {
		fmt.Fprintf(w, "tasklet %s ran here in %.2f s\n", s.SpecCID, s.Seconds)
	} else {
		fmt.Fprintf(w, "tasklet %s ran on %s in %.2f s (%.2f s computing); receipt checked\n",
			s.SpecCID, s.Worker, s.Seconds, float64(s.ComputeMillis)/1000)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  output\t%s\n", s.OutputCID)
	fmt.Fprintf(tw, "  samples\t%d\n", s.Samples)
	fmt.Fprintf(tw, "  loss\t%.4f\t(mean over the tasklet's steps, as its receipt reports it)\n", s.Loss)
	if v, ok := s.Metrics["final_loss"]; ok {
		fmt.Fprintf(tw, "  last step loss\t%.4f\n", v)
	}
	names := make([]string, 0, len(s.Metrics))
	for k := range s.Metrics {
		if k != "final_loss" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(tw, "  %s\t%g\n", strings.ReplaceAll(k, "_", " "), s.Metrics[k])
	}
	tw.Flush()
}
