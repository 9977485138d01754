package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/trainer"
)

func admitSpec(t *testing.T, model, extra string) *jobspec.Spec {
	t.Helper()
	y := fmt.Sprintf("version: 1\nname: admit\nmodel:\n%s\ndataset:\n  cid: bafybeiax3qvjqatf55xcna4hu5ue4guyoc6szxutkpjyyf7fyqkhlf2hki\n%s", model, extra)
	s, err := jobspec.Parse([]byte(y))
	if err != nil {
		t.Fatalf("spec: %v\n%s", err, y)
	}
	return s
}

const (
	softmaxHuge  = "  kind: softmax\n  inputs: 784\n  classes: 170000" // the 7.4 GB job
	softmaxMNIST = "  kind: softmax\n  inputs: 784\n  classes: 10"
	mlpMNIST     = "  kind: mlp\n  inputs: 784\n  hidden: [128]\n  classes: 10"
	cnnMNIST     = "  kind: cnn\n  inputs: 784\n  image: {channels: 1, height: 28, width: 28}\n  conv:\n    - {filters: 16, size: 5, padding: 2, pool: 2}\n    - {filters: 32, size: 5, padding: 2, pool: 2}\n  classes: 10"
)

// cnnMNISTParams counts cnnMNIST's parameters: two convolutions and the
// dense layer on 32×7×7 features.
const cnnMNISTParams = 16*25 + 16 + 32*16*25 + 32 + 32*7*7*10 + 10

func workers(n int, mem, disk uint64) []placement.Peer {
	out := make([]placement.Peer, n)
	for i := range out {
		out[i] = placement.Peer{ID: fmt.Sprintf("w%d", i), Executors: []string{"builtin"}, MemoryBytes: mem, DiskFree: disk}
	}
	return out
}

// headroom is the 20% Estimate adds to live data for the Go runtime.
func headroom(live uint64) uint64 { return live + live/5 }

