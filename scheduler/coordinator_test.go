package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"go.uber.org/goleak"

	"github.com/gridswarm/gridswarm/datagrid/dataset"
	"github.com/gridswarm/gridswarm/datagrid/safetensors"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeGrid is an in-memory data grid with owned pins.
type fakeGrid struct {
	mu      sync.Mutex
	blobs   map[cid.Cid][]byte
	dirs    map[cid.Cid]map[string]DirEntry
	owners  map[string][]cid.Cid
	dropped []cid.Cid // DropCached roots, in call order
}

func newFakeGrid() *fakeGrid {
	return &fakeGrid{blobs: map[cid.Cid][]byte{}, dirs: map[cid.Cid]map[string]DirEntry{}, owners: map[string][]cid.Cid{}}
}

func cidOf(b []byte) cid.Cid {
	sum := sha256.Sum256(b)
	mh, _ := multihash.Encode(sum[:], multihash.SHA2_256)
	return cid.NewCidV1(cid.Raw, mh)
}

func (g *fakeGrid) put(b []byte) cid.Cid {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := cidOf(b)
	g.blobs[c] = b
	return c
}

func (g *fakeGrid) ReadFile(ctx context.Context, c cid.Cid, max int64, _ ...string) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.blobs[c]
	if !ok {
		return nil, fmt.Errorf("%s not found", c)
	}
	return b, nil
}

func (g *fakeGrid) AddBytesOwned(ctx context.Context, name string, b []byte, owner string) (cid.Cid, error) {
	c := g.put(b)
	g.mu.Lock()
	g.owners[owner] = append(g.owners[owner], c)
	g.mu.Unlock()
	return c, nil
}

func (g *fakeGrid) ReleaseOwner(ctx context.Context, prefix string) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for o, cs := range g.owners {
		if o == prefix || strings.HasPrefix(o, prefix+"/") {
			n += len(cs)
			delete(g.owners, o)
		}
	}
	return n, nil
}

func (g *fakeGrid) ownersWith(prefix string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for o := range g.owners {
		if strings.HasPrefix(o, prefix) {
			out = append(out, o)
		}
	}
	return out
}

func (g *fakeGrid) ListDir(ctx context.Context, c cid.Cid) (map[string]DirEntry, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d, ok := g.dirs[c]
	if !ok {
		return nil, errors.New("no such folder")
	}
	return d, nil
}

func (g *fakeGrid) Holders(ctx context.Context, c cid.Cid) []string { return nil }

func (g *fakeGrid) DropCached(ctx context.Context, roots ...cid.Cid) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropped = append(g.dropped, roots...)
	return nil
}

// addDataset stores a tiny classification dataset (4 inputs, 2 classes;
// two training shards with the same samples) and returns its root CID.
func (g *fakeGrid) addDataset(t *testing.T) string {
	return g.addDatasetShards(t, 2)
}

// addDatasetShards is addDataset with train training shards, each
// with other samples than the one before it.
func (g *fakeGrid) addDatasetShards(t *testing.T, train int) string {
	t.Helper()
	man := &dataset.Manifest{Format: dataset.Format, Name: "tiny", Classes: 2,
		Tensors: map[string]dataset.TensorSpec{"images": {DType: safetensors.DTypeU8, Shape: []int64{4}}, "labels": {DType: safetensors.DTypeU8}}}
	dir := map[string]DirEntry{}
	splits := append(slices.Repeat([]string{"train"}, train), "validation", "test")
	for i, split := range splits {
		const n = 8
		images, labels := make([]byte, n*4), make([]byte, n)
		for k := range n {
			labels[k] = byte(k % 2)
			images[k*4+int(labels[k])] = 255
			if split == "train" && i >= 2 { // the first two stay as they were
				images[k*4+2] = byte(i)
			}
		}
		b, err := safetensors.Encode(&safetensors.File{Tensors: []safetensors.Tensor{
			{Name: "images", DType: safetensors.DTypeU8, Shape: []int64{n, 4}, Data: images},
			{Name: "labels", DType: safetensors.DTypeU8, Shape: []int64{n}, Data: labels}}})
		if err != nil {
			t.Fatal(err)
		}
		file := fmt.Sprintf("%s-%03d.safetensors", split, i)
		man.Shards = append(man.Shards, dataset.ShardInfo{File: file, Split: split, Samples: n})
		dir[file] = DirEntry{CID: g.put(b), Size: uint64(len(b))}
	}
	mb, err := man.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir[dataset.ManifestFile] = DirEntry{CID: g.put(mb), Size: uint64(len(mb))}
	root := g.put([]byte("root of tiny"))
	g.mu.Lock()
	g.dirs[root] = dir
	g.mu.Unlock()
	return root.String()
}

