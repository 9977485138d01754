package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/internal/worldnet"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/scheduler/sim"
)

// The world network's shape: the simulator's world_wide_8 scenario, small.
const (
	worldScenario = "world_wide_8"
	worldTasklets = 4
	worldRounds   = 3
)

// workersPerRegionFromEnv is the workers in each region: 3, or
// GRIDSWARM_WORLDNET_PER_REGION (1 to 4); the scenario has 8, but every
// daemon here shares this machine's cores. With 3, the swarm (26 daemons)
// has more DHT nodes than a lookup's 20 closest, as a real one does. The
// second pair of jobs runs that many tasklets a round ("narrow"): no more
// than the coordinator's region has workers, as in the scenario, where 4
// tasklets all fit near the coordinator.
func workersPerRegionFromEnv(t *testing.T) int {
	v := os.Getenv("GRIDSWARM_WORLDNET_PER_REGION")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 4 {
		t.Fatalf("GRIDSWARM_WORLDNET_PER_REGION=%q: want 1 to 4", v)
	}
	return n
}

// worldModel is the job's model and work per tasklet. The default, the
// MNIST example's MLP (0.4 MB of weights), makes a latency-bound job;
// GRIDSWARM_WORLDNET_MODEL=large a bandwidth-bound one, as in the
// simulator's scenario (100 MB of weights): two hidden layers of 4,096
// (20 M parameters, 80 MB), one step of 8 samples a tasklet so that the
// transfers, not the two shared cores, set the round time.
type worldModel struct {
	Name       string `json:"name"`
	Hidden     string `json:"hidden"`
	InnerSteps int    `json:"inner_steps"`
	BatchSize  int    `json:"batch_size"`
}

func worldModelFromEnv(t *testing.T) worldModel {
	switch m := os.Getenv("GRIDSWARM_WORLDNET_MODEL"); m {
	case "", "small":
		return worldModel{Name: "small", Hidden: "[128]", InnerSteps: 10, BatchSize: 64}
	case "large":
		return worldModel{Name: "large", Hidden: "[4096, 4096]", InnerSteps: 1, BatchSize: 8}
	default:
		t.Fatalf("GRIDSWARM_WORLDNET_MODEL=%q: want small (default) or large", m)
		return worldModel{}
	}
}

// worldDaemon is one in-process daemon on the world network and a JSON-RPC
// client to it, as the CLI would hold.
type worldDaemon struct {
	name, region string
	id           peer.ID
	n            *node.Node
	c            *client.Client
	holder       bool // imported the dataset itself
}

// WorldResult is what TestWorldNetPlacement records: per strategy, each
// round's time and where its tasklets ran.
type WorldResult struct {
	Scenario     string                    `json:"scenario"`
	Coordinator  string                    `json:"coordinator_region"`
	Workers      int                       `json:"workers"`
	Holders      []string                  `json:"holder_regions"`
	Tasklets     int                       `json:"tasklets_per_round"`
	Rounds       int                       `json:"rounds"`
	InnerSteps   int                       `json:"inner_steps"`
	Model        worldModel                `json:"model"`
	Strategies   map[string]StrategyResult `json:"strategies"`
	MedianRatio  float64                   `json:"median_round_ratio_random_over_eta"`
	Narrow       WorldShape                `json:"narrow"` // the same pair at one tasklet per worker of a region
	GoMaxProcs   int                       `json:"gomaxprocs"`
	FinishedAt   time.Time                 `json:"finished_at"`
	ResultFormat int                       `json:"result_format"`
}

// WorldShape is a pair of jobs, one per strategy, at one number of
// tasklets a round.
type WorldShape struct {
	Tasklets    int                       `json:"tasklets_per_round"`
	Strategies  map[string]StrategyResult `json:"strategies"`
	MedianRatio float64                   `json:"median_round_ratio_random_over_eta"`
}

