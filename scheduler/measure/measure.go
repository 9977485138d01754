// Package measure keeps what a coordinator has observed of each peer —
// transfer bandwidth, trainer throughput per model size and the outcomes of
// the tasklets it ran — and turns it into the figures placement ranks on.
//
//	completed fetch ───── ObserveTransfer ──▶ bandwidth EWMA ─────▶ Bandwidth
//	                                          (a peer never measured: the
//	                                           median of those measured)
//	completed tasklet ─── ObserveTasklet ───▶ throughput EWMA  ───▶ Throughput
//	                                          per model-size bucket  (scaled from the
//	                                                                  nearest bucket)
//	accepted / failed ─── ObserveOutcome ───▶ decayed ok / total ──▶ Reputation
//
// A Table does no I/O and reads time only through its injected clock, so the
// same observations always give the same figures. It is safe for concurrent
// use. A Snapshot marshals to JSON, so the owner can persist a Table and
// Restore it.
package measure

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"sync"
	"time"
)

// Defaults of Config, used where a field is zero.
const (
	// DefaultBandwidth (10 MB/s) is assumed for a peer never measured while
	// fewer than MinPriorPeers peers are. It is deliberately low: a peer
	// that is fast but unknown loses a little work until its first transfer
	// is measured, while a slow peer assumed fast would be handed large
	// inputs and hold up a whole round.
	DefaultBandwidth = 10e6
	// MinPriorPeers is how many measured peers it takes before a peer never
	// measured is assumed to transfer at their median rather than at
	// DefaultBandwidth. A fixed low default never let an unknown peer win
	// against measured ones, so it was never measured: on the world network
	// a worker next to the coordinator, lacking the shard, read as a
	// 0.4 s fetch and stayed unused all job long.
	MinPriorPeers = 3
	// DefaultAlpha is the weight of a new observation in the EWMAs.
	DefaultAlpha = 0.3
	// DefaultHalfLife is how long until an outcome weighs half as much in
	// the reputation.
	DefaultHalfLife = 24 * time.Hour
	// DefaultMinTransfer is the smallest transfer that counts toward the
	// bandwidth: smaller ones measure round trips, not the link.
	DefaultMinTransfer = 32 << 10
	// DefaultMaxPeers bounds the peers a Table remembers; the least recently
	// observed are dropped first.
	DefaultMaxPeers = 4096
)

// Config tunes a Table. The zero value uses the defaults above and the wall
// clock.
type Config struct {
	Alpha            float64          // 0 < Alpha ≤ 1; default DefaultAlpha
	DefaultBandwidth float64          // bytes/s; default DefaultBandwidth
	HalfLife         time.Duration    // default DefaultHalfLife
	MinTransfer      int64            // bytes; default DefaultMinTransfer
	MaxPeers         int              // default DefaultMaxPeers
	Now              func() time.Time // default time.Now
}

