package p2p

import (
	"testing"
	"time"

	"github.com/hashicorp/serf/coordinate"
	"github.com/libp2p/go-libp2p/core/peer"
)

func coordAt(x float64) *coordinate.Coordinate {
	c := coordinate.NewCoordinate(coordinate.DefaultConfig())
	c.Vec[0] = x
	return c
}

func TestRepublishPolicy(t *testing.T) {
	p := defaultRepublishPolicy
	t0 := time.Unix(1_000, 0)
	late := t0.Add(p.Warmup + time.Hour) // well after the warm-up
	origin := coordAt(0)
	tests := []struct {
		name    string
		st      republishState
		now     time.Time
		cur     *coordinate.Coordinate
		samples int
		typical time.Duration
		wantAt  time.Time
		wantWhy string // "" means not due
	}{
		{name: "nothing happened", st: republishState{start: t0, lastPub: t0, lastCoord: origin},
			now: t0.Add(time.Second), cur: origin, samples: 10},
		{name: "warm-up: moved but too few samples", st: republishState{start: t0, lastPub: t0, lastCoord: origin},
			now: t0.Add(time.Second), cur: coordAt(0.001), samples: 2},
		{name: "warm-up: any move, one interval after the last", st: republishState{start: t0, lastPub: t0, lastCoord: origin},
			now: t0.Add(time.Second), cur: coordAt(0.0001), samples: 3, wantAt: t0.Add(p.WarmupEvery), wantWhy: "coordinate moved"},
		{name: "later: small move relative to the RTT", st: republishState{start: t0, lastPub: late, lastCoord: coordAt(0.050)},
			now: late.Add(time.Minute), cur: coordAt(0.055), samples: 100, typical: 50 * time.Millisecond},
		{name: "later: large move relative to the RTT", st: republishState{start: t0, lastPub: late, lastCoord: coordAt(0.050)},
			now: late.Add(time.Second), cur: coordAt(0.070), samples: 100, typical: 50 * time.Millisecond,
			wantAt: late.Add(p.Every), wantWhy: "coordinate moved"},
		{name: "later: move under MinMove on a fast link", st: republishState{start: t0, lastPub: late, lastCoord: coordAt(0.0001)},
			now: late.Add(time.Minute), cur: coordAt(0.0005), samples: 100, typical: 200 * time.Microsecond},
		{name: "join: greeted after the greet delay", st: republishState{start: t0, lastPub: late, lastCoord: origin, joinedAt: late.Add(time.Minute)},
			now: late.Add(time.Minute), cur: origin, samples: 100, wantAt: late.Add(time.Minute + p.GreetDelay), wantWhy: "peer joined"},
		{name: "join: not sooner than an interval after the last", st: republishState{start: t0, lastPub: late, lastCoord: origin, joinedAt: late.Add(time.Second)},
			now: late.Add(time.Second), cur: origin, samples: 100, wantAt: late.Add(p.Every), wantWhy: "peer joined"},
		{name: "never published a coordinate", st: republishState{start: t0, lastPub: late},
			now: late.Add(time.Minute), cur: origin, samples: 3, wantAt: late.Add(p.Every), wantWhy: "coordinate moved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, why, ok := p.next(tt.st, tt.now, tt.cur, tt.samples, tt.typical)
			if ok != (tt.wantWhy != "") || why != tt.wantWhy || (ok && !at.Equal(tt.wantAt)) {
				t.Errorf("next = %v, %q, %v; want %v, %q", at, why, ok, tt.wantAt, tt.wantWhy)
			}
		})
	}
}

// TestRepublishNoStormOnJoins replays a crowd of peers joining, one every
// 100 ms for a minute after the warm-up, and counts the re-sends the policy
// asks for: at most one per interval.
func TestRepublishNoStormOnJoins(t *testing.T) {
	p := defaultRepublishPolicy
	t0 := time.Unix(1_000, 0)
	now := t0.Add(p.Warmup)
	st := republishState{start: t0, lastPub: now, lastCoord: coordAt(0)}
	end := now.Add(time.Minute)
	sends := 0
	for ; now.Before(end); now = now.Add(100 * time.Millisecond) {
		st.joined(now)
		if at, _, ok := p.next(st, now, coordAt(0), 100, time.Millisecond); ok && !at.After(now) {
			st.published(now, coordAt(0), p)
			sends++
		}
	}
	if max := int(time.Minute / p.Every); sends == 0 || sends > max {
		t.Errorf("%d re-sends for 600 joins in a minute, want 1..%d", sends, max)
	}
}

func TestPublishedClearsGreetingOnlyAfterTheDelay(t *testing.T) {
	p := defaultRepublishPolicy
	t0 := time.Unix(1_000, 0)
	var st republishState
	st.joined(t0)
	st.published(t0, nil, p) // sent at the join: the newcomer may miss it
	if st.joinedAt.IsZero() {
		t.Fatal("a publication at the join instant counted as greeting the newcomer")
	}
	st.published(t0.Add(p.GreetDelay), nil, p)
	if !st.joinedAt.IsZero() {
		t.Error("a publication after the greet delay did not count as the greeting")
	}
}

func TestPruneMap(t *testing.T) {
	now := time.Unix(10_000, 0)
	grace := time.Minute
	type entry struct{ at time.Time }
	at := func(e entry) time.Time { return e.at }
	live := map[peer.ID]bool{"live-old": true}
	connected := func(id peer.ID) bool { return live[id] }
	tests := []struct {
		name string
		max  int
		want []peer.ID
	}{
		{name: "grace", max: 100, want: []peer.ID{"gone-recent", "gone-recent2", "live-old"}},
		{name: "bounded: oldest gone first, connected kept", max: 2, want: []peer.ID{"gone-recent2", "live-old"}},
		{name: "bounded below the connected", max: 0, want: []peer.ID{"live-old"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[peer.ID]entry{
				"live-old":     {now.Add(-time.Hour)},
				"gone-old":     {now.Add(-2 * grace)},
				"gone-recent":  {now.Add(-grace / 2)},
				"gone-recent2": {now.Add(-grace / 4)},
			}
			dropped := pruneMap(m, at, connected, now, grace, tt.max)
			if dropped != 4-len(tt.want) || len(m) != len(tt.want) {
				t.Fatalf("dropped %d, kept %v; want kept %v", dropped, m, tt.want)
			}
			for _, id := range tt.want {
				if _, ok := m[id]; !ok {
					t.Errorf("%s dropped, want kept (kept %v)", id, m)
				}
			}
		})
	}
}
