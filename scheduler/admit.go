package scheduler

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/scheduler/placement"
)

// Limits bound what one job may take on this node; they come from the
// [coordinator] and [datagrid] sections of config.toml. Zero means not
// checked.
type Limits struct {
	// CoordinatorMemory is coordinator.max_memory in bytes.
	CoordinatorMemory uint64
	// CoordinatorStorage is the data-grid quota (datagrid.quota_gib) in bytes.
	CoordinatorStorage uint64
	// KeepRounds is coordinator.keep_rounds: how many rounds' weights and
	// outer momentum the coordinator keeps pinned [3].
	KeepRounds int
}

// DefaultKeepRounds is coordinator.keep_rounds when unset.
const DefaultKeepRounds = 3

// Need is Estimate's answer: what a job takes, in bytes, with the parts
// that explain each figure.
type Need struct {
	WeightBytes uint64 // one copy of the model's parameters (float32)
	Tasklets    int    // tasklets per round assumed

	// CoordinatorMemory is the peak during aggregation: the global weights,
	// the outer momentum, every tasklet's output, the output being decoded,
	// the next weights, and the float64 sums of the outer step; plus 20%
	// for the Go runtime.
	CoordinatorMemory uint64
	CoordinatorCopies float64 // the live data in CoordinatorMemory / WeightBytes
	// CoordinatorStorage is what the coordinator's data grid holds: the
	// kept rounds' weights and momentum, and the round's fetched outputs.
	CoordinatorStorage uint64
	StorageCopies      int

	// WorkerMemory is the peak of one builtin tasklet: weights in (file and
	// decoded), the network's weights and gradients, the optimizer state,
	// the batch activations and the decoded shard; plus 20% for the Go
	// runtime.
	WorkerMemory     uint64
	WorkerCopies     int    // weight-sized buffers in WorkerMemory
	ActivationBytes  uint64 // in WorkerMemory
	ShardMemoryBytes uint64 // in WorkerMemory; 0 when the shard size is unknown
	// WorkerStorage is what a worker's data grid holds: weights in, output
	// and shard.
	WorkerStorage uint64
}

// Admit refuses a job that would not fit: in the coordinator's memory or
// storage, or in the memory or storage of every worker that advertises
// them. It is pure: workers are the current candidates (their MemoryBytes
// and DiskFree, 0 when unknown). A job with no model (wasm, process) is
// not estimated. The error joins *jobspec.FieldError values that give the
// numbers and the config key that sets the limit.
func Admit(spec *jobspec.Spec, lim Limits, workers []placement.Peer) error {
	return AdmitDataset(spec, lim, workers, DatasetInfo{})
}

