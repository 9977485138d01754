package probe

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of IdlePolicy, applied to zero fields.
const (
	DefaultMaxUtilization = 10 // percent
	DefaultQuietFor       = 5 * time.Minute
	DefaultMaxConcurrent  = 1
)

// minStaleAfter is the shortest time after which a GPU sample is too old
// to lend a GPU on: a stopped sampler must not leave GPUs offered forever.
const minStaleAfter = time.Minute

// IdlePolicy says when the contributor's machine counts as idle.
type IdlePolicy struct {
	// MaxUtilization is the GPU utilisation, in percent, at or under which
	// a GPU counts as unused. 0 means DefaultMaxUtilization.
	MaxUtilization uint32
	// QuietFor is how long a GPU must have stayed unused before it is
	// offered. 0 means DefaultQuietFor.
	QuietFor time.Duration
	// Hours is the daily window, such as "22:00-07:00", in which work is
	// accepted; "" means any time. See ParseHours.
	Hours string
	// MaxConcurrent caps the tasklets running at once (see NewSlots).
	// 0 means DefaultMaxConcurrent.
	MaxConcurrent int
}

// WithDefaults returns p with its zero fields set to the defaults.
func (p IdlePolicy) WithDefaults() IdlePolicy {
	if p.MaxUtilization == 0 {
		p.MaxUtilization = DefaultMaxUtilization
	}
	if p.QuietFor == 0 {
		p.QuietFor = DefaultQuietFor
	}
	if p.MaxConcurrent == 0 {
		p.MaxConcurrent = DefaultMaxConcurrent
	}
	return p
}

// Validate checks p, naming the bad field.
func (p IdlePolicy) Validate() error {
	if p.MaxUtilization > 100 {
		return fmt.Errorf("idle policy: max utilisation %d%% is over 100%%", p.MaxUtilization)
	}
	if p.QuietFor < 0 {
		return fmt.Errorf("idle policy: quiet-for %v is negative", p.QuietFor)
	}
	if p.MaxConcurrent < 0 {
		return fmt.Errorf("idle policy: max concurrent %d is negative: use 0 for the default of %d", p.MaxConcurrent, DefaultMaxConcurrent)
	}
	if _, err := ParseHours(p.Hours); err != nil {
		return fmt.Errorf("idle policy: %w", err)
	}
	return nil
}

// IdleTracker turns a stream of GPU samples into a decision: which GPUs may
// be lent now, and if none, why not. It is pure logic: every call takes the
// current time. It is safe for concurrent use.
type IdleTracker struct {
	policy IdlePolicy
	hours  Hours

	mu      sync.Mutex
	sampled bool
	last    time.Time            // time of the latest sample
	gpus    map[string]*gpuTrack // by UUID, or "#index" when NVML gave none
	order   []string             // keys of the latest sample, by index
}

// gpuTrack is what the tracker remembers of one GPU.
type gpuTrack struct {
	index     int
	firstSeen time.Time // watched since
	busyAt    time.Time // latest sample that showed someone else's use; zero if none
	busyWhy   string    // "utilisation 73%", "foreign process 4242"
	own       bool      // latest sample showed one of our processes on it
	unwatched bool      // NVML cannot tell whether it is in use
}

// NewIdleTracker returns a tracker for p, with defaults applied.
func NewIdleTracker(p IdlePolicy) (*IdleTracker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.WithDefaults()
	h, _ := ParseHours(p.Hours) // checked by Validate
	return &IdleTracker{policy: p, hours: h, gpus: map[string]*gpuTrack{}}, nil
}

// Policy returns the tracker's policy with defaults applied.
func (t *IdleTracker) Policy() IdlePolicy { return t.policy }

// Observe records a sample taken at now. ownPIDs are the processes of
// gridswarm's own tasklets (all of them, children included): their GPU use
// is ours, so it neither makes a GPU busy nor counts against it later. A
// GPU running one of our tasklets is not offered for another one. A GPU
// missing from a sample is forgotten; if it comes back it is watched anew.
func (t *IdleTracker) Observe(now time.Time, gpus []GPU, ownPIDs map[uint32]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sampled, t.last = true, now
	seen := make(map[string]bool, len(gpus))
	t.order = t.order[:0]
	for _, g := range gpus {
		key := g.UUID
		if key == "" {
			key = "#" + strconv.Itoa(g.Index)
		}
		tr, ok := t.gpus[key]
		if !ok {
			tr = &gpuTrack{firstSeen: now}
			t.gpus[key] = tr
		}
		seen[key] = true
		t.order = append(t.order, key)
		tr.index, tr.unwatched = g.Index, g.Unwatched
		t.observeGPU(now, tr, g, ownPIDs)
	}
	for key := range t.gpus {
		if !seen[key] {
			delete(t.gpus, key)
		}
	}
	slices.SortFunc(t.order, func(a, b string) int { return t.gpus[a].index - t.gpus[b].index })
}

