// Package sim is a seeded simulation of the verify policy over a swarm
// in which some workers cheat on a share of their tasklets. It measures
// what the policy costs (extra tasklet-runs) against what it catches, and
// is the source of the "Verification policy" numbers in
// docs/benchmarks.md (go run ./bench/verify).
//
//	for each tasklet:  primary P ← uniform among unbanned workers
//	                   Draw(book[P]) ─ no ─► accepted unchecked
//	                        │ yes
//	                   replica R ← ReplicaCandidates, uniform
//	                   Decide([P, R]) ─ NeedThird ─► PickThird T, Decide([P, R, T])
//	                   winners Verified, losers LostVote (bans), faults dropped
//
// Every tasklet takes the same time, so tasklet-runs stand for
// tasklet-seconds. Honest outputs are one CID per tasklet; a cheater's
// fake is a CID of its own, or with Collude the same wrong CID as every
// other colluder's fake of that tasklet.
package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gridswarm/gridswarm/verify"
)

// Config is one simulated job.
type Config struct {
	Seed      uint64
	Workers   int     // swarm size
	Cheaters  int     // of the workers, how many cheat
	CheatRate float64 // share of its tasklets a cheater fakes
	Collude   bool    // cheaters' fakes of one tasklet agree
	Tasklets  int     // tasklets in the job
	Window    int     // a cheater counts as caught if it loses a vote within its first Window tasklet-runs
	Rates     verify.Rates
	Rule      verify.Rule
	Tick      time.Duration // simulated time per Workers tasklets (one tasklet per worker)
}

// Default is the scenario: 10,000 tasklets over 10 workers (so
// each runs about 1,000), 2 of them faking 5% of their tasklets, the
// job's default rates and the default ban rule.
func Default() Config {
	return Config{Seed: 1, Workers: 10, Cheaters: 2, CheatRate: 0.05, Tasklets: 10000, Window: 1000,
		Rates: verify.Rates{Rate: 0.1, MinRateNewPeers: 0.5}, Rule: verify.DefaultRule, Tick: time.Minute}
}

// Result is what one job cost and caught.
type Result struct {
	Tasklets     int // primary runs (the honest cost of the job)
	Replicas     int // second runs drawn by the policy
	Thirds       int // third runs that settled a mismatch
	NoThird      int // mismatches with no high-trust peer for a third run (tasklet dropped)
	Faults       int // votes where all three outputs differed (tasklet dropped)
	Cheaters     int
	Caught       int // cheaters that lost a vote within their first Window runs
	Banned       int // cheaters banned at least once
	Faked        int // fake outputs returned as primary
	FakeAccepted int // of those, accepted into the model
	HonestLost   int // votes lost by honest workers
	Unplaced     int // tasklets with no unbanned worker
}

// Overhead is extra tasklet-runs over honest tasklet-runs.
func (r Result) Overhead() float64 {
	if r.Tasklets == 0 {
		return 0
	}
	return float64(r.Replicas+r.Thirds) / float64(r.Tasklets)
}

// Run simulates one job. It is deterministic in cfg.
func Run(cfg Config) (Result, error) {
	if cfg.Workers < 3 || cfg.Cheaters < 0 || cfg.Cheaters > cfg.Workers || cfg.Tasklets < 1 || cfg.Window < 1 {
		return Result{}, fmt.Errorf("cannot simulate: want at least 3 workers, 0 to workers cheaters, tasklets and window ≥ 1; got %+v", cfg)
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], cfg.Seed)
	src := rand.NewChaCha8(seed)
	rng := rand.New(src)
	s := &state{cfg: cfg, rng: rng, src: src, book: verify.NewBook(cfg.Rule),
		runs: make([]int, cfg.Workers), caughtAt: make([]int, cfg.Workers)}
	for w := range cfg.Workers {
		s.peers = append(s.peers, verify.PeerInfo{Peer: fmt.Sprintf("w%02d", w)})
	}
	s.res.Cheaters = cfg.Cheaters
	for t := range cfg.Tasklets {
		now := time.Unix(0, 0).UTC().Add(time.Duration(t/cfg.Workers) * cfg.Tick)
		s.tasklet(t, now)
	}
	for w := range cfg.Cheaters {
		if s.caughtAt[w] > 0 && s.caughtAt[w] <= cfg.Window {
			s.res.Caught++
		}
		if s.book.Get(s.key(w)).Offences > 0 {
			s.res.Banned++
		}
	}
	return s.res, nil
}