// behaviour is how a fake worker answers an offer.
type behaviour func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error)

// healthy returns the weights it got as its output: a worker whose local
// steps changed nothing, which is enough for the coordinator.
func healthy(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
	return receipt.Receipt{OutputCID: spec.Inputs[0].CID, Samples: 32, ComputeMillis: 5}, nil
}

func failing(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
	return receipt.Receipt{}, &tasklet.FailedError{Reason: "executor", Detail: "always fails"}
}

func declining(reason string) behaviour {
	return func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
		return receipt.Receipt{}, &tasklet.DeclinedError{Reason: reason, Detail: "fake"}
	}
}

// fakeSwarm runs offers in-process and records concurrency per peer.
type fakeSwarm struct {
	mu       sync.Mutex
	peers    []placement.Peer
	act      map[string]behaviour
	running  map[string]int
	maxSeen  map[string]int
	offers   map[string]int
	released map[string][]string
	// onAsk runs at each CapsAsked: records that come in as the
	// coordinator waits for them.
	onAsk func(s *fakeSwarm)
	asked int
}

func newFakeSwarm() *fakeSwarm {
	return &fakeSwarm{act: map[string]behaviour{}, running: map[string]int{}, maxSeen: map[string]int{}, offers: map[string]int{}, released: map[string][]string{}}
}

func (s *fakeSwarm) add(id string, slots int, b behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peers = append(s.peers, placement.Peer{ID: id, Executors: []string{"builtin"}, Idle: true, Throughput: 1000, BandwidthBps: 1e8, Version: "1.0.0", Slots: slots, DiskFree: 1 << 40})
	s.act[id] = b
}

func (s *fakeSwarm) Self() string { return "coordinator" }

func (s *fakeSwarm) CapsAsked(ctx context.Context) error {
	s.mu.Lock()
	s.asked++
	f := s.onAsk
	s.onAsk = nil
	s.mu.Unlock()
	if f != nil {
		f(s)
	}
	return nil
}

func (s *fakeSwarm) Workers() []placement.Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]placement.Peer(nil), s.peers...)
}

func (s *fakeSwarm) Offer(ctx context.Context, peer string, spec tasklet.Spec, _ func(int, int)) (receipt.Receipt, error) {
	s.mu.Lock()
	s.running[peer]++
	s.offers[peer]++
	s.maxSeen[peer] = max(s.maxSeen[peer], s.running[peer])
	act := s.act[peer]
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running[peer]--
		s.mu.Unlock()
	}()
	if err := ctx.Err(); err != nil {
		return receipt.Receipt{}, err
	}
	return act(ctx, spec)
}

func (s *fakeSwarm) Release(ctx context.Context, peer string, outputs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released[peer] = append(s.released[peer], outputs...)
	return nil
}

// fastClock runs speed times faster than the wall clock, so a job's
// one-minute deadline passes in well under a second of test time.
func fastClock(speed time.Duration) func() time.Time {
	start := time.Now()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { return base.Add(time.Since(start) * speed) }
}

func tinySpec(root string, rounds, tasklets int) string {
	return fmt.Sprintf(`version: 1
name: tiny
executor: builtin
model: {kind: mlp, inputs: 4, hidden: [4], classes: 2}
dataset: {cid: %s, train: train, validate: validation, test: test}
rounds: %d
tasklets_per_round: %d
inner_steps: 1
batch_size: 4
deadline: 1m
inner_optimizer: {kind: sgd, lr: 0.1}
outer_optimizer: {kind: nesterov, lr: 0.7, momentum: 0.9}
verify: {rate: 0, min_rate_new_peers: 0}
`, root, rounds, tasklets)
}

