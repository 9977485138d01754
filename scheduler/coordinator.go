package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"golang.org/x/sync/singleflight"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/datagrid/dataset"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/scheduler/measure"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
	"github.com/gridswarm/gridswarm/verify"
)

// Options tune the coordinator. Zero values take the defaults in brackets.
type Options struct {
	MaxAttempts     int           // offers per tasklet before the job fails [6]
	Backoff         time.Duration // first retry delay, doubling per attempt [500ms]
	RetryEvery      time.Duration // how often a stalled round looks for peers again [2s]
	StragglerFactor float64       // a copy is sent past this × the round's median [3]
	MaxBackoff      time.Duration // longest a failing peer is left alone [1m]
	ReplicaWait     time.Duration // a spot check waits this long for a peer to take a replica [2m]
	KeepRounds      int           // rounds of weights kept pinned besides the final model [Limits.KeepRounds, else 3]
	// Limits bound what one job may take; Submit refuses a job that would
	// not fit (see Admit). Zero fields are not checked.
	Limits Limits
	// Measure is what this coordinator has observed of each peer; placement
	// ranks on it instead of what peers advertise. Nil: a fresh table.
	Measure *measure.Table
	// BenchmarkParams is the parameter count of the model the workers'
	// advertised Throughput is timed on (p2p.ThroughputParams) [the
	// builtin MLP 784-128-10]. Measure scales it to each job's model.
	BenchmarkParams int64
	// Trust is the coordinator's trust record of every peer, shared by its
	// jobs' spot checks [an empty in-memory book banning by verify.DefaultRule].
	Trust *Trust
	// Rand draws the spot checks [crypto/rand.Reader]; tests seed it.
	Rand io.Reader
	// Domain is the EIP-712 domain receipts are signed in; equivocation
	// proofs are checked in it.
	Domain receipt.Domain
	// OnEquivocation receives each equivocation proof the coordinator
	// finds in its own receipts, for the node to gossip; nil: none.
	OnEquivocation func(verify.Proof)
	// Payer settles paid jobs on a chain; nil refuses jobs with a payment.
	Payer Payer
	// Placement is the placement strategy: placement.StrategyETA [""] or
	// placement.StrategyRandom, the baseline for comparisons.
	Placement string
	// Now is the clock [time.Now].
	Now    func() time.Time
	Logger *slog.Logger
	// OnEvent receives a job's progress after every change.
	OnEvent func(Event)
}

