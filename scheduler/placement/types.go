package placement

import (
	"net/netip"
	"time"
)

// Peer is one candidate worker as the scheduler sees it in a snapshot.
// Place never modifies a Peer.
type Peer struct {
	ID          string
	Executors   []string // executors the peer runs, e.g. "builtin", "wasm"
	GPUMemFree  uint64   // bytes
	DiskFree    uint64   // bytes
	MemoryBytes uint64   // the peer's RAM in bytes; 0 = unknown. Read by scheduler.Admit, not by Place
	Idle        bool
	// IdleReason is why a peer that is not idle is not (its capability
	// record's idle_reason, e.g. "over-quota: …"); explanations quote it.
	IdleReason   string
	Version      string // daemon version, e.g. "0.3.1"
	Banned       bool
	PricePerHour float64
	RTT          time.Duration // round trip from the coordinator
	RTTMeasured  bool          // false: estimated from Vivaldi coordinates
	BandwidthBps float64       // bytes per second the peer can fetch at, at best (its own link)
	Throughput   float64       // samples per second for the builtin trainer
	Queue        time.Duration // work already assigned to the peer
	Reputation   float64       // 0..1
	// Slots is how many tasklets the peer runs at once (its capability
	// record); 0 counts as 1. InFlight is how many of the caller's own
	// attempts it runs now: a peer with InFlight >= Slots is filtered out
	// with ReasonSlots.
	Slots    int
	InFlight int
	Holds    map[string]uint64
	// Holds maps a CID to the bytes of that DAG the peer already holds.

	// Site is a coarse network location: a cluster of Vivaldi coordinates
	// or an operator-set region, at most MaxSiteLen bytes. "" means unknown.
	// Only Options.Links reads it, and only for the MaxSites sites with most
	// peers.
	Site string

	// Account is the peer's payout account and Addrs its public addresses,
	// where known; a spot check's replica goes to a peer that shares
	// neither with the first (verify.ReplicaCandidates). Place ignores them.
	Account string
	Addrs   []netip.Addr
}

// MaxSiteLen bounds Peer.Site and Input.SourceSites entries; a longer site
// makes a peer's record invalid.
const MaxSiteLen = 64

// MaxSites is how many sites Place tells apart: the sites with most peers in
// the snapshot. Peers of other sites count as of an unknown one.
const MaxSites = 64

// MaxSourceSites bounds Input.SourceSites. The caller passes the sites of
// the nearest few providers, not every provider the DHT returns.
const MaxSourceSites = 32

// Input is one content-addressed input of a tasklet. A CID names immutable
// content, so every tasklet of a Place call must give it the same Bytes.
type Input struct {
	CID   string
	Bytes uint64
	// SourceSites are the sites a full copy can be fetched from: the sites
	// of the providers the DHT returned, and the coordinator's own site for
	// weights it publishes. Order and repeats do not matter. Empty means
	// unknown: the fetch is estimated at the peer's own BandwidthBps.
	SourceSites []string
}

// Tasklet is one unit of work to place.
type Tasklet struct {
	ID         string
	Executor   string
	Inputs     []Input
	Samples    int     // work units, divided by a peer's Throughput
	GPUMem     uint64  // bytes of free GPU memory needed
	Disk       uint64  // bytes of free disk needed
	MaxPrice   float64 // per hour; 0 means no limit
	MinVersion string  // "" means any version
}

// Requirements are the fields of a tasklet that decide feasibility. Tasklets
// with equal Requirements share one pass of the rule chain.
type Requirements struct {
	Executor   string
	GPUMem     uint64
	Disk       uint64
	MaxPrice   float64
	MinVersion string
}

// Requirements returns what a peer needs to be feasible for t.
func (t *Tasklet) Requirements() Requirements {
	return Requirements{
		Executor:   t.Executor,
		GPUMem:     t.GPUMem,
		Disk:       t.Disk,
		MaxPrice:   t.MaxPrice,
		MinVersion: t.MinVersion,
	}
}