// StrategyResult is one job's outcome under one strategy.
type StrategyResult struct {
	JobID         string     `json:"job_id"`
	RoundSeconds  []float64  `json:"round_seconds"`
	MedianSeconds float64    `json:"median_round_seconds"`
	Regions       [][]string `json:"regions"` // per round, per tasklet: where it ran
	Placed        [][]string `json:"placed"`  // per round, per tasklet: why placement chose the peer
	// Per round: from its start to the first offer, each tasklet's
	// accepted attempt, and from the last attempt's end to the round's end
	// (the outer step, validation, the next weights).
	LeadSeconds    []float64   `json:"lead_seconds"`
	AttemptSeconds [][]float64 `json:"attempt_seconds"`
	// Per round, per tasklet: the worker's time on the tasklet other than
	// training (by its receipt): its inputs' fetch and its output's store.
	InputSeconds [][]float64 `json:"input_seconds"`
	TailSeconds  []float64   `json:"tail_seconds"`
	// Per round, per tasklet: "<last 4 characters of the worker's ID>
	// <start>-<end>", its accepted attempt's seconds from the round's
	// start: which worker ran what when, to see queues and idle workers.
	Spans        [][]string `json:"spans"`
	OnHolders    int        `json:"tasklets_on_holders"`
	TestAccuracy float64    `json:"test_accuracy"`
}

// TestWorldNetPlacement runs one MNIST job twice on the same swarm of real
// daemons spread over the 8 regions of the simulator's world-wide scenario,
// on an in-memory network whose links have the measured RTTs and
// bandwidths: once from a coordinator placing by ETA (the default), once
// from one with coordinator.placement = "random". It records each round's
// time (t.Log, and JSON in $GRIDSWARM_WORLDNET_RESULT when set) but asserts
// no timing: it checks that both jobs complete and that every tasklet ran
// where its coordinator's strategy placed it.
// It then runs the pair again on the same swarm at as many tasklets a
// round as a region has workers (the "narrow" shape, 3 by default): no more
// tasklets than the coordinator's region has workers, as in the scenario's
// 8 a region.
func TestWorldNetPlacement(t *testing.T) {
	if testing.Short() {
		t.Skip("26 in-process daemons on an in-memory world network (about a minute); run without -short")
	}
	geo, err := sim.LoadGeo()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := geo.Scenario(worldScenario)
	if err != nil {
		t.Fatal(err)
	}
	w := worldnet.New(geo)
	t.Cleanup(func() { _ = w.Close() })
	model := worldModelFromEnv(t)
	perRegion := workersPerRegionFromEnv(t)
	narrowTasklets := perRegion
	timeout := time.Duration(2*perRegion) * time.Minute
	if model.Name == "large" {
		timeout = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	start := time.Now()
	home := sc.Regions[0] // the coordinators, the weights and the dataset's origin
	strategies := []string{placement.StrategyETA, placement.StrategyRandom}
	coords := map[string]*worldDaemon{}
	var boot []string
	for _, s := range strategies {
		d := startWorldDaemon(ctx, t, w, "coordinator-"+s, home, nil, func(c *config.Config) {
			c.Worker.Enabled = false
			c.Coordinator.Placement = s
		})
		coords[s] = d
		boot = append(boot, d.n.Swarm().Addrs()...)
	}
	// Workers start concurrently: each unlocks two keys and benchmarks its
	// trainer, which in sequence would take most of a minute.
	var workers []*worldDaemon
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range sc.Regions {
		for k := range perRegion {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := startWorldDaemon(ctx, t, w, fmt.Sprintf("%s-%d", r, k), r, boot, nil)
				d.holder = k == 0 // one holder of the dataset in each region
				mu.Lock()
				workers = append(workers, d)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	sort.Slice(workers, func(i, j int) bool { return workers[i].name < workers[j].name })
	t.Logf("%s: %d daemons started", time.Since(start).Round(time.Millisecond), len(workers)+len(coords))

	// The coordinators and one worker per region import MNIST, as a user
	// would with `gridswarm data import mnist`; the import is
	// deterministic, so all of them hold the same CIDs.
	importers := []*worldDaemon{coords[placement.StrategyETA], coords[placement.StrategyRandom]}
	for _, d := range workers {
		if d.holder {
			importers = append(importers, d)
		}
	}
	results := make([]api.AddResult, len(importers))
	errs := make([]error, len(importers))
	for i, d := range importers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.c.Call(ctx, &results[i], "data_importMnist", nil, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: data import mnist: %v", importers[i].name, err)
		}
		if results[i].CID != results[0].CID {
			t.Fatalf("%s imported MNIST as %s, %s as %s: the import is not deterministic", importers[i].name, results[i].CID, importers[0].name, results[0].CID)
		}
	}
	var shards []string
	for _, f := range results[0].Files {
		if strings.Contains(f.Path, "train-") {
			shards = append(shards, f.CID)
		}
	}
	if len(shards) == 0 {
		t.Fatalf("the MNIST import listed no train shard among %d files", len(results[0].Files))
	}
	t.Logf("%s: MNIST imported on %d daemons", time.Since(start).Round(time.Millisecond), len(importers))
	holderIDs := map[string]bool{}
	var holderRegions []string
	for _, d := range workers {
		if d.holder {
			holderIDs[d.id.String()] = true
			holderRegions = append(holderRegions, d.region)
		}
	}
	for _, s := range strategies {
		waitWorldReady(ctx, t, coords[s], workers, shards, len(holderIDs))
	}

	t.Logf("%s: both coordinators see every worker and the shards' holders", time.Since(start).Round(time.Millisecond))
	res := WorldResult{Scenario: worldScenario, Coordinator: home, Workers: len(workers), Holders: holderRegions,
		Tasklets: worldTasklets, Rounds: worldRounds, InnerSteps: model.InnerSteps, Model: model,
		GoMaxProcs: runtime.GOMAXPROCS(0), ResultFormat: 4}
	pairs := worldJobs{coords: coords, workers: workers, holders: holderIDs, regionOf: map[string]string{}}
	for _, d := range workers {
		pairs.regionOf[d.id.String()] = d.region
	}
	wide := pairs.run(ctx, t, worldJobSpec(t, results[0].CID, model, worldTasklets), worldTasklets, true)
	res.Strategies, res.MedianRatio = wide.Strategies, wide.MedianRatio
	res.Narrow = pairs.run(ctx, t, worldJobSpec(t, results[0].CID, model, narrowTasklets), narrowTasklets, false)
	res.FinishedAt = time.Now().UTC()
	t.Logf("median round time, random / ETA placement: %.2fx at %d tasklets a round, %.2fx at %d", res.MedianRatio, worldTasklets, res.Narrow.MedianRatio, narrowTasklets)
	if path := os.Getenv("GRIDSWARM_WORLDNET_RESULT"); path != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatalf("writing the result: %v", err)
		}
	}
}