func (c Config) withDefaults() Config {
	if !(c.Alpha > 0 && c.Alpha <= 1) {
		c.Alpha = DefaultAlpha
	}
	if !(c.DefaultBandwidth > 0) || math.IsInf(c.DefaultBandwidth, 0) {
		c.DefaultBandwidth = DefaultBandwidth
	}
	if c.HalfLife <= 0 {
		c.HalfLife = DefaultHalfLife
	}
	if c.MinTransfer <= 0 {
		c.MinTransfer = DefaultMinTransfer
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Table holds the measurements of every peer observed. Create it with New.
type Table struct {
	cfg   Config
	mu    sync.Mutex
	peers map[string]*peer
	// prior is the bandwidth assumed for a peer never measured, computed
	// again when stale (after any change to the measured bandwidths).
	prior      float64
	priorStale bool
}

// peer is what a Table knows of one peer.
type peer struct {
	bw      ewma
	thr     map[int]*sizeThroughput // by model-size bucket
	bench   *sizeThroughput         // the peer's own benchmark, until a tasklet is measured
	ok, n   float64                 // decayed outcome counts
	outAt   time.Time               // when ok and n were last decayed
	touched time.Time               // last observation of any kind
}

// sizeThroughput is the throughput EWMA of one model-size bucket, with the
// model size it was observed at (the last one) to scale from.
type sizeThroughput struct {
	Params int64
	ewma
}

// ewma is an exponentially weighted moving average; N counts observations.
type ewma struct {
	V float64 `json:"v"`
	N int64   `json:"n"`
}

func (e *ewma) add(x, alpha float64) {
	if e.N == 0 {
		e.V = x
	} else {
		// Clamped: rounding must not take the average outside the two
		// values it lies between (alpha 1 would otherwise miss x by an ulp).
		lo, hi := min(e.V, x), max(e.V, x)
		e.V = min(max(e.V+alpha*(x-e.V), lo), hi)
	}
	e.N++
}

// New returns an empty Table.
func New(cfg Config) *Table {
	return &Table{cfg: cfg.withDefaults(), peers: map[string]*peer{}, priorStale: true}
}

// get returns the entry of id, creating it; callers hold t.mu.
func (t *Table) get(id string, now time.Time) *peer {
	p := t.peers[id]
	if p == nil {
		if len(t.peers) >= t.cfg.MaxPeers {
			t.evictOldest()
		}
		p = &peer{thr: map[int]*sizeThroughput{}, outAt: now}
		t.peers[id] = p
	}
	p.touched = now
	return p
}

func (t *Table) evictOldest() {
	var oldest string
	var at time.Time
	for id, p := range t.peers {
		if oldest == "" || p.touched.Before(at) || (p.touched.Equal(at) && id < oldest) {
			oldest, at = id, p.touched
		}
	}
	delete(t.peers, oldest)
	t.priorStale = true
}

// ObserveTransfer records that bytes reached (or left) peer in d. Transfers
// smaller than Config.MinTransfer, and nonsense ones, are ignored.
func (t *Table) ObserveTransfer(peer string, bytes int64, d time.Duration) {
	if bytes < t.cfg.MinTransfer || d <= 0 {
		return
	}
	bps := float64(bytes) / d.Seconds()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.get(peer, t.cfg.Now()).bw.add(bps, t.cfg.Alpha)
	t.priorStale = true
}

// Bandwidth returns the bytes per second peer transfers at: the EWMA of its
// observed transfers; when none was observed, the median of the measured
// peers' (at least MinPriorPeers of them), else Config.DefaultBandwidth.
func (t *Table) Bandwidth(peer string) float64 {
	bw, _ := t.BandwidthMeasured(peer)
	return bw
}

// BandwidthMeasured is Bandwidth, and whether it was measured rather than
// the default.
func (t *Table) BandwidthMeasured(peer string) (float64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.peers[peer]; p != nil && p.bw.N > 0 {
		return p.bw.V, true
	}
	return t.priorLocked(), false
}

// priorLocked is the bandwidth of a peer never measured; callers hold t.mu.
func (t *Table) priorLocked() float64 {
	if !t.priorStale {
		return t.prior
	}
	var bws []float64
	for _, p := range t.peers {
		if p.bw.N > 0 {
			bws = append(bws, p.bw.V)
		}
	}
	t.prior, t.priorStale = t.cfg.DefaultBandwidth, false
	if len(bws) >= MinPriorPeers {
		sort.Float64s(bws)
		t.prior = bws[len(bws)/2]
		if len(bws)%2 == 0 {
			t.prior = (bws[len(bws)/2-1] + bws[len(bws)/2]) / 2
		}
	}
	return t.prior
}

// bucket groups model sizes by power of two.
func bucket(params int64) int {
	if params < 1 {
		params = 1
	}
	return bits.Len64(uint64(params))
}

// ObserveTasklet records that peer trained samples samples of a model with
// modelParams parameters in compute (the executor's time, without
// transfers). Nonsense observations are ignored.
func (t *Table) ObserveTasklet(peer string, modelParams int64, samples int, compute time.Duration) {
	if modelParams <= 0 || samples <= 0 || compute <= 0 {
		return
	}
	sps := float64(samples) / compute.Seconds()
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.get(peer, t.cfg.Now())
	b := bucket(modelParams)
	st := p.thr[b]
	if st == nil {
		st = &sizeThroughput{}
		p.thr[b] = st
	}
	st.Params = modelParams
	st.add(sps, t.cfg.Alpha)
}

// ObserveBenchmark records the throughput a peer claims for itself (the
// capability record's start-up benchmark: samplesPerSec on a model of
// modelParams parameters). Throughput falls back to it, scaled to the
// model's size, until the peer has completed a tasklet; a later benchmark
// replaces an earlier one. Nonsense values are ignored.
func (t *Table) ObserveBenchmark(peer string, modelParams int64, samplesPerSec float64) {
	if modelParams <= 0 || !finitePos(samplesPerSec) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.get(peer, t.cfg.Now()).bench = &sizeThroughput{Params: modelParams, ewma: ewma{V: samplesPerSec, N: 1}}
}

// Throughput returns the samples per second peer trains a model of
// modelParams parameters at. Without an observation in the model's size
// bucket it scales the nearest measured size's figure by the ratio of sizes
// (compute per sample grows with the parameters); without any completed
// tasklet it scales the peer's benchmark (ObserveBenchmark). It reports
// false when it has neither.
func (t *Table) Throughput(peer string, modelParams int64) (float64, bool) {
	if modelParams < 1 {
		modelParams = 1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peers[peer]
	if p == nil {
		return 0, false
	}
	if len(p.thr) == 0 {
		if p.bench == nil {
			return 0, false
		}
		return p.bench.V * float64(p.bench.Params) / float64(modelParams), true
	}
	want := bucket(modelParams)
	if st := p.thr[want]; st != nil {
		return st.V, true
	}
	best, bestDist := 0, math.MaxInt
	for b := range p.thr {
		d := b - want
		if d < 0 {
			d = -d
		}
		if d < bestDist || (d == bestDist && b < best) {
			best, bestDist = b, d
		}
	}
	st := p.thr[best]
	return st.V * float64(st.Params) / float64(modelParams), true
}

// ObserveOutcome records that a tasklet run by peer was accepted (ok) or
// failed. Declines for being busy are not outcomes.
func (t *Table) ObserveOutcome(peer string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	p := t.get(peer, now)
	t.decay(p, now)
	p.n++
	if ok {
		p.ok++
	}
}

// decay ages p's outcome counts to now.
func (t *Table) decay(p *peer, now time.Time) {
	dt := now.Sub(p.outAt)
	if dt <= 0 {
		return
	}
	f := math.Exp2(-float64(dt) / float64(t.cfg.HalfLife))
	p.ok *= f
	p.n *= f
	p.outAt = now
}

// Reputation returns peer's share of accepted tasklets under a Beta(1,1)
// prior, (ok+1)/(n+2), with older outcomes weighing less (Config.HalfLife).
// A peer without outcomes has 0.5.
func (t *Table) Reputation(peer string) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peers[peer]
	if p == nil {
		return 0.5
	}
	f := 1.0
	if dt := t.cfg.Now().Sub(p.outAt); dt > 0 {
		f = math.Exp2(-float64(dt) / float64(t.cfg.HalfLife))
	}
	return (p.ok*f + 1) / (p.n*f + 2)
}

// Stats is what a Table makes of one peer, for display ("why this peer").
type Stats struct {
	BandwidthBps      float64 `json:"bandwidth_bps"`
	BandwidthMeasured bool    `json:"bandwidth_measured"` // false: the default
	Transfers         int64   `json:"transfers"`          // transfers counted
	Tasklets          int64   `json:"tasklets"`           // tasklets timed, all model sizes
	Reputation        float64 `json:"reputation"`
	Outcomes          float64 `json:"outcomes"` // outcomes, decayed
}

// Stats returns the Table's figures for peer; an unknown peer gets the
// defaults.
func (t *Table) Stats(peer string) Stats {
	rep := t.Reputation(peer)
	t.mu.Lock()
	defer t.mu.Unlock()
	st := Stats{BandwidthBps: t.cfg.DefaultBandwidth, Reputation: rep}
	p := t.peers[peer]
	if p == nil {
		return st
	}
	if p.bw.N > 0 {
		st.BandwidthBps, st.BandwidthMeasured, st.Transfers = p.bw.V, true, p.bw.N
	}
	for _, b := range p.thr {
		st.Tasklets += b.N
	}
	st.Outcomes = p.n
	if dt := t.cfg.Now().Sub(p.outAt); dt > 0 {
		st.Outcomes *= math.Exp2(-float64(dt) / float64(t.cfg.HalfLife))
	}
	return st
}

// Forget drops everything known of peer.
func (t *Table) Forget(peer string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.peers, peer)
	t.priorStale = true
}

// Peers returns the IDs of the peers the Table knows, sorted.
func (t *Table) Peers() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.peers))
	for id := range t.peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// SnapshotVersion is the Version of the Snapshots this package writes.
