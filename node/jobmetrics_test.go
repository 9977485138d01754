package node

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/scheduler"
)

type countLog struct{ lines []string }

func (c *countLog) JobFinished(s string) { c.lines = append(c.lines, "job "+s) }
func (c *countLog) RoundEnded(s string)  { c.lines = append(c.lines, "round "+s) }
func (c *countLog) Attempt(e, o string, d time.Duration) {
	c.lines = append(c.lines, "attempt "+e+" "+o+" "+d.String())
}
func (c *countLog) Placed()            { c.lines = append(c.lines, "placed") }
func (c *countLog) SpotCheck(v string) { c.lines = append(c.lines, "check "+v) }
func (c *countLog) Mismatch()          { c.lines = append(c.lines, "mismatch") }
func (c *countLog) Filtered(r string)  { c.lines = append(c.lines, "filtered "+r) }

func testJob(rounds int) *scheduler.Job {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(2 * time.Second)
	j := &scheduler.Job{ID: "j1", Spec: []byte(`{"executor":"wasm"}`)}
	for i := range rounds {
		j.Rounds = append(j.Rounds, scheduler.Round{Index: i, Filtered: map[string]string{"p3": "not idle: paused"},
			Tasklets: []scheduler.Tasklet{{Attempts: []scheduler.Attempt{
				{Peer: "p1", Started: t0, Outcome: "declined: busy", Ended: &t0},
				{Peer: "p2", Started: t0, Outcome: "done", Ended: &t1},
			}}}})
	}
	return j
}

func TestJobTracker(t *testing.T) {
	tests := []struct {
		name   string
		events []scheduler.Event
		job    *scheduler.Job
		want   []string
	}{
		{
			name:   "a round ends",
			events: []scheduler.Event{{JobID: "j1", Status: "running", Round: 0}, {JobID: "j1", Status: "running", Round: 0}, {JobID: "j1", Status: "running", Round: 1}},
			job:    testJob(2),
			want:   []string{"placed", "attempt wasm declined: busy 0s", "placed", "attempt wasm done 2s", "filtered not idle: paused", "round done"},
		},
		{
			name:   "the job is cancelled mid-round",
			events: []scheduler.Event{{JobID: "j1", Status: "running", Round: 0}, {JobID: "j1", Status: "cancelled", Round: 0}, {JobID: "j1", Status: "cancelled", Round: 0}},
			job:    testJob(1),
			want:   []string{"placed", "attempt wasm declined: busy 0s", "placed", "attempt wasm done 2s", "filtered not idle: paused", "round cancelled", "job cancelled"},
		},
		{
			name:   "the job finishes",
			events: []scheduler.Event{{JobID: "j1", Status: "running", Round: 0}, {JobID: "j1", Status: "done", Round: 1}},
			job:    testJob(1),
			want:   []string{"placed", "attempt wasm declined: busy 0s", "placed", "attempt wasm done 2s", "filtered not idle: paused", "round done", "job done"},
		},
		{
			name:   "a spot check decided after a mismatch",
			events: []scheduler.Event{{JobID: "j1", Status: "running", Round: 0}, {JobID: "j1", Status: "running", Round: 1}},
			job: func() *scheduler.Job {
				j := testJob(1)
				j.Rounds[0].Tasklets[0].Check = &scheduler.SpotCheck{Need: 3, Outcome: "odd-one-out"}
				j.Rounds[0].Filtered = nil
				return j
			}(),
			want: []string{"check odd-one-out", "mismatch", "placed", "attempt wasm declined: busy 0s", "placed", "attempt wasm done 2s", "round done"},
		},
		{
			name:   "the first event after a restart is only a baseline",
			events: []scheduler.Event{{JobID: "j1", Status: "done", Round: 1}},
			job:    testJob(1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c countLog
			tr := newJobTracker(&c, &c, func(id string) (*scheduler.Job, error) { return tt.job, nil })
			for _, ev := range tt.events {
				tr.observe(ev)
			}
			if !reflect.DeepEqual(c.lines, tt.want) {
				t.Errorf("counted\n%s\nwant\n%s", strings.Join(c.lines, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(tr.seen) != 0 && ended(tt.events[len(tt.events)-1].Status) {
				t.Errorf("an ended job is still tracked")
			}
		})
	}
}

func TestJobTrackerJobGone(t *testing.T) {
	var c countLog
	tr := newJobTracker(&c, &c, func(string) (*scheduler.Job, error) { return nil, errors.New("no such job") })
	tr.observe(scheduler.Event{JobID: "j", Status: "running"})
	tr.observe(scheduler.Event{JobID: "j", Status: "running", Round: 1})
	if len(c.lines) != 0 {
		t.Errorf("counted %v for a job that is gone", c.lines)
	}
}
