package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gridswarm/gridswarm/internal/units"
)

// progressBar draws one live line: bar, percent, bytes, rate and ETA.
type progressBar struct {
	w     io.Writer
	label string
	start time.Time
	now   func() time.Time
	last  time.Time
	width int
	// count shows plain numbers (steps) instead of bytes.
	count bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, start: time.Now(), now: time.Now, width: 24}
}

// update redraws at most ten times a second unless final.
func (p *progressBar) update(done, total int64, final bool) {
	now := p.now()
	if !final && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r%s", p.line(done, total, now.Sub(p.start)))
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
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	if total <= 0 {
		return fmt.Sprintf("%s %s  %s/s   ", p.label, unit(done), unit(int64(rate)))
	}
	frac := min(float64(done)/float64(total), 1)
	filled := int(frac * float64(p.width))
	eta := "--"
	if rate > 0 && done < total {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	} else if done >= total {
		eta = "0s"
	}
	return fmt.Sprintf("%s [%s%s] %3.0f%%  %s / %s  %s/s  ETA %s   ", p.label,
		strings.Repeat("█", filled), strings.Repeat("·", p.width-filled), frac*100,
		unit(done), unit(total), unit(int64(rate)), eta)
}

func humanBytes(n int64) string { return units.Bytes(uint64(max(n, 0))) }
