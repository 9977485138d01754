package placement

import (
	"cmp"
	"math"
	"slices"
)

// Reasons a peer is filtered out. They are stable strings: logs, the CLI and
// golden files show them.
const (
	ReasonInvalid    = "invalid-record"       // a number in the peer's record is negative, NaN or infinite, or its site too long
	ReasonBanned     = "banned"               // the peer is banned
	ReasonNotIdle    = "not-idle"             // the peer's owner is using the machine
	ReasonExecutor   = "executor-unsupported" // the peer lacks the tasklet's executor
	ReasonGPUMemory  = "gpu-memory"           // too little free GPU memory
	ReasonDisk       = "disk"                 // too little free disk
	ReasonPrice      = "price"                // the peer asks more than MaxPrice
	ReasonNoEstimate = "no-estimate"          // no throughput or bandwidth to estimate an ETA from
	ReasonVersion    = "version"              // the daemon is older than MinVersion or unparsable
	ReasonExcluded   = "excluded"             // the caller excluded the peer for this tasklet
	ReasonSlots      = "slots-full"           // the caller's own attempts fill every slot of the peer
)

// Rule is one feasibility check. A peer failing it is filtered out and
// counted under Reason.
type Rule interface {
	Reason() string
	Feasible(p *Peer) bool
}

// Rules returns the chain for need, cheapest checks first. A new check is one
// new Rule type added here.
func Rules(need Requirements) []Rule {
	rules := []Rule{validRule{}, bannedRule{}, idleRule{}, slotsRule{}, executorRule{need.Executor}}
	if need.GPUMem > 0 {
		rules = append(rules, gpuRule{need.GPUMem})
	}
	if need.Disk > 0 {
		rules = append(rules, diskRule{need.Disk})
	}
	if need.MaxPrice > 0 {
		rules = append(rules, priceRule{need.MaxPrice})
	}
	rules = append(rules, estimateRule{})
	if v, ok := parseVersion(need.MinVersion); ok {
		rules = append(rules, versionRule{v})
	}
	return rules
}

// Check runs the rule chain for t on p and returns the first failing reason,
// or "" when p is feasible. It ignores Options.Exclude.
func Check(p *Peer, t *Tasklet) string {
	for _, r := range Rules(t.Requirements()) {
		if !r.Feasible(p) {
			return r.Reason()
		}
	}
	return ""
}

type validRule struct{}

func (validRule) Reason() string { return ReasonInvalid }
func (validRule) Feasible(p *Peer) bool {
	ok := func(x float64) bool { return x >= 0 && !math.IsInf(x, 1) } // NaN fails x >= 0
	return p.RTT >= 0 && p.Queue >= 0 && ok(p.PricePerHour) && ok(p.BandwidthBps) &&
		ok(p.Throughput) && p.Slots >= 0 && p.InFlight >= 0 && p.Reputation >= 0 && p.Reputation <= 1 && len(p.Site) <= MaxSiteLen
}

type bannedRule struct{}

func (bannedRule) Reason() string        { return ReasonBanned }
func (bannedRule) Feasible(p *Peer) bool { return !p.Banned }

type idleRule struct{}

func (idleRule) Reason() string        { return ReasonNotIdle }
func (idleRule) Feasible(p *Peer) bool { return p.Idle }

// slotsRule keeps peers with a slot the caller's attempts do not fill.
type slotsRule struct{}

func (slotsRule) Reason() string { return ReasonSlots }
func (slotsRule) Feasible(p *Peer) bool {
	return p.InFlight < max(p.Slots, 1)
}

type executorRule struct{ name string }

func (executorRule) Reason() string          { return ReasonExecutor }
func (r executorRule) Feasible(p *Peer) bool { return slices.Contains(p.Executors, r.name) }

type gpuRule struct{ need uint64 }

func (gpuRule) Reason() string          { return ReasonGPUMemory }
func (r gpuRule) Feasible(p *Peer) bool { return p.GPUMemFree >= r.need }

type diskRule struct{ need uint64 }

func (diskRule) Reason() string          { return ReasonDisk }
func (r diskRule) Feasible(p *Peer) bool { return p.DiskFree >= r.need }

type priceRule struct{ max float64 }

func (priceRule) Reason() string          { return ReasonPrice }
func (r priceRule) Feasible(p *Peer) bool { return p.PricePerHour <= r.max }

// estimateRule keeps only peers whose ETA is finite: without throughput or
// bandwidth the scheduler cannot rank them against the others.
type estimateRule struct{}

func (estimateRule) Reason() string { return ReasonNoEstimate }
func (estimateRule) Feasible(p *Peer) bool {
	return p.Throughput > 0 && p.BandwidthBps > 0
}

type versionRule struct{ min version }

func (versionRule) Reason() string { return ReasonVersion }
func (r versionRule) Feasible(p *Peer) bool {
	v, ok := parseVersion(p.Version)
	return ok && v.compare(r.min) >= 0
}

// iterator yields snapshot indexes of peers, Nomad style: each rule wraps
// the previous iterator and records what it filters.
type iterator interface {
	Next() (int, bool)
	Reset()
}

type sourceIterator struct{ n, i int }

func (it *sourceIterator) Next() (int, bool) {
	if it.i >= it.n {
		return 0, false
	}
	it.i++
	return it.i - 1, true
}

func (it *sourceIterator) Reset() { it.i = 0 }

type ruleIterator struct {
	src   iterator
	peers []Peer
	rule  Rule
	tally *tally
}

func (it *ruleIterator) Next() (int, bool) {
	for {
		i, ok := it.src.Next()
		if !ok {
			return 0, false
		}
		if it.rule.Feasible(&it.peers[i]) {
			return i, true
		}
		it.tally.add(it.rule.Reason(), &it.peers[i])
	}
}

func (it *ruleIterator) Reset() { it.src.Reset() }

// newStack chains the rules for need over every peer of the snapshot.
func newStack(peers []Peer, need Requirements, t *tally) iterator {
	var it iterator = &sourceIterator{n: len(peers)}
	for _, r := range Rules(need) {
		it = &ruleIterator{src: it, peers: peers, rule: r, tally: t}
	}
	return it
}

// tally counts rejections per reason and keeps a few examples of each.
type tally struct {
	order  []string // reasons in first-seen order, for a stable result
	counts map[string]*Rejection
}

func (t *tally) add(reason string, p *Peer) {
	if t.counts == nil {
		t.counts = make(map[string]*Rejection)
	}
	r := t.counts[reason]
	if r == nil {
		r = &Rejection{Reason: reason}
		t.counts[reason] = r
		t.order = append(t.order, reason)
	}
	r.Count++
	if len(r.Examples) < MaxExamples {
		r.Examples = append(r.Examples, p.ID)
	}
	if reason == ReasonNotIdle && p.IdleReason != "" && len(r.Details) < MaxExamples && !slices.Contains(r.Details, p.IdleReason) {
		r.Details = append(r.Details, p.IdleReason)
	}
}

// list returns fresh copies, most common reason first, then by name.
func (t *tally) list() []Rejection {
	out := make([]Rejection, 0, len(t.order))
	for _, reason := range t.order {
		r := *t.counts[reason]
		r.Examples = slices.Clone(r.Examples)
		r.Details = slices.Clone(r.Details)
		out = append(out, r)
	}
	sortRejections(out)
	return out
}

// sortRejections puts the most common reason first, then sorts by name.
func sortRejections(rs []Rejection) {
	slices.SortFunc(rs, func(a, b Rejection) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Reason, b.Reason)
	})
}
