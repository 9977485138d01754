package sim

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gridswarm/gridswarm/scheduler/placement"
)

// world is everything about a scenario that does not change between rounds.
type world struct {
	cfg     Config
	regions []string
	coord   int      // region index of the coordinator
	links   [][]Link // region × region; the diagonal is the scenario's intra link
	peers   []simPeer
	holders [][]int32 // shard → peers holding it from the start
	classes []GPUClass
}

type simPeer struct {
	id       string
	region   int
	class    int
	execs    []string
	rep      float64
	measured bool
	rttEst   time.Duration     // what the coordinator believes the RTT is
	holds    map[string]uint64 // shards held from the start
}

// round is the part of the world drawn afresh each round. Every strategy
// sees the same round: churn does not depend on who placed what.
type round struct {
	n        int
	present  []bool
	idle     []bool
	thr      []float64       // actual samples/s this round
	dropAt   []time.Duration // when the peer drops out mid-round; MaxInt64: it stays
	setup    []time.Duration // region → true RTT × round trips
	weightsT []time.Duration // region → time to fetch the weights from the coordinator
	sources  [][]int         // shard → regions it is fetched from this round
	shardT   [][]time.Duration
	// shardT[s][r] is the time to fetch shard s into region r from its nearest
	// source: a holder present at the round's start, else the coordinator.
	tasklets []placement.Tasklet
}

const (
	executor    = "builtin"
	peerVersion = "0.1.0"
	noDrop      = time.Duration(math.MaxInt64)
)

func shardCID(s int) string { return fmt.Sprintf("shard-%05d", s) }