// AdmitDataset is Admit once the dataset is resolved: the shard sizes
// count toward what a worker and the coordinator hold.
func AdmitDataset(spec *jobspec.Spec, lim Limits, workers []placement.Peer, ds DatasetInfo) error {
	if spec == nil || spec.Model == nil {
		return nil
	}
	var feasible []placement.Peer
	for _, w := range workers {
		if len(w.Executors) == 0 || slices.Contains(w.Executors, spec.Executor) {
			feasible = append(feasible, w)
		}
	}
	n := Estimate(spec, lim, len(feasible), ds)
	var errs []error
	if lim.CoordinatorMemory > 0 && n.CoordinatorMemory > lim.CoordinatorMemory {
		errs = append(errs, jobspec.FieldErr("model",
			"needs about %s on the coordinator (weights %s × %.0f copies: global, outer momentum, next, %d tasklet outputs, the one being decoded, float64 sums; plus 20%% for the Go runtime) but coordinator.max_memory is %s; shrink model.classes/hidden or tasklets_per_round, or raise coordinator.max_memory",
			human(n.CoordinatorMemory), human(n.WeightBytes), n.CoordinatorCopies, n.Tasklets, human(lim.CoordinatorMemory)))
	}
	if lim.CoordinatorStorage > 0 && n.CoordinatorStorage > lim.CoordinatorStorage {
		errs = append(errs, jobspec.FieldErr("model",
			"needs about %s of data-grid storage on the coordinator (weights %s × %d copies: weights and momentum of %d kept rounds, %d tasklet outputs) but datagrid.quota_gib is %s; lower coordinator.keep_rounds, shrink the model, or raise datagrid.quota_gib",
			human(n.CoordinatorStorage), human(n.WeightBytes), n.StorageCopies, keepRounds(lim), n.Tasklets, human(lim.CoordinatorStorage)))
	}
	shard, fix := "", "shrink model.classes/hidden or batch_size"
	if n.ShardMemoryBytes > 0 {
		shard = "; shard decoded " + human(n.ShardMemoryBytes)
	}
	if spec.InnerOptimizer.Kind == jobspec.OptimizerAdam {
		fix += ", or use inner_optimizer.kind sgd (one copy less)"
	}
	if err := admitWorkers(feasible, func(p placement.Peer) uint64 { return p.MemoryBytes }, n.WorkerMemory, "memory",
		fmt.Sprintf("weights %s × %d copies: weights in, network, gradients, %s state, output; batch activations %s%s; plus 20%% for the Go runtime",
			human(n.WeightBytes), n.WorkerCopies, spec.InnerOptimizer.Kind, human(n.ActivationBytes), shard), fix); err != nil {
		errs = append(errs, err)
	}
	if err := admitWorkers(feasible, func(p placement.Peer) uint64 { return p.DiskFree }, n.WorkerStorage, "free disk",
		fmt.Sprintf("weights in and output %s each, shard %s", human(n.WeightBytes), human(n.WorkerStorage-2*n.WeightBytes)),
		"shrink the model or the shards"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// admitWorkers refuses when every worker that advertises the resource has
// less than need, and none leaves it unknown.
func admitWorkers(workers []placement.Peer, has func(placement.Peer) uint64, need uint64, what, parts, fix string) error {
	var best uint64
	for _, w := range workers {
		v := has(w)
		if v == 0 || v >= need {
			return nil // unknown, or fits: someone may run it
		}
		best = max(best, v)
	}
	if len(workers) == 0 {
		return nil
	}
	return jobspec.FieldErr("model", "needs about %s of %s on a worker (%s) but the largest of the %d workers that run it has %s; %s",
		human(need), what, parts, len(workers), human(best), fix)
}

// Estimate returns what spec takes with tasklets tasklets per round (when
// the spec says auto: one per worker, at most one per training shard, at
// least one) and the dataset's shard sizes, where known.
func Estimate(spec *jobspec.Spec, lim Limits, workers int, ds DatasetInfo) Need {
	if spec.Model == nil {
		return Need{}
	}
	m := spec.Model
	dims := []int{m.Inputs}
	if m.Kind == jobspec.ModelMLP {
		dims = append(dims, m.Hidden...)
	}
	dims = append(dims, m.Classes)
	var params, largest, acts, wT uint64
	batch := uint64(max(spec.BatchSize, 1))
	acts += uint64(dims[0]) * batch // the first layer's transposed input
	for l := 0; l+1 < len(dims); l++ {
		in, out := uint64(dims[l]), uint64(dims[l+1])
		params += in*out + out
		largest = max(largest, in*out)
		acts += batch*in + 2*batch*out // inB, zT, dzT
		if l > 0 {
			wT += in * out
		}
	}
	if m.Kind == jobspec.ModelCNN {
		// The convolutions' buffers (unrolled inputs, per-position
		// activations) dwarf the rest: the trainer counts them itself. The
		// largest tensor is bounded by all the parameters.
		tm := contractModel(m).Trainer()
		if tm.Validate() == nil {
			params = uint64(tm.NumParams())
			largest = params
			acts, wT = uint64(tm.BatchBuffers(int(batch))), 0
		}
	}
	shards := len(ds.Train)
	if shards == 0 {
		shards = jobspec.MaxTasklets
	}
	n := Need{WeightBytes: 4 * params, Tasklets: spec.TaskletsFor(max(workers, 1), shards)}
	w := n.WeightBytes

	var shard, val uint64
	for _, c := range ds.Train {
		shard = max(shard, ds.Bytes[c])
	}
	for _, c := range ds.Validation {
		val = max(val, ds.Bytes[c])
	}

	// Coordinator: global + momentum + outputs + one being decoded + next,
	// and mean64's and nesterov's float64 buffers (8 bytes per value of the
	// largest tensor each); evaluation afterwards is smaller.
	copies := uint64(n.Tasklets) + 4
	live := copies*w + 16*largest + decodedShard(val)
	n.CoordinatorCopies = float64(live) / float64(max(w, 1))
	n.CoordinatorMemory = withHeadroom(live)
	n.StorageCopies = 2*keepRounds(lim) + n.Tasklets
	n.CoordinatorStorage = uint64(n.StorageCopies) * w

	// Worker: weights file + decoded + network weights + gradients +
	// optimizer state + output; the transposed weights of upper layers and
	// the activations; the shard as read and decoded.
	opt := 1 // sgd's velocity (allocated even at momentum 0)
	if spec.InnerOptimizer.Kind == jobspec.OptimizerAdam {
		opt = 2
	}
	n.WorkerCopies = 5 + opt
	n.ActivationBytes = 4 * (acts + wT)
	n.ShardMemoryBytes = decodedShard(shard)
	n.WorkerMemory = withHeadroom(uint64(n.WorkerCopies)*w + n.ActivationBytes + n.ShardMemoryBytes)
	n.WorkerStorage = 2*w + shard
	return n
}

// withHeadroom adds what the Go runtime takes beyond the live data: garbage
// not yet collected, its own structures. A process that aggregates like the
// coordinator peaked at 1.11–1.26× the live figure
// (TestAdmitEstimateAgainstPeak); the 170,000-class job, at 1.16×.
func withHeadroom(live uint64) uint64 { return live + live/5 }

// decodedShard bounds what a shard of b bytes takes once read and
// decoded: the file, its images as floats when stored as floats (U8
// images are used in place: trainer.Data.X8 is the file's bytes) and its
// labels as int32 (four bytes per stored byte at most). 5× is the worst
// case, a shard of U8 labels alone; a U8 image shard takes about 1×, an
// F32 one about 2×.
func decodedShard(b uint64) uint64 { return 5 * b }

func keepRounds(lim Limits) int {
	if lim.KeepRounds > 0 {
		return lim.KeepRounds
	}
	return DefaultKeepRounds
}

// human writes bytes in decimal units with one decimal: "7.4 GB".
func human(b uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB"}
	v, i := float64(b), 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", b)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
