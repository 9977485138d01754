package probe

import (
	"fmt"
	"sync"
)

// Slots caps how many tasklets run at once. It is safe for concurrent use.
type Slots struct {
	mu   sync.Mutex
	max  int
	used int
}

// NewSlots returns n slots; n under 1 means 1.
func NewSlots(n int) *Slots {
	return &Slots{max: max(n, 1)}
}

// TryAcquire takes a slot if one is free. release gives it back; calling
// it more than once is harmless. When none is free it returns ok false and
// Reason says why.
func (s *Slots) TryAcquire() (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used >= s.max {
		return nil, false
	}
	s.used++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.used--
			s.mu.Unlock()
		})
	}, true
}

// Reason is "busy: 2 of 2 tasklet slots in use" when every slot is taken,
// "" otherwise.
func (s *Slots) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used < s.max {
		return ""
	}
	return fmt.Sprintf("busy: %d of %d tasklet slots in use", s.used, s.max)
}

// InUse returns the slots taken and the total.
func (s *Slots) InUse() (used, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used, s.max
}
