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

// fakeClock is a settable time source.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{t: time.Unix(1_000_000, 0)} }

// The first moments of a transfer have no meaningful rate: none is shown
// until rateAfter has passed, then the real one.
func TestProgressLineWithholdsEarlyRate(t *testing.T) {
	p := &progressBar{label: "add", width: 10}
	tests := []struct {
		elapsed time.Duration
		want    string
		notWant string
	}{
		{0, "--/s", "B/s"},
		{3 * time.Millisecond, "--/s", "GiB/s"},
		{rateAfter - time.Millisecond, "--/s", "MiB/s"},
		{2 * time.Second, "50.0 MiB/s", "--/s"},
	}
	for _, tt := range tests {
		for _, total := range []int64{0, 1 << 30} {
			got := p.line(100<<20, total, tt.elapsed)
			if !strings.Contains(got, tt.want) || strings.Contains(got, tt.notWant) {
				t.Errorf("line(100 MiB of %d, %s) = %q, want %q and no %q", total, tt.elapsed, got, tt.want, tt.notWant)
			}
		}
	}
}

// A bar writes \r redraws only on a terminal; in a pipe or log it writes
// whole lines, at most one every plainEvery plus the final one.
func TestProgressBarModes(t *testing.T) {
	tests := []struct {
		name      string
		live      bool
		wantLines int // newline-terminated lines
		wantCR    bool
	}{
		// Updates at 0, 50ms, 1s, 6s, 7s and a final at 7s: a pipe gets
		// the one at 0, the one at 6s (plainEvery later) and the final.
		{"pipe", false, 3, false},
		// A terminal redraws (0, 1s, 6s, 7s; 50ms is too soon) then ends the line.
		{"terminal", true, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			var b strings.Builder
			p := &progressBar{w: &b, label: "data add", start: clk.now(), now: clk.now, width: 10, live: tt.live}
			for _, step := range []struct {
				after time.Duration
				done  int64
			}{{0, 0}, {50 * time.Millisecond, 1}, {950 * time.Millisecond, 2}, {5 * time.Second, 3}, {time.Second, 4}} {
				clk.advance(step.after)
				p.update(step.done<<20, 4<<20, false)
			}
			p.update(4<<20, 4<<20, true)
			out := b.String()
			if got := strings.Count(out, "\n"); got != tt.wantLines {
				t.Errorf("%d lines, want %d:\n%q", got, tt.wantLines, out)
			}
			if strings.Contains(out, "\r") != tt.wantCR {
				t.Errorf("output has \\r = %v, want %v:\n%q", !tt.wantCR, tt.wantCR, out)
			}
			if !strings.HasSuffix(out, "\n") || !strings.Contains(out, "100%") {
				t.Errorf("output does not end with the final 100%% line:\n%q", out)
			}
		})
	}
}

// A status line in a pipe writes a line per new key (round, status) and
// otherwise at most every plainEvery; on a terminal it redraws each change.
func TestStatusLineModes(t *testing.T) {
	type offer struct {
		after     time.Duration
		key, line string
		force     bool
	}
	offers := []offer{
		{0, "running 0", "round 1/3 tasklets 0/2", false},
		{time.Second, "running 0", "round 1/3 tasklets 1/2", false},     // same round, too soon for a pipe
		{time.Second, "running 0", "round 1/3 tasklets 1/2", false},     // unchanged
		{time.Second, "running 1", "round 2/3 planning", false},         // new round
		{6 * time.Second, "running 1", "round 2/3 tasklets 1/2", false}, // plainEvery later
		{time.Second, "running 1", "round 2/3 stalled", false},          // too soon for a pipe: held back
		{0, "", "", false},               // flush: still too soon
		{5 * time.Second, "", "", false}, // flush: written now
		{time.Second, "done 3", "round 3/3", true},
	}
	tests := []struct {
		name string
		live bool
		want string
	}{
		{"pipe", false, "round 1/3 tasklets 0/2\nround 2/3 planning\nround 2/3 tasklets 1/2\nround 2/3 stalled\nround 3/3\n"},
		{"terminal", true, "\rround 1/3 tasklets 0/2\rround 1/3 tasklets 1/2\rround 2/3 planning\rround 2/3 tasklets 1/2\rround 2/3 stalled\rround 3/3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			var b strings.Builder
			s := &statusLine{w: &b, live: tt.live, now: clk.now}
			for _, o := range offers {
				clk.advance(o.after)
				if o.line == "" {
					s.flush()
					continue
				}
				s.show(o.key, o.line, o.force)
			}
			s.end()
			if b.String() != tt.want {
				t.Errorf("wrote\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

func TestBarLabel(t *testing.T) {
	tests := []struct{ label, phase, want string }{
		{"tasklet", "tasklet", "tasklet"},
		{"tasklet", "", "tasklet"},
		{"data", "add", "data add  "},
		{"data", "fetch", "data fetch"},
	}
	for _, tt := range tests {
		if got := barLabel(tt.label, tt.phase); got != tt.want {
			t.Errorf("barLabel(%q, %q) = %q, want %q", tt.label, tt.phase, got, tt.want)
		}
	}
}

// A buffer is no terminal, so tests and pipes get plain lines.
func TestIsTerminalBuffer(t *testing.T) {
	if isTerminal(&strings.Builder{}) {
		t.Error("a strings.Builder counts as a terminal")
	}
}
