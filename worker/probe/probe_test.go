package probe

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRealNVML probes this machine with the real library. It passes with
// and without a driver, but what it finds must be consistent: no GPU comes
// with a reason, every GPU has an identity and memory.
func TestRealNVML(t *testing.T) {
	p, err := Run(context.Background(), Options{RepoDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	js, _ := json.MarshalIndent(p, "", "  ")
	t.Logf("probe: %s", js)
	if _, err := os.Stat("/proc/driver/nvidia/version"); err != nil && (len(p.GPUs) != 0 || p.NoGPUReason == "") {
		t.Errorf("no NVIDIA kernel driver, yet GPUs = %d and NoGPUReason = %q; want none and a reason", len(p.GPUs), p.NoGPUReason)
	}
	if (len(p.GPUs) == 0) != (p.NoGPUReason != "") {
		t.Errorf("%d GPUs with NoGPUReason %q: want a reason exactly when there is no GPU", len(p.GPUs), p.NoGPUReason)
	}
	for _, g := range p.GPUs {
		if g.UUID == "" || g.MemoryTotal == 0 || g.MemoryFree > g.MemoryTotal {
			t.Errorf("GPU%d: UUID %q, memory %d of %d free: want a UUID and 0 < free <= total", g.Index, g.UUID, g.MemoryFree, g.MemoryTotal)
		}
	}
	if p.CPUCores != runtime.NumCPU() || p.DiskFree == 0 {
		t.Errorf("CPUCores = %d, DiskFree = %d; want %d and > 0", p.CPUCores, p.DiskFree, runtime.NumCPU())
	}
	if runtime.GOOS == "linux" && (p.MemoryTotal == 0 || p.MemoryAvailable > p.MemoryTotal) {
		t.Errorf("memory %d of %d available: want 0 < available <= total", p.MemoryAvailable, p.MemoryTotal)
	}
}

func TestRunErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		dir  string
		want string
	}{
		{"missing repo dir", context.Background(), filepath.Join(t.TempDir(), "nope"), "probe free disk space of"},
		{"canceled", canceled, t.TempDir(), "context canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(tc.ctx, Options{RepoDir: tc.dir})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseMeminfo(t *testing.T) {
	const full = "MemTotal:       16318480 kB\nMemFree:         1000000 kB\nMemAvailable:   12000000 kB\nBuffers:          2 kB\n"
	tests := []struct {
		name             string
		in               string
		wantTot, wantAva uint64
		wantErr          string
	}{
		{"full", full, 16318480 * 1024, 12000000 * 1024, ""},
		{"old kernel without MemAvailable", "MemTotal: 2048 kB\nMemFree: 1024 kB\n", 2048 * 1024, 1024 * 1024, ""},
		{"no MemTotal", "MemFree: 1 kB\n", 0, 0, "no MemTotal"},
		{"garbage number", "MemTotal: lots kB\n", 0, 0, "want a number of kB"},
		{"wrong unit", "MemTotal: 12 MB\n", 0, 0, "want a number of kB"},
		{"overflow", "MemTotal: 18446744073709551615 kB\n", 0, 0, "overflows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tot, ava, err := parseMeminfo(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || tot != tc.wantTot || ava != tc.wantAva {
				t.Fatalf("got %d, %d, %v; want %d, %d, nil", tot, ava, err, tc.wantTot, tc.wantAva)
			}
		})
	}
}
