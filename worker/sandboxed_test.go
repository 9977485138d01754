package worker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
	"github.com/gridswarm/gridswarm/worker/process"
	"github.com/gridswarm/gridswarm/worker/wasm"
)

// A program's exit statuses 2 and 3 reach the coordinator as the
// contract's failure reasons; other failures stay as they were.
func TestProgramFailure(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		err    error
		reason string
	}{
		"wasm bad input":   {2, &wasm.ExitError{Code: 2, StderrTail: "params.json: steps"}, contract.FailBadInput},
		"process diverged": {3, &process.ExitError{Code: 3}, contract.FailDiverged},
		"crash":            {1, &process.ExitError{Code: 1}, ""},
		"signal":           {-1, &process.ExitError{Code: -1}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := programFailure(tc.status, tc.err)
			var f *tasklet.FailedError
			switch {
			case tc.reason == "" && err != tc.err:
				t.Errorf("programFailure = %v, want the error unchanged", err)
			case tc.reason != "" && (!errors.As(err, &f) || f.Reason != tc.reason || f.Detail != tc.err.Error()):
				t.Errorf("programFailure = %#v, want reason %s with the error as detail", err, tc.reason)
			}
		})
	}
}

// The worker checks a program's outputs before it signs for them.
func TestCheckProgramOutput(t *testing.T) {
	m := trainer.Model{Kind: "softmax", Inputs: 4, Classes: 2}
	w, err := trainer.Init(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := contract.EncodeParams(w)
	short, _ := contract.EncodeParams(w[:1])
	for name, tc := range map[string]struct {
		delta   []byte
		metrics string
		want    string
	}{
		"honest":        {wb, `{"loss": 0.5, "samples": 64, "steps": 1}`, ""},
		"no metrics":    {wb, "", "wrote no metrics.json"},
		"nan loss":      {wb, `{"loss": NaN, "samples": 64, "steps": 1}`, "is not a JSON object"},
		"missing steps": {wb, `{"loss": 0.5, "samples": 64}`, `lacks "steps"`},
		"short delta":   {short, `{"loss": 0.5, "samples": 64, "steps": 1}`, "lacks tensor"},
		"no delta":      {nil, `{"loss": 0.5, "samples": 64, "steps": 1}`, "wrote no delta.safetensors"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			weights := filepath.Join(dir, contract.ProgramWeights)
			out := filepath.Join(dir, "out")
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
			write := func(p string, b []byte) {
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write(weights, wb)
			if tc.delta != nil {
				write(filepath.Join(out, contract.ProgramDelta), tc.delta)
			}
			if tc.metrics != "" {
				write(filepath.Join(out, contract.ProgramMetrics), []byte(tc.metrics))
			}
			met, err := checkProgramOutput(weights, out)
			switch {
			case tc.want == "" && (err != nil || met.Samples != 64):
				t.Errorf("checkProgramOutput = %+v, %v; want the metrics", met, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, contract.ErrContract)):
				t.Errorf("checkProgramOutput err = %v, want a contract error saying %q", err, tc.want)
			}
		})
	}
}
