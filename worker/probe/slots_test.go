package probe

import (
	"sync"
	"testing"
)

func TestSlots(t *testing.T) {
	s := NewSlots(2)
	r1, ok1 := s.TryAcquire()
	r2, ok2 := s.TryAcquire()
	_, ok3 := s.TryAcquire()
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquire 3 of 2 slots: ok = %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if got, want := s.Reason(), "busy: 2 of 2 tasklet slots in use"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	r1()
	r1() // twice: must not free a second slot
	if used, total := s.InUse(); used != 1 || total != 2 {
		t.Errorf("InUse = %d, %d; want 1, 2", used, total)
	}
	if got := s.Reason(); got != "" {
		t.Errorf("Reason with a free slot = %q, want empty", got)
	}
	r4, ok4 := s.TryAcquire()
	if !ok4 {
		t.Fatal("a released slot could not be taken again")
	}
	r2()
	r4()
	if used, _ := s.InUse(); used != 0 {
		t.Errorf("InUse after releasing all = %d, want 0", used)
	}
	if _, total := NewSlots(0).InUse(); total != 1 {
		t.Errorf("NewSlots(0) has %d slots, want 1", total)
	}
}

func TestSlotsConcurrent(t *testing.T) {
	const n = 3
	s := NewSlots(n)
	var mu sync.Mutex
	held, peak := 0, 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 100 {
				release, ok := s.TryAcquire()
				if !ok {
					continue
				}
				mu.Lock()
				held++
				peak = max(peak, held)
				mu.Unlock()
				mu.Lock()
				held--
				mu.Unlock()
				release()
			}
		})
	}
	wg.Wait()
	if peak > n {
		t.Errorf("peak holders = %d, want at most %d", peak, n)
	}
	if used, _ := s.InUse(); used != 0 {
		t.Errorf("InUse after all released = %d, want 0", used)
	}
}
