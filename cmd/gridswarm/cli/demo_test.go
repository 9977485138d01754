package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler"
)

// The demo's --broken edits the config that init really writes.
func TestBreakQuotaShrinksAFreshRepo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := repo.Init(dir, repo.InitOptions{Profile: config.ProfileLocal, Passphrase: demoPassphrase}); err != nil {
		t.Fatal(err)
	}
	if err := breakQuota(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, repo.ConfigFile))
	if err != nil {
		t.Fatalf("the edited config does not load: %v", err)
	}
	if cfg.Datagrid.QuotaGiB != 0.002 {
		t.Errorf("quota_gib = %g after breakQuota, want 0.002", cfg.Datagrid.QuotaGiB)
	}
}

func TestPrintEfficiency(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	done := t0.Add(10 * time.Second)
	rc := func(samples, ms uint64) *receipt.Receipt {
		return &receipt.Receipt{Samples: samples, ComputeMillis: ms}
	}
	rounds := []scheduler.Round{
		{Tasklets: []scheduler.Tasklet{{Receipt: rc(1000, 3000)}, {Receipt: rc(1000, 3000)}}},
		{Tasklets: []scheduler.Tasklet{{Receipt: rc(1000, 3000)}, {Receipt: rc(1000, 2600)}, {}}}, // one never ran
	}
	finished := scheduler.Job{Submitted: t0, Finished: &done, Rounds: rounds}
	running := scheduler.Job{Submitted: t0, Rounds: rounds}
	tests := []struct {
		name          string
		job           scheduler.Job
		samplesPerSec float64
		cores         int
		want          string
	}{
		{"both figures", finished, 400, 2,
			"compute efficiency 0.50: 4000 samples are 10.0 core-seconds at 400 samples/s per core; the job took 10.0 s on 2 cores\n" +
				"workers' compute time 11.6 s by their receipts: 0.58 of wall time × cores (it counts time a tasklet waited for a core)\n"},
		{"receipts only without a throughput", finished, 0, 4,
			"workers' compute time 11.6 s by their receipts: 0.29 of wall time × cores (it counts time a tasklet waited for a core)\n"},
		{"nothing before the job finished", running, 400, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printEfficiency(&b, &tt.job, tt.samplesPerSec, tt.cores)
			if b.String() != tt.want {
				t.Errorf("printEfficiency wrote\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}
