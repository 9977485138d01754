package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
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
			"compute efficiency 0.50: 4000 samples are 10.0 core-seconds at 400 samples/s per core (the job's training step timed alone); the job took 10.0 s on 2 cores\n" +
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

// TestDemoSpec: the job the demo submits is the example with the dataset's
// CID, --inner-steps in place of its inner_steps, and the verify block;
// the daemon's own parser accepts it.
func TestDemoSpec(t *testing.T) {
	const ds = "bafybeiax3qvjqatf55xcna4hu5ue4guyoc6szxutkpjyyf7fyqkhlf2hki"
	exampleYAML := strings.ReplaceAll(string(jobs.MNISTMLP), jobs.Placeholder, ds)
	example, err := jobspec.Parse([]byte(exampleYAML))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		innerSteps int
		verify     string
		wantSteps  int
		wantRate   float64
	}{
		{"the example as it is", 0, "", example.InnerSteps, example.Verify.Rate},
		{"more inner steps", 2000, "", 2000, example.Verify.Rate},
		{"one step, checks off", 1, "\nverify:\n  rate: 0\n  min_rate_new_peers: 0\n", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml, err := demoSpec(ds, tt.innerSteps, tt.verify)
			if err != nil {
				t.Fatal(err)
			}
			s, err := jobspec.Parse([]byte(yaml))
			if err != nil {
				t.Fatalf("the daemon refuses the demo's spec: %v\n%s", err, yaml)
			}
			if s.Dataset.CID != ds || s.InnerSteps != tt.wantSteps || s.Verify.Rate != tt.wantRate {
				t.Errorf("spec has dataset %s, inner_steps %d, verify.rate %g; want %s, %d, %g",
					s.Dataset.CID, s.InnerSteps, s.Verify.Rate, ds, tt.wantSteps, tt.wantRate)
			}
			if tt.innerSteps == 0 && yaml != exampleYAML+tt.verify {
				t.Error("without --inner-steps the spec is not the example file with its dataset")
			}
		})
	}
}

// TestJobCoreSpeed: the demo times the job's own training from the spec
// the coordinator recorded, and says so when that spec cannot be read.
func TestJobCoreSpeed(t *testing.T) {
	yaml := strings.Replace(string(jobs.MNISTMLP), "REPLACE_WITH_DATASET_CID", "bafybeiax3qvjqatf55xcna4hu5ue4guyoc6szxutkpjyyf7fyqkhlf2hki", -1)
	spec, err := jobspec.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	canon, err := spec.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	speed, err := jobCoreSpeed(context.Background(), &scheduler.Job{ID: "mnist-mlp-1", Spec: canon})
	if err != nil || speed <= 0 {
		t.Errorf("jobCoreSpeed = %v, %v; want a speed above 0", speed, err)
	}
	_, err = jobCoreSpeed(context.Background(), &scheduler.Job{ID: "broken-1", Spec: []byte(`{"version":1}`)})
	if err == nil || !strings.Contains(err.Error(), "job broken-1: reading its spec") {
		t.Errorf("jobCoreSpeed of a broken spec: err = %v, want one naming the job and its spec", err)
	}
}
