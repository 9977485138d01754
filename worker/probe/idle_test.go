package probe

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

// gpus builds a sample: each spec is "util" or "util:pid,pid".
func gpus(specs ...string) []GPU {
	var out []GPU
	for i, s := range specs {
		g := GPU{Index: i, UUID: fmt.Sprintf("GPU-%d", i)}
		u, pids, _ := strings.Cut(s, ":")
		fmt.Sscan(u, &g.UtilizationGPU)
		for _, p := range strings.Split(pids, ",") {
			var pid uint32
			if _, err := fmt.Sscan(p, &pid); err == nil {
				g.Processes = append(g.Processes, GPUProcess{PID: pid})
			}
		}
		out = append(out, g)
	}
	return out
}

type idleStep struct {
	at         time.Duration // after t0
	sample     []GPU         // nil: no sample at this step
	wantOffer  []int
	wantReason string
}

func runSteps(t *testing.T, tr *IdleTracker, own map[uint32]bool, steps []idleStep) {
	t.Helper()
	for _, s := range steps {
		now := t0.Add(s.at)
		if s.sample != nil {
			tr.Observe(now, s.sample, own)
		}
		if got := tr.Offerable(now); !reflect.DeepEqual(got, s.wantOffer) {
			t.Errorf("at +%v: Offerable = %v, want %v", s.at, got, s.wantOffer)
		}
		if got := tr.Reason(now); got != s.wantReason {
			t.Errorf("at +%v: Reason =\n %q\nwant\n %q", s.at, got, s.wantReason)
		}
	}
}

func TestIdleTrackerTransitions(t *testing.T) {
	tr, err := NewIdleTracker(IdlePolicy{})
	if err != nil {
		t.Fatal(err)
	}
	own := map[uint32]bool{900: true, 901: true}
	runSteps(t, tr, own, []idleStep{
		{at: 0, wantReason: "no GPU sample yet"},
		{at: 0, sample: gpus("0", "0"),
			wantReason: "GPU0: watched for 0s of 5m; GPU1: watched for 0s of 5m"},
		{at: 2*time.Minute + 11*time.Second, sample: gpus("3", "73"),
			wantReason: "GPU0: watched for 2m11s of 5m; GPU1: utilisation 73% at 14:02:11, quiet for 0s of 5m"},
		{at: 5 * time.Minute, sample: gpus("10", "0"), wantOffer: []int{0},
			wantReason: "GPU1: utilisation 73% at 14:02:11, quiet for 2m49s of 5m"},
		{at: 7*time.Minute + 11*time.Second, sample: gpus("0", "0"), wantOffer: []int{0, 1}},
		{at: 8 * time.Minute, sample: gpus("5:4242", "0"), wantOffer: []int{1},
			wantReason: "GPU0: foreign process 4242 at 14:08:00, quiet for 0s of 5m"},
		// Our tasklet saturating GPU1 is not the owner's use, but GPU1 is
		// not offered twice.
		{at: 8*time.Minute + 30*time.Second, sample: gpus("0", "100:900,901"),
			wantReason: "GPU0: foreign process 4242 at 14:08:00, quiet for 30s of 5m; GPU1: running a gridswarm tasklet"},
		{at: 9 * time.Minute, sample: gpus("0", "2"), wantOffer: []int{1},
			wantReason: "GPU0: foreign process 4242 at 14:08:00, quiet for 1m of 5m"},
		{at: 13 * time.Minute, sample: gpus("0", "0"), wantOffer: []int{0, 1}},
		// Our process next to a foreign one: the GPU is the owner's again.
		{at: 14 * time.Minute, sample: gpus("90:900,31337", "0"), wantOffer: []int{1},
			wantReason: "GPU0: running a gridswarm tasklet"},
		{at: 15 * time.Minute, sample: gpus("0", "0"), wantOffer: []int{1},
			wantReason: "GPU0: foreign process 31337 at 14:14:00, quiet for 1m of 5m"},
		// The sampler stopped: nothing is offered on old news.
		{at: 20*time.Minute + 1*time.Second, wantReason: "latest GPU sample, at 14:15:00, is 5m1s old"},
	})
}

