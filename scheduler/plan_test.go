package scheduler

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

func TestPlanRoundWalksShards(t *testing.T) {
	spec := &jobspec.Spec{Seed: 7}
	shards := []string{"s0", "s1", "s2", "s3", "s4"}
	tests := []struct {
		round, n int
		want     []string
	}{
		{0, 2, []string{"s0", "s1"}},
		{1, 2, []string{"s2", "s3"}},
		{2, 2, []string{"s4", "s0"}},
		{0, 7, []string{"s0", "s1", "s2", "s3", "s4", "s0", "s1"}},
	}
	for _, tt := range tests {
		got := PlanRound(spec, tt.round, tt.n, shards)
		for i, tk := range got {
			if tk.Shard != tt.want[i] || tk.State != TaskPending || tk.Index != i {
				t.Errorf("round %d tasklet %d = %+v, want shard %s pending", tt.round, i, tk, tt.want[i])
			}
			if tk.Seed != TaskletSeed(7, tt.round, i) {
				t.Errorf("round %d tasklet %d seed is not derived from job, round and index", tt.round, i)
			}
		}
	}
	if TaskletSeed(7, 0, 1) == TaskletSeed(7, 1, 0) || TaskletSeed(7, 0, 0) == TaskletSeed(8, 0, 0) {
		t.Error("tasklet seeds collide across rounds, indexes or jobs")
	}
}

func TestEventCountsTheRound(t *testing.T) {
	done := time.Unix(100, 0)
	j := &Job{ID: "j", Status: StatusRunning, Round: 1, Rounds: []Round{
		{Index: 0, Started: time.Unix(90, 0), Finished: &done, Loss: 0.5, ValAccuracy: 0.9},
		{Index: 1, Tasklets: []Tasklet{
			{State: TaskDone, Attempts: []Attempt{{Outcome: "declined: busy"}, {Outcome: "done"}}},
			{State: TaskRunning, Attempts: []Attempt{{Outcome: "running"}}},
			{State: TaskPending},
		}},
	}}
	ev := eventOf(j, 4)
	want := Event{JobID: "j", Status: StatusRunning, Round: 1, Rounds: 4, Tasklets: 3, Placed: 2, Running: 1, Done: 1, Failed: 1, Loss: 0.5, ValAccuracy: 0.9, Validated: 1, ETASeconds: 30}
	if ev != want {
		t.Errorf("eventOf = %+v\nwant      %+v", ev, want)
	}

	// Round 2 finished, its validation still running beside round 3: the
	// figures stay round 1's, named so; the ETA counts both rounds.
	done2 := time.Unix(110, 0)
	j.Round = 2
	j.Rounds[1].Started, j.Rounds[1].Finished, j.Rounds[1].Loss, j.Rounds[1].Validating = done, &done2, 0.4, true
	j.Rounds = append(j.Rounds, Round{Index: 2})
	ev = eventOf(j, 4)
	if ev.Loss != 0.5 || ev.ValAccuracy != 0.9 || ev.Validated != 1 || ev.ETASeconds != 20 {
		t.Errorf("while round 2 validates: loss %v, val accuracy %v of round %d, ETA %v; want 0.5, 0.9 of round 1, ETA 20",
			ev.Loss, ev.ValAccuracy, ev.Validated, ev.ETASeconds)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &Job{ID: "a-1", Name: "a", Status: StatusRunning, Submitted: time.Unix(1, 0).UTC(), Spec: []byte(`{"version":1}`)}
	b := &Job{ID: "b-2", Name: "b", Status: StatusDone, Submitted: time.Unix(2, 0).UTC(), Spec: []byte(`{"version":1}`)}
	for _, j := range []*Job{a, b} {
		if err := s.Save(j); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].ID != "b-2" {
		t.Fatalf("List = %v, %v; want b-2 then a-1", list, err)
	}
	for _, bad := range []string{"nope", "../a-1", ""} {
		if _, err := s.Load(bad); !errors.Is(err, ErrNoJob) {
			t.Errorf("Load(%q) = %v, want ErrNoJob", bad, err)
		}
	}
}

func TestAvailableWorkers(t *testing.T) {
	w := func(id string, idle bool, ex ...string) placement.Peer {
		return placement.Peer{ID: id, Idle: idle, Executors: ex}
	}
	tests := []struct {
		name  string
		peers []placement.Peer
		want  int
	}{
		{"none known", nil, 0},
		{"all idle", []placement.Peer{w("a", true, "builtin"), w("b", true, "builtin")}, 2},
		{"one over quota", []placement.Peer{w("a", true, "builtin"), w("b", true, "builtin"), w("c", false, "builtin")}, 2},
		{"other executor", []placement.Peer{w("a", true, "wasm"), w("b", true, "builtin")}, 1},
		{"all paused keeps the usual size", []placement.Peer{w("a", false, "builtin"), w("b", false, "builtin")}, 2},
	}
	for _, tt := range tests {
		if got := availableWorkers(tt.peers, "builtin"); got != tt.want {
			t.Errorf("%s: availableWorkers = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// The cnn example job reaches the worker's params and the coordinator's
// model with its image and stages, and both agree.
func TestBuiltinParamsCarryTheCNN(t *testing.T) {
	spec, err := jobspec.Parse(examplesCNN(t))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := BuiltinParams(spec)
	if err != nil {
		t.Fatal(err)
	}
	p, err := contract.ParseParams(raw)
	if err != nil {
		t.Fatalf("the worker cannot read the params %s: %v", raw, err)
	}
	worker, coord := p.Model.Trainer(), modelOf(spec)
	if worker.Kind != trainer.KindCNN || len(worker.Conv) != 2 || worker.Conv[1].Filters != 32 || worker.Image.Height != 28 {
		t.Fatalf("worker's model = %+v", worker)
	}
	if worker.NumParams() != coord.NumParams() || worker.NumParams() != 16*25+16+32*16*25+32+1568*128+128+128*10+10 {
		t.Errorf("worker's model has %d parameters, coordinator's %d", worker.NumParams(), coord.NumParams())
	}
}

func examplesCNN(t *testing.T) []byte {
	t.Helper()
	b := bytes.ReplaceAll(jobs.MNISTCNN, []byte(jobs.Placeholder), []byte("bafybeiax3qvjqatf55xcna4hu5ue4guyoc6szxutkpjyyf7fyqkhlf2hki"))
	return b
}
