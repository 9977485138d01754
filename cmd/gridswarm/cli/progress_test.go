package cli

import (
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	p := &progressBar{label: "add", width: 10}
	tests := []struct {
		done, total int64
		elapsed     time.Duration
		want        []string
	}{
		{0, 100 << 20, time.Second, []string{"[··········]", "0%", "ETA --"}},
		{50 << 20, 100 << 20, 2 * time.Second, []string{"[█████·····]", "50%", "50.0 MiB / 100.0 MiB", "25.0 MiB/s", "ETA 2s"}},
		{100 << 20, 100 << 20, 4 * time.Second, []string{"[██████████]", "100%", "ETA 0s"}},
		{3 << 10, 0, time.Second, []string{"3.0 KiB", "3.0 KiB/s"}},
	}
	for _, tt := range tests {
		got := p.line(tt.done, tt.total, tt.elapsed)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("line(%d, %d, %s) = %q, want it to contain %q", tt.done, tt.total, tt.elapsed, got, w)
			}
		}
	}
}
