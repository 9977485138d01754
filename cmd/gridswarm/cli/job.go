package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
)

func newSubmitCmd(e *env) *cobra.Command {
	var watch, quiet bool
	cmd := &cobra.Command{
		Use:   "submit JOB.yaml",
		Args:  exactArgs(1),
		Short: "submit a training job to the local daemon, which coordinates it",
		Long: `Submits a training job to the local daemon, which coordinates it. The spec's
schema is in docs/jobspec.md; examples/jobs has examples. Every bad field is
named. With --json it prints the job's summary (with --watch: one JSON
progress event per line, then the final job).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("cannot read the job spec: %w", err)
			}
			b, err := io.ReadAll(io.LimitReader(f, jobspec.MaxSpecSize+1))
			f.Close()
			if err != nil {
				return fmt.Errorf("cannot read the job spec: %w", err)
			}
			return e.withClient(ctx, watch, func(c *client.Client) error {
				var s node.Summary
				if err := c.Call(ctx, &s, "job_submit", string(b)); err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				switch {
				case e.json && !watch:
					return printJSON(e.Out, s)
				case quiet:
					fmt.Fprintln(e.Out, s.ID)
				case !e.json:
					fmt.Fprintf(e.Out, "submitted job %s\n", s.ID)
				}
				if watch {
					return watchJob(ctx, e, c, s.ID)
				}
				if !quiet {
					fmt.Fprintf(e.Out, "follow it with: gridswarm job watch %s\n", s.ID)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the job's progress until it ends")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the job's ID, for scripts: JOB=$(gridswarm submit -q job.yaml)")
	return cmd
}

func newJobsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "jobs",
		Args:  noArgs,
		Short: "list the jobs this daemon coordinates",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				var ss []node.Summary
				if err := c.Call(ctx, &ss, "job_list"); err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, ss)
				}
				if len(ss) == 0 {
					fmt.Fprintln(e.Out, "no jobs yet: gridswarm submit JOB.yaml")
					return nil
				}
				tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "JOB\tSTATUS\tROUND\tVAL ACC\tTEST ACC")
				for _, s := range ss {
					fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", s.ID, s.Status, roundNumber(s.Round, s.Rounds), s.Rounds, pct(s.ValAccuracy), pct(s.TestAccuracy))
				}
				return tw.Flush()
			})
		},
	}
}

func pct(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", v*100)
}

func newJobCmd(e *env) *cobra.Command {
	return parentCmd(&cobra.Command{
		Use:   "job",
		Short: "inspect, follow, cancel, resume or remove a job, save its model or plot its curves",
		Long: `Inspects, follows, cancels, resumes or removes a job this daemon coordinates,
saves its model or plots its curves. Rounds are numbered from 1 wherever
they are printed; JSON keeps the 0-based index.`,
	}, newJobShowCmd(e), newJobWatchCmd(e), newJobCancelCmd(e), newJobResumeCmd(e),
		newJobRmCmd(e), newJobModelCmd(e), newJobPlotCmd(e), newJobTaskletCmd(e))
}

// jobCmd is a job subcommand that takes the job's ID and calls the daemon.
func jobCmd(e *env, use, short string, ws bool, run func(ctx context.Context, c *client.Client, id string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Args:  exactArgs(1),
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, ws, func(c *client.Client) error { return run(ctx, c, args[0]) })
		},
	}
}

// needOutput refuses to run without -o, before any daemon is dialled.
func needOutput(out *string, msg string) func(*cobra.Command, []string) error {
	return func(*cobra.Command, []string) error {
		if *out == "" {
			return usageError{msg}
		}
		return nil
	}
}

func newJobShowCmd(e *env) *cobra.Command {
	return jobCmd(e, "show ID", "rounds, tasklets, where each ran, every attempt and why", false, func(ctx context.Context, c *client.Client, id string) error {
		var j scheduler.Job
		if err := c.Call(ctx, &j, "job_show", id); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.Out, j)
		}
		printJob(e.Out, &j)
		return nil
	})
}

func newJobWatchCmd(e *env) *cobra.Command {
	return jobCmd(e, "watch ID", "live progress until the job ends (--json: one event per line)", true, func(ctx context.Context, c *client.Client, id string) error {
		return watchJob(ctx, e, c, id)
	})
}

func newJobCancelCmd(e *env) *cobra.Command {
	return jobCmd(e, "cancel ID", "stop the job ('job resume' continues it)", false, func(ctx context.Context, c *client.Client, id string) error {
		if err := c.Call(ctx, nil, "job_cancel", id); err != nil {
			return err
		}
		return e.done(map[string]string{"id": id, "status": scheduler.StatusCancelled}, "cancelled %s", id)
	})
}

func newJobResumeCmd(e *env) *cobra.Command {
	var deadline string
	cmd := jobCmd(e, "resume ID", "continue a failed or cancelled job from its last completed round", false, func(ctx context.Context, c *client.Client, id string) error {
		var s node.Summary
		if err := c.Call(ctx, &s, "job_resume", id, deadline); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.Out, s)
		}
		fmt.Fprintf(e.Out, "resumed %s at round %d of %d\nfollow it with: gridswarm job watch %s\n", id, roundNumber(s.Round, s.Rounds), s.Rounds, id)
		return nil
	})
	cmd.Flags().StringVar(&deadline, "deadline", "", "give the job a new deadline, this `DURATION` from now (e.g. 30m, 2h)")
	return cmd
}

func newJobRmCmd(e *env) *cobra.Command {
	return jobCmd(e, "rm ID", "remove an ended job and unpin all its data", false, func(ctx context.Context, c *client.Client, id string) error {
		var res node.RmResult
		if err := c.Call(ctx, &res, "job_rm", id); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.Out, res)
		}
		fmt.Fprintf(e.Out, "removed %s (released %d pins)\n", id, res.Released)
		return nil
	})
}

func newJobModelCmd(e *env) *cobra.Command {
	var out string
	cmd := jobCmd(e, "model ID -o FILE", "save the model as safetensors: the final one, or the last completed round's", false, func(ctx context.Context, c *client.Client, id string) error {
		abs, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		var model string
		if err := c.Call(ctx, &model, "job_model", id, abs); err != nil {
			return err
		}
		return e.done(map[string]string{"id": id, "model": model, "path": abs}, "saved model %s to %s", model, abs)
	})
	cmd.PreRunE = needOutput(&out, "job model needs -o FILE")
	cmd.Flags().StringVarP(&out, "output", "o", "", "`FILE` to write the model to (required)")
	return cmd
}

func newJobPlotCmd(e *env) *cobra.Command {
	var out string
	cmd := jobCmd(e, "plot ID -o FILE.png", "draw training loss and validation accuracy per round, each on its own axes", false, func(ctx context.Context, c *client.Client, id string) error {
		var j scheduler.Job
		if err := c.Call(ctx, &j, "job_show", id); err != nil {
			return err
		}
		if err := plotJob(&j, out); err != nil {
			return err
		}
		return e.done(map[string]string{"id": id, "path": out}, "wrote %s", out)
	})
	cmd.PreRunE = needOutput(&out, "job plot needs -o FILE.png")
	cmd.Flags().StringVarP(&out, "output", "o", "", "`FILE.png` to draw the plot in: .png, .svg or .pdf (required)")
	return cmd
}

func newJobTaskletCmd(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "tasklet ID ROUND TASKLET",
		Args:  exactArgs(3),
		Short: "print the spec a tasklet was offered with, to run it again (gridswarm tasklet run FILE)",
		Long: `Prints the tasklet spec (JSON) of TASKLET (0-based, as in job show) in ROUND
(1-based, as in job show), rebuilt and checked against the spec CID recorded
at dispatch. Running it again with gridswarm tasklet run must give the
output CID the job accepted: builtin tasklets are bitwise reproducible.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			round, err1 := strconv.Atoi(args[1])
			index, err2 := strconv.Atoi(args[2])
			if err1 != nil || err2 != nil || round < 1 || index < 0 {
				return usageError{fmt.Sprintf("ROUND (from 1) and TASKLET (from 0) are numbers, got %q and %q", args[1], args[2])}
			}
			return e.withClient(ctx, false, func(c *client.Client) error {
				var spec json.RawMessage
				if err := c.Call(ctx, &spec, "job_tasklet", args[0], round, index); err != nil {
					return err
				}
				if out == "" {
					_, err := fmt.Fprintf(e.Out, "%s\n", spec)
					return err
				}
				if err := os.WriteFile(out, append(spec, '\n'), 0o644); err != nil {
					return fmt.Errorf("cannot write the spec: %w", err)
				}
				return e.done(map[string]string{"path": out}, "wrote %s", out)
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the spec to `FILE` instead of standard output")
	return cmd
}

func printJob(w io.Writer, j *scheduler.Job) {
	fmt.Fprintf(w, "job %s (%s)\nstatus   %s", j.ID, j.Name, j.Status)
	if j.Error != "" {
		fmt.Fprintf(w, ": %s", j.Error)
	}
	if n := specRounds(j); n > 0 {
		fmt.Fprintf(w, "\nround    %d of %d\n", roundNumber(j.Round, n), n)
	} else {
		fmt.Fprintf(w, "\nround    %d\n", j.Round+1)
	}
	if !j.Deadline.IsZero() {
		fmt.Fprintf(w, "deadline %s (set by job resume)\n", j.Deadline.Local().Format(time.RFC3339))
	}
	if j.Waiting != "" {
		fmt.Fprintf(w, "waiting  %s\n", j.Waiting)
	}
	if j.FinalModel != "" {
		fmt.Fprintf(w, "model    %s\n", j.FinalModel)
	}
	if j.TestAccuracy > 0 {
		fmt.Fprintf(w, "test     accuracy %.2f%%, loss %.4f\n", j.TestAccuracy*100, j.TestLoss)
	}
	if s := j.Settlement; s != nil {
		printSettlement(w, s)
	}
	for _, r := range j.Rounds {
		fmt.Fprintf(w, "\nround %d  weights %s", r.Index+1, r.Weights)
		switch {
		case r.Finished != nil && r.Validating:
			fmt.Fprintf(w, "  loss %.4f  validating  %.1fs", r.Loss, r.Finished.Sub(r.Started).Seconds())
		case r.Finished != nil:
			fmt.Fprintf(w, "  loss %.4f  val acc %.2f%%  %.1fs", r.Loss, r.ValAccuracy*100, r.Finished.Sub(r.Started).Seconds())
		}
		fmt.Fprintln(w)
		for _, t := range r.Tasklets {
			fmt.Fprintf(w, "  tasklet %d  %-8s shard %s", t.Index, t.State, shortCID(t.Shard))
			if t.Peer != "" {
				fmt.Fprintf(w, "  on %s  output %s", shortID(t.Peer), shortCID(t.Output))
			}
			fmt.Fprintln(w)
			for _, a := range t.Attempts {
				why := ""
				if a.Why != "" {
					why = ": " + a.Why
				}
				took := ""
				if a.Ended != nil {
					took = fmt.Sprintf(" after %.1fs", a.Ended.Sub(a.Started).Seconds())
				}
				fmt.Fprintf(w, "      %s %s%s%s\n", shortID(a.Peer), a.Outcome, took, why)
			}
			if c := t.Check; c != nil {
				outcome := c.Outcome
				if outcome == "" {
					outcome = fmt.Sprintf("running (%d of %d results)", len(c.Results), c.Need)
				}
				fmt.Fprintf(w, "      spot check (drawn at %.0f%%): %s", 100*c.Probability, outcome)
				if len(c.Losers) > 0 {
					fmt.Fprintf(w, "; lost the vote: %s", shortIDs(c.Losers))
				}
				if c.Evidence != "" {
					fmt.Fprintf(w, "; evidence %s", shortCID(c.Evidence))
				}
				fmt.Fprintln(w)
			}
			if t.Dropped != "" {
				fmt.Fprintf(w, "      dropped: %s\n", t.Dropped)
			}
			if t.Screened != "" {
				fmt.Fprintf(w, "      left out of the outer step: %s\n", t.Screened)
			}
		}
		peers := slices.Sorted(maps.Keys(r.Filtered))
		for _, p := range peers {
			fmt.Fprintf(w, "  filtered %s: %s\n", shortID(p), r.Filtered[p])
		}
	}
}

func shortCID(c string) string {
	if len(c) <= 16 {
		return c
	}
	return c[:10] + "…" + c[len(c)-4:]
}

// watchJob draws a live line per event until the job ends. With --json it
// writes JSON Lines instead: {"event": …} per event, then {"job": …}, the
// job as job show --json prints it.
func watchJob(ctx context.Context, e *env, c *client.Client, id string) error {
	ch := make(chan scheduler.Event, 16)
	sub, err := c.Subscribe(ctx, "job", ch, "progress", id)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	var j scheduler.Job
	if err := c.Call(ctx, &j, "job_show", id); err != nil {
		return err
	}
	if ended(j.Status) {
		return e.printFinal(&j)
	}
	tick := time.NewTicker(5 * time.Second) // also re-read state, in case an event was missed
	defer tick.Stop()
	status := newStatusLine(e.Out)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-sub.Err():
			return fmt.Errorf("lost the daemon: %w", err)
		case ev := <-ch:
			if e.json {
				if err := printJSONLine(e.Out, map[string]scheduler.Event{"event": ev}); err != nil {
					return err
				}
			} else {
				status.show(fmt.Sprintf("%s %d", ev.Status, ev.Round), eventLine(ev), ended(ev.Status))
			}
			if !ended(ev.Status) {
				continue
			}
		case <-tick.C:
			status.flush()
		}
		if err := c.Call(ctx, &j, "job_show", id); err != nil {
			return err
		}
		if ended(j.Status) {
			status.end()
			if err := e.printFinal(&j); err != nil {
				return err
			}
			if j.Status != scheduler.StatusDone {
				return fmt.Errorf("job %s %s: %s", id, j.Status, j.Error)
			}
			return nil
		}
	}
}

func ended(s string) bool {
	return s == scheduler.StatusDone || s == scheduler.StatusFailed || s == scheduler.StatusCancelled
}

// specRounds is the number of rounds the job's spec asks for (0 if unknown).
func specRounds(j *scheduler.Job) int {
	var s struct {
		Rounds int `json:"rounds"`
	}
	_ = json.Unmarshal(j.Spec, &s)
	return s.Rounds
}

// roundNumber is the 1-based number people read for a 0-based round in
// progress: round 0 is "round 1", and a finished job (round == rounds)
// stays at its last round. JSON keeps the 0-based index.
func roundNumber(round, rounds int) int {
	if rounds > 0 && round >= rounds {
		return rounds
	}
	return round + 1
}

// eventLine is one progress line of `job watch`. Rounds are numbered from 1;
// the loss and accuracy are those of the last completed round, which is
// named, since the round in progress has none yet.
func eventLine(ev scheduler.Event) string {
	const width = 20
	filled := 0
	if ev.Rounds > 0 {
		filled = min(ev.Round, ev.Rounds) * width / ev.Rounds
	}
	line := fmt.Sprintf("round %d/%d [%s%s]", roundNumber(ev.Round, ev.Rounds), ev.Rounds,
		strings.Repeat("█", filled), strings.Repeat("·", width-filled))
	if ev.Tasklets > 0 {
		line += fmt.Sprintf(" tasklets %d/%d done, %d running", ev.Done, ev.Tasklets, ev.Running)
	} else if ev.Status == scheduler.StatusRunning && ev.Round >= ev.Rounds {
		line += " testing the final model"
	} else if ev.Status == scheduler.StatusRunning {
		line += " planning" // between rounds: the next round's tasklets are not placed yet
	}
	if ev.Failed > 0 {
		line += fmt.Sprintf(", %d retried", ev.Failed)
	}
	if ev.Loss > 0 && ev.Validated > 0 {
		line += fmt.Sprintf("  round %d: loss %.4f  val acc %.2f%%", ev.Validated, ev.Loss, ev.ValAccuracy*100)
	}
	if ev.ETASeconds > 0 {
		line += fmt.Sprintf("  ETA %s", (time.Duration(ev.ETASeconds) * time.Second).String())
	}
	if ev.Waiting != "" {
		line += "  " + ev.Waiting
	}
	return line + "    "
}

// printFinal tells how the job ended: a line, or {"job": …} with --json.
func (e *env) printFinal(j *scheduler.Job) error {
	if e.json {
		return printJSONLine(e.Out, map[string]*scheduler.Job{"job": j})
	}
	printFinal(e.Out, j)
	return nil
}

func printFinal(w io.Writer, j *scheduler.Job) {
	switch j.Status {
	case scheduler.StatusDone:
		fmt.Fprintf(w, "job %s done: test accuracy %.2f%% (loss %.4f), model %s\n", j.ID, j.TestAccuracy*100, j.TestLoss, j.FinalModel)
	default:
		fmt.Fprintf(w, "job %s %s %s\n", j.ID, j.Status, j.Error)
	}
}

func shortIDs(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = shortID(id)
	}
	return strings.Join(out, ", ")
}

