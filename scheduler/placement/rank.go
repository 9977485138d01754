package placement

import (
	"cmp"
	"math"
	"strconv"
	"time"
)

// costs are the per-peer terms of the ETA, packed small so that scanning
// thousands of peers stays in cache.
type costs struct {
	setup time.Duration
	bw    float64
	thr   float64
}

func costsOf(p *Peer, roundTrips int) costs {
	return costs{setup: mulSat(p.RTT, roundTrips), bw: p.BandwidthBps, thr: p.Throughput}
}

// estimate is the ETA model: a peer with these costs fetches legs, then
// computes samples, after its queue. Every ranking in the package goes
// through it or through eta, so the fast path and a brute-force scan agree
// to the nanosecond.
func (c costs) estimate(legs []leg, samples int, queue time.Duration) Breakdown {
	b := Breakdown{Setup: c.setup, Queue: queue, Transfer: transferTime(c.bw, legs), Compute: c.compute(samples)}
	for _, l := range legs {
		b.Missing += l.bytes
	}
	return b
}

// eta is estimate(legs, samples, queue).Total() without the breakdown,
// for scans over thousands of peers.
func (c costs) eta(legs []leg, samples int, queue time.Duration) time.Duration {
	return addSat(addSat(c.setup, transferTime(c.bw, legs)), addSat(c.compute(samples), queue))
}

func (c costs) compute(samples int) time.Duration {
	if samples == 0 {
		return 0
	}
	return seconds(float64(samples) / c.thr)
}

// seconds converts to a Duration, saturating instead of overflowing.
func seconds(s float64) time.Duration {
	ns := s * float64(time.Second)
	if !(ns < math.MaxInt64) { // also catches NaN and +Inf
		return math.MaxInt64
	}
	return time.Duration(ns)
}

func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func mulSat(d time.Duration, n int) time.Duration {
	if n > 0 && d > math.MaxInt64/time.Duration(n) {
		return math.MaxInt64
	}
	return d * time.Duration(n)
}

// rankKey orders candidates: lower ETA first, then higher reputation, then
// lower price, then a seeded random draw, then snapshot order (which only
// matters when two peers draw the same 64-bit number).
type rankKey struct {
	eta   time.Duration
	rep   float64
	price float64
	draw  uint64
	idx   int32
}

func compareKeys(a, b rankKey) int {
	if c := cmp.Compare(a.eta, b.eta); c != 0 {
		return c
	}
	if c := cmp.Compare(b.rep, a.rep); c != 0 {
		return c
	}
	if c := cmp.Compare(a.price, b.price); c != 0 {
		return c
	}
	if c := cmp.Compare(a.draw, b.draw); c != 0 {
		return c
	}
	return cmp.Compare(a.idx, b.idx)
}

// tieDraw is a peer's random tie-break for one seed. It hashes the peer ID
// rather than the snapshot position, so reordering a snapshot does not change
// who wins a tie.
func tieDraw(seed uint64, id string) uint64 {
	return splitmix64(seed ^ fnv64a(id))
}

// fnv64a is FNV-1a over a string without converting it to bytes.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SeedFrom derives Options.Seed from a job ID and a round number, so a
// round's placement can be replayed from the job's history.
func SeedFrom(jobID string, round int) uint64 {
	return splitmix64(fnv64a(jobID + "\x00" + strconv.Itoa(round)))
}