type harness struct {
	grid  *fakeGrid
	swarm *fakeSwarm
	store *Store
	c     *Coordinator
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	store, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{grid: newFakeGrid(), swarm: newFakeSwarm(), store: store}
	h.start(t, o)
	return h
}

// start puts a new coordinator with options o (fast retries unless set)
// over the harness's store, grid and swarm.
func (h *harness) start(t *testing.T, o Options) {
	t.Helper()
	if o.RetryEvery == 0 {
		o.RetryEvery = 20 * time.Millisecond
	}
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	h.c = New(h.store, h.grid, h.swarm, o)
	t.Cleanup(h.c.Close)
}

// restart is a daemon started again after a stop: a new coordinator with
// the default options resumes the jobs on disk.
func (h *harness) restart(t *testing.T) {
	t.Helper()
	h.start(t, Options{})
	if err := h.c.Resume(); err != nil {
		t.Fatal(err)
	}
}

// wait polls the job until it ends or the test's patience runs out.
func (h *harness) wait(t *testing.T, id string) *Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		j, err := h.c.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		h.c.mu.Lock()
		_, live := h.c.running[id]
		h.c.mu.Unlock()
		if !live && j.Status != StatusRunning && j.Status != StatusSubmitted {
			return j
		}
		time.Sleep(5 * time.Millisecond) // polling, not synchronisation
	}
	j, _ := h.c.Get(id)
	b, _ := json.MarshalIndent(j, "", " ")
	t.Fatalf("job %s did not end: %s", id, b)
	return nil
}

