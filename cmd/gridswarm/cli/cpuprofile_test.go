package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartCPUProfile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		value   string
		want    string // the profile file, "" for none
		wantErr string
	}{
		{"unset", "", "", ""},
		{"file", filepath.Join(dir, "one.pprof"), filepath.Join(dir, "one.pprof"), ""},
		{"folder", dir, filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", os.Getpid())), ""},
		{"no such folder", filepath.Join(dir, "missing", "x.pprof"), "", "GRIDSWARM_CPUPROFILE: cannot create the CPU profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stop, err := startCPUProfile(func(k string) string {
				if k == cpuProfileEnv {
					return tt.value
				}
				return ""
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("startCPUProfile(%q) = %v, want an error containing %q", tt.value, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("startCPUProfile(%q): %v", tt.value, err)
			}
			if err := stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if tt.want == "" {
				return
			}
			st, err := os.Stat(tt.want)
			if err != nil || st.Size() == 0 {
				t.Errorf("profile %s: %v, size %d; want a written profile", tt.want, err, sizeOf(st))
			}
		})
	}
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return -1
	}
	return st.Size()
}