// printSettlement is job show's account of a paid job's money.
func printSettlement(w io.Writer, s *scheduler.Settlement) {
	e := s.Escrow
	units := func(v string) string { return formatUnits(v, e.Decimals) + " " + e.Symbol }
	per := "run"
	if e.Per == "sample" {
		per = "sample"
	}
	fmt.Fprintf(w, "paid     escrow %s on chain %d: %s deposited, %s a %s\n", e.ID, e.ChainID, units(e.Deposit), units(e.Price), per)
	if n := len(s.Batches); n > 0 {
		last := s.Batches[n-1]
		runs := 0
		for _, p := range last.Payouts {
			runs += p.Tasklets
		}
		fmt.Fprintf(w, "         %d root(s): %s committed to %d accounts for %d verified runs (through round %d)\n", n, units(last.Committed), len(last.Payouts), runs, last.Through)
	}
	if c := s.Closing; c != nil {
		fmt.Fprintf(w, "         closed: %s refunded, %s royalty", units(c.Refund), units(orZero(c.Royalty)))
		if c.ModelToken != "" {
			fmt.Fprintf(w, ", model token %s (provenance %s)", c.ModelToken, c.Provenance)
		}
		fmt.Fprintln(w)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "         settlement: %s\n", s.Error)
	}
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
