package scheduler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/tasklet"
)

// gatedGrid holds the first read of a validation shard until gate is
// closed.
type gatedGrid struct {
	*fakeGrid
	mu    sync.Mutex
	val   map[cid.Cid]bool
	gated bool
	gate  <-chan struct{}
}

func (g *gatedGrid) ReadFile(ctx context.Context, c cid.Cid, max int64, from ...string) ([]byte, error) {
	g.mu.Lock()
	hold := g.val[c] && !g.gated
	g.gated = g.gated || hold
	g.mu.Unlock()
	if hold {
		select {
		case <-g.gate:
		case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
			return nil, errors.New("round 1 was never offered while round 0 was being validated")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.fakeGrid.ReadFile(ctx, c, max, from...)
}

// TestValidationRunsBesideTheNextRound: the validation of round 0 cannot
// finish until a tasklet of round 1 was offered, which only happens if it
// runs beside round 1. Every round ends validated, and progress events
// only carry validated rounds' figures.
func TestValidationRunsBesideTheNextRound(t *testing.T) {
	round1 := make(chan struct{})
	var once sync.Once
	proceed := make(chan struct{})
	grid := &gatedGrid{fakeGrid: newFakeGrid(), val: map[cid.Cid]bool{}, gate: round1}
	var evMu sync.Mutex
	var events []Event
	store, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	swarm := newFakeSwarm()
	c := New(store, grid, swarm, Options{RetryEvery: 20 * time.Millisecond, Backoff: time.Millisecond, OnEvent: func(ev Event) {
		evMu.Lock()
		events = append(events, ev)
		evMu.Unlock()
	}})
	t.Cleanup(c.Close)
	h := &harness{grid: grid.fakeGrid, swarm: swarm, store: store, c: c}
	swarm.add("w", 1, func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
		select {
		case <-proceed:
		case <-ctx.Done():
			return receipt.Receipt{}, ctx.Err()
		}
		if spec.Round >= 1 {
			once.Do(func() { close(round1) })
		}
		return healthy(ctx, spec)
	})
	root := grid.addDataset(t)
	j, err := c.Submit(context.Background(), []byte(tinySpec(root, 3, 1)))
	if err != nil {
		t.Fatal(err)
	}
	grid.mu.Lock()
	for _, s := range j.Dataset.Validation {
		grid.val[cid.MustParse(s)] = true
	}
	grid.mu.Unlock()
	close(proceed)
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("job %s (%s), want done", got.Status, got.Error)
	}
	validated := map[[2]float64]bool{}
	for _, rd := range got.Rounds {
		if rd.Validating || rd.ValLoss == 0 {
			t.Errorf("round %d: validating %v, val loss %v; want every round of a done job validated", rd.Index, rd.Validating, rd.ValLoss)
		}
		validated[[2]float64{rd.Loss, rd.ValAccuracy}] = true
	}
	evMu.Lock()
	defer evMu.Unlock()
	for _, ev := range events {
		if ev.Loss != 0 && !validated[[2]float64{ev.Loss, ev.ValAccuracy}] {
			t.Errorf("event round %d: loss %v, val accuracy %v is no validated round's", ev.Round, ev.Loss, ev.ValAccuracy)
		}
	}
}

// TestResumeValidatesAMarkedRound: a coordinator stopped while a round
// was validating validates it when the job resumes.
func TestResumeValidatesAMarkedRound(t *testing.T) {
	h := newHarness(t, Options{})
	h.swarm.add("w", 1, healthy)
	root := h.grid.addDataset(t)
	j, err := h.c.Submit(context.Background(), []byte(tinySpec(root, 2, 1)))
	if err != nil {
		t.Fatal(err)
	}
	done := h.wait(t, j.ID)
	want := done.Rounds[1]
	h.c.Close()

	// As a stop between the round's end and its validation leaves it.
	j2, err := h.store.Load(j.ID)
	if err != nil {
		t.Fatal(err)
	}
	j2.Status, j2.Finished, j2.FinalModel = StatusRunning, nil, ""
	j2.Rounds[1].Validating, j2.Rounds[1].ValLoss, j2.Rounds[1].ValAccuracy = true, 0, 0
	if err := h.store.Save(j2); err != nil {
		t.Fatal(err)
	}
	h.restart(t)
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("resumed job %s (%s), want done", got.Status, got.Error)
	}
	if rd := got.Rounds[1]; rd.Validating || rd.ValLoss != want.ValLoss || rd.ValAccuracy != want.ValAccuracy {
		t.Errorf("round 2 after resume: validating %v, val loss %v, accuracy %v; want validated again to %v, %v",
			rd.Validating, rd.ValLoss, rd.ValAccuracy, want.ValLoss, want.ValAccuracy)
	}
}
