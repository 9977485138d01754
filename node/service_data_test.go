package node

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/datagrid"
)

func TestWaitOptionsLimits(t *testing.T) {
	for _, tc := range []struct {
		name        string
		o           WaitOptions
		def         time.Duration
		wantTimeout time.Duration
		wantWait    datagrid.Wait
		wantErr     string
	}{
		{"defaults of ls", WaitOptions{}, time.Minute, time.Minute, datagrid.Wait{}, ""},
		{"defaults of get", WaitOptions{}, 0, 0, datagrid.Wait{}, ""},
		{"timeout also bounds the provider search", WaitOptions{TimeoutSeconds: 5}, time.Minute, 5 * time.Second, datagrid.Wait{FindWithin: 5 * time.Second}, ""},
		{"stall", WaitOptions{StallSeconds: 0.5}, 0, 0, datagrid.Wait{Stall: 500 * time.Millisecond}, ""},
		{"negative stall", WaitOptions{StallSeconds: -1}, 0, 0, datagrid.Wait{}, "stall_seconds -1 is not a positive"},
		{"negative timeout", WaitOptions{TimeoutSeconds: -3}, 0, 0, datagrid.Wait{}, "timeout_seconds -3 is not a positive"},
		{"NaN", WaitOptions{TimeoutSeconds: math.NaN()}, 0, 0, datagrid.Wait{}, "timeout_seconds NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout, w, err := waitLimits(tc.o, "data ls", tc.def)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || timeout != tc.wantTimeout || w != tc.wantWait {
				t.Errorf("limits = %s, %+v, %v; want %s, %+v", timeout, w, err, tc.wantTimeout, tc.wantWait)
			}
		})
	}
}

func TestWaitHint(t *testing.T) {
	noProv := &datagrid.WaitError{Op: "data ls", Kind: datagrid.ErrNoProvider, After: 30 * time.Second}
	stalled := &datagrid.WaitError{Op: "data get", Kind: datagrid.ErrStalled, After: time.Minute}
	other := errors.New("boom")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{noProv, "(to wait longer: gridswarm data ls --timeout 5m)"},
		{stalled, "--stall 5m"},
		{other, "boom"},
	} {
		got := waitHint("ls", tc.err)
		if !strings.Contains(got.Error(), tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("waitHint(%v) = %v, want it to wrap the error and say %q", tc.err, got, tc.want)
		}
	}
}
