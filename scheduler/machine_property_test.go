package scheduler

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
)

// TestMachineInvariants drives a machine with random worker outcomes and
// checks, after every step: no peer holds more running attempts than its
// slots, and no tasklet is offered to a peer that failed, was lost or
// declined it (other than busy/not-idle) earlier in the round.
func TestMachineInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		nPeers := rapid.IntRange(1, 5).Draw(rt, "peers")
		var snap []placement.Peer
		for i := range nPeers {
			snap = append(snap, placement.Peer{ID: fmt.Sprintf("p%d", i), Executors: []string{"builtin"}, Idle: true,
				Throughput: float64(rapid.IntRange(1, 100).Draw(rt, "throughput")), BandwidthBps: 1e8, Reputation: 0.5,
				Slots: rapid.IntRange(0, 3).Draw(rt, "slots")})
		}
		n := rapid.IntRange(1, 6).Draw(rt, "tasklets")
		rd := &Round{}
		for i := range n {
			rd.Tasklets = append(rd.Tasklets, Tasklet{Index: i, Shard: fmt.Sprintf("s%d", i), State: TaskPending})
		}
		cfg := MachineConfig{JobID: "j", Rounds: 1, Deadline: epoch.Add(time.Hour), Template: placement.Tasklet{Executor: "builtin", Samples: 10},
			Weights: "w", WeightsBytes: 1, RetryEvery: time.Second, StragglerFactor: 2, Backoffs: NewBackoffs(time.Second, 10*time.Second)}
		m := NewMachine(cfg, rd, epoch)
		now := epoch
		// barred[tasklet] = peers that must never get it again.
		barred := map[int][]string{}
		ends := []OutcomeKind{EndDone, EndDeclined, EndFailed, EndLost}
		reasons := []string{tasklet.ReasonBusy, tasklet.ReasonNotIdle, tasklet.ReasonExpired, tasklet.ReasonOverQuota}
		for step := 0; step < 60; step++ {
			now = now.Add(time.Duration(rapid.IntRange(0, 3000).Draw(rt, "advance")) * time.Millisecond)
			for _, d := range m.Tick(now, snap) {
				if d.Kind == DecideOffer && slices.Contains(barred[d.Tasklet], d.Peer) {
					rt.Fatalf("step %d: tasklet %d offered again to %s, which was barred from it", step, d.Tasklet, d.Peer)
				}
				if d.Kind == DecideFail || d.Kind == DecideAggregate {
					return
				}
			}
			inflight := m.InFlight()
			for _, p := range snap {
				if inflight[p.ID] > max(p.Slots, 1) {
					rt.Fatalf("step %d: %s runs %d attempts with %d slots", step, p.ID, inflight[p.ID], p.Slots)
				}
			}
			// End one running attempt at random.
			var runningAt [][2]int
			for i, t := range rd.Tasklets {
				for k, a := range t.Attempts {
					if a.Outcome == OutcomeRunning {
						runningAt = append(runningAt, [2]int{i, k})
					}
				}
			}
			if len(runningAt) == 0 {
				continue
			}
			ra := runningAt[rapid.IntRange(0, len(runningAt)-1).Draw(rt, "which")]
			o := Outcome{Tasklet: ra[0], Attempt: ra[1], Kind: ends[rapid.IntRange(0, 3).Draw(rt, "end")]}
			peer := rd.Tasklets[ra[0]].Attempts[ra[1]].Peer
			if o.Kind == EndDeclined {
				o.Reason = reasons[rapid.IntRange(0, 3).Draw(rt, "reason")]
			}
			if o.Kind == EndFailed || o.Kind == EndLost || (o.Kind == EndDeclined && !transientDecline(o.Reason)) {
				barred[ra[0]] = append(barred[ra[0]], peer)
			}
			m.Observe(now, o)
		}
	})
}
