package verify

import (
	"encoding/binary"
	"io"
	"net/netip"
	"sort"
	"time"
)

// ShortRecord is how many consecutive verified results a peer needs
// before its check rate starts to fall (BOINC's threshold).
const ShortRecord = 10

// Rates are a job's spot-check rates, the fields of jobspec.Verify.
type Rates struct {
	Rate            float64 // floor of the check probability for every peer
	MinRateNewPeers float64 // check probability for a peer with a short record
}

// Probability is the chance that a tasklet placed on the peer of rec gets
// a replica:
//
//	1                              the peer lost a vote and has fewer than
//	                               ShortRecord verified results since (a suspect)
//	max(MinRateNewPeers, Rate)     fewer than ShortRecord consecutive verified
//	                               results and no lost vote (a new peer)
//	max(1/Consecutive, Rate)       otherwise (BOINC adaptive replication)
//
// A job that wants BOINC's "replicate everything of a new host" sets
// min_rate_new_peers to 1. The result is clamped to [0, 1].
func Probability(rec Record, job Rates) float64 {
	var p float64
	switch {
	case rec.Consecutive < ShortRecord && rec.Lost > 0:
		p = 1
	case rec.Consecutive < ShortRecord:
		p = max(job.MinRateNewPeers, job.Rate)
	default:
		p = max(1/float64(rec.Consecutive), job.Rate)
	}
	return min(max(p, 0), 1)
}

// Draw decides whether a tasklet placed on the peer of rec gets a replica,
// with probability Probability(rec, job). rng is the randomness: the
// coordinator passes crypto/rand.Reader so that a worker cannot predict
// its checks; tests pass a seeded source. If rng fails, Draw returns true:
// a spot check too many costs a tasklet-run, one too few lets a cheat in.
func Draw(rec Record, job Rates, rng io.Reader) bool {
	p := Probability(rec, job)
	if p >= 1 {
		return true
	}
	if p <= 0 {
		return false
	}
	u, err := uniform(rng)
	if err != nil {
		return true
	}
	return u < p
}

// uniform reads a float64 uniform in [0, 1) with 53 random bits.
func uniform(rng io.Reader) (float64, error) {
	var b [8]byte
	if _, err := io.ReadFull(rng, b[:]); err != nil {
		return 0, err
	}
	return float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53), nil
}

// PeerInfo is what placement knows of a peer for replica constraints.
// Addrs and Account may be empty when unknown; a constraint on an unknown
// value is not applied.
type PeerInfo struct {
	Peer    string
	Addrs   []netip.Addr // public addresses seen for the peer
	Account string       // payout account, e.g. an Ethereum address
}

// Reasons a candidate cannot hold a replica.
const (
	ReasonSamePeer    = "same peer"
	ReasonSameNetwork = "same network" // same IPv4 /24 or IPv6 /48
	ReasonSameAccount = "same payout account"
	ReasonBanned      = "banned"
	ReasonLowTrust    = "short record"         // a peer with a full record was preferred for the third replica
	ReasonSuspect     = "lost a vote recently" // never settles a mismatch
)

// Excluded is a candidate that was left out, with a reason a user can read.
type Excluded struct {
	Peer   string
	Reason string
}

// ReplicaCandidates returns the candidates that may hold another replica
// of a tasklet already placed on the peers in placed (the primary, and
// for a third replica the second too): a different peer, where known a
// different /24 (IPv4) or /48 (IPv6) network, and a different payout
// account. Those left out come back with their reason. Candidates keep
// their order.
func ReplicaCandidates(placed []PeerInfo, candidates []PeerInfo) ([]PeerInfo, []Excluded) {
	var ok []PeerInfo
	var out []Excluded
	for _, c := range candidates {
		if why := conflict(placed, c); why != "" {
			out = append(out, Excluded{Peer: c.Peer, Reason: why})
			continue
		}
		ok = append(ok, c)
	}
	return ok, out
}

func conflict(placed []PeerInfo, c PeerInfo) string {
	for _, p := range placed {
		if p.Peer == c.Peer {
			return ReasonSamePeer
		}
	}
	for _, p := range placed {
		if p.Account != "" && p.Account == c.Account {
			return ReasonSameAccount + " as " + p.Peer
		}
		for _, a := range p.Addrs {
			for _, b := range c.Addrs {
				if sameNetwork(a, b) {
					return ReasonSameNetwork + " as " + p.Peer + " (" + network(a).String() + ")"
				}
			}
		}
	}
	return ""
}

// network is the /24 of an IPv4 address or the /48 of an IPv6 one.
func network(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

func sameNetwork(a, b netip.Addr) bool {
	if !a.IsValid() || !b.IsValid() || a.Unmap().Is4() != b.Unmap().Is4() {
		return false
	}
	return network(a) == network(b)
}

// PickThird chooses the peer for the third replica that settles a
// mismatch: among the candidates that ReplicaCandidates allows and that
// are not banned, the one with the longest unbroken record on class
// (then most verified results, then lowest peer ID, so the choice is
// reproducible). Peers with a full record (at least ShortRecord
// consecutive verified results) are preferred; in a young swarm where no
// candidate has one, the best of the rest decides, except suspects (a lost
// vote and no full record since): waiting for a full record would leave
// every early mismatch undecided and let early cheats go unpunished. ok is
// false when no candidate qualifies; excluded says why each was left out.
func PickThird(book *Book, class Class, placed, candidates []PeerInfo, now time.Time) (pick PeerInfo, ok bool, excluded []Excluded) {
	allowed, excluded := ReplicaCandidates(placed, candidates)
	type scored struct {
		info PeerInfo
		rec  Record
	}
	var full, young []scored
	for _, c := range allowed {
		if banned, why := book.Banned(c.Peer, now); banned {
			excluded = append(excluded, Excluded{Peer: c.Peer, Reason: ReasonBanned + ": " + why})
			continue
		}
		rec := book.Get(Key{Peer: c.Peer, Class: class})
		switch {
		case rec.Consecutive >= ShortRecord:
			full = append(full, scored{c, rec})
		case rec.Lost > 0:
			excluded = append(excluded, Excluded{Peer: c.Peer, Reason: ReasonSuspect})
		default:
			young = append(young, scored{c, rec})
		}
	}
	good := full
	if len(full) == 0 {
		good = young
	} else {
		for _, y := range young {
			excluded = append(excluded, Excluded{Peer: y.info.Peer, Reason: ReasonLowTrust})
		}
	}
	if len(good) == 0 {
		return PeerInfo{}, false, excluded
	}
	sort.Slice(good, func(i, j int) bool {
		a, b := good[i].rec, good[j].rec
		if a.Consecutive != b.Consecutive {
			return a.Consecutive > b.Consecutive
		}
		if a.Passed != b.Passed {
			return a.Passed > b.Passed
		}
		return a.Peer < b.Peer
	})
	return good[0].info, true, excluded
}