const SnapshotVersion = 1

// Snapshot is a Table's content in a form that marshals to JSON.
type Snapshot struct {
	Version int                     `json:"version"`
	Peers   map[string]PeerSnapshot `json:"peers"`
}

// PeerSnapshot is what a Table knows of one peer.
type PeerSnapshot struct {
	BandwidthBps float64            `json:"bandwidthBps,omitempty"`
	BandwidthN   int64              `json:"bandwidthN,omitempty"` // observations
	Throughput   []ThroughputAtSize `json:"throughput,omitempty"`
	Benchmark    *ThroughputAtSize  `json:"benchmark,omitempty"` // the peer's own claim
	OK           float64            `json:"ok"`                  // decayed accepted outcomes
	N            float64            `json:"n"`                   // decayed outcomes
	OutcomesAt   time.Time          `json:"outcomesAt"`
	Touched      time.Time          `json:"touched"` // last observation
}

// ThroughputAtSize is the throughput EWMA observed at one model size.
type ThroughputAtSize struct {
	Params        int64   `json:"params"`
	SamplesPerSec float64 `json:"samplesPerSec"`
	N             int64   `json:"n"`
}

// Snapshot returns a copy of the Table's content.
func (t *Table) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Snapshot{Version: SnapshotVersion, Peers: make(map[string]PeerSnapshot, len(t.peers))}
	for id, p := range t.peers {
		ps := PeerSnapshot{BandwidthBps: p.bw.V, BandwidthN: p.bw.N, OK: p.ok, N: p.n, OutcomesAt: p.outAt, Touched: p.touched}
		for _, st := range p.thr {
			ps.Throughput = append(ps.Throughput, ThroughputAtSize{Params: st.Params, SamplesPerSec: st.V, N: st.N})
		}
		if p.bench != nil {
			ps.Benchmark = &ThroughputAtSize{Params: p.bench.Params, SamplesPerSec: p.bench.V, N: p.bench.N}
		}
		sort.Slice(ps.Throughput, func(i, j int) bool { return ps.Throughput[i].Params < ps.Throughput[j].Params })
		s.Peers[id] = ps
	}
	return s
}

