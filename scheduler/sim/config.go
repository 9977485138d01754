package sim

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// GPUClass is one kind of contributor machine.
type GPUClass struct {
	Name         string
	Throughput   float64 // advertised samples per second
	GPUMem       uint64  // bytes
	Share        float64 // relative weight among classes
	PricePerHour float64
}

// Config describes one simulated job. Start from WorldWide and change fields;
// Run validates but does not fill in zero values, so a zero means zero.
type Config struct {
	Seed        uint64
	Scenario    string // geo scenario, e.g. "world_wide_8"
	Coordinator string // region of the coordinator, the weights and the dataset origin
	Peers       int    // spread uniformly at random over the scenario's regions
	// PeersPerRegion, when set, lays the peers out as a real test swarm
	// is: that many in each of the scenario's regions, in its order
	// (Peers must be their product), instead of drawing their regions.
	PeersPerRegion int
	// HolderPerRegion, with PeersPerRegion, makes the first peer of each
	// region hold every shard; ShardReplicas is then not used.
	HolderPerRegion bool
	Tasklets        int // per round; tasklet i always trains on shard i
	Rounds          int

	ModelBytes    uint64 // weights, fetched from the coordinator's region
	ShardBytes    uint64
	ShardReplicas int // peers holding each shard at the start, chosen at random
	Samples       int // per tasklet
	GPUMem        uint64
	Classes       []GPUClass

	NotIdle     float64       // chance a present peer is busy in a round
	NoExecutor  float64       // chance a peer lacks the builtin executor
	Leave       float64       // chance a present peer is gone the next round
	Join        float64       // chance an absent peer is back the next round
	MeanSession time.Duration // mean time until a peer drops out mid-round; 0: never
	Detect      time.Duration // from a peer dropping out to its work being re-placed

	RoundTrips      int     // setup cost in RTTs, as placement.Options.RoundTrips
	ThroughputNoise float64 // σ of the log-normal ratio of actual to advertised throughput
	RTTNoise        float64 // relative σ of Vivaldi estimates for unmeasured peers
	Measured        float64 // share of peers whose RTT the coordinator has measured
}

const (
	mb  = 1_000_000
	gib = 1 << 30
)

// WorldWide is the 10,000-peer, 8-region scenario of the issue: 1,000
// tasklets a round, 100 MB of weights and a 200 MB shard each.
func WorldWide() Config {
	return Config{
		Seed:          1,
		Scenario:      "world_wide_8",
		Coordinator:   "Oregon",
		Peers:         10_000,
		Tasklets:      1_000,
		Rounds:        3,
		ModelBytes:    100 * mb,
		ShardBytes:    200 * mb,
		ShardReplicas: 3,
		Samples:       12_000,
		GPUMem:        6 * gib,
		Classes: []GPUClass{
			{Name: "laptop", Throughput: 300, GPUMem: 4 * gib, Share: 0.15, PricePerHour: 0.05},
			{Name: "gaming", Throughput: 1200, GPUMem: 8 * gib, Share: 0.40, PricePerHour: 0.15},
			{Name: "workstation", Throughput: 2500, GPUMem: 24 * gib, Share: 0.30, PricePerHour: 0.40},
			{Name: "datacenter", Throughput: 6000, GPUMem: 80 * gib, Share: 0.15, PricePerHour: 1.50},
		},
		NotIdle:         0.10,
		NoExecutor:      0.02,
		Leave:           0.05,
		Join:            0.50,
		MeanSession:     time.Hour,
		Detect:          2 * time.Second,
		RoundTrips:      3,
		ThroughputNoise: 0.10,
		RTTNoise:        0.10,
		Measured:        0.20,
	}
}

// Limits on a Config, so a typo cannot ask for a simulation that never ends.
const (
	MaxPeers    = 1_000_000
	MaxTasklets = 100_000
	MaxRounds   = 1_000
)

// Validate reports the first field that cannot be simulated.
func (c *Config) Validate() error {
	switch {
	case c.Peers < 1 || c.Peers > MaxPeers:
		return fmt.Errorf("peers %d: want 1 to %d", c.Peers, MaxPeers)
	case c.Tasklets < 1 || c.Tasklets > MaxTasklets:
		return fmt.Errorf("tasklets %d: want 1 to %d", c.Tasklets, MaxTasklets)
	case c.Rounds < 1 || c.Rounds > MaxRounds:
		return fmt.Errorf("rounds %d: want 1 to %d", c.Rounds, MaxRounds)
	case c.ShardReplicas < 0 || c.ShardReplicas > c.Peers:
		return fmt.Errorf("shard replicas %d: want 0 to the number of peers (%d)", c.ShardReplicas, c.Peers)
	case c.PeersPerRegion < 0 || (c.PeersPerRegion > 0 && c.Peers%c.PeersPerRegion != 0):
		return fmt.Errorf("peers per region %d: want 0 or a divisor of the peers (%d)", c.PeersPerRegion, c.Peers)
	case c.HolderPerRegion && c.PeersPerRegion == 0:
		return errors.New("a holder per region needs peers per region")
	case c.Samples < 0:
		return fmt.Errorf("samples %d is negative", c.Samples)
	case c.RoundTrips < 0:
		return fmt.Errorf("round trips %d is negative", c.RoundTrips)
	case c.MeanSession < 0 || c.Detect < 0:
		return errors.New("mean session and detect must not be negative")
	case c.ModelBytes > 1<<50 || c.ShardBytes > 1<<50:
		return errors.New("model and shard sizes must be under a petabyte")
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"not idle", c.NotIdle}, {"no executor", c.NoExecutor}, {"leave", c.Leave}, {"join", c.Join}, {"measured", c.Measured}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("%s probability %v: want 0 to 1", p.name, p.v)
		}
	}
	if !(c.ThroughputNoise >= 0 && c.ThroughputNoise <= 2) || !(c.RTTNoise >= 0 && c.RTTNoise <= 1) {
		return fmt.Errorf("noise σ %v (throughput, 0 to 2) and %v (RTT, 0 to 1) out of range", c.ThroughputNoise, c.RTTNoise)
	}
	return c.validateClasses()
}

func (c *Config) validateClasses() error {
	if len(c.Classes) == 0 {
		return errors.New("no GPU classes: add at least one")
	}
	total := 0.0
	for _, g := range c.Classes {
		finite := func(x float64) bool { return x >= 0 && !math.IsInf(x, 1) }
		if !(g.Throughput > 0) || !finite(g.Throughput) || !finite(g.Share) || !finite(g.PricePerHour) {
			return fmt.Errorf("GPU class %q: throughput must be positive, share and price non-negative, all finite", g.Name)
		}
		total += g.Share
	}
	if !(total > 0) {
		return errors.New("GPU class shares sum to zero")
	}
	return nil
}