func TestEstimate(t *testing.T) {
	tests := []struct {
		name                          string
		model, extra                  string
		workers                       int
		ds                            DatasetInfo
		weights, coord, worker, store uint64
		tasklets                      int
	}{
		{
			// 170000×784 + 170000 parameters; 4 tasklets: (4+4) copies and
			// 16 bytes per value of the weight matrix; adam: 7 copies and
			// 64×(784+784+2×170000)×4 bytes of activations.
			name: "issue's softmax, 4 workers, adam", model: softmaxHuge, extra: "inner_optimizer:\n  kind: adam\n  lr: 0.001\n", workers: 4,
			weights: 533_800_000, tasklets: 4,
			coord:  headroom(8*533_800_000 + 16*133_280_000),
			worker: headroom(7*533_800_000 + 4*(64*784+64*784+2*64*170000)),
			store:  (2*3 + 4) * 533_800_000,
		},
		{
			name: "issue's softmax, sgd, fixed 2 tasklets", model: softmaxHuge, extra: "tasklets_per_round: 2\ninner_optimizer:\n  kind: sgd\n  lr: 0.1\n", workers: 9,
			weights: 533_800_000, tasklets: 2,
			coord:  headroom(6*533_800_000 + 16*133_280_000),
			worker: headroom(6*533_800_000 + 4*(64*784+64*784+2*64*170000)),
			store:  (2*3 + 2) * 533_800_000,
		},
		{
			// Layer 1's transposed weights count as activations; shards
			// count five times (file + float32 images).
			name: "mlp with known shards", model: mlpMNIST, extra: "batch_size: 32\ninner_optimizer:\n  kind: sgd\n  lr: 0.1\n", workers: 3,
			ds:      DatasetInfo{Train: []string{"a", "b"}, Validation: []string{"v"}, Bytes: map[string]uint64{"a": 1000, "b": 2000, "v": 500}},
			weights: 4 * (784*128 + 128 + 128*10 + 10), tasklets: 2,
			coord:  headroom(6*4*(784*128+128+128*10+10) + 16*784*128 + 5*500),
			worker: headroom(6*4*(784*128+128+128*10+10) + 4*(32*784+32*784+2*32*128+32*128+2*32*10+128*10) + 5*2000),
			store:  (2*3 + 2) * 4 * (784*128 + 128 + 128*10 + 10),
		},
	}
	cnnActs := uint64(trainer.Model{Kind: trainer.KindCNN, Inputs: 784, Classes: 10, Image: trainer.Image{Channels: 1, Height: 28, Width: 28},
		Conv: []trainer.Conv{{Filters: 16, Size: 5, Padding: 2, Pool: 2}, {Filters: 32, Size: 5, Padding: 2, Pool: 2}}}.BatchBuffers(32))
	tests = append(tests, struct {
		name                          string
		model, extra                  string
		workers                       int
		ds                            DatasetInfo
		weights, coord, worker, store uint64
		tasklets                      int
	}{
		// The convolutions' buffers come from the trainer, which checks
		// them against what it allocates; the largest tensor is bounded
		// by all the weights.
		name: "cnn", model: cnnMNIST, extra: "batch_size: 32\ninner_optimizer:\n  kind: sgd\n  lr: 0.1\n", workers: 2,
		weights: 4 * cnnMNISTParams, tasklets: 2,
		coord:  headroom(6*4*cnnMNISTParams + 16*cnnMNISTParams),
		worker: headroom(6*4*cnnMNISTParams + 4*cnnActs),
		store:  (2*3 + 2) * 4 * cnnMNISTParams,
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := Estimate(admitSpec(t, tt.model, tt.extra), Limits{}, tt.workers, tt.ds)
			if n.WeightBytes != tt.weights || n.Tasklets != tt.tasklets {
				t.Errorf("weights %d, tasklets %d; want %d, %d", n.WeightBytes, n.Tasklets, tt.weights, tt.tasklets)
			}
			if n.CoordinatorMemory != tt.coord {
				t.Errorf("coordinator memory = %d, want %d", n.CoordinatorMemory, tt.coord)
			}
			if n.WorkerMemory != tt.worker {
				t.Errorf("worker memory = %d, want %d", n.WorkerMemory, tt.worker)
			}
			if n.CoordinatorStorage != tt.store {
				t.Errorf("coordinator storage = %d, want %d", n.CoordinatorStorage, tt.store)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	const gb = 1_000_000_000
	adam := "inner_optimizer:\n  kind: adam\n  lr: 0.001\n"
	tests := []struct {
		name    string
		model   string
		lim     Limits
		workers []placement.Peer
		want    []string // substrings of the error; none: admitted
	}{
		{"small job, tight limits", softmaxMNIST, Limits{CoordinatorMemory: 64 << 20, CoordinatorStorage: 64 << 20}, workers(2, 1*gb, 1*gb), nil},
		{"no limits set", softmaxHuge, Limits{}, nil, nil},
		{"the issue's job on a 4 GB coordinator", softmaxHuge, Limits{CoordinatorMemory: 4 * gb}, workers(4, 0, 0),
			[]string{"model: needs about 7.7 GB on the coordinator", "weights 533.8 MB × 12 copies", "4 tasklet outputs", "coordinator.max_memory is 4.0 GB", "raise coordinator.max_memory"}},
		{"the issue's job on 2 GB workers", softmaxHuge, Limits{CoordinatorMemory: 64 * gb}, workers(3, 2*gb, 0),
			[]string{"needs about 4.6 GB of memory on a worker", "× 7 copies", "largest of the 3 workers that run it has 2.0 GB", "batch_size"}},
		{"one worker big enough", softmaxHuge, Limits{}, append(workers(3, 2*gb, 0), placement.Peer{ID: "big", Executors: []string{"builtin"}, MemoryBytes: 16 * gb}), nil},
		{"a worker of unknown memory may fit", softmaxHuge, Limits{}, append(workers(3, 2*gb, 0), placement.Peer{ID: "?", Executors: []string{"builtin"}}), nil},
		{"big workers that cannot run builtin do not count", softmaxHuge, Limits{},
			append(workers(1, 2*gb, 0), placement.Peer{ID: "wasm-only", Executors: []string{"wasm"}, MemoryBytes: 64 * gb}),
			[]string{"largest of the 1 workers that run it has 2.0 GB"}},
		{"storage: keep_rounds on a small quota", softmaxHuge, Limits{CoordinatorStorage: 4 * gb, KeepRounds: 3}, workers(2, 0, 0),
			[]string{"needs about 4.3 GB of data-grid storage on the coordinator", "× 8 copies", "3 kept rounds", "datagrid.quota_gib is 4.0 GB", "coordinator.keep_rounds"}},
		{"storage: fewer kept rounds fit", softmaxHuge, Limits{CoordinatorStorage: 4 * gb, KeepRounds: 1}, workers(2, 0, 0), nil},
		{"worker disk too small", softmaxHuge, Limits{}, workers(2, 0, 500_000_000), []string{"of free disk on a worker"}},
		{"both sides at once", softmaxHuge, Limits{CoordinatorMemory: gb}, workers(2, gb, 0), []string{"on the coordinator", "on a worker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Admit(admitSpec(t, tt.model, adam), tt.lim, tt.workers)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Admit = %v, want admitted", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Admit admitted the job, want an error with %q", tt.want)
			}
			if fes := jobspec.FieldErrors(err); len(fes) == 0 || fes[0].Path != "model" {
				t.Errorf("Admit = %v, want *jobspec.FieldError on model", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Admit = %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestAdmitSkipsJobsWithoutAModel(t *testing.T) {
	s := &jobspec.Spec{Executor: jobspec.ExecutorWasm}
	if err := Admit(s, Limits{CoordinatorMemory: 1}, nil); err != nil {
		t.Errorf("Admit(wasm job) = %v, want nil", err)
	}
	var fe *jobspec.FieldError
	if errors.As(Admit(nil, Limits{}, nil), &fe) {
		t.Error("Admit(nil) returned a field error")
	}
}
