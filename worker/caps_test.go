package worker

import (
	"context"
	"testing"
	"time"
)

// The throughput is measured again 10 s after start, then at doubling
// gaps up to 30 minutes, and never twice for one due time.
func TestBenchClockDoubles(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	b := newBenchClock(t0)
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{
		{0, false},
		{9 * time.Second, false},
		{10 * time.Second, true},  // next at 30 s
		{10 * time.Second, false}, // the same moment again
		{29 * time.Second, false},
		{30 * time.Second, true}, // gap 40 s: next at 70 s
		{70 * time.Second, true}, // gap 80 s: next at 150 s
		{149 * time.Second, false},
		{150 * time.Second, true}, // gap 160 s
	} {
		if got := b.due(t0.Add(c.at)); got != c.want {
			t.Errorf("due at %v = %v, want %v (next %v, gap %v)", c.at, got, c.want, b.next.Sub(t0), b.gap)
		}
	}
	// Later the gap stops growing at benchMax.
	now := t0.Add(time.Hour)
	for range 20 {
		if !b.due(now) {
			t.Fatalf("not due at %v, next %v", now.Sub(t0), b.next.Sub(t0))
		}
		if b.gap > benchMax {
			t.Fatalf("gap %v, want at most %v", b.gap, benchMax)
		}
		now = b.next
	}
	if b.gap != benchMax || b.due(b.next.Add(-time.Second)) {
		t.Errorf("gap %v, want %v, and nothing due before next", b.gap, benchMax)
	}
}

// A worker is quiet, so may measure again, only when it runs nothing and
// ran nothing for benchQuiet: not between the rounds of a job.
func TestQuietAfterTasklets(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		running int
		lastRan time.Time
		want    bool
	}{
		{"never ran", 0, time.Time{}, true},
		{"running one", 1, time.Time{}, false},
		{"between rounds", 0, t0.Add(-time.Second), false},
		{"just inside the quiet time", 0, t0.Add(-benchQuiet + time.Millisecond), false},
		{"quiet for benchQuiet", 0, t0.Add(-benchQuiet), true},
		{"running, last ended long ago", 1, t0.Add(-time.Hour), false},
	} {
		w := &Worker{running: c.running, lastRan: c.lastRan}
		if got := w.quiet(t0); got != c.want {
			t.Errorf("%s: quiet = %v, want %v", c.name, got, c.want)
		}
	}
}

// A measurement returns the best of its runs: positive, and a cancelled
// context measures nothing.
func TestMeasureThroughput(t *testing.T) {
	if got := measureThroughput(context.Background()); got <= 0 {
		t.Fatalf("throughput %v samples/s, want > 0", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := measureThroughput(ctx); got != 0 {
		t.Errorf("throughput with a cancelled context %v, want 0", got)
	}
}