func TestCoordinatorBadWorkerDoesNotFailTheJob(t *testing.T) {
	h := newHarness(t, Options{})
	h.swarm.add("bad", 1, failing)
	h.swarm.add("good1", 1, healthy)
	h.swarm.add("good2", 1, healthy)
	root := h.grid.addDataset(t)
	j, err := h.c.Submit(context.Background(), []byte(tinySpec(root, 3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	if got.FinalModel == "" || got.Round != 3 {
		t.Errorf("final model %q at round %d, want a model after 3 rounds", got.FinalModel, got.Round)
	}
	for _, rd := range got.Rounds {
		for _, tk := range rd.Tasklets {
			failedOn := map[string]bool{}
			for _, a := range tk.Attempts {
				if failedOn[a.Peer] {
					t.Errorf("round %d tasklet %d offered again to %s after it failed", rd.Index, tk.Index, a.Peer)
				}
				if a.Outcome == OutcomeFailed {
					failedOn[a.Peer] = true
				}
				if a.Outcome == OutcomeRunning || a.Ended == nil {
					t.Errorf("round %d tasklet %d attempt on %s still %s (ended %v) after the job ended", rd.Index, tk.Index, a.Peer, a.Outcome, a.Ended)
				}
			}
		}
	}
	h.swarm.mu.Lock()
	defer h.swarm.mu.Unlock()
	for p, n := range h.swarm.maxSeen {
		if n > 1 {
			t.Errorf("%s ran %d attempts at once with 1 slot", p, n)
		}
	}
	if len(h.swarm.released["good1"])+len(h.swarm.released["good2"]) == 0 {
		t.Error("no output was released to the workers that produced it")
	}
	if n := h.c.measure.Reputation("bad"); n >= 0.5 {
		t.Errorf("reputation of the failing worker is %v, want below the prior 0.5", n)
	}
	if os := h.grid.ownersWith("job/" + j.ID + "/final"); len(os) != 1 {
		t.Errorf("final model owners %v, want job/%s/final", os, j.ID)
	}
	if os := h.grid.ownersWith("job/" + j.ID + "/round/0/"); len(os) != 0 {
		t.Errorf("round 0 weights still pinned (%v) with KeepRounds 3 after 3 rounds", os)
	}
}

func TestCoordinatorAllDeclineExpiredFailsAtDeadline(t *testing.T) {
	h := newHarness(t, Options{Now: fastClock(200)})
	h.swarm.add("w1", 1, declining(tasklet.ReasonExpired))
	h.swarm.add("w2", 1, declining(tasklet.ReasonExpired))
	root := h.grid.addDataset(t)
	j, err := h.c.Submit(context.Background(), []byte(tinySpec(root, 4, 2)))
	if err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusFailed {
		t.Fatalf("status %s, want failed", got.Status)
	}
	if want := DeadlineMessage(0, 4); got.Error != want {
		t.Errorf("error %q, want %q", got.Error, want)
	}
	if got.Weights != j.Weights {
		t.Errorf("weights %s, want the last completed round's %s", got.Weights, j.Weights)
	}
}

func TestCoordinatorResumeAfterDeadline(t *testing.T) {
	h := newHarness(t, Options{Now: fastClock(200)})
	h.swarm.add("w1", 1, declining(tasklet.ReasonNotIdle))
	root := h.grid.addDataset(t)
	j, err := h.c.Submit(context.Background(), []byte(tinySpec(root, 2, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.wait(t, j.ID); got.Status != StatusFailed {
		t.Fatalf("status %s, want failed at the deadline", got.Status)
	}
	if _, err := h.c.ResumeJob(j.ID, 0); err == nil {
		t.Fatal("resume without a new deadline after the old one passed: got no error")
	}
	h.swarm.mu.Lock()
	h.swarm.act["w1"] = healthy
	h.swarm.mu.Unlock()
	if _, err := h.c.ResumeJob(j.ID, 1000*time.Hour); err != nil { // the clock runs fast
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusDone || got.Round != 2 {
		t.Fatalf("after resume: status %s round %d (%s), want done after 2 rounds", got.Status, got.Round, got.Error)
	}
	if _, err := h.c.ResumeJob(j.ID, time.Hour); err == nil {
		t.Error("resuming a done job: got no error")
	}
	n, err := h.c.Remove(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || len(h.grid.ownersWith("job/"+j.ID)) != 0 {
		t.Errorf("job rm released %d pins, left %v", n, h.grid.ownersWith("job/"+j.ID))
	}
	if _, err := h.c.Get(j.ID); !errors.Is(err, ErrNoJob) {
		t.Errorf("after rm, Get: %v, want ErrNoJob", err)
	}
}

// TestCoordinatorCancelStopsAttempts: a worker that never answers holds an
// attempt; cancelling the job cancels its context and no goroutine is left
// (goleak checks at the end of the package).
func TestCoordinatorCancelStopsAttempts(t *testing.T) {
	h := newHarness(t, Options{})
	started := make(chan struct{}, 4)
	h.swarm.add("slow", 2, func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
		started <- struct{}{}
		<-ctx.Done()
		return receipt.Receipt{}, ctx.Err()
	})
	root := h.grid.addDataset(t)
	j, err := h.c.Submit(context.Background(), []byte(tinySpec(root, 2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		got, _ := h.c.Get(j.ID)
		t.Fatalf("no attempt started; job %s: %s %s", got.Status, got.Error, got.Waiting)
	}
	if err := h.c.Cancel(j.ID); err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusCancelled {
		t.Fatalf("status %s, want cancelled", got.Status)
	}
	for _, tk := range got.Rounds[0].Tasklets {
		for _, a := range tk.Attempts {
			if a.Outcome == OutcomeRunning {
				t.Errorf("tasklet %d attempt on %s still running after cancel", tk.Index, a.Peer)
			}
		}
	}
}

// flakyStore fails every Save while failing is set.
type flakyStore struct {
	jobStore
	mu      sync.Mutex
	failing bool
	failed  int
}

func (s *flakyStore) Save(j *Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		s.failed++
		return errors.New("disk full")
	}
	return s.jobStore.Save(j)
}

func (s *flakyStore) set(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

// TestCoordinatorPausesWhileSavesFail: while the job's state cannot be
// saved the job says so and offers nothing; once saves work it finishes.
func TestCoordinatorPausesWhileSavesFail(t *testing.T) {
	h := newHarness(t, Options{})
	fs := &flakyStore{jobStore: h.store}
	h.c.store = fs
	gate := make(chan struct{})
	h.swarm.add("w", 1, func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
		select {
		case <-gate:
		case <-ctx.Done():
			return receipt.Receipt{}, ctx.Err()
		}
		return healthy(ctx, spec)
	})
	root := h.grid.addDataset(t)
	j, err := h.c.Submit(context.Background(), []byte(tinySpec(root, 1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	fs.set(true)
	close(gate) // the running attempt delivers; its save fails
	var paused *Job
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if paused, _ = h.c.Get(j.ID); strings.HasPrefix(paused.Waiting, pausedPrefix) {
			break
		}
	}
	if !strings.HasPrefix(paused.Waiting, pausedPrefix) || !strings.HasSuffix(paused.Waiting, "the job is paused") {
		t.Fatalf("waiting %q while saves fail, want %q…", paused.Waiting, pausedPrefix)
	}
	h.swarm.mu.Lock()
	offers := h.swarm.offers["w"]
	h.swarm.mu.Unlock()
	// Several save retries later, still no new offer.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		fs.mu.Lock()
		n := fs.failed
		fs.mu.Unlock()
		if n > 5 {
			break
		}
	}
	h.swarm.mu.Lock()
	if h.swarm.offers["w"] != offers {
		t.Errorf("%d offers made while the job was paused", h.swarm.offers["w"]-offers)
	}
	h.swarm.mu.Unlock()
	fs.set(false)
	if got := h.wait(t, j.ID); got.Status != StatusDone {
		t.Fatalf("after saves work again: status %s (%s), want done", got.Status, got.Error)
	}
}

// hanging blocks until its attempt is cancelled and counts the cancels.
// With deliver set it then returns a receipt for that output anyway, as a
// worker that finished as it was cancelled.
type hanging struct {
	started   chan struct{}
	deliver   string
	mu        sync.Mutex
	cancelled int
}

func (h *hanging) act(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
	select {
	case h.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	h.mu.Lock()
	h.cancelled++
	h.mu.Unlock()
	if h.deliver != "" {
		return receipt.Receipt{OutputCID: h.deliver, Samples: 32}, nil
	}
	return receipt.Receipt{}, ctx.Err()
}

// A straggler gets a copy elsewhere; when the copy wins, the straggling
// attempt's context is cancelled (so the worker is told to stop) and the
// attempt is recorded superseded.
func TestCoordinatorStragglerCopyCancelsTheSlowAttempt(t *testing.T) {
	h := newHarness(t, Options{StragglerFactor: 2})
	slow := &hanging{started: make(chan struct{}, 1)}
	h.swarm.add("slow", 1, slow.act)
	h.swarm.add("fast1", 1, healthy)
	h.swarm.add("fast2", 1, healthy)
	root := h.grid.addDataset(t)
	j, err := h.c.Submit(context.Background(), []byte(tinySpec(root, 1, 3)))
	if err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	superseded := 0
	for _, tk := range got.Rounds[0].Tasklets {
		for _, a := range tk.Attempts {
			if a.Peer == "slow" && a.Outcome == OutcomeSuperseded {
				superseded++
			}
		}
	}
	slow.mu.Lock()
	defer slow.mu.Unlock()
	if superseded != 1 || slow.cancelled != 1 {
		t.Errorf("slow worker: %d attempts superseded, %d contexts cancelled; want 1 and 1", superseded, slow.cancelled)
	}
}

// A coordinator closed mid-round leaves the job running on disk with no
// goroutine behind; a new one resumes it, the interrupted attempt is
// offered again and the job finishes.
func TestCoordinatorRestartResumesTheRound(t *testing.T) {
	h := newHarness(t, Options{})
	slow := &hanging{started: make(chan struct{}, 1)}
	h.swarm.add("w", 1, slow.act)
	root := h.grid.addDataset(t)
	j, err := h.c.Submit(context.Background(), []byte(tinySpec(root, 1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-slow.started:
	case <-time.After(30 * time.Second):
		t.Fatal("no attempt started")
	}
	h.c.Close()
	onDisk, err := h.store.Load(j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if onDisk.Status != StatusRunning {
		t.Fatalf("after Close the job is %s on disk, want running", onDisk.Status)
	}
	h.swarm.mu.Lock()
	h.swarm.act["w"] = healthy
	h.swarm.mu.Unlock()
	h.restart(t)
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("resumed job: status %s (%s), want done", got.Status, got.Error)
	}
	as := got.Rounds[0].Tasklets[0].Attempts
	if len(as) != 2 || as[1].Outcome != OutcomeDone || (as[0].Outcome != OutcomeInterrupted && as[0].Outcome != OutcomeCancelled) {
		t.Errorf("attempts %+v, want the first interrupted or cancelled, then done on the same worker", as)
	}
}