// worldJobs runs TestWorldNetPlacement's pairs of jobs on its swarm.
type worldJobs struct {
	coords   map[string]*worldDaemon // by strategy
	workers  []*worldDaemon
	holders  map[string]bool // the workers that imported the dataset
	regionOf map[string]string
}

// run submits spec to the ETA coordinator and then to the random one,
// checks where each tasklet ran and what the workers prefetched (the
// prefetches themselves only when checkPrefetch: a second ETA job's counts
// add to the first's), and records each round's time and where it went.
// ETA goes first: the random job then runs on workers that may have
// cached shards in the first job, which can only help random.
func (w worldJobs) run(ctx context.Context, t *testing.T, spec string, tasklets int, checkPrefetch bool) WorldShape {
	t.Helper()
	shape := WorldShape{Tasklets: tasklets, Strategies: map[string]StrategyResult{}}
	var etaPrefetches uint64
	for _, s := range []string{placement.StrategyETA, placement.StrategyRandom} {
		job := runWorldJob(ctx, t, w.coords[s], spec)
		switch {
		case s == placement.StrategyETA && checkPrefetch:
			etaPrefetches = checkPrefetched(ctx, t, job, w.workers, w.holders)
		case s == placement.StrategyETA:
			etaPrefetches = prefetchTotal(ctx, t, w.workers)
		default:
			// Random placement asks for no prefetch: no worker counts one
			// more than after the ETA job.
			if got := prefetchTotal(ctx, t, w.workers); got != etaPrefetches {
				t.Errorf("random placement, %d tasklets a round: the workers count %d prefetches, %d after the ETA job; random placement should ask for none", tasklets, got, etaPrefetches)
			}
		}
		sr := w.result(t, s, job)
		shape.Strategies[s] = sr
		t.Logf("%s placement, %d tasklets a round: rounds %.2f s (median %.2f s), tasklets ran in %v, %d of %d on dataset holders, test accuracy %.3f",
			s, tasklets, sr.RoundSeconds, sr.MedianSeconds, sr.Regions, sr.OnHolders, tasklets*worldRounds, sr.TestAccuracy)
		t.Logf("%s placement, %d tasklets a round: per round, start to first offer %.2f s, attempts %.2f s (of which inputs %.2f s), last attempt to round end %.2f s",
			s, tasklets, sr.LeadSeconds, sr.AttemptSeconds, sr.InputSeconds, sr.TailSeconds)
	}
	if eta := shape.Strategies[placement.StrategyETA].MedianSeconds; eta > 0 {
		shape.MedianRatio = shape.Strategies[placement.StrategyRandom].MedianSeconds / eta
	}
	return shape
}

