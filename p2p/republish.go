package p2p

import (
	"math"
	"time"

	"github.com/hashicorp/serf/coordinate"
)

// republishPolicy decides when a node re-sends its own capability record
// between the publications its worker makes: to greet peers that joined the
// topic, and when its Vivaldi coordinate has moved. Every re-send counts
// toward one interval, so a crowd of joiners or a stream of RTT samples
// cause at most one re-send per interval.
//
//	first Warmup after start:  at most one per WarmupEvery, on any move once
//	                           MinSamples RTTs were fed in (the coordinate
//	                           starts at the origin and converges fast)
//	afterwards:                at most one per Every, and for a move only
//	                           past max(RelMove × typical RTT, MinMove)
//	a peer joined:             once, GreetDelay after the join (a message
//	                           sent at the join is lost), unless a
//	                           publication went out since
type republishPolicy struct {
	Warmup      time.Duration
	WarmupEvery time.Duration
	Every       time.Duration
	GreetDelay  time.Duration
	MinSamples  int
	RelMove     float64
	// MinMove: an estimate off by less changes no placement (the setup
	// cost of a tasklet is a few round trips).
	MinMove time.Duration
}

var defaultRepublishPolicy = republishPolicy{
	Warmup:      time.Minute,
	WarmupEvery: 5 * time.Second,
	Every:       30 * time.Second,
	GreetDelay:  time.Second,
	MinSamples:  3,
	RelMove:     0.2,
	MinMove:     time.Millisecond,
}

// republishState is what the policy remembers.
type republishState struct {
	start     time.Time              // the node's start
	lastPub   time.Time              // last publication of the own record, of any cause
	lastCoord *coordinate.Coordinate // the coordinate it carried
	joinedAt  time.Time              // first join not yet greeted; zero when none
}

// published notes a publication at now carrying coord.
func (st *republishState) published(now time.Time, coord *coordinate.Coordinate, p republishPolicy) {
	st.lastPub = now
	if coord != nil {
		st.lastCoord = coord.Clone()
	}
	if !st.joinedAt.IsZero() && !now.Before(st.joinedAt.Add(p.GreetDelay)) {
		st.joinedAt = time.Time{}
	}
}

// joined notes that a peer joined the topic at now.
func (st *republishState) joined(now time.Time) {
	if st.joinedAt.IsZero() {
		st.joinedAt = now
	}
}

// next returns when the record is due again and why; false when it is not.
// samples counts the RTT samples fed into the coordinate, typical is their
// average.
func (p republishPolicy) next(st republishState, now time.Time, cur *coordinate.Coordinate, samples int, typical time.Duration) (time.Time, string, bool) {
	every, warm := p.Every, now.Sub(st.start) < p.Warmup
	if warm {
		every = p.WarmupEvery
	}
	earliest := st.lastPub.Add(every)
	var at time.Time
	why := ""
	if !st.joinedAt.IsZero() {
		at, why = laterOf(st.joinedAt.Add(p.GreetDelay), earliest), "peer joined"
	}
	if samples >= p.MinSamples && cur != nil {
		threshold := time.Duration(0)
		if !warm {
			threshold = max(time.Duration(p.RelMove*float64(typical)), p.MinMove)
		}
		if moved(st.lastCoord, cur) > threshold && (why == "" || earliest.Before(at)) {
			at, why = earliest, "coordinate moved"
		}
	}
	return at, why, why != ""
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// moved is how far a coordinate went from old to cur: the Euclidean
// distance of the vectors plus the change in height. A missing or
// incompatible old one counts as infinitely far.
func moved(old, cur *coordinate.Coordinate) time.Duration {
	if old == nil || !old.IsCompatibleWith(cur) {
		return time.Duration(math.MaxInt64)
	}
	sum := 0.0
	for i := range cur.Vec {
		d := cur.Vec[i] - old.Vec[i]
		sum += d * d
	}
	secs := math.Sqrt(sum) + math.Abs(cur.Height-old.Height)
	if !(secs < math.MaxInt64/1e9) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(secs * 1e9)
}
