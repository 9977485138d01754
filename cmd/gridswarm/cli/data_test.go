package cli

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestWaitFlags(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		wantTimeout float64
		wantStall   float64
		wantErr     string
	}{
		{nil, 0, 0, ""},
		{[]string{"--stall", "30s"}, 0, 30, ""},
		{[]string{"--timeout", "2s"}, 2, 0, ""},
		{[]string{"--stall", "0s"}, 0, 0, "--stall 0s is not allowed"},
		{[]string{"--stall", "-5s"}, 0, 0, "--stall -5s is not allowed"},
		{[]string{"--timeout", "0s"}, 0, 0, "--timeout 0s is not allowed"},
	} {
		fs := pflag.NewFlagSet("data get", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		timeout := fs.Duration("timeout", 0, "")
		stall := fs.Duration("stall", 0, "")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got, err := waitFlags(fs.Changed, "data get", *timeout, *stall)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("waitFlags(%q) err = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.TimeoutSeconds != tc.wantTimeout || got.StallSeconds != tc.wantStall {
			t.Errorf("waitFlags(%q) = %+v, %v; want timeout %v s, stall %v s", tc.args, got, err, tc.wantTimeout, tc.wantStall)
		}
	}
}

func TestCallDeadline(t *testing.T) {
	ctx, cancel := callDeadline(t.Context(), 0, 0)
	defer cancel()
	if _, ok := ctx.Deadline(); ok {
		t.Error("no timeout and no default: want no deadline")
	}
	ctx2, cancel2 := callDeadline(t.Context(), 2, time.Minute)
	defer cancel2()
	if d, ok := ctx2.Deadline(); !ok || time.Until(d) > 33*time.Second {
		t.Errorf("2 s timeout: deadline in %v, want about 2 s plus the grace", time.Until(d))
	}
}
