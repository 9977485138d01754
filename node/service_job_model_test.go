package node

import (
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/scheduler"
)

func TestModelOf(t *testing.T) {
	spec := []byte(`{"rounds": 10}`)
	tests := []struct {
		name    string
		job     scheduler.Job
		want    string
		wantErr string
	}{
		{"done: the final model", scheduler.Job{ID: "j", Status: scheduler.StatusDone, Round: 10, Weights: "w10", FinalModel: "final"}, "final", ""},
		{"cancelled after a round: its weights", scheduler.Job{ID: "j", Status: scheduler.StatusCancelled, Round: 3, Weights: "w3"}, "w3", ""},
		{"failed after a round: its weights", scheduler.Job{ID: "j", Status: scheduler.StatusFailed, Round: 2, Weights: "w2"}, "w2", ""},
		{"cancelled before any round: never", scheduler.Job{ID: "j", Status: scheduler.StatusCancelled, Round: 0, Weights: "w0"}, "",
			"job j was cancelled before any round completed: it has no model"},
		{"failed without weights: never", scheduler.Job{ID: "j", Status: scheduler.StatusFailed}, "",
			"job j failed before any round completed: it has no model"},
		{"running: not yet", scheduler.Job{ID: "j", Status: scheduler.StatusRunning, Round: 4, Weights: "w4", Spec: spec}, "",
			"job j has no final model yet (status running, round 5 of 10)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := modelOf(&tt.job)
			if got != tt.want {
				t.Errorf("model = %q, want %q", got, tt.want)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "yet") && tt.job.Status != scheduler.StatusRunning {
				t.Errorf("a %s job says %q: it never will have one", tt.job.Status, err)
			}
		})
	}
}