// result checks that each tasklet of job ran where strategy s placed it
// and records the job's rounds.
func (w worldJobs) result(t *testing.T, s string, job *scheduler.Job) StrategyResult {
	t.Helper()
	sr := StrategyResult{JobID: job.ID, TestAccuracy: job.TestAccuracy}
	for _, rd := range job.Rounds {
		if rd.Finished == nil {
			t.Fatalf("%s: round %d has no finish time", s, rd.Index)
		}
		sr.RoundSeconds = append(sr.RoundSeconds, rd.Finished.Sub(rd.Started).Seconds())
		var regions, placed []string
		var attempts, inputs []float64
		var spans []string
		first, last := *rd.Finished, rd.Started
		for _, tk := range rd.Tasklets {
			placed = append(placed, checkPlacedByStrategy(t, s, rd.Index, tk))
			for _, a := range tk.Attempts {
				if a.Started.Before(first) {
					first = a.Started
				}
				if a.Ended != nil && a.Ended.After(last) {
					last = *a.Ended
				}
				if a.Peer == tk.Peer && a.Outcome == scheduler.OutcomeDone && a.Ended != nil {
					attempts = append(attempts, a.Ended.Sub(a.Started).Seconds())
					spans = append(spans, fmt.Sprintf("%s %.3f-%.3f", tk.Peer[len(tk.Peer)-4:], a.Started.Sub(rd.Started).Seconds(), a.Ended.Sub(rd.Started).Seconds()))
				}
			}
			regions = append(regions, w.regionOf[tk.Peer])
			if rc := tk.Receipt; rc != nil {
				// The worker's own clock: its time on the tasklet
				// other than training (inputs' fetch, output's store).
				inputs = append(inputs, (float64(rc.FinishedAt)-float64(rc.StartedAt)-float64(rc.ComputeMillis))/1000)
			}
			if w.holders[tk.Peer] {
				sr.OnHolders++
			}
		}
		sr.Regions = append(sr.Regions, regions)
		sr.Placed = append(sr.Placed, placed)
		sr.Spans = append(sr.Spans, spans)
		sr.AttemptSeconds = append(sr.AttemptSeconds, attempts)
		sr.InputSeconds = append(sr.InputSeconds, inputs)
		sr.LeadSeconds = append(sr.LeadSeconds, first.Sub(rd.Started).Seconds())
		sr.TailSeconds = append(sr.TailSeconds, rd.Finished.Sub(last).Seconds())
	}
	sr.MedianSeconds = median(sr.RoundSeconds)
	return sr
}

// workerPrefetch is the part of worker_status this test reads.
type workerPrefetch struct {
	Prefetch struct {
		Done, Failed, Skipped uint64
	} `json:"prefetch"`
}