type state struct {
	cfg      Config
	rng      *rand.Rand
	src      *rand.ChaCha8
	book     *verify.Book
	peers    []verify.PeerInfo
	runs     []int // tasklet-runs per worker
	caughtAt []int // run index of a worker's first lost vote, 0 if none
	res      Result
}

// Workers 0 … Cheaters−1 cheat.
func (s *state) cheater(w int) bool { return w < s.cfg.Cheaters }

func (s *state) key(w int) verify.Key {
	return verify.Key{Peer: s.peers[w].Peer, Class: verify.ClassBuiltin}
}

func (s *state) index(peer string) int {
	var w int
	fmt.Sscanf(peer, "w%d", &w)
	return w
}

func (s *state) eligible(now time.Time) []verify.PeerInfo {
	var out []verify.PeerInfo
	for _, p := range s.peers {
		if banned, _ := s.book.Banned(p.Peer, now); !banned {
			out = append(out, p)
		}
	}
	return out
}

// run has worker w run tasklet t and returns its output CID.
func (s *state) run(w, t int, now time.Time, primary bool) verify.Output {
	s.runs[w]++
	s.book.Update(s.key(w), func(r *verify.Record) { r.Ran(now) })
	out := fmt.Sprintf("good/%d", t)
	if s.cheater(w) && s.rng.Float64() < s.cfg.CheatRate {
		out = fmt.Sprintf("fake/%d/%s", t, s.peers[w].Peer)
		if s.cfg.Collude {
			out = fmt.Sprintf("fake/%d", t)
		}
		if primary {
			s.res.Faked++
		}
	}
	return verify.Output{Peer: s.peers[w].Peer, CID: out}
}

func (s *state) tasklet(t int, now time.Time) {
	pool := s.eligible(now)
	if len(pool) == 0 {
		s.res.Unplaced++
		return
	}
	s.res.Tasklets++
	p := s.index(pool[s.rng.IntN(len(pool))].Peer)
	outs := []verify.Output{s.run(p, t, now, true)}
	if !verify.Draw(s.book.Get(s.key(p)), s.cfg.Rates, s.src) {
		s.accept(outs[0])
		return
	}
	cands, _ := verify.ReplicaCandidates([]verify.PeerInfo{s.peers[p]}, pool)
	if len(cands) == 0 {
		s.accept(outs[0]) // nobody to check against: accepted unchecked
		return
	}
	r := s.index(cands[s.rng.IntN(len(cands))].Peer)
	s.res.Replicas++
	outs = append(outs, s.run(r, t, now, false))
	cmp := verify.Comparator{Class: verify.ClassBuiltin}
	v := verify.Decide(cmp, outs)
	if v.Outcome == verify.NeedThird {
		third, ok, _ := verify.PickThird(s.book, verify.ClassBuiltin, []verify.PeerInfo{s.peers[p], s.peers[r]}, pool, now)
		if !ok {
			s.res.NoThird++
			return
		}
		s.res.Thirds++
		outs = append(outs, s.run(s.index(third.Peer), t, now, false))
		v = verify.Decide(cmp, outs)
	}
	for _, w := range v.Winners {
		s.book.Update(s.key(s.index(w)), func(r *verify.Record) { r.Verified(now, s.cfg.Rule) })
	}
	for _, l := range v.Losers {
		w := s.index(l)
		s.book.Update(s.key(w), func(r *verify.Record) { r.LostVote(now, s.cfg.Rule) })
		if !s.cheater(w) {
			s.res.HonestLost++
		}
		if s.caughtAt[w] == 0 {
			s.caughtAt[w] = s.runs[w]
		}
	}
	switch v.Outcome {
	case verify.Verified, verify.OddOneOut:
		s.accept(outs[v.Accepted])
	default:
		s.res.Faults++
	}
}

func (s *state) accept(o verify.Output) {
	if len(o.CID) >= 5 && o.CID[:5] == "fake/" {
		s.res.FakeAccepted++
	}
}
