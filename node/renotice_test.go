package node

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func jobsOf(ns []PayoutNotice) []string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s#%d", n.Job, n.Batch))
	}
	return out
}

// A posted root is gossiped again at doubling gaps, sooner for a peer
// that joins (once per renoticeJoinGap), and a newer root of the job
// replaces it and starts again.
func TestRenoticeSchedule(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	r := newRenotices()
	r.add(PayoutNotice{Job: "a", Batch: 1}, t0, t0)
	steps := []struct {
		at     time.Duration
		joined bool
		want   []string
	}{
		{0, false, nil},
		{59 * time.Second, false, nil},
		{time.Minute, false, []string{"a#1"}}, // scheduled: gap 2m, next at 3m
		{time.Minute + 10*time.Second, true, nil},
		{time.Minute + 30*time.Second, false, []string{"a#1"}}, // greets the joined peer: next at 3m30
		{time.Minute + 31*time.Second, true, nil},              // sent 1 s ago
		{2*time.Minute + time.Second, false, []string{"a#1"}},  // 30 s later: greets; next at 4m01
		{4 * time.Minute, false, nil},
		{4*time.Minute + time.Second, false, []string{"a#1"}}, // scheduled: gap 4m, next at 8m01
		{8 * time.Minute, false, nil},
		{8*time.Minute + time.Second, false, []string{"a#1"}}, // gap 8m, next at 16m01
	}
	for _, s := range steps {
		if s.joined {
			r.joined()
		}
		if got := jobsOf(r.due(at(s.at))); !slices.Equal(got, s.want) {
			t.Fatalf("at %v (joined %v): due %v, want %v", s.at, s.joined, got, s.want)
		}
	}
	if w, ok := r.wake(at(9 * time.Minute)); !ok || !w.Equal(at(16*time.Minute+time.Second)) {
		t.Errorf("wake %v %v, want at 16m01", w.Sub(t0), ok)
	}

	// An older batch is ignored; a newer one starts the schedule again.
	r.add(PayoutNotice{Job: "a", Batch: 0}, at(9*time.Minute), at(9*time.Minute))
	r.add(PayoutNotice{Job: "a", Batch: 2}, at(9*time.Minute), at(9*time.Minute))
	if got := jobsOf(r.due(at(10 * time.Minute))); !slices.Equal(got, []string{"a#2"}) {
		t.Errorf("after batch 2 at 9m: due at 10m %v, want a#2", got)
	}
	// A job found in a record at start is due at once; a dropped one never.
	r.add(PayoutNotice{Job: "b", Batch: 1}, time.Time{}, at(10*time.Minute))
	r.drop("a")
	if got := jobsOf(r.due(at(10 * time.Minute))); !slices.Equal(got, []string{"b#1"}) {
		t.Errorf("a record's notice at start: %v, want b#1", got)
	}
	r.drop("b")
	if _, ok := r.wake(at(11 * time.Minute)); ok {
		t.Error("nothing kept, but a wake time")
	}
}

// However joins and time go: at most renoticeBurst notices at once; two
// sends of one job never closer than renoticeJoinGap; wake never before
// now; and, time passing, every job goes out.
func TestRenoticeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
		r := newRenotices()
		n := rapid.IntRange(1, 30).Draw(t, "jobs")
		for i := range n {
			r.add(PayoutNotice{Job: fmt.Sprintf("j%02d", i), Batch: 1}, time.Time{}, t0)
		}
		now := t0
		lastSent := map[string]time.Time{}
		send := func() {
			due := r.due(now)
			if len(due) > renoticeBurst {
				t.Fatalf("%d notices at once, want at most %d", len(due), renoticeBurst)
			}
			for _, pn := range due {
				if prev, ok := lastSent[pn.Job]; ok && now.Sub(prev) < renoticeJoinGap {
					t.Fatalf("%s sent %v after its last send", pn.Job, now.Sub(prev))
				}
				lastSent[pn.Job] = now
			}
		}
		for step := range rapid.IntRange(1, 60).Draw(t, "steps") {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(20*time.Minute)).Draw(t, fmt.Sprint("dt", step))))
			if rapid.Bool().Draw(t, fmt.Sprint("join", step)) {
				r.joined()
			}
			if w, ok := r.wake(now); ok && w.Before(now) {
				t.Fatalf("wake %v before now %v", w, now)
			}
			send()
		}
		drained := now
		for range n/renoticeBurst + 1 {
			now = now.Add(renoticeMax)
			send()
		}
		for i := range n {
			if j := fmt.Sprintf("j%02d", i); !lastSent[j].After(drained) {
				t.Fatalf("%s not sent since %v (last %v)", j, drained, lastSent[j])
			}
		}
	})
}