func newWorld(cfg Config, geo *Geo) (*world, error) {
	sc, err := geo.Scenario(cfg.Scenario)
	if err != nil {
		return nil, err
	}
	w := &world{cfg: cfg, regions: sc.Regions, coord: slices.Index(sc.Regions, cfg.Coordinator), classes: cfg.Classes}
	if w.coord < 0 {
		return nil, fmt.Errorf("coordinator region %q is not in scenario %s %v", cfg.Coordinator, sc.Name, sc.Regions)
	}
	w.links = make([][]Link, len(sc.Regions))
	for i, a := range sc.Regions {
		w.links[i] = make([]Link, len(sc.Regions))
		for j, b := range sc.Regions {
			if w.links[i][j], err = geo.Link(a, b); err != nil {
				return nil, err
			}
		}
		w.links[i][i] = sc.Intra
	}
	if n := cfg.PeersPerRegion; n > 0 && cfg.Peers != n*len(sc.Regions) {
		return nil, fmt.Errorf("%d peers per region in the %d regions of %s are %d peers, not %d", n, len(sc.Regions), sc.Name, n*len(sc.Regions), cfg.Peers)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	w.makePeers(rng)
	w.placeShards(rng)
	return w, nil
}

func (w *world) makePeers(rng *rand.Rand) {
	var total float64
	for _, c := range w.classes {
		total += c.Share
	}
	w.peers = make([]simPeer, w.cfg.Peers)
	for i := range w.peers {
		p := simPeer{id: fmt.Sprintf("peer-%06d", i), region: rng.IntN(len(w.regions)), rep: 0.5 + rng.Float64()/2}
		if n := w.cfg.PeersPerRegion; n > 0 {
			p.region = i / n // drawn all the same, so the rest of the stream stays
		}
		for u := rng.Float64() * total; p.class < len(w.classes)-1 && u >= w.classes[p.class].Share; p.class++ {
			u -= w.classes[p.class].Share
		}
		p.execs = []string{"wasm"}
		if rng.Float64() >= w.cfg.NoExecutor {
			p.execs = append(p.execs, executor)
		}
		p.measured = rng.Float64() < w.cfg.Measured
		p.rttEst = w.links[w.coord][p.region].RTT
		if noise := 1 + w.cfg.RTTNoise*rng.NormFloat64(); !p.measured {
			p.rttEst = time.Duration(float64(p.rttEst) * max(noise, 0.2))
		}
		w.peers[i] = p
	}
}

func (w *world) placeShards(rng *rand.Rand) {
	w.holders = make([][]int32, w.cfg.Tasklets)
	if w.cfg.HolderPerRegion {
		for s := range w.holders {
			for i := 0; i < len(w.peers); i += w.cfg.PeersPerRegion {
				w.hold(s, int32(i))
			}
		}
		return
	}
	for s := range w.holders {
		for len(w.holders[s]) < w.cfg.ShardReplicas {
			i := int32(rng.IntN(len(w.peers)))
			if slices.Contains(w.holders[s], i) {
				continue
			}
			w.hold(s, i)
		}
		slices.Sort(w.holders[s])
	}
}

// hold gives shard s to peer i from the start.
func (w *world) hold(s int, i int32) {
	p := &w.peers[i]
	if p.holds == nil {
		p.holds = map[string]uint64{}
	}
	p.holds[shardCID(s)] = w.cfg.ShardBytes
	w.holders[s] = append(w.holders[s], i)
}

// nextRound draws round n from the previous presence (nil for the first).
func (w *world) nextRound(n int, prev []bool) *round {
	cfg := &w.cfg
	rng := rand.New(rand.NewPCG(cfg.Seed, 1000+uint64(n)))
	rd := &round{
		n: n, present: make([]bool, len(w.peers)), idle: make([]bool, len(w.peers)),
		thr: make([]float64, len(w.peers)), dropAt: make([]time.Duration, len(w.peers)),
	}
	for i := range w.peers {
		// Draw every number for every peer so one peer's state never shifts
		// another's random stream.
		stay, idle, noise, drop := rng.Float64(), rng.Float64(), rng.NormFloat64(), rng.ExpFloat64()
		switch {
		case prev == nil:
			rd.present[i] = true
		case prev[i]:
			rd.present[i] = stay >= cfg.Leave
		default:
			rd.present[i] = stay < cfg.Join
		}
		rd.idle[i] = idle >= cfg.NotIdle
		rd.thr[i] = w.classes[w.peers[i].class].Throughput * math.Exp(cfg.ThroughputNoise*noise)
		rd.dropAt[i] = noDrop
		if cfg.MeanSession > 0 {
			rd.dropAt[i] = time.Duration(drop * float64(cfg.MeanSession))
		}
	}
	w.transferTimes(rd)
	w.makeTasklets(rd)
	return rd
}

func (w *world) transferTimes(rd *round) {
	nr := len(w.regions)
	rd.setup = make([]time.Duration, nr)
	rd.weightsT = make([]time.Duration, nr)
	for r := range nr {
		l := w.links[w.coord][r]
		rd.setup[r] = l.RTT * time.Duration(w.cfg.RoundTrips)
		rd.weightsT[r] = transfer(w.cfg.ModelBytes, l)
	}
	rd.sources = make([][]int, len(w.holders))
	rd.shardT = make([][]time.Duration, len(w.holders))
	for s, hs := range w.holders {
		var sources []int
		for _, h := range hs {
			if r := w.peers[h].region; rd.present[h] && !slices.Contains(sources, r) {
				sources = append(sources, r)
			}
		}
		if len(sources) == 0 {
			sources = append(sources, w.coord) // the dataset's origin
		}
		rd.sources[s] = sources
		rd.shardT[s] = make([]time.Duration, nr)
		for r := range nr {
			best := noDrop
			for _, src := range sources {
				best = min(best, transfer(w.cfg.ShardBytes, w.links[src][r]))
			}
			rd.shardT[s][r] = best
		}
	}
}

func transfer(bytes uint64, l Link) time.Duration {
	return time.Duration(float64(bytes) / l.BandwidthBps * float64(time.Second))
}

// weightsCID names round n's weights.
func weightsCID(n int) string { return fmt.Sprintf("weights-r%d", n) }

// makeTasklets names where each input can be fetched from, as the
// coordinator would from the DHT's providers: the weights from itself, a
// shard from the regions of its holders.
func (w *world) makeTasklets(rd *round) {
	weights := placement.Input{CID: weightsCID(rd.n), Bytes: w.cfg.ModelBytes, SourceSites: []string{w.regions[w.coord]}}
	rd.tasklets = make([]placement.Tasklet, w.cfg.Tasklets)
	for i := range rd.tasklets {
		shard := placement.Input{CID: shardCID(i), Bytes: w.cfg.ShardBytes}
		for _, r := range rd.sources[i] {
			shard.SourceSites = append(shard.SourceSites, w.regions[r])
		}
		rd.tasklets[i] = placement.Tasklet{
			ID:       fmt.Sprintf("r%d-t%05d", rd.n, i),
			Executor: executor,
			Inputs:   []placement.Input{weights, shard},
			Samples:  w.cfg.Samples,
			GPUMem:   w.cfg.GPUMem,
		}
	}
}

// linkEstimate is what the coordinator knows of the network
// (placement.Options.Links): the measured bandwidth between regions.
func (w *world) linkEstimate() func(from, to string) (float64, bool) {
	index := make(map[string]int, len(w.regions))
	for i, r := range w.regions {
		index[r] = i
	}
	return func(from, to string) (float64, bool) {
		a, okA := index[from]
		b, okB := index[to]
		if !okA || !okB {
			return 0, false
		}
		return w.links[a][b].BandwidthBps, true
	}
}

// compute is how long peer p really takes for one tasklet this round.
func (w *world) compute(rd *round, p int) time.Duration {
	return time.Duration(float64(w.cfg.Samples) / rd.thr[p] * float64(time.Second))
}

// snapshot is what the coordinator sees at time now: present peers that have
// not dropped out, in their region, with the work still queued on them and
// the weights on those it already sent a tasklet (hasWeights, nil for
// none). A peer's bandwidth is its own access link, the within-region one:
// the paths between regions come from linkEstimate. ids maps a snapshot
// index back to the peer.
func (w *world) snapshot(rd *round, now time.Duration, gone []bool, busy []time.Duration, hasWeights []bool) (snap []placement.Peer, ids []int32) {
	for i := range w.peers {
		if !rd.present[i] || gone[i] {
			continue
		}
		p := &w.peers[i]
		c := &w.classes[p.class]
		holds := p.holds
		if hasWeights != nil && hasWeights[i] {
			holds = maps.Clone(holds)
			if holds == nil {
				holds = map[string]uint64{}
			}
			holds[weightsCID(rd.n)] = w.cfg.ModelBytes
		}
		snap = append(snap, placement.Peer{
			ID: p.id, Executors: p.execs, GPUMemFree: c.GPUMem, DiskFree: 1 << 40,
			Idle: rd.idle[i], Version: peerVersion, PricePerHour: c.PricePerHour,
			RTT: p.rttEst, RTTMeasured: p.measured,
			BandwidthBps: w.links[p.region][p.region].BandwidthBps,
			Throughput:   c.Throughput, Queue: max(busy[i]-now, 0),
			Reputation: p.rep, Holds: holds, Site: w.regions[p.region],
		})
		ids = append(ids, int32(i))
	}
	return snap, ids
}