// observeGPU updates one GPU's record from a sample.
func (t *IdleTracker) observeGPU(now time.Time, tr *gpuTrack, g GPU, ownPIDs map[uint32]bool) {
	tr.own = false
	foreign := uint32(0)
	for _, p := range g.Processes {
		if ownPIDs[p.PID] {
			tr.own = true
		} else if foreign == 0 {
			foreign = p.PID
		}
	}
	switch {
	case foreign != 0:
		tr.busyAt, tr.busyWhy = now, "foreign process "+strconv.FormatUint(uint64(foreign), 10)
	case g.UtilizationGPU > t.policy.MaxUtilization && !tr.own:
		// With only our processes on it, the utilisation is ours.
		tr.busyAt, tr.busyWhy = now, fmt.Sprintf("utilisation %d%%", g.UtilizationGPU)
	}
}

// Offerable returns the indexes, ascending, of the GPUs that may be lent at
// now. It is empty outside the contributor's hours and when the latest
// sample is missing or stale.
func (t *IdleTracker) Offerable(now time.Time) []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.blocked(now) != "" {
		return nil
	}
	var out []int
	for _, key := range t.order {
		if tr := t.gpus[key]; t.gpuWhy(now, tr) == "" {
			out = append(out, tr.index)
		}
	}
	return out
}

// OffersCPU reports whether CPU tasklets may run at now: only the
// contributor's hours limit them (MaxConcurrent is enforced by Slots).
func (t *IdleTracker) OffersCPU(now time.Time) bool {
	return t.hours.Contains(now)
}

// Reason explains, for a person, why GPUs are not offered at now:
// "outside contributor hours 22:00-07:00", or one clause per GPU held back,
// such as "GPU0: utilisation 73% at 14:02:11, quiet for 2m of 5m". It is ""
// when every GPU of the latest sample is offerable (or there are none and
// CPU work is within hours).
func (t *IdleTracker) Reason(now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if why := t.blocked(now); why != "" {
		return why
	}
	var whys []string
	for _, key := range t.order {
		if why := t.gpuWhy(now, t.gpus[key]); why != "" {
			whys = append(whys, why)
		}
	}
	return strings.Join(whys, "; ")
}

// blocked says why nothing at all may be offered at now, or "".
func (t *IdleTracker) blocked(now time.Time) string {
	if !t.hours.Contains(now) {
		return "outside contributor hours " + t.hours.String()
	}
	if !t.sampled {
		return "no GPU sample yet"
	}
	if age := now.Sub(t.last); age > max(t.policy.QuietFor, minStaleAfter) {
		return fmt.Sprintf("latest GPU sample, at %s, is %s old", t.last.Format(time.TimeOnly), fmtDur(age))
	}
	return ""
}

// gpuWhy says why one GPU may not be lent at now, or "".
func (t *IdleTracker) gpuWhy(now time.Time, tr *gpuTrack) string {
	quiet := t.policy.QuietFor
	switch {
	case tr.unwatched:
		return fmt.Sprintf("GPU%d: NVML reports neither its utilisation nor its processes, so its owner's use cannot be seen", tr.index)
	case tr.own:
		return fmt.Sprintf("GPU%d: running a gridswarm tasklet", tr.index)
	case !tr.busyAt.IsZero():
		if d := now.Sub(tr.busyAt); d < quiet {
			return fmt.Sprintf("GPU%d: %s at %s, quiet for %s of %s",
				tr.index, tr.busyWhy, tr.busyAt.Format(time.TimeOnly), fmtDur(d), fmtDur(quiet))
		}
	default:
		if d := now.Sub(tr.firstSeen); d < quiet {
			return fmt.Sprintf("GPU%d: watched for %s of %s", tr.index, fmtDur(d), fmtDur(quiet))
		}
	}
	return ""
}

// fmtDur writes a duration in whole seconds without zero units: "2m",
// "1m30s", "1h", "0s". Negative durations (a clock stepped back) are "0s".
func fmtDur(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m := d % time.Hour / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s := d % time.Minute / time.Second; s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}
