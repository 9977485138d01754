package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"pgregory.net/rapid"
)

func TestReason(t *testing.T) {
	tests := []struct{ in, want string }{
		{"not idle: cpu busy 93%", "not_idle"},
		{"busy", "busy"},
		{"declined: busy: 2 of 2 slots", "declined"},
		{"Over-Quota: need 3 GiB", "over-quota"},
		{"", "unknown"},
		{"  ", "unknown"},
		{"ünïcode!", "ncode"},
		{strings.Repeat("x", 40), strings.Repeat("x", 32)},
	}
	for _, tt := range tests {
		if got := Reason(tt.in); got != tt.want {
			t.Errorf("Reason(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestReasonLabelSafe checks that any text becomes a short label value of
// lowercase letters, digits, '_' and '-', so a peer's free-text reason can
// never blow up a label's cardinality or break the exposition format.
func TestReasonLabelSafe(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		got := Reason(rapid.String().Draw(t, "reason"))
		if got == "" || len(got) > 32 {
			t.Fatalf("Reason gave %q", got)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				t.Fatalf("Reason gave %q with %q", got, r)
			}
		}
	})
}

func TestSetCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(reg, Sources{
		JobsByStatus: func() map[string]int { return map[string]int{"running": 2, "done": 1} },
		WorkerSlots:  func() (int, int) { return 1, 4 },
		Data:         func() DataStat { return DataStat{Blocks: 7, Pins: 3, ServedBytes: 1024} },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.Worker.Offer(true, "")
	s.Worker.Offer(false, "busy: 4 of 4 slots in use")
	s.Worker.Offer(false, "busy: 4 of 4 slots in use")
	s.Worker.Tasklet("builtin", nil, 1500*time.Millisecond)
	s.Worker.Tasklet("builtin", errors.New("boom"), 500*time.Millisecond)
	s.Jobs.Attempt("builtin", "done", time.Second)
	s.Jobs.Attempt("builtin", "declined: busy", 0)
	s.Jobs.Placed()
	s.Jobs.Filtered("not idle: paused")
	s.Jobs.RoundEnded("done")
	s.Jobs.JobFinished("done")
	s.Data.Added(4096)
	s.Data.Evicted(2)
	s.Verify.SpotCheck("verified")
	s.Settle.RootPosted(21000)

	tests := []struct {
		c    prometheus.Collector
		want float64
	}{
		{s.Worker.offers.WithLabelValues("declined", "busy"), 2},
		{s.Worker.offers.WithLabelValues("accepted", ""), 1},
		{s.Worker.tasklets.WithLabelValues("builtin", "error"), 1},
		{s.Worker.seconds.WithLabelValues("builtin"), 2},
		{s.Jobs.attempts.WithLabelValues("declined", "builtin"), 1},
		{s.Jobs.decisions.WithLabelValues("filtered", "not_idle"), 1},
		{s.Data.added, 4096},
		{s.Data.evictions, 2},
		{s.Settle.gas.WithLabelValues("post_root"), 21000},
	}
	for i, tt := range tests {
		if got := testutil.ToFloat64(tt.c); got != tt.want {
			t.Errorf("case %d: got %v, want %v", i, got, tt.want)
		}
	}
	const want = `
# HELP gridswarm_jobs Jobs this node coordinates, by status.
# TYPE gridswarm_jobs gauge
gridswarm_jobs{status="done"} 1
gridswarm_jobs{status="running"} 2
# HELP gridswarm_worker_slots_busy Worker slots running a tasklet now.
# TYPE gridswarm_worker_slots_busy gauge
gridswarm_worker_slots_busy 1
# HELP gridswarm_datagrid_served_bytes_total Bytes served to peers (bitswap).
# TYPE gridswarm_datagrid_served_bytes_total counter
gridswarm_datagrid_served_bytes_total 1024
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"gridswarm_jobs", "gridswarm_worker_slots_busy", "gridswarm_datagrid_served_bytes_total"); err != nil {
		t.Error(err)
	}
	// Every series follows the naming conventions (promlint).
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestTwoSetsTwoRegistries(t *testing.T) {
	// No global registry: two nodes in one process each get their own.
	for range 2 {
		if _, err := New(prometheus.NewRegistry(), Sources{}); err != nil {
			t.Fatalf("New: %v", err)
		}
	}
}
