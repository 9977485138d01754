package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/gridswarm/gridswarm/internal/units"
)

const (
	// liveEvery is the fastest a terminal line is redrawn.
	liveEvery = 100 * time.Millisecond
	// plainEvery is how often a pipe or log gets a line when nothing
	// else asks for one.
	plainEvery = 5 * time.Second
	// rateAfter is how long a transfer runs before its rate means anything:
	// the first milliseconds would read as hundreds of GiB/s.
	rateAfter = time.Second
)

// isTerminal tells whether w is a terminal, where a line may be redrawn in
// place with \r. Pipes, files and buffers get plain lines instead.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// statusLine shows a changing one-line status. On a terminal (live) it
// redraws the line in place on every change; elsewhere it writes whole
// lines: one whenever the key changes (a new round, a new status) and
// otherwise at most every plainEvery, so logs stay short and free of \r.
// A line held back for being too soon is written by a later flush.
type statusLine struct {
	w       io.Writer
	live    bool
	now     func() time.Time
	last    time.Time
	key     string
	drawn   bool // live: a line is on screen without its newline
	text    string
	pending string // plain: the newest line held back, "" if none
}

func newStatusLine(w io.Writer) *statusLine {
	return &statusLine{w: w, live: isTerminal(w), now: time.Now}
}

// show offers a new line; key names what it is about. force writes it even
// if it is soon after the last one.
func (s *statusLine) show(key, line string, force bool) {
	now := s.now()
	changed := key != s.key || !s.drawnOnce()
	every := plainEvery
	if s.live {
		every = 0 // redrawing one line costs nothing
	}
	if !force && !changed && (line == s.text || now.Sub(s.last) < every) {
		if line != s.text {
			s.pending = line
		}
		return
	}
	s.last, s.key, s.text, s.pending = now, key, line, ""
	if s.live {
		fmt.Fprintf(s.w, "\r%s", line)
		s.drawn = true
		return
	}
	fmt.Fprintln(s.w, strings.TrimRight(line, " "))
}

func (s *statusLine) drawnOnce() bool { return !s.last.IsZero() }

// flush writes the line held back last, if any, once plainEvery has
// passed: a stall reported between two periodic lines still reaches a log.
func (s *statusLine) flush() {
	if s.pending != "" && s.now().Sub(s.last) >= plainEvery {
		s.show(s.key, s.pending, true)
	}
}

// end finishes a live line so what follows starts on a line of its own.
func (s *statusLine) end() {
	if s.live && s.drawn {
		fmt.Fprintln(s.w)
		s.drawn = false
	}
}

// progressBar draws bar, percent, bytes, rate and ETA: redrawn in place on
// a terminal, as periodic plain lines in a pipe or log.
type progressBar struct {
	w     io.Writer
	label string
	start time.Time
	now   func() time.Time
	last  time.Time
	width int
	// live redraws with \r; otherwise a line every plainEvery and the last.
	live bool
	// count shows plain numbers (steps) instead of bytes.
	count bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, start: time.Now(), now: time.Now, width: 24, live: isTerminal(w)}
}

// barLabel names a bar after what runs and its phase, once each: a
// tasklet's "tasklet" phase is not "tasklet tasklet".
func barLabel(label, phase string) string {
	if phase == "" || phase == label {
		return label
	}
	return fmt.Sprintf("%s %-5s", label, phase)
}

// update redraws at most ten times a second on a terminal, or writes a
// line at most every plainEvery elsewhere; a final update always shows.
func (p *progressBar) update(done, total int64, final bool) {
	now := p.now()
	every := liveEvery
	if !p.live {
		every = plainEvery
	}
	if !final && now.Sub(p.last) < every {
		return
	}
	p.last = now
	line := p.line(done, total, now.Sub(p.start))
	if !p.live {
		fmt.Fprintln(p.w, strings.TrimRight(line, " "))
		return
	}
	fmt.Fprintf(p.w, "\r%s", line)
	if final {
		fmt.Fprintln(p.w)
	}
}

func (p *progressBar) line(done, total int64, elapsed time.Duration) string {
	unit := humanBytes
	if p.count {
		unit = func(n int64) string { return fmt.Sprintf("%d", n) }
	}
	rate := 0.0
	if elapsed >= rateAfter {
		rate = float64(done) / elapsed.Seconds()
	}
	speed := "--/s"
	if rate > 0 {
		speed = unit(int64(rate)) + "/s"
	}
	if total <= 0 {
		return fmt.Sprintf("%s %s  %s   ", p.label, unit(done), speed)
	}
	frac := min(float64(done)/float64(total), 1)
	filled := int(frac * float64(p.width))
	eta := "--"
	if rate > 0 && done < total {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	} else if done >= total {
		eta = "0s"
	}
	return fmt.Sprintf("%s [%s%s] %3.0f%%  %s / %s  %s  ETA %s   ", p.label,
		strings.Repeat("█", filled), strings.Repeat("·", p.width-filled), frac*100,
		unit(done), unit(total), speed, eta)
}

func humanBytes(n int64) string { return units.Bytes(uint64(max(n, 0))) }
