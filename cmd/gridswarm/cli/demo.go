package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

const demoPassphrase = "gridswarm-demo"

func newDemoCmd(e *env) *cobra.Command {
	var n, broken, cheaters int
	var cheatRate, verifyRate, verifyNew float64
	var cheatKind string
	var keep, noTrain, noPay bool
	var stay time.Duration
	var innerSteps int
	cmd := &cobra.Command{
		Use:   "demo",
		Args:  noArgs,
		Short: "train MNIST on a throw-away local swarm of real daemons",
		Long: `Creates N repos in the local profile under a temp directory, starts a real
daemon process on each (the first is everyone's bootstrap peer), waits until
every daemon has found every other through the DHT and prints the RTTs they
measured. Then the first daemon imports MNIST into the data grid and
coordinates examples/jobs/mnist-mlp.yaml (an MLP trained with DiLoCo rounds)
on the others, showing its progress until it reports the test accuracy.
With --broken K the last K workers get a data-grid quota smaller than one
MNIST shard, so they decline every tasklet (over-quota): the job must
finish on the others, and the summary shows what that costs per round.
With --cheaters N the N workers before those cheat on a share of their
tasklets ([worker.fault], honoured in the local profile only): spot checks
must catch them, and the summary ends with a table per worker: tasklets
run, spot checks, caught, banned.
With --inner-steps H every tasklet trains H steps instead of the example's
200: a round's fixed costs (sending weights, averaging, validating) are
then spread over more training, and the compute efficiency printed at
the end shows what that buys.
Ctrl-C stops the daemons and removes the temp repos. Nothing leaves 127.0.0.1.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if n < 2 || n > 32 {
				return usageError{fmt.Sprintf("-n %d: use 2 to 32 daemons", n)}
			}
			if broken < 0 || broken > n-2 {
				return usageError{fmt.Sprintf("--broken %d: use 0 to %d, so at least one of the %d workers is healthy", broken, n-2, n-1)}
			}
			if honest := n - 1 - broken - cheaters; cheaters < 0 || honest < 2 {
				return usageError{fmt.Sprintf("--cheaters %d: use 0 to %d, so that at least two of the %d workers are honest and not broken (a vote needs an honest majority)", cheaters, max(n-3-broken, 0), n-1)}
			}
			if cheatRate <= 0 || cheatRate > 1 {
				return usageError{fmt.Sprintf("--cheat-rate %g: use a share of tasklets above 0 and at most 1", cheatRate)}
			}
			// Every flag is checked before newDemo creates the repos.
			var verify string
			if f := cmd.Flags(); f.Changed("verify-rate") || f.Changed("verify-new") {
				if verifyRate < 0 || verifyRate > 1 || verifyNew < 0 || verifyNew > 1 {
					return usageError{"--verify-rate and --verify-new are check rates from 0 to 1"}
				}
				verify = fmt.Sprintf("\nverify:\n  rate: %g\n  min_rate_new_peers: %g\n", verifyRate, verifyNew)
			}
			if cmd.Flags().Changed("inner-steps") && (innerSteps < 1 || innerSteps > jobspec.MaxInnerSteps) {
				return usageError{fmt.Sprintf("--inner-steps %d: use 1 to %d steps per tasklet", innerSteps, jobspec.MaxInnerSteps)}
			}
			ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			d, err := newDemo(e, n, broken, cheaters, cheatKind, cheatRate)
			if err != nil {
				return err
			}
			defer func() {
				d.stopAll()
				if keep {
					fmt.Fprintf(e.Out, "kept repos and logs in %s\n", d.dir)
				} else if err := os.RemoveAll(d.dir); err != nil {
					fmt.Fprintf(e.Err, "cannot remove %s: %v\n", d.dir, err)
				}
			}()
			d.verify, d.innerSteps = verify, innerSteps
			if d.pay = !noPay; d.pay {
				if err := d.chainOnFirst(); err != nil {
					return err
				}
			}
			if err := d.start(ctx); err != nil {
				return err
			}
			if err := d.waitDiscovery(ctx); err != nil {
				return err
			}
			if !noTrain {
				if err := d.waitWorkers(ctx); err != nil {
					return err
				}
			}
			if err := d.show(ctx); err != nil {
				return err
			}
			if !noTrain {
				if err := d.train(ctx); err != nil {
					return err
				}
			}
			fmt.Fprintln(e.Out, "\nthe swarm is up; Ctrl-C stops it and removes the temp repos")
			wait := ctx.Done()
			if stay > 0 {
				timer := time.NewTimer(stay)
				defer timer.Stop()
				select {
				case <-wait:
				case <-timer.C:
				}
				return nil
			}
			<-wait
			fmt.Fprintln(e.Out, "stopping the daemons")
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&n, "nodes", "n", 5, "number of daemons (one coordinates, the others train)")
	f.BoolVar(&noTrain, "no-train", false, "only start the swarm and show it")
	f.BoolVar(&noPay, "no-pay", false, "run no chain: the job is unpaid")
	f.IntVar(&broken, "broken", 0, "give the last `K` workers a quota too small for a shard (they decline: over-quota)")
	f.IntVar(&cheaters, "cheaters", 0, "make `N` workers (before the broken ones) cheat on some tasklets; spot checks must catch them")
	f.StringVar(&cheatKind, "cheat-kind", "noise", "how cheaters cheat: noise, lazy, garbage or collude")
	f.Float64Var(&cheatRate, "cheat-rate", 0.3, "share of their tasklets the cheaters cheat on")
	f.Float64Var(&verifyRate, "verify-rate", jobspec.DefaultVerifyRate, "the job's verify.rate: the floor of every worker's spot-check rate (0 with --verify-new 0 turns checks off)")
	f.Float64Var(&verifyNew, "verify-new", jobspec.DefaultNewPeers, "the job's verify.min_rate_new_peers: the check rate of workers with a short record")
	f.IntVar(&innerSteps, "inner-steps", 0, "train `H` steps per tasklet instead of the example job's inner_steps (200)")
	f.DurationVar(&stay, "for", 0, "stop by itself after this long once ready (0: wait for Ctrl-C)")
	f.BoolVar(&keep, "keep", false, "keep the temp repos (and daemon logs) after stopping")
	return cmd
}

type demoNode struct {
	name    string
	dir     string
	account string // its Ethereum account, once funded
	cmd     *exec.Cmd
	done    chan error
	ep      repo.Endpoint
}

type demo struct {
	e        *env
	dir      string
	nodes    []*demoNode
	cheaters map[string]bool // node names
	verify   string          // YAML appended to the job spec, if any
	pay      bool            // settle on node0's chain
	// innerSteps replaces the example job's inner_steps when above 0.
	innerSteps int
}

// brokenQuota is a data-grid quota (GiB) below one MNIST shard (3.9 MB).
const brokenQuota = "  quota_gib = 0.002"

func newDemo(e *env, n, broken, cheaters int, cheatKind string, cheatRate float64) (*demo, error) {
	dir, err := os.MkdirTemp("", "gridswarm-demo-")
	if err != nil {
		return nil, fmt.Errorf("cannot create the demo's temp dir: %w", err)
	}
	d := &demo{e: e, dir: dir, cheaters: map[string]bool{}}
	fmt.Fprintf(e.Out, "creating %d local-profile repos in %s\n", n, dir)
	for i := range n {
		nd := &demoNode{name: fmt.Sprintf("node%d", i), dir: filepath.Join(dir, fmt.Sprintf("node%d", i))}
		if _, err := repo.Init(nd.dir, repo.InitOptions{Profile: config.ProfileLocal, Passphrase: demoPassphrase}); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if i >= n-broken {
			if err := breakQuota(nd.dir); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			fmt.Fprintf(e.Out, "  %s gets a quota below one shard (--broken)\n", nd.name)
		} else if i >= n-broken-cheaters {
			if err := makeCheater(nd.dir, cheatKind, cheatRate); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			d.cheaters[nd.name] = true
			fmt.Fprintf(e.Out, "  %s cheats (%s) on %.0f%% of its tasklets (--cheaters)\n", nd.name, cheatKind, 100*cheatRate)
		}
		d.nodes = append(d.nodes, nd)
	}
	return d, nil
}

// breakQuota shrinks a fresh repo's data-grid quota below one shard.
func breakQuota(dir string) error {
	p := filepath.Join(dir, "config.toml")
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", p, err)
	}
	re := regexp.MustCompile(`(?m)^[ \t]*quota_gib[ \t]*=.*$`)
	if !re.Match(b) {
		return fmt.Errorf("%s has no quota_gib line to shrink", p)
	}
	return os.WriteFile(p, re.ReplaceAll(b, []byte(brokenQuota)), 0o600)
}

// makeCheater adds a [worker.fault] table to a fresh local-profile repo.
// Colluders share one group, so they return the same wrong outputs.
func makeCheater(dir, kind string, rate float64) error {
	group := ""
	if kind == "collude" {
		group = "  group = \"demo\"\n"
	}
	p := filepath.Join(dir, "config.toml")
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open %s: %w", p, err)
	}
	_, err = fmt.Fprintf(f, "\n[worker.fault]\n  kind = %q\n  rate = %g\n%s", kind, rate, group)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", p, err)
	}
	return nil
}

func (d *demo) start(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find the gridswarm binary to start daemons: %w", err)
	}
	var boot []string
	for i, nd := range d.nodes {
		args := []string{"--repo", nd.dir, "daemon"}
		for _, b := range boot {
			args = append(args, "--bootstrap", b)
		}
		logf, err := os.Create(filepath.Join(nd.dir, "daemon.log"))
		if err != nil {
			return fmt.Errorf("cannot create %s's log: %w", nd.name, err)
		}
		nd.cmd = exec.Command(self, args...)
		nd.cmd.Env = append(os.Environ(), "GRIDSWARM_PASSWORD="+demoPassphrase)
		nd.cmd.Stdout, nd.cmd.Stderr = io.Discard, logf
		// The daemons die with the demo even if it is killed.
		nd.cmd.SysProcAttr = childProcAttr(syscall.SIGTERM)
		if err := nd.cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("cannot start %s: %w", nd.name, err)
		}
		nd.done = make(chan error, 1)
		go func() { nd.done <- nd.cmd.Wait(); logf.Close() }()
		if nd.ep, err = waitEndpoint(ctx, nd); err != nil {
			return err
		}
		fmt.Fprintf(d.e.Out, "  %s  %s  api %s\n", nd.name, nd.ep.PeerID, nd.ep.HTTP)
		if i == 0 {
			boot = tcpAddrs(nd.ep.Swarm)
			if d.pay {
				if err := d.chainForOthers(ctx); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func tcpAddrs(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if strings.Contains(a, "/tcp/") {
			out = append(out, a)
		}
	}
	return out
}

// waitEndpoint polls for the endpoint file the daemon writes once ready.
func waitEndpoint(ctx context.Context, nd *demoNode) (repo.Endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if ep, err := repo.ReadEndpoint(nd.dir); err == nil {
			return ep, nil
		}
		select {
		case err := <-nd.done:
			nd.done <- err
			return repo.Endpoint{}, fmt.Errorf("%s exited before it was ready (%v); see %s", nd.name, err, filepath.Join(nd.dir, "daemon.log"))
		case <-ctx.Done():
			return repo.Endpoint{}, fmt.Errorf("%s not ready: %w; see %s", nd.name, ctx.Err(), filepath.Join(nd.dir, "daemon.log"))
		case <-tick.C:
		}
	}
}

// waitDiscovery shows a live line until every daemon is connected to all others.
func (d *demo) waitDiscovery(ctx context.Context) error {
	want := len(d.nodes) - 1
	err := d.poll(ctx, 2*time.Minute, func(ctx context.Context, took time.Duration) (string, string, bool) {
		counts := make([]string, len(d.nodes))
		ready := 0
		for i, nd := range d.nodes {
			got := d.gridPeers(ctx, nd)
			counts[i] = fmt.Sprintf("%s %d/%d", nd.name, got, want)
			if got >= want {
				ready++
			}
		}
		found := strings.Join(counts, "  ")
		return found, fmt.Sprintf("discovering through the DHT: %s  (%.1fs) ", found, took.Seconds()), ready == len(d.nodes)
	})
	if err != nil {
		return fmt.Errorf("the daemons did not all find each other: %w; logs are in %s (use --keep)", err, d.dir)
	}
	return nil
}

// waitWorkers shows a live line until node0, the coordinator, holds a
// usable capability record of every other daemon. A job sizes its round
// ("auto": one tasklet per worker) from the records its coordinator holds
// when it plans; submitted sooner, the demo's job would train on fewer
// workers than it says, and its efficiency would count the swarm's
// start-up.
func (d *demo) waitWorkers(ctx context.Context) error {
	want := map[string]bool{}
	for _, nd := range d.nodes[1:] {
		want[nd.ep.PeerID] = true
	}
	err := d.poll(ctx, time.Minute, func(ctx context.Context, took time.Duration) (string, string, bool) {
		got := d.usableWorkers(ctx, want)
		line := fmt.Sprintf("node0 has the worker records of %d of %d daemons", got, len(want))
		return line, fmt.Sprintf("%s  (%.1fs) ", line, took.Seconds()), got == len(want)
	})
	if err != nil {
		return fmt.Errorf("node0 did not get every worker's capability record: %w; logs are in %s (use --keep)", err, d.dir)
	}
	return nil
}

// poll calls check every 200 ms and shows its line (a new line when its
// key changes, or live on a terminal) until it says done, or returns the
// context's error once timeout has passed.
func (d *demo) poll(ctx context.Context, timeout time.Duration, check func(ctx context.Context, took time.Duration) (key, line string, done bool)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	status := newStatusLine(d.e.Out)
	for {
		key, line, done := check(ctx, time.Since(start))
		status.show(key, line, done)
		if done {
			status.end()
			return nil
		}
		select {
		case <-ctx.Done():
			status.end()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// usableWorkers counts the peers of want whose capability record node0
// holds, connected, offering the builtin executor with a throughput to
// rank them by (placement skips a worker without one; a missing bandwidth
// gets the coordinator's default).
func (d *demo) usableWorkers(ctx context.Context, want map[string]bool) int {
	c, err := client.Dial(ctx, d.nodes[0].dir, false)
	if err != nil {
		return 0
	}
	defer c.Close()
	var cs []node.Capability
	if err := c.Call(ctx, &cs, "peer_capabilities"); err != nil {
		return 0
	}
	n := 0
	for _, r := range cs {
		if want[r.PeerID] && r.Connected && slices.Contains(r.Executors, "builtin") && r.Throughput > 0 {
			n++
		}
	}
	return n
}

func (d *demo) gridPeers(ctx context.Context, nd *demoNode) int {
	c, err := client.Dial(ctx, nd.dir, false)
	if err != nil {
		return 0
	}
	defer c.Close()
	ps, err := c.Peers(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, p := range ps {
		if p.Connected && p.Gridswarm {
			n++
		}
	}
	return n
}

// show prints an RTT matrix: each row is what that daemon measured.
func (d *demo) show(ctx context.Context) error {
	byID := map[string]string{}
	for _, nd := range d.nodes {
		byID[nd.ep.PeerID] = nd.name
	}
	fmt.Fprintln(d.e.Out, "\nmeasured RTT (ms), row = the daemon that measured it:")
	tw := tabwriter.NewWriter(d.e.Out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, nd := range d.nodes {
		fmt.Fprintf(tw, "%s\t", nd.name)
	}
	fmt.Fprintln(tw)
	for _, nd := range d.nodes {
		c, err := client.Dial(ctx, nd.dir, false)
		if err != nil {
			return err
		}
		ps, err := c.Peers(ctx)
		c.Close()
		if err != nil {
			return err
		}
		rtt := map[string]node.Peer{}
		for _, p := range ps {
			rtt[byID[p.ID]] = p
		}
		fmt.Fprintf(tw, "%s\t", nd.name)
		for _, other := range d.nodes {
			switch p, ok := rtt[other.name]; {
			case other == nd:
				fmt.Fprint(tw, "·\t")
			case !ok || p.RTTMillis == 0:
				fmt.Fprint(tw, "-\t")
			default:
				fmt.Fprintf(tw, "%.2f\t", p.RTTMillis)
			}
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func (d *demo) stopAll() {
	for _, nd := range d.nodes {
		if nd.cmd != nil && nd.cmd.Process != nil {
			_ = nd.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, nd := range d.nodes {
		if nd.done == nil {
			continue
		}
		select {
		case <-nd.done:
		case <-time.After(15 * time.Second):
			_ = nd.cmd.Process.Kill()
			<-nd.done
		}
	}
}

// train imports MNIST on the first daemon and has it coordinate the example
// job on the swarm, drawing the job's progress until it ends.
func (d *demo) train(ctx context.Context) error {
	c, err := client.Dial(ctx, d.nodes[0].dir, true)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintln(d.e.Out, "\nimporting MNIST (built into gridswarm) into node0's data grid")
	var ds node.AddResult
	if err := withBar(ctx, d.e, c, "mnist", func(op string) error {
		return c.Call(ctx, &ds, "data_importMnist", nil, op)
	}); err != nil {
		return err
	}
	fmt.Fprintf(d.e.Out, "dataset %s: %d shards\n", ds.CID, len(ds.Files)-1)
	spec, err := demoSpec(ds.CID, d.innerSteps, d.verify)
	if err != nil {
		return err
	}
	if d.pay {
		if err := d.fund(ctx); err != nil {
			return err
		}
		pay, err := d.payment(ctx, c, ds.CID)
		if err != nil {
			return err
		}
		spec += pay
	}
	var s node.Summary
	if err := c.Call(ctx, &s, "job_submit", spec); err != nil {
		return err
	}
	with := ""
	if d.innerSteps > 0 {
		with = fmt.Sprintf(", %d inner steps per tasklet", d.innerSteps)
	}
	fmt.Fprintf(d.e.Out, "node0 coordinates job %s (examples/jobs/mnist-mlp.yaml%s) on the other %d daemons\n", s.ID, with, len(d.nodes)-1)
	var li api.LoginInfo
	if err := c.Call(ctx, &li, "node_dashboardLogin"); err == nil {
		fmt.Fprintf(d.e.Out, "watch it in a browser: %s (one-time link for 2 minutes; later: gridswarm --repo %s dashboard)\n", li.URL, d.nodes[0].dir)
	}
	if err := watchJob(ctx, d.e, c, s.ID); err != nil {
		return err
	}
	var j scheduler.Job
	if err := c.Call(ctx, &j, "job_show", s.ID); err != nil {
		return err
	}
	speed, err := jobCoreSpeed(ctx, &j)
	if err != nil {
		return err
	}
	printEfficiency(d.e.Out, &j, speed, runtime.NumCPU())
	printRoundTimes(d.e.Out, &j)
	v, err := c.VerifyJob(ctx, s.ID)
	if err != nil {
		return err
	}
	d.printVerification(v)
	fmt.Fprintf(d.e.Out, "verification cost %.1f%% extra tasklet-seconds (%.1f s of replicas over %.1f s of used results)\n",
		100*v.Overhead, v.ReplicaSeconds, v.UsedSeconds)
	if d.pay {
		if err := c.Call(ctx, &j, "job_show", s.ID); err != nil {
			return err
		}
		return d.printPayouts(ctx, c, &j)
	}
	return nil
}

// demoSpec is the example MLP job on dataset ds, with innerSteps in place
// of its inner_steps line when above 0, and verify (YAML) appended.
func demoSpec(ds string, innerSteps int, verify string) (string, error) {
	spec := strings.ReplaceAll(string(jobs.MNISTMLP), jobs.Placeholder, ds)
	if innerSteps > 0 {
		re := regexp.MustCompile(`(?m)^inner_steps:[ \t]*[0-9]+`)
		if !re.MatchString(spec) {
			return "", fmt.Errorf("examples/jobs/mnist-mlp.yaml has no inner_steps line for --inner-steps to replace")
		}
		spec = re.ReplaceAllString(spec, fmt.Sprintf("inner_steps: %d", innerSteps))
	}
	return spec + verify, nil
}

// printVerification ends the demo with what the spot checks found, a line
// per worker, cheaters marked.
func (d *demo) printVerification(v api.VerifyJob) {
	w := d.e.Out
	fmt.Fprintf(w, "\nspot checks: %d of %d tasklets checked, %d verified, %d mismatches, %d dropped; %d outputs refused by the cheap checks\n",
		v.Checked, v.Tasklets, v.Verified, v.Mismatches, v.Dropped, v.Screened)
	names := map[string]string{}
	for _, nd := range d.nodes {
		names[nd.ep.PeerID] = nd.name
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tPEER\tTASKLETS\tSPOT CHECKS\tCAUGHT\tBANNED")
	for _, t := range v.Workers {
		name := names[t.Peer]
		if d.cheaters[name] {
			name += " (cheater)"
		}
		banned := "no"
		if t.Banned {
			banned = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", name, shortID(t.Peer), t.Ran, t.Checked, t.Caught, banned)
	}
	tw.Flush()
}

// printRoundTimes reports the median and mean wall time of the job's rounds.
func printRoundTimes(w io.Writer, j *scheduler.Job) {
	var ds []float64
	for _, r := range j.Rounds {
		if r.Finished != nil {
			ds = append(ds, r.Finished.Sub(r.Started).Seconds())
		}
	}
	if len(ds) == 0 {
		return
	}
	sort.Float64s(ds)
	mean := 0.0
	for _, x := range ds {
		mean += x
	}
	fmt.Fprintf(w, "round time: median %.2f s, mean %.2f s over %d rounds\n", ds[len(ds)/2], mean/float64(len(ds)), len(ds))
}

// speedRuns is how many times jobCoreSpeed times a tasklet's training;
// the fastest counts.
const speedRuns = 3

// jobCoreSpeed is this machine's single-core speed at the job's own
// training: one tasklet's inner steps of its model, batch size and inner
// optimizer, timed in this process on one goroutine after the job, when
// the daemons are idle. The daemons' advertised throughput is timed on a
// reference step (SGD), not the job's: dividing by it would count the
// difference between the two optimizers as overhead, or as a gain.
func jobCoreSpeed(ctx context.Context, j *scheduler.Job) (float64, error) {
	spec, err := jobspec.Parse(j.Spec)
	if err != nil {
		return 0, fmt.Errorf("job %s: reading its spec: %w", j.ID, err)
	}
	raw, err := scheduler.BuiltinParams(spec)
	if err != nil {
		return 0, fmt.Errorf("job %s: %w", j.ID, err)
	}
	p, err := contract.ParseParams(raw)
	if err != nil {
		return 0, fmt.Errorf("job %s: %w", j.ID, err)
	}
	return trainer.Speed(ctx, p.Model.Trainer(), p.Optimizer.Trainer(), p.BatchSize, p.Steps, speedRuns), nil
}

// printEfficiency reports the swarm's overhead. The compute efficiency is
// the core-seconds the job's training work needs at this machine's
// single-core speed (samplesPerSec, from jobCoreSpeed),
// over the job's wall time × cores. Beside it comes the workers' own
// compute time, the sum of their receipts' ComputeMillis, over the same
// wall time × cores: how busy the workers were. That is not the efficiency
// here: the demo's daemons share this machine's cores, and a receipt's
// compute time is the executor's wall time, which counts the time the
// tasklet waited for a core; it can add up to more than the cores gave.
// Nothing is printed before the job finished.
func printEfficiency(w io.Writer, j *scheduler.Job, samplesPerSec float64, cores int) {
	if j.Finished == nil || cores <= 0 {
		return
	}
	wall := j.Finished.Sub(j.Submitted).Seconds()
	if wall <= 0 {
		return
	}
	var samples, computeMillis uint64
	for _, r := range j.Rounds {
		for _, t := range r.Tasklets {
			if t.Receipt != nil {
				samples += t.Receipt.Samples
				computeMillis += t.Receipt.ComputeMillis
			}
		}
	}
	capacity := wall * float64(cores)
	if samplesPerSec > 0 {
		work := float64(samples) / samplesPerSec
		fmt.Fprintf(w, "compute efficiency %.2f: %d samples are %.1f core-seconds at %.0f samples/s per core (the job's training step timed alone); the job took %.1f s on %d cores\n",
			work/capacity, samples, work, samplesPerSec, wall, cores)
	}
	compute := float64(computeMillis) / 1000
	fmt.Fprintf(w, "workers' compute time %.1f s by their receipts: %.2f of wall time × cores (it counts time a tasklet waited for a core)\n",
		compute, compute/capacity)
}
