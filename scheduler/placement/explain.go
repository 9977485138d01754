package placement

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Explain says in one line what happened to the tasklet and why, e.g.
//
//	placed on p3: ETA 2.31s (setup 30ms, transfer 1.8s, compute 480ms, queue 0s); 5 of 12 peers feasible; 7 filtered: 4 not idle, 3 lack executor wasm
//	placed on p7 at random: ETA 9.8s (…); 5 of 12 peers feasible
//	waiting: 0 of 12 peers feasible: 7 not idle, 5 lack executor wasm
func (d Decision) Explain() string {
	var b strings.Builder
	switch {
	case d.Placed():
		fmt.Fprintf(&b, "placed on %s", strings.Join(d.Peers, ", "))
		if d.Strategy == StrategyRandom {
			b.WriteString(" at random")
		}
		b.WriteString(": ")
		if len(d.Peers) > 1 {
			b.WriteString("best ")
		}
		fmt.Fprintf(&b, "ETA %s (%s); %d of %d peers feasible",
			fmtDur(d.ETA[0]), d.Breakdown.terms(), d.Feasible, d.Candidates)
		if len(d.Rejected) > 0 {
			fmt.Fprintf(&b, "; %d filtered: %s", d.filtered(), d.reasons())
		}
	default:
		b.WriteString("waiting: ")
		if len(d.Peers) > 0 {
			fmt.Fprintf(&b, "%d of %d replicas placed (%s); ", len(d.Peers), d.Wanted, strings.Join(d.Peers, ", "))
		} else if d.Wanted > 1 {
			fmt.Fprintf(&b, "0 of %d replicas placed; ", d.Wanted)
		}
		fmt.Fprintf(&b, "%d of %d peers feasible", d.Feasible, d.Candidates)
		if len(d.Rejected) > 0 {
			fmt.Fprintf(&b, ": %s", d.reasons())
		}
	}
	return b.String()
}

func (b Breakdown) terms() string {
	return fmt.Sprintf("setup %s, transfer %s, compute %s, queue %s",
		fmtDur(b.Setup), fmtDur(b.Transfer), fmtDur(b.Compute), fmtDur(b.Queue))
}

func (d Decision) filtered() int {
	n := 0
	for _, r := range d.Rejected {
		n += r.Count
	}
	return n
}

func (d Decision) reasons() string {
	parts := make([]string, len(d.Rejected))
	for i, r := range d.Rejected {
		parts[i] = strconv.Itoa(r.Count) + " " + phrase(r.Reason, d.Need)
		if len(r.Details) > 0 {
			parts[i] += " (" + strings.Join(r.Details, "; ") + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// Why words why p fails t's rules for a user, "" when it passes them all
// (exclusions aside). A peer that is not idle is "not idle: " + its
// IdleReason when it gave one.
func Why(p *Peer, t *Tasklet) string {
	r := Check(p, t)
	if r == "" {
		return ""
	}
	s := phrase(r, t.Requirements())
	if r == ReasonNotIdle && p.IdleReason != "" {
		s += ": " + p.IdleReason
	}
	return s
}

// phrase words a reason for a user, naming the requirement the peers missed.
func phrase(reason string, need Requirements) string {
	switch reason {
	case ReasonInvalid:
		return "have an invalid record"
	case ReasonBanned:
		return "banned"
	case ReasonNotIdle:
		return "not idle"
	case ReasonExecutor:
		return "lack executor " + need.Executor
	case ReasonGPUMemory:
		return "have under " + fmtBytes(need.GPUMem) + " GPU memory free"
	case ReasonDisk:
		return "have under " + fmtBytes(need.Disk) + " disk free"
	case ReasonPrice:
		return "ask more than " + strconv.FormatFloat(need.MaxPrice, 'g', -1, 64) + "/h"
	case ReasonNoEstimate:
		return "report no throughput or bandwidth"
	case ReasonVersion:
		return "run a version older than " + need.MinVersion
	case ReasonExcluded:
		return "excluded"
	case ReasonSlots:
		return "have every slot filled by this job"
	}
	return reason
}

func fmtDur(d time.Duration) string {
	if d >= time.Millisecond {
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	s := strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
	return s + " " + "KMGTP"[i:i+1] + "iB"
}