// DefaultRoundTrips is the setup cost of a tasklet in round trips: offer and
// accept, the first want/block exchange, and the signed receipt.
const DefaultRoundTrips = 3

// Options tune one Place call. The zero value places one replica per tasklet
// with DefaultRoundTrips and seed 0.
type Options struct {
	Replicas   int    // distinct peers per tasklet; 0 means 1
	Seed       uint64 // orders peers whose ETA, reputation and price tie
	RoundTrips int    // round trips of setup; 0 means DefaultRoundTrips
	// Exclude maps a tasklet ID to peers that must not run it, for example
	// those already holding a replica. Unknown IDs are ignored: peers come
	// and go, and a caller may pass one map for a whole job.
	Exclude map[string][]string
	// Links estimates the path between two sites: the bytes per second a
	// peer at site to fetches at from a peer at site from (from may equal
	// to). ok is false when there is no estimate; with ok true, bps must be
	// positive (+Inf: no limit) or Place fails with ErrInvalid. Place calls
	// it at most once per pair, never with an empty site, and only into
	// sites with a feasible peer.
	// Nil means no path is known: every fetch runs at the peer's own
	// BandwidthBps, and Site and SourceSites are ignored.
	Links func(from, to string) (bps float64, ok bool)
	// Strategy is how feasible peers are ranked: StrategyETA ("" means it)
	// or StrategyRandom. Any other name fails with ErrInvalid.
	Strategy string
}

// Placement strategies, as the coordinator.placement config key names them.
const (
	// StrategyETA ranks feasible peers by estimated completion time (see
	// the package doc); the default.
	StrategyETA = "eta"
	// StrategyRandom picks a uniformly random feasible peer, the least
	// loaded first (InFlight, then Queue), seeded by Options.Seed. It is
	// the baseline a user compares the ETA strategy against, not for
	// production.
	StrategyRandom = "random"
)

// Breakdown splits an ETA into its terms.
type Breakdown struct {
	Setup    time.Duration // RTT × round trips
	Transfer time.Duration // missing bytes / bandwidth of the path from their source
	Compute  time.Duration // samples / throughput
	Queue    time.Duration // work already assigned to the peer
	Missing  uint64        // input bytes the peer neither holds nor fetches for an earlier tasklet of the call
}

// Total is the ETA: the sum of the terms, saturating at the largest Duration.
func (b Breakdown) Total() time.Duration {
	return addSat(addSat(b.Setup, b.Transfer), addSat(b.Compute, b.Queue))
}

// Rejection counts the peers filtered out for one reason.
type Rejection struct {
	Reason   string   // one of the Reason constants
	Count    int      // peers rejected for this reason
	Examples []string // up to MaxExamples peer IDs, in snapshot order
	// Details are the distinct idle reasons of the ReasonNotIdle peers, up
	// to MaxExamples, in snapshot order; nil for other reasons.
	Details []string
}

// MaxExamples is how many peer IDs a Rejection keeps.
const MaxExamples = 3

// Decision is the outcome of placing one tasklet, with its reasons.
type Decision struct {
	Tasklet    string
	Strategy   string // StrategyETA or StrategyRandom
	Need       Requirements
	Wanted     int             // replicas asked for
	Peers      []string        // chosen, best first; fewer than Wanted means wait
	ETA        []time.Duration // ETA[i] is the estimate for Peers[i]
	Breakdown  Breakdown       // of ETA[0], zero when no peer was chosen
	Candidates int             // peers in the snapshot
	Feasible   int             // peers that passed every rule and were not excluded
	// Rejected counts each filtered peer once, under the first rule it fails
	// (cheapest first); ReasonExcluded counts excluded peers that pass every
	// rule. Most common reason first.
	Rejected []Rejection
}

// Placed reports whether every wanted replica found a peer.
func (d Decision) Placed() bool { return len(d.Peers) >= d.Wanted }
