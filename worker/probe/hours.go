package probe

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hours is a daily window of wall-clock time, such as 22:00-07:00, in which
// the contributor lends the machine. The zero value means any time.
type Hours struct {
	start, end int // minutes after midnight; end may be 1440 (24:00)
}

const hoursExample = `write START-END in 24-hour local time, e.g. "22:00-07:00"`

// ParseHours parses "HH:MM-HH:MM". The window may wrap midnight
// ("22:00-07:00"); "24:00" is accepted as an end. An empty string means
// any time.
func ParseHours(s string) (Hours, error) {
	if strings.TrimSpace(s) == "" {
		return Hours{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Hours{}, fmt.Errorf("hours %q: no \"-\" between start and end: %s", s, hoursExample)
	}
	start, err := parseClock(strings.TrimSpace(a), false)
	if err != nil {
		return Hours{}, fmt.Errorf("hours %q: start: %w: %s", s, err, hoursExample)
	}
	end, err := parseClock(strings.TrimSpace(b), true)
	if err != nil {
		return Hours{}, fmt.Errorf("hours %q: end: %w: %s", s, err, hoursExample)
	}
	if start == end || (start == 0 && end == 24*60) {
		return Hours{}, fmt.Errorf("hours %q: the window is empty or the whole day: leave hours empty to contribute at any time", s)
	}
	return Hours{start: start, end: end}, nil
}

// parseClock parses "HH:MM" (one-digit hours allowed) into minutes after
// midnight. "24:00" is allowed only as an end.
func parseClock(s string, isEnd bool) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || hh[0] == '+' || mm[0] == '+' {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	if m > 59 {
		return 0, fmt.Errorf("%q: minute %d is out of range 00-59", s, m)
	}
	if h == 24 && m == 0 && isEnd {
		return 24 * 60, nil
	}
	if h > 23 {
		return 0, fmt.Errorf("%q: hour %d is out of range 00-23", s, h)
	}
	return h*60 + m, nil
}

// IsZero reports whether h means any time.
func (h Hours) IsZero() bool { return h == Hours{} }

// Contains reports whether t's wall clock, in t's own location, falls in
// the window. The start is inside it, the end is not. time.Now() is in
// local time, so that is what the contributor's hours are compared with.
func (h Hours) Contains(t time.Time) bool {
	if h.IsZero() {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	if h.start < h.end {
		return h.start <= m && m < h.end
	}
	return m >= h.start || m < h.end // wraps midnight
}

// String returns the window as "22:00-07:00", or "" for any time.
func (h Hours) String() string {
	if h.IsZero() {
		return ""
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", h.start/60, h.start%60, h.end/60, h.end%60)
}
