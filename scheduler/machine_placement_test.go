package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/scheduler/placement"
)

// The machine places with the configured strategy and records, on each
// attempt, why placement chose its peer.
func TestMachinePlacementStrategy(t *testing.T) {
	// near holds every shard and answers fast: the ETA strategy sends all
	// its tasklets there (it has slots for all of them).
	peers := []placement.Peer{{ID: "near", Executors: []string{"builtin"}, Idle: true, Throughput: 100, BandwidthBps: 1e6,
		RTT: time.Millisecond, RTTMeasured: true, Slots: 8, Version: "1.0.0", Reputation: 0.5,
		Holds: map[string]uint64{"w0": 1 << 20}}}
	for i := range 7 {
		peers = append(peers, placement.Peer{ID: fmt.Sprint("far", i), Executors: []string{"builtin"}, Idle: true, Throughput: 100,
			BandwidthBps: 1e6, RTT: 300 * time.Millisecond, RTTMeasured: true, Slots: 8, Version: "1.0.0", Reputation: 0.5})
	}
	tests := []struct {
		strategy string
		phrase   string
		check    func(used map[string]int) error
	}{
		{"", "placed on near: ETA ", func(used map[string]int) error {
			if used["near"] != 8 {
				return fmt.Errorf("near ran %d of 8 tasklets, want all", used["near"])
			}
			return nil
		}},
		{placement.StrategyRandom, " at random: ETA ", func(used map[string]int) error {
			if len(used) != 8 {
				return fmt.Errorf("8 tasklets went to %d peers (%v), want one each: unloaded peers come first", len(used), used)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run("strategy="+tt.strategy, func(t *testing.T) {
			cfg := MachineConfig{JobID: "job-1", Rounds: 1, Deadline: epoch.Add(time.Hour),
				Template: placement.Tasklet{Executor: "builtin", Samples: 100},
				Weights:  "w0", WeightsBytes: 1 << 20, ShardBytes: map[string]uint64{},
				RetryEvery: time.Second, Backoffs: NewBackoffs(time.Second, time.Minute), Placement: tt.strategy}
			rd := &Round{}
			for i := range 8 {
				sh := fmt.Sprint("shard", i)
				cfg.ShardBytes[sh] = 1 << 20
				peers[0].Holds[sh] = 1 << 20
				rd.Tasklets = append(rd.Tasklets, Tasklet{Index: i, Shard: sh, State: TaskPending})
			}
			m := NewMachine(cfg, rd, epoch)
			offers := 0
			for _, d := range m.Tick(epoch, peers) {
				if d.Kind == DecideOffer {
					offers++
				}
			}
			if offers != 8 {
				t.Fatalf("%d offers on the first tick, want 8", offers)
			}
			used := map[string]int{}
			for _, tk := range rd.Tasklets {
				a := tk.Attempts[0]
				used[a.Peer]++
				if !strings.HasPrefix(a.Placed, "placed on "+a.Peer) || !strings.Contains(a.Placed, tt.phrase) {
					t.Errorf("tasklet %d on %s recorded %q, want it to name the peer and contain %q", tk.Index, a.Peer, a.Placed, tt.phrase)
				}
			}
			if err := tt.check(used); err != nil {
				t.Error(err)
			}
		})
	}
}