// Event is a job's progress, streamed to `job watch`.
type Event struct {
	JobID       string  `json:"job_id"`
	Status      string  `json:"status"`
	Round       int     `json:"round"`
	Rounds      int     `json:"rounds"`
	Tasklets    int     `json:"tasklets"`
	Placed      int     `json:"placed"`
	Running     int     `json:"running"`
	Done        int     `json:"done"`
	Failed      int     `json:"failed"` // failed attempts this round
	Loss        float64 `json:"loss,omitempty"`
	ValAccuracy float64 `json:"val_accuracy,omitempty"`
	// Validated is the 1-based number of the round Loss and ValAccuracy
	// are of: the last validated one, which lags Round while a round's
	// validation runs beside the next round.
	Validated  int     `json:"validated,omitempty"`
	ETASeconds float64 `json:"eta_seconds,omitempty"`
	Waiting    string  `json:"waiting,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// jobStore is what the coordinator needs of a Store; tests wrap it to
// make saves fail.
type jobStore interface {
	Save(j *Job) error
	Load(id string) (*Job, error)
	List() ([]*Job, error)
	Remove(id string) error
}

// Coordinator runs the jobs this node submitted.
type Coordinator struct {
	store   jobStore
	grid    Grid
	swarm   Swarm
	opts    Options
	log     *slog.Logger
	measure *measure.Table
	trust   *Trust

	mu      sync.Mutex
	running map[string]*run
	holders map[string]holding // CID → providers, briefly cached
	// prefetched is what workers said in their receipts they hold after
	// prefetching it, and the shards they trained on: CID → peer → when
	// (noteHeld).
	prefetched map[string]map[string]time.Time
	lookups    singleflight.Group // provider lookups in flight, by CID
	wg         sync.WaitGroup
	closed     bool
}

// run is one job in progress; mu guards job and paused.
type run struct {
	mu       sync.Mutex
	job      *Job
	spec     *jobspec.Spec
	cancel   context.CancelCauseFunc
	paused   bool      // the last save failed: offer nothing until one succeeds
	backoffs *Backoffs // per-peer failure backoffs, across the job's rounds
	// validation is the round validation running in the background, if
	// any (validate.go); only the job's drive goroutine touches it.
	validation *validation
	// lookahead runs the provider lookups for the next round; only the
	// job's drive goroutine sets it.
	lookahead *lookahead
	// cleanup counts finished rounds' cleanups still running (retain);
	// drive waits for them before the job ends.
	cleanup sync.WaitGroup
}

var errCancelled = errors.New("cancelled by the user")

// New returns a coordinator over the jobs in store.
func New(store *Store, grid Grid, swarm Swarm, o Options) *Coordinator {
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 6
	}
	if o.Backoff == 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.RetryEvery == 0 {
		o.RetryEvery = 2 * time.Second
	}
	if o.StragglerFactor == 0 {
		o.StragglerFactor = 3
	}
	if o.ReplicaWait == 0 {
		o.ReplicaWait = 2 * time.Minute
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = time.Minute
	}
	if o.KeepRounds <= 0 {
		o.KeepRounds = o.Limits.KeepRounds
	}
	if o.KeepRounds <= 0 {
		o.KeepRounds = DefaultKeepRounds
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BenchmarkParams <= 0 {
		o.BenchmarkParams = trainer.Model{Kind: "mlp", Inputs: 784, Hidden: []int{128}, Classes: 10}.NumParams()
	}
	if o.Measure == nil {
		o.Measure = measure.New(measure.Config{Now: o.Now})
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Trust == nil {
		o.Trust = NewTrust(verify.DefaultRule)
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Coordinator{store: store, grid: grid, swarm: swarm, opts: o, log: o.Logger, measure: o.Measure, trust: o.Trust,
		running: map[string]*run{}, holders: map[string]holding{},
		prefetched: map[string]map[string]time.Time{}}
}

func (c *Coordinator) now() time.Time { return c.opts.Now() }

// applyMeasurements replaces what a peer advertises with what this
// coordinator measured of it: bandwidth, throughput and reputation.
// Throughput is per model size: modelParams is the job's model's.
//
// Reputation is what measure saw of the peer's attempts times its spot
// check agreement on class; a banned peer is marked so placement filters
// it out.
func (c *Coordinator) applyMeasurements(p *placement.Peer, modelParams int64, class verify.Class) {
	p.Reputation = c.measure.Reputation(p.ID) * c.trust.Agreement(p.ID, class)
	if banned, _ := c.trust.BannedPeer(p.ID, p.Account, c.now()); banned {
		p.Banned = true
	}
	if bw, ok := c.measure.BandwidthMeasured(p.ID); ok || p.BandwidthBps <= 0 {
		p.BandwidthBps = bw
	}
	if tp, ok := c.measure.Throughput(p.ID, modelParams); ok {
		p.Throughput = tp
	}
}

// Resume restarts every job a previous daemon left unfinished.
func (c *Coordinator) Resume() error {
	jobs, err := c.store.List()
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Status != StatusSubmitted && j.Status != StatusRunning {
			if j.Settlement != nil && j.Settlement.Closing == nil {
				if spec, err := jobspec.Parse(j.Spec); err == nil {
					c.closeEscrow(j, spec)
				}
			}
			continue
		}
		spec, err := jobspec.Parse(j.Spec)
		if err != nil {
			j.Status, j.Error = StatusFailed, "stored spec no longer parses: "+err.Error()
			_ = c.store.Save(j)
			continue
		}
		c.log.Info("resuming job", "job", j.ID, "round", j.Round)
		c.start(j, spec)
	}
	return nil
}

// Close stops the runners; their jobs stay running on disk and resume later.
func (c *Coordinator) Close() {
	c.mu.Lock()
	c.closed = true
	for _, r := range c.running {
		r.cancel(context.Canceled)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// Submit validates a job spec, resolves its dataset, writes the initial
// weights and starts the job.
func (c *Coordinator) Submit(ctx context.Context, yaml []byte) (*Job, error) {
	spec, err := jobspec.Parse(yaml)
	if err != nil {
		return nil, err
	}
	if err := checkCoordinated(spec); err != nil {
		return nil, err
	}
	if spec.Payment != nil && c.opts.Payer == nil {
		return nil, jobspec.FieldErr("payment", "%v", errNoPayer)
	}
	ds, err := c.resolveDataset(ctx, spec)
	if err != nil {
		return nil, err
	}
	// Before the weights are allocated: a job that cannot fit is refused
	// with the numbers, not run until memory runs out.
	if err := AdmitDataset(spec, c.opts.Limits, c.swarm.Workers(), ds); err != nil {
		return nil, err
	}
	m := modelOf(spec)
	w0, err := trainer.Init(m, spec.Seed)
	if err != nil {
		return nil, jobspec.FieldErr("model", "%v", err)
	}
	canon, err := spec.Canonical()
	if err != nil {
		return nil, err
	}
	id := newJobID(spec.Name)
	wc, err := c.storeParams(ctx, id+"-weights-0", owner(id, "round", 0, "weights"), w0)
	if err != nil {
		return nil, err
	}
	now := c.now().UTC()
	j := &Job{ID: id, Name: spec.Name, Spec: canon, Status: StatusSubmitted, Submitted: now, Dataset: ds, Weights: wc}
	if spec.Payment != nil {
		// Last before the job is saved: a refused submit moves no money.
		// A crash between the deposit and the save leaves the deposit to
		// be refunded to the submitter after its deadline.
		d := time.Duration(spec.Deadline)
		if d <= 0 {
			d = defaultJobDeadline
		}
		if j.Settlement, err = c.escrow(ctx, id, spec, ds, now.Add(d)); err != nil {
			_, _ = c.grid.ReleaseOwner(ctx, owner(id))
			return nil, err
		}
	}
	if err := c.store.Save(j); err != nil {
		return nil, err
	}
	out := copyJob(j) // the runner owns j from here on
	c.start(j, spec)
	return out, nil
}

func newJobID(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s", name, hex.EncodeToString(b))
}

func modelOf(spec *jobspec.Spec) trainer.Model {
	return contractModel(spec.Model).Trainer()
}

// resolveDataset reads the manifest of dataset.cid and lists its shards.
func (c *Coordinator) resolveDataset(ctx context.Context, spec *jobspec.Spec) (DatasetInfo, error) {
	root, err := cid.Decode(spec.Dataset.CID)
	if err != nil {
		return DatasetInfo{}, jobspec.FieldErr("dataset.cid", "%q is not a CID: %v", spec.Dataset.CID, err)
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	entries, err := c.grid.ListDir(lctx, root)
	if err != nil {
		return DatasetInfo{}, jobspec.FieldErr("dataset.cid", "%s is not in the data grid and no peer provides it (%v): add it with `gridswarm data add` or `gridswarm data import mnist`", root, err)
	}
	me, ok := entries[dataset.ManifestFile]
	if !ok {
		return DatasetInfo{}, jobspec.FieldErr("dataset.cid", "%s holds no %s: it is not a gridswarm dataset", root, dataset.ManifestFile)
	}
	mb, err := c.grid.ReadFile(ctx, me.CID, dataset.MaxManifestSize)
	if err != nil {
		return DatasetInfo{}, jobspec.FieldErr("dataset.cid", "cannot read its manifest: %v", err)
	}
	man, err := dataset.ParseManifest(mb)
	if err != nil {
		return DatasetInfo{}, jobspec.FieldErr("dataset.cid", "%v", err)
	}
	info := DatasetInfo{Root: root.String(), Bytes: map[string]uint64{}}
	pick := func(field, split string) ([]string, error) {
		var out []string
		for _, s := range man.SplitShards(split) {
			e, ok := entries[s.File]
			if !ok {
				return nil, jobspec.FieldErr("dataset.cid", "shard %s listed in the manifest is missing", s.File)
			}
			out = append(out, e.CID.String())
			info.Bytes[e.CID.String()] = e.Size
		}
		if len(out) == 0 && split != "" {
			return nil, jobspec.FieldErr(field, "the dataset has no %q shards", split)
		}
		return out, nil
	}
	if info.Train, err = pick("dataset.train", spec.Dataset.Train); err != nil {
		return info, err
	}
	if info.Validation, err = pick("dataset.validate", spec.Dataset.Validate); err != nil {
		return info, err
	}
	if spec.Dataset.Test != "" {
		if info.Test, err = pick("dataset.test", spec.Dataset.Test); err != nil {
			return info, err
		}
	}
	if t := man.Tensors["images"]; spec.Model != nil && len(t.Shape) > 0 {
		n := int64(1)
		for _, d := range t.Shape {
			n *= d
		}
		if n != int64(spec.Model.Inputs) {
			return info, jobspec.FieldErr("model.inputs", "is %d but the dataset's samples have %d values", spec.Model.Inputs, n)
		}
	}
	return info, nil
}

// storeParams stores p in the data grid, pinned for owner.
func (c *Coordinator) storeParams(ctx context.Context, name, owner string, p trainer.Params) (string, error) {
	b, err := contract.EncodeParams(p)
	if err != nil {
		return "", err
	}
	id, err := c.grid.AddBytesOwned(ctx, name+".safetensors", b, owner)
	if err != nil {
		return "", fmt.Errorf("cannot store %s in the data grid: %w", name, err)
	}
	return id.String(), nil
}

func (c *Coordinator) loadParams(ctx context.Context, s string, m trainer.Model, from ...string) (trainer.Params, error) {
	p, _, err := c.loadParamsN(ctx, s, m, from...)
	return p, err
}

// loadParamsN is loadParams that also returns the bytes read.
func (c *Coordinator) loadParamsN(ctx context.Context, s string, m trainer.Model, from ...string) (trainer.Params, int64, error) {
	id, err := cid.Decode(s)
	if err != nil {
		return nil, 0, fmt.Errorf("bad weights CID %q: %w", s, err)
	}
	b, err := c.grid.ReadFile(ctx, id, contract.MaxInputBytes, from...)
	if err != nil {
		return nil, 0, err
	}
	p, err := contract.DecodeParams(b, m)
	return p, int64(len(b)), err
}

// start runs j; it reports false when the coordinator is closed or j
// already runs.
func (c *Coordinator) start(j *Job, spec *jobspec.Spec) bool {
	return c.spawn(j, spec, c.drive)
}

// closeEscrow finishes the settlement of an ended job whose escrow a
// previous daemon left open (it stopped, or the chain was unreachable).
func (c *Coordinator) closeEscrow(j *Job, spec *jobspec.Spec) {
	c.spawn(j, spec, func(ctx context.Context, r *run) {
		sctx, stop := context.WithTimeout(ctx, settleTimeout)
		defer stop()
		c.settle(sctx, r, true)
	})
}

// spawn runs body for j in a goroutine the coordinator owns, with j
// marked running until it returns; false when the coordinator is closed
// or j already runs.
func (c *Coordinator) spawn(j *Job, spec *jobspec.Spec, body func(context.Context, *run)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.running[j.ID]; ok || c.closed {
		return false
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &run{job: j, spec: spec, cancel: cancel, backoffs: NewBackoffs(c.opts.Backoff, c.opts.MaxBackoff)}
	c.running[j.ID] = r
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		body(ctx, r)
		c.mu.Lock()
		delete(c.running, j.ID)
		c.mu.Unlock()
	}()
	return true
}

// ResumeJob continues a failed or cancelled job from its last completed
// round. A positive deadline replaces the job's deadline with now +
// deadline; without one the job's deadline must not have passed. The round
// in progress keeps its plan and accepted outputs; peers barred from its
// tasklets before get another chance.
func (c *Coordinator) ResumeJob(id string, deadline time.Duration) (*Job, error) {
	c.mu.Lock()
	_, running := c.running[id]
	c.mu.Unlock()
	if running {
		return nil, fmt.Errorf("job %s is running: there is nothing to resume", id)
	}
	j, err := c.store.Load(id)
	if err != nil {
		return nil, err
	}
	if j.Status != StatusFailed && j.Status != StatusCancelled {
		return nil, fmt.Errorf("job %s is %s: only a failed or cancelled job can be resumed", id, j.Status)
	}
	if s := j.Settlement; s != nil && s.Closing != nil {
		return nil, fmt.Errorf("job %s is paid and its escrow was closed when it ended (verified work paid, the rest refunded): submit the spec again to run it with a new budget", id)
	}
	spec, err := jobspec.Parse(j.Spec)
	if err != nil {
		return nil, fmt.Errorf("job %s: its stored spec no longer parses: %w", id, err)
	}
	if deadline > 0 {
		j.Deadline = c.now().Add(deadline).UTC()
	}
	if dl := jobDeadline(&run{job: j, spec: spec}); !c.now().Before(dl) {
		return nil, fmt.Errorf("job %s's deadline passed at %s: give it a new one (job resume %s --deadline 1h)", id, dl.Format(time.RFC3339), id)
	}
	if j.Round < len(j.Rounds) {
		forgiveExclusions(&j.Rounds[j.Round])
	}
	j.Status, j.Error, j.Waiting, j.Finished = StatusSubmitted, "", "", nil
	if err := c.store.Save(j); err != nil {
		return nil, fmt.Errorf("cannot save job %s: %w", id, err)
	}
	out := copyJob(j)
	if !c.start(j, spec) {
		return nil, fmt.Errorf("job %s: the coordinator is stopping or already runs it", id)
	}
	return out, nil
}

// Remove deletes an ended job's record and unpins everything it kept in
// the data grid (weights, momentum, final model). It returns how many pins
// went.
func (c *Coordinator) Remove(ctx context.Context, id string) (int, error) {
	c.mu.Lock()
	_, running := c.running[id]
	c.mu.Unlock()
	if running {
		return 0, fmt.Errorf("job %s is running: cancel it first (gridswarm job cancel %s)", id, id)
	}
	j, err := c.store.Load(id)
	if err != nil {
		return 0, err
	}
	if j.Status != StatusDone && j.Status != StatusFailed && j.Status != StatusCancelled {
		return 0, fmt.Errorf("job %s is %s: cancel it first (gridswarm job cancel %s)", id, j.Status, id)
	}
	n, err := c.grid.ReleaseOwner(ctx, owner(id))
	if err != nil {
		return 0, fmt.Errorf("cannot unpin the data of job %s: %w", id, err)
	}
	if err := c.store.Remove(id); err != nil {
		return n, fmt.Errorf("cannot remove job %s: %w", id, err)
	}
	return n, nil
}

// Cancel stops a job for good.
func (c *Coordinator) Cancel(id string) error {
	c.mu.Lock()
	r, ok := c.running[id]
	c.mu.Unlock()
	if ok {
		r.cancel(errCancelled)
		return nil
	}
	j, err := c.store.Load(id)
	if err != nil {
		return err
	}
	if j.Status == StatusDone || j.Status == StatusFailed || j.Status == StatusCancelled {
		return fmt.Errorf("job %s already ended (%s)", id, j.Status)
	}
	j.Status = StatusCancelled
	return c.store.Save(j)
}

// Get returns a copy of a job's state.
func (c *Coordinator) Get(id string) (*Job, error) {
	c.mu.Lock()
	r, ok := c.running[id]
	c.mu.Unlock()
	if !ok {
		return c.store.Load(id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyJob(r.job), nil
}

// List returns every job, newest first.
func (c *Coordinator) List() ([]*Job, error) {
	jobs, err := c.store.List()
	if err != nil {
		return nil, err
	}
	for i, j := range jobs {
		if live, err := c.Get(j.ID); err == nil {
			jobs[i] = live
		}
	}
	return jobs, nil
}

func copyJob(j *Job) *Job {
	b, _ := json.Marshal(j)
	var out Job
	_ = json.Unmarshal(b, &out)
	return &out
}
