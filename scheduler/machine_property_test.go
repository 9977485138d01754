package scheduler

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/verify"
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

// rapidDraws answers each spot-check draw from rapid, so shrinking finds
// the smallest sequence of draws that breaks an invariant.
type rapidDraws struct{ rt *rapid.T }

func (d rapidDraws) Read(b []byte) (int, error) {
	v := byte(0xff)
	if rapid.Bool().Draw(d.rt, "drawn") {
		v = 0
	}
	for i := range b {
		b[i] = v
	}
	return len(b), nil
}

// TestMachineSpotCheckInvariants runs rounds with honest peers (every
// honest run of tasklet i outputs "good-i") and noise cheaters (each run
// outputs something no one else does), random draws and random endings,
// and checks after every step: a check's replicas run on distinct peers;
// an output accepted by a vote is honest; only cheaters lose votes; and
// the round aggregates only when every check is decided.
func TestMachineSpotCheckInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		nPeers := rapid.IntRange(2, 6).Draw(rt, "peers")
		cheater := map[string]bool{}
		var snap []placement.Peer
		for i := range nPeers {
			id := fmt.Sprintf("p%d", i)
			cheater[id] = rapid.Bool().Draw(rt, "cheater")
			snap = append(snap, placement.Peer{ID: id, Executors: []string{"builtin"}, Idle: true,
				Throughput: 10, BandwidthBps: 1e8, Reputation: 0.5, Slots: rapid.IntRange(1, 2).Draw(rt, "slots")})
		}
		n := rapid.IntRange(1, 5).Draw(rt, "tasklets")
		rd := &Round{}
		for i := range n {
			rd.Tasklets = append(rd.Tasklets, Tasklet{Index: i, Shard: fmt.Sprintf("s%d", i), State: TaskPending})
		}
		trust := NewTrust(verify.DefaultRule)
		cfg := MachineConfig{JobID: "j", Rounds: 1, Deadline: epoch.Add(time.Hour), Template: placement.Tasklet{Executor: "builtin", Samples: 10},
			Weights: "w", WeightsBytes: 1, RetryEvery: time.Second, Backoffs: NewBackoffs(time.Second, 10*time.Second),
			ReplicaWait: 20 * time.Second,
			Verify: VerifyConfig{Trust: trust, Class: verify.ClassBuiltin, Rand: rapidDraws{rt},
				Rates: verify.Rates{Rate: 0.1, MinRateNewPeers: 0.5}, Comparator: verify.Comparator{Class: verify.ClassBuiltin}}}
		m := NewMachine(cfg, rd, epoch)
		now := epoch
		runs := 0
		for step := 0; step < 80; step++ {
			now = now.Add(time.Duration(rapid.IntRange(0, 3000).Draw(rt, "advance")) * time.Millisecond)
			for _, d := range m.Tick(now, snap) {
				if d.Kind == DecideFail {
					return
				}
				if d.Kind == DecideAggregate {
					for _, tk := range rd.Tasklets {
						if c := tk.Check; c != nil && c.Outcome == "" {
							rt.Fatalf("aggregate with tasklet %d's check undecided", tk.Index)
						}
					}
					return
				}
			}
			for _, tk := range rd.Tasklets {
				c := tk.Check
				if c == nil {
					continue
				}
				var seen []string
				for _, r := range c.Results {
					seen = append(seen, r.Peer)
				}
				for _, a := range tk.Attempts {
					if a.Outcome == OutcomeRunning {
						seen = append(seen, a.Peer)
					}
				}
				for k, p := range seen {
					if slices.Contains(seen[:k], p) {
						rt.Fatalf("tasklet %d: peer %s holds two replicas of one check (%v)", tk.Index, p, seen)
					}
				}
				if c.Outcome == string(verify.Verified) || c.Outcome == string(verify.OddOneOut) {
					if want := fmt.Sprintf("good-%d", tk.Index); tk.Output != want {
						rt.Fatalf("tasklet %d: the vote accepted %q, a cheater's output", tk.Index, tk.Output)
					}
				}
				for _, l := range c.Losers {
					if !cheater[l] {
						rt.Fatalf("tasklet %d: honest peer %s lost a vote", tk.Index, l)
					}
				}
			}
			var runningAt [][2]int
			for i, tk := range rd.Tasklets {
				for k, a := range tk.Attempts {
					if a.Outcome == OutcomeRunning {
						runningAt = append(runningAt, [2]int{i, k})
					}
				}
			}
			if len(runningAt) == 0 {
				continue
			}
			ra := runningAt[rapid.IntRange(0, len(runningAt)-1).Draw(rt, "which")]
			peer := rd.Tasklets[ra[0]].Attempts[ra[1]].Peer
			o := Outcome{Tasklet: ra[0], Attempt: ra[1], Kind: EndDone}
			if rapid.IntRange(0, 9).Draw(rt, "fails") == 0 {
				o.Kind = EndFailed
			}
			runs++
			o.Receipt.OutputCID = fmt.Sprintf("good-%d", ra[0])
			if cheater[peer] {
				o.Receipt.OutputCID = fmt.Sprintf("noise-%d-%d", ra[0], runs)
			}
			m.Observe(now, o)
		}
	})
}