func TestIdleTrackerGPUComesAndGoes(t *testing.T) {
	tr, err := NewIdleTracker(IdlePolicy{QuietFor: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	two := gpus("0", "0")
	runSteps(t, tr, nil, []idleStep{
		{at: 0, sample: two, wantReason: "GPU0: watched for 0s of 1m; GPU1: watched for 0s of 1m"},
		{at: time.Minute, sample: two, wantOffer: []int{0, 1}},
		{at: 2 * time.Minute, sample: two[1:], wantOffer: []int{1}},
		{at: 3 * time.Minute, sample: two, wantOffer: []int{1}, wantReason: "GPU0: watched for 0s of 1m"},
		{at: 3*time.Minute + 30*time.Second, sample: []GPU{}, wantOffer: nil},
	})
}

func TestIdleTrackerUnwatchedAndThreshold(t *testing.T) {
	tr, err := NewIdleTracker(IdlePolicy{MaxUtilization: 50, QuietFor: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := gpus("50", "51", "0")
	s[2].Unwatched = true
	runSteps(t, tr, nil, []idleStep{
		{at: 0, sample: s, wantReason: "GPU0: watched for 0s of 1s; GPU1: utilisation 51% at 14:00:00, quiet for 0s of 1s; " +
			"GPU2: NVML reports neither its utilisation nor its processes, so its owner's use cannot be seen"},
		{at: 2 * time.Second, sample: s, wantOffer: []int{0},
			wantReason: "GPU1: utilisation 51% at 14:00:02, quiet for 0s of 1s; GPU2: NVML reports neither its utilisation nor its processes, so its owner's use cannot be seen"},
	})
}

func TestIdleTrackerHours(t *testing.T) {
	tests := []struct {
		name       string
		hours      string
		clock      string // HH:MM on t0's day
		wantOffer  []int
		wantCPU    bool
		wantReason string
	}{
		{"any time", "", "14:00", []int{0}, true, ""},
		{"inside, before midnight", "22:00-07:00", "23:30", []int{0}, true, ""},
		{"inside, after midnight", "22:00-07:00", "06:59", []int{0}, true, ""},
		{"end excluded", "22:00-07:00", "07:00", nil, false, "outside contributor hours 22:00-07:00"},
		{"afternoon", "22:00-07:00", "14:00", nil, false, "outside contributor hours 22:00-07:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewIdleTracker(IdlePolicy{Hours: tc.hours, QuietFor: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			var h, m int
			fmt.Sscanf(tc.clock, "%d:%d", &h, &m)
			now := time.Date(2026, 3, 10, h, m, 0, 0, time.UTC)
			tr.Observe(now.Add(-2*time.Minute), gpus("0"), nil)
			tr.Observe(now, gpus("0"), nil)
			if got := tr.Offerable(now); !reflect.DeepEqual(got, tc.wantOffer) {
				t.Errorf("Offerable = %v, want %v", got, tc.wantOffer)
			}
			if got := tr.OffersCPU(now); got != tc.wantCPU {
				t.Errorf("OffersCPU = %v, want %v", got, tc.wantCPU)
			}
			if got := tr.Reason(now); got != tc.wantReason {
				t.Errorf("Reason = %q, want %q", got, tc.wantReason)
			}
		})
	}
}

func TestIdlePolicy(t *testing.T) {
	tr, err := NewIdleTracker(IdlePolicy{Hours: "9:00-17:30"})
	if err != nil {
		t.Fatal(err)
	}
	want := IdlePolicy{MaxUtilization: 10, QuietFor: 5 * time.Minute, Hours: "9:00-17:30", MaxConcurrent: 1}
	if got := tr.Policy(); got != want {
		t.Errorf("Policy = %+v, want %+v", got, want)
	}
	bad := []struct {
		p    IdlePolicy
		want string
	}{
		{IdlePolicy{MaxUtilization: 101}, "max utilisation 101% is over 100%"},
		{IdlePolicy{QuietFor: -time.Second}, "quiet-for -1s is negative"},
		{IdlePolicy{MaxConcurrent: -1}, "max concurrent -1 is negative"},
		{IdlePolicy{Hours: "22-07"}, `hours "22-07": start: "22" is not HH:MM`},
	}
	for _, tc := range bad {
		if _, err := NewIdleTracker(tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewIdleTracker(%+v) err = %v, want one containing %q", tc.p, err, tc.want)
		}
	}
}

func TestFmtDur(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {-time.Minute, "0s"}, {999 * time.Millisecond, "0s"}, {2 * time.Minute, "2m"},
		{90 * time.Second, "1m30s"}, {time.Hour, "1h"}, {time.Hour + 5*time.Second, "1h5s"},
		{26*time.Hour + 3*time.Minute + 4*time.Second + 500*time.Millisecond, "26h3m4s"},
	}
	for _, tc := range tests {
		if got := fmtDur(tc.d); got != tc.want {
			t.Errorf("fmtDur(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