// Restore replaces the Table's content with s. It refuses a snapshot of
// another version or with impossible figures, leaving the Table unchanged.
func (t *Table) Restore(s Snapshot) error {
	if s.Version != SnapshotVersion {
		return fmt.Errorf("restoring measurements: snapshot version %d, want %d", s.Version, SnapshotVersion)
	}
	peers := make(map[string]*peer, len(s.Peers))
	for id, ps := range s.Peers {
		if err := ps.check(); err != nil {
			return fmt.Errorf("restoring measurements of peer %s: %w", id, err)
		}
		p := &peer{bw: ewma{V: ps.BandwidthBps, N: ps.BandwidthN}, thr: map[int]*sizeThroughput{}, ok: ps.OK, n: ps.N, outAt: ps.OutcomesAt, touched: ps.Touched}
		for _, ts := range ps.Throughput {
			p.thr[bucket(ts.Params)] = &sizeThroughput{Params: ts.Params, ewma: ewma{V: ts.SamplesPerSec, N: ts.N}}
		}
		if b := ps.Benchmark; b != nil {
			p.bench = &sizeThroughput{Params: b.Params, ewma: ewma{V: b.SamplesPerSec, N: b.N}}
		}
		peers[id] = p
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.peers, t.priorStale = peers, true
	for len(t.peers) > t.cfg.MaxPeers {
		t.evictOldest()
	}
	return nil
}

func finitePos(x float64) bool { return x > 0 && !math.IsInf(x, 0) }

func (ps PeerSnapshot) check() error {
	if ps.BandwidthN < 0 || (ps.BandwidthN > 0 && !finitePos(ps.BandwidthBps)) {
		return fmt.Errorf("bandwidth %v over %d observations", ps.BandwidthBps, ps.BandwidthN)
	}
	if !(ps.N >= 0 && ps.OK >= 0 && ps.OK <= ps.N) || math.IsInf(ps.N, 0) {
		return fmt.Errorf("%v of %v outcomes ok", ps.OK, ps.N)
	}
	all := ps.Throughput
	if ps.Benchmark != nil {
		all = append(append([]ThroughputAtSize(nil), all...), *ps.Benchmark)
	}
	for _, ts := range all {
		if ts.Params <= 0 || ts.N <= 0 || !finitePos(ts.SamplesPerSec) {
			return fmt.Errorf("throughput %v samples/s at %d params over %d observations", ts.SamplesPerSec, ts.Params, ts.N)
		}
	}
	return nil
}