func (p workerPrefetch) total() uint64 {
	return p.Prefetch.Done + p.Prefetch.Failed + p.Prefetch.Skipped
}

// prefetchCounts reads each worker's prefetch counts over JSON-RPC, by
// name, and their sum of every prefetch, whatever became of it.
func prefetchCounts(ctx context.Context, workers []*worldDaemon) (map[string]workerPrefetch, uint64, error) {
	st := map[string]workerPrefetch{}
	var total uint64
	for _, d := range workers {
		var s workerPrefetch
		if err := d.c.Call(ctx, &s, "worker_status"); err != nil {
			return nil, 0, fmt.Errorf("%s: worker_status: %w", d.name, err)
		}
		st[d.name] = s
		total += s.total()
	}
	return st, total, nil
}

// prefetchTotal is every prefetch the workers counted, whatever became of it.
func prefetchTotal(ctx context.Context, t *testing.T, workers []*worldDaemon) uint64 {
	t.Helper()
	_, total, err := prefetchCounts(ctx, workers)
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// checkPrefetched checks the prefetch of the next round's shards on real
// daemons: every prefetch a first attempt asked for (Attempt.Prefetch) is
// a shard of the next round, every such prefetch completed, and a worker
// that imported no dataset now holds the whole shard. The coordinator asks
// only for shards no worker is known to hold, so a job whose shards are
// all held by idle importers asks for none. It returns the workers'
// prefetch count.
func checkPrefetched(ctx context.Context, t *testing.T, job *scheduler.Job, workers []*worldDaemon, importers map[string]bool) uint64 {
	t.Helper()
	byID := map[string]*worldDaemon{}
	for _, d := range workers {
		byID[d.id.String()] = d
	}
	type ask struct {
		w          *worldDaemon
		round, idx int
		shard      string
	}
	var asks []ask
	for r := 0; r < len(job.Rounds); r++ {
		next := map[string]bool{}
		if r+1 < len(job.Rounds) {
			for _, tk := range job.Rounds[r+1].Tasklets {
				next[tk.Shard] = true
			}
		}
		for _, tk := range job.Rounds[r].Tasklets {
			for k, a := range tk.Attempts {
				if a.Prefetch == "" {
					continue
				}
				if k > 0 || !next[a.Prefetch] {
					t.Errorf("round %d tasklet %d attempt %d asked %s to prefetch %s: only a first attempt before the last round asks, for a shard of the next round", r, tk.Index, k, a.Peer, a.Prefetch)
				}
				if a.Outcome == scheduler.OutcomeDone && a.Peer == tk.Peer {
					asks = append(asks, ask{byID[a.Peer], r, tk.Index, a.Prefetch})
				}
			}
		}
	}
	if len(asks) == 0 {
		t.Logf("ETA job %s asked for no prefetch: every next round's shard had a worker holding it", job.ID)
	}
	// A prefetch may still be arriving when the job ends: it runs beside
	// the tasklet and may outlive it. Wait for the counts, bounded.
	var st map[string]workerPrefetch
	var total uint64
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := poll(wctx, "the workers complete the ETA job's prefetches", func() (bool, string) {
		var err error
		if st, total, err = prefetchCounts(wctx, workers); err != nil {
			return false, err.Error()
		}
		var done uint64
		for _, s := range st {
			done += s.Prefetch.Done
		}
		return done >= uint64(len(asks)), fmt.Sprintf("%d first attempts before the last round asked for a prefetch, %d completed: %+v", len(asks), done, st)
	})
	if err != nil {
		t.Fatal(err)
	}
	fresh := 0
	for _, a := range asks {
		if a.w == nil {
			t.Fatalf("round %d tasklet %d ran on a peer that is not one of the workers", a.round, a.idx)
		}
		if st[a.w.name].Prefetch.Done == 0 {
			t.Errorf("%s ran round %d tasklet %d and was asked to prefetch %s, but counts no completed prefetch: %+v", a.w.name, a.round, a.idx, a.shard, st[a.w.name].Prefetch)
		}
		if importers[a.w.id.String()] {
			continue // held the shard from the start
		}
		var hs []api.Holding
		if err := a.w.c.Call(ctx, &hs, "data_holds", []string{a.shard}); err != nil {
			t.Fatalf("%s: data_holds: %v", a.w.name, err)
		}
		if len(hs) != 1 || !hs[0].Complete {
			t.Errorf("%s ran round %d tasklet %d and was asked to prefetch the next round's shard %s, but holds %+v of it", a.w.name, a.round, a.idx, a.shard, hs)
		}
		fresh++
	}
	t.Logf("ETA job: %d first attempts asked for a next round's shard; %d of them on workers that imported no dataset, which now hold it whole", len(asks), fresh)
	return total
}

// startWorldDaemon runs a whole daemon in this process on w, in region.
func startWorldDaemon(ctx context.Context, t *testing.T, w *worldnet.Net, name, region string, boot []string, edit func(*config.Config)) *worldDaemon {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if _, err := repo.Init(dir, repo.InitOptions{Profile: config.ProfileLocal, Passphrase: "pw"}); err != nil {
		t.Errorf("%s: init: %v", name, err)
		return nil
	}
	r, err := repo.Open(dir)
	if err != nil {
		t.Errorf("%s: open: %v", name, err)
		return nil
	}
	// Ping often, so the coordinators have measured every RTT before the
	// jobs start (the local profile pings every 5 s).
	r.Config.Swarm.PingEvery = config.Duration{Duration: time.Second}
	if edit != nil {
		edit(&r.Config)
	}
	var logger *slog.Logger
	if dir := os.Getenv("GRIDSWARM_WORLDNET_LOGS"); dir != "" && boot == nil {
		f, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		logger = slog.New(slog.NewTextHandler(f, nil))
	}
	n, err := node.New(ctx, node.Options{Repo: r, Passphrase: "pw", Bootstrap: boot, NewHost: w.Host(region), Logger: logger})
	if err != nil {
		r.Close()
		t.Errorf("%s: starting the daemon: %v", name, err)
		return nil
	}
	c, err := client.Dial(ctx, dir, false)
	if err != nil {
		t.Errorf("%s: dialling its JSON-RPC API: %v", name, err)
	}
	t.Cleanup(func() {
		if c != nil {
			c.Close()
		}
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = n.Close(cctx)
		r.Close()
	})
	return &worldDaemon{name: name, region: region, id: n.Swarm().ID(), n: n, c: c}
}

// waitWorldReady waits until the coordinator holds every worker's
// capability record, has measured its RTT, and finds the dataset's holders
// of every shard in the DHT: what placement ranks on.
func waitWorldReady(ctx context.Context, t *testing.T, coord *worldDaemon, workers []*worldDaemon, shards []string, holders int) {
	t.Helper()
	err := poll(ctx, coord.name+" sees every worker", func() (bool, string) {
		var caps []struct {
			PeerID      string `json:"peer_id"`
			Connected   bool   `json:"connected"`
			RTTMeasured bool   `json:"rtt_measured"`
		}
		if err := coord.c.Call(ctx, &caps, "peer_capabilities"); err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, d := range workers {
			if slices.ContainsFunc(caps, func(c struct {
				PeerID      string `json:"peer_id"`
				Connected   bool   `json:"connected"`
				RTTMeasured bool   `json:"rtt_measured"`
			}) bool {
				return c.PeerID == d.id.String() && c.Connected && c.RTTMeasured
			}) {
				ready++
			}
		}
		return ready == len(workers), fmt.Sprintf("%d of %d workers connected with a record and a measured RTT", ready, len(workers))
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every shard at once: each lookup crosses the world several times.
	var wg sync.WaitGroup
	for _, s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := poll(ctx, coord.name+" finds the holders of "+s, func() (bool, string) {
				// The holders and the other coordinator; the answer leaves
				// out the asking node.
				want := holders + 1
				var ps []api.FoundPeer
				if err := coord.c.Call(ctx, &ps, "data_providers", s, want, api.WaitOptions{TimeoutSeconds: 5}); err != nil {
					return false, err.Error()
				}
				return len(ps) >= want, fmt.Sprintf("%d providers, want %d", len(ps), want)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// worldJobSpec is the MNIST MLP example with model m, short rounds and
// the given tasklets a round.
// Spot checks are off, so both strategies place exactly the same
// tasklets.
func worldJobSpec(t *testing.T, dataset string, m worldModel, tasklets int) string {
	t.Helper()
	spec := strings.ReplaceAll(string(jobs.MNISTMLP), jobs.Placeholder, dataset)
	for old, repl := range map[string]string{
		"rounds: 10":               fmt.Sprintf("rounds: %d", worldRounds),
		"inner_steps: 200":         fmt.Sprintf("inner_steps: %d", m.InnerSteps),
		"batch_size: 64":           fmt.Sprintf("batch_size: %d", m.BatchSize),
		"hidden: [128]":            "hidden: " + m.Hidden,
		"tasklets_per_round: auto": fmt.Sprintf("tasklets_per_round: %d", tasklets),
		"\nresources:":             "\nverify:\n  rate: 0\n  min_rate_new_peers: 0\n\nresources:",
	} {
		if !strings.Contains(spec, old) {
			t.Fatalf("the MNIST MLP example no longer has %q", old)
		}
		spec = strings.Replace(spec, old, repl, 1)
	}
	return spec
}

// runWorldJob submits spec to coord over JSON-RPC and waits for the job to
// end; it fails the test unless the job is done.
func runWorldJob(ctx context.Context, t *testing.T, coord *worldDaemon, spec string) *scheduler.Job {
	t.Helper()
	var sum api.Summary
	if err := coord.c.Call(ctx, &sum, "job_submit", spec); err != nil {
		t.Fatalf("%s: job submit: %v", coord.name, err)
	}
	var job scheduler.Job
	err := poll(ctx, coord.name+" runs job "+sum.ID, func() (bool, string) {
		if err := coord.c.Call(ctx, &job, "job_show", sum.ID); err != nil {
			return false, err.Error()
		}
		return job.Status != scheduler.StatusSubmitted && job.Status != scheduler.StatusRunning,
			fmt.Sprintf("%s, round %d, waiting %q", job.Status, job.Round, job.Waiting)
	})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != scheduler.StatusDone || len(job.Rounds) != worldRounds {
		t.Fatalf("%s: job %s ended %s (%s) after %d rounds, want done after %d", coord.name, job.ID, job.Status, job.Error, len(job.Rounds), worldRounds)
	}
	return &job
}

// checkPlacedByStrategy checks that the tasklet's output came from the
// peer the coordinator's placement chose, under that strategy, and returns
// why placement chose it.
func checkPlacedByStrategy(t *testing.T, strategy string, round int, tk scheduler.Tasklet) string {
	t.Helper()
	i := slices.IndexFunc(tk.Attempts, func(a scheduler.Attempt) bool { return a.Peer == tk.Peer && a.Outcome == scheduler.OutcomeDone })
	if tk.State != scheduler.TaskDone || i < 0 {
		t.Errorf("%s: round %d tasklet %d is %s on %q with no done attempt there: %+v", strategy, round, tk.Index, tk.State, tk.Peer, tk.Attempts)
		return ""
	}
	placed := tk.Attempts[i].Placed
	want := "placed on " + tk.Peer + ": ETA "
	if strategy == placement.StrategyRandom {
		want = "placed on " + tk.Peer + " at random: ETA "
	}
	if !strings.HasPrefix(placed, want) {
		t.Errorf("%s: round %d tasklet %d ran on %s, placed %q; want it to start %q", strategy, round, tk.Index, tk.Peer, placed, want)
	}
	return placed
}

// poll calls cond until it holds, or returns an error saying what was
// awaited and how far it got when ctx ends first.
func poll(ctx context.Context, what string, cond func() (bool, string)) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, msg := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not before the test's deadline: %s", what, msg)
		case <-tick.C:
		}
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
