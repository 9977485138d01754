package cli

import (
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/worker"
)

// TestWorkerStatusPrefetch: worker status shows the prefetches once there
// are any, and no line before.
func TestWorkerStatusPrefetch(t *testing.T) {
	tests := []struct {
		p    tasklet.PrefetchStats
		want string
	}{
		{tasklet.PrefetchStats{}, ""},
		{tasklet.PrefetchStats{Done: 7, Failed: 1, Skipped: 2}, "prefetch    7 done, 1 failed, 2 skipped (next rounds' data, fetched while training)\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		printWorkerStatus(&b, &worker.Status{Idle: true, Prefetch: tt.p})
		var got string
		for _, line := range strings.SplitAfter(b.String(), "\n") {
			if strings.HasPrefix(line, "prefetch") {
				got += line
			}
		}
		if got != tt.want {
			t.Errorf("printWorkerStatus with %+v: prefetch line %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestIdleWhy(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"over-quota: a tasklet needs 4.2 MiB but only 1.0 MiB …", "over-quota"},
		{"unwritable: cannot write to /x: read-only file system", "unwritable"},
		{"paused by the contributor", "paused by the contributo…"},
		{"outside worker.hours: 22:00-07:00", "outside worker.hours: 22…"},
	}
	for _, tt := range tests {
		if got := idleWhy(tt.in); got != tt.want {
			t.Errorf("idleWhy(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTaskletSummaryLossIsTheReceipts(t *testing.T) {
	metrics := map[string]float64{"final_loss": 0.25, "steps": 40}
	local := localSummary(node.LocalResult{SpecCID: "bafyspec", OutputCID: "bafyout", Samples: 2560, Loss: 0.5, Metrics: metrics, Seconds: 1.5})
	var rc receipt.Receipt
	rc.OutputCID, rc.Samples, rc.ComputeMillis = "bafyout", 2560, 1200
	rc.SetLoss(0.5)
	offered := offerSummary("12D3KooWworker", node.OfferResult{SpecCID: "bafyspec", Receipt: rc, Loss: rc.Loss(), Metrics: metrics, Seconds: 2})

	tests := []struct {
		name  string
		s     taskletSummary
		first string
	}{
		{"local", local, "tasklet bafyspec ran here in 1.50 s"},
		{"offer", offered, "tasklet bafyspec ran on 12D3KooWworker in 2.00 s (1.20 s computing); receipt checked"},
	}
	var bodies []string
	for _, tt := range tests {
		var b strings.Builder
		printTaskletSummary(&b, tt.s)
		first, body, _ := strings.Cut(b.String(), "\n")
		if first != tt.first {
			t.Errorf("%s: first line %q, want %q", tt.name, first, tt.first)
		}
		for _, want := range []string{
			"output          bafyout\n",
			"samples         2560\n",
			"loss            0.5000  (mean over the tasklet's steps, as its receipt reports it)\n",
			"last step loss  0.2500\n",
			"steps           40\n",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: summary\n%s\nlacks %q", tt.name, body, want)
			}
		}
		if strings.Contains(body, "{") {
			t.Errorf("%s: summary holds JSON:\n%s", tt.name, body)
		}
		bodies = append(bodies, body)
	}
	if bodies[0] != bodies[1] {
		t.Errorf("a local run and an offer of the same result read differently:\n%s\nvs\n%s", bodies[0], bodies[1])
	}
}
