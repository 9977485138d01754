package scheduler

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

// TestAdmitEstimateAgainstPeak compares Estimate's coordinator figure with
// the peak RSS of a process that does what aggregate does (decode the
// global weights, the momentum and n outputs read from files, the outer
// step, encode the result). It measures, it does not assert: run it with
//
//	GRIDSWARM_CALIBRATE=1 go test -run TestAdmitEstimateAgainstPeak -v ./scheduler/
func TestAdmitEstimateAgainstPeak(t *testing.T) {
	if os.Getenv("GRIDSWARM_CALIBRATE_CHILD") != "" {
		aggregateLikeTheCoordinator(t)
		return
	}
	if os.Getenv("GRIDSWARM_CALIBRATE") == "" {
		t.Skip("a measurement: set GRIDSWARM_CALIBRATE=1 to run it")
	}
	const classes = 17000
	for _, n := range []int{1, 4, 8} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestAdmitEstimateAgainstPeak$")
		cmd.Env = append(os.Environ(), "GRIDSWARM_CALIBRATE_CHILD=1",
			fmt.Sprintf("CAL_CLASSES=%d", classes), fmt.Sprintf("CAL_N=%d", n), "CAL_FILE="+filepath.Join(t.TempDir(), "w.safetensors"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		peak := uint64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) * 1024
		spec := &jobspec.Spec{Model: &jobspec.Model{Kind: jobspec.ModelSoftmax, Inputs: 784, Classes: classes}, TaskletsPerRound: jobspec.TaskletCount(n)}
		est := Estimate(spec, Limits{}, n, DatasetInfo{})
		live := uint64(est.CoordinatorCopies * float64(est.WeightBytes))
		t.Logf("softmax 784×%d, %d tasklets: live data %s, estimate %s, peak RSS %s: %.2f× live, %.2f× estimate", classes, n,
			human(live), human(est.CoordinatorMemory), human(peak), float64(peak)/float64(live), float64(peak)/float64(est.CoordinatorMemory))
	}
}

func aggregateLikeTheCoordinator(t *testing.T) {
	classes, _ := strconv.Atoi(os.Getenv("CAL_CLASSES"))
	n, _ := strconv.Atoi(os.Getenv("CAL_N"))
	file := os.Getenv("CAL_FILE")
	m := trainer.Model{Kind: trainer.KindSoftmax, Inputs: 784, Classes: classes}
	w0, err := trainer.Init(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := contract.EncodeParams(w0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	w0, b = nil, nil
	load := func() trainer.Params {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		p, err := contract.DecodeParams(b, m)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	global := load()
	locals := make([]trainer.Params, 0, n)
	for i := 0; i < n; i++ {
		locals = append(locals, load())
	}
	state := &trainer.OuterState{Momentum: load()}
	next, err := trainer.OuterStep(global, locals, state, 0.7, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := contract.EncodeParams(next); err != nil {
		t.Fatal(err)
	}
}
