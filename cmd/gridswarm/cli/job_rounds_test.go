package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/scheduler"
)

// Rounds are numbered from 1 wherever a person reads them; JSON keeps the
// 0-based index.
func TestRoundNumber(t *testing.T) {
	tests := []struct{ round, rounds, want int }{
		{0, 10, 1},
		{9, 10, 10},
		{10, 10, 10}, // done: stays at the last round
		{3, 0, 4},    // rounds unknown
	}
	for _, tt := range tests {
		if got := roundNumber(tt.round, tt.rounds); got != tt.want {
			t.Errorf("roundNumber(%d, %d) = %d, want %d", tt.round, tt.rounds, got, tt.want)
		}
	}
}

// job watch names the round in progress from 1 and labels the loss with
// the round it belongs to; between rounds it says so instead of 0/0.
func TestEventLine(t *testing.T) {
	tests := []struct {
		name    string
		ev      scheduler.Event
		want    []string
		notWant []string
	}{
		{"first round", scheduler.Event{Status: scheduler.StatusRunning, Round: 0, Rounds: 10, Tasklets: 4, Done: 1, Running: 3},
			[]string{"round 1/10 ", "tasklets 1/4 done, 3 running"}, []string{"round 0", "loss"}},
		{"second round, first's loss", scheduler.Event{Status: scheduler.StatusRunning, Round: 1, Rounds: 10, Tasklets: 4, Loss: 0.5, ValAccuracy: 0.9, Validated: 1},
			[]string{"round 2/10 ", "round 1: loss 0.5000  val acc 90.00%"}, []string{"round 0"}},
		{"third round, second still validating", scheduler.Event{Status: scheduler.StatusRunning, Round: 2, Rounds: 10, Tasklets: 4, Loss: 0.5, ValAccuracy: 0.9, Validated: 1},
			[]string{"round 3/10 ", "round 1: loss 0.5000  val acc 90.00%"}, []string{"round 2:"}},
		{"between rounds", scheduler.Event{Status: scheduler.StatusRunning, Round: 2, Rounds: 10, Loss: 0.4, Validated: 2},
			[]string{"round 3/10 ", "planning", "round 2: loss 0.4000"}, []string{"0/0", "tasklets"}},
		{"final test", scheduler.Event{Status: scheduler.StatusRunning, Round: 10, Rounds: 10, Loss: 0.1, Validated: 10},
			[]string{"round 10/10 ", "testing the final model", "round 10: loss 0.1000"}, []string{"planning", "0/0"}},
		{"done", scheduler.Event{Status: scheduler.StatusDone, Round: 10, Rounds: 10, Loss: 0.1, Validated: 10},
			[]string{"round 10/10 [████████████████████]", "round 10: loss 0.1000"}, []string{"11", "planning", "0/0"}},
	}
	for _, tt := range tests {
		got := eventLine(tt.ev)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: eventLine = %q, want %q in it", tt.name, got, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: eventLine = %q, want no %q in it", tt.name, got, w)
			}
		}
	}
}

// job show numbers the rounds 1..N, as job watch and job plot do.
func TestPrintJobNumbersRoundsFromOne(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	end := start.Add(2 * time.Second)
	j := &scheduler.Job{ID: "j", Name: "n", Status: scheduler.StatusRunning, Spec: []byte(`{"rounds":2}`), Round: 1,
		Rounds: []scheduler.Round{
			{Index: 0, Weights: "w0", Started: start, Finished: &end, Loss: 0.5},
			{Index: 1, Weights: "w1", Started: end},
		}}
	var b strings.Builder
	printJob(&b, j)
	out := b.String()
	for _, w := range []string{"round    2 of 2\n", "\nround 1  weights w0  loss 0.5000", "\nround 2  weights w1\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("job show printed:\n%s\nwant %q in it", out, w)
		}
	}
	if strings.Contains(out, "round 0") {
		t.Errorf("job show printed a round 0:\n%s", out)
	}
}
