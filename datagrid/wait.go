package datagrid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
)

// Defaults of Wait: nothing that fetches from peers waits forever.
const (
	// DefaultFindWithin is how long an operation waits for a first block
	// or a provider of its root before it gives up.
	DefaultFindWithin = 30 * time.Second
	// DefaultStall is how long a fetch waits without a new block.
	DefaultStall = time.Minute
)

// Wait bounds how long an operation that fetches from peers waits. The
// context's deadline, if any, bounds the whole operation; these bound the
// phases in which it would otherwise wait on silence.
type Wait struct {
	// FindWithin fails the operation when no block has arrived and no
	// peer providing the root was found (DHT or connected hint) this long
	// after it started. 0 means DefaultFindWithin.
	FindWithin time.Duration
	// Stall fails it when blocks stop arriving for this long. 0 means
	// DefaultStall.
	Stall time.Duration
}

// Check refuses negative durations (0 picks the default).
func (w Wait) Check() error {
	if w.FindWithin < 0 {
		return fmt.Errorf("provider search limit %s is negative; use a positive duration such as 30s", w.FindWithin)
	}
	if w.Stall < 0 {
		return fmt.Errorf("stall limit %s is negative; use a positive duration such as 1m", w.Stall)
	}
	return nil
}

func (w Wait) withDefaults() Wait {
	if w.FindWithin <= 0 {
		w.FindWithin = DefaultFindWithin
	}
	if w.Stall <= 0 {
		w.Stall = DefaultStall
	}
	return w
}

// Errors a WaitError matches with errors.Is.
var (
	// ErrNoProvider: nothing arrived and no peer providing the root was
	// found within the search limit or the operation's deadline.
	ErrNoProvider = errors.New("no provider found")
	// ErrStalled: providers were found or blocks arrived, then nothing
	// did for the stall limit.
	ErrStalled = errors.New("fetch stalled")
	// ErrTimedOut: the operation's deadline passed while blocks were
	// still arriving.
	ErrTimedOut = errors.New("fetch timed out")
)

// WaitError says why a fetch stopped waiting and how far it got.
type WaitError struct {
	Op        string // "data get", "data pin", "data ls", "data fetch"
	Root      cid.Cid
	Kind      error // ErrNoProvider, ErrStalled or ErrTimedOut
	After     time.Duration
	Providers int     // providers found (DHT) or hinted peers connected
	Done      int64   // bytes held so far
	Total     int64   // declared DAG size; -1 when unknown
	Missing   int     // blocks asked for and not delivered (0: unknown)
	First     cid.Cid // the first of them
	Cause     error   // the context's error, if it ended the wait
}

func (e *WaitError) Error() string {
	var head string
	switch e.Kind {
	case ErrNoProvider:
		return fmt.Sprintf("%s: no provider found for %s within %s: is a peer that holds it online?", e.Op, e.Root, e.After)
	case ErrStalled:
		head = fmt.Sprintf("%s: no block of %s arrived for %s", e.Op, e.Root, e.After)
	default:
		head = fmt.Sprintf("%s: %s did not complete within %s", e.Op, e.Root, e.After)
	}
	if e.Missing > 0 {
		head += fmt.Sprintf("; no reachable peer delivered %d blocks (first %s)", e.Missing, e.First)
	}
	return fmt.Sprintf("%s; have %s, %d providers found", head, e.progress(), e.Providers)
}

// Unwrap returns the context's error when the context ended the wait.
func (e *WaitError) Unwrap() error { return e.Cause }

func (e *WaitError) progress() string {
	if e.Total < 0 {
		return humanBytes(uint64(max(e.Done, 0))) + " of an unknown size"
	}
	return humanBytes(uint64(e.Done)) + " of " + humanBytes(uint64(e.Total))
}

// Is matches the error's kind.
func (e *WaitError) Is(target error) bool { return target == e.Kind }

// waitState is the pure core of a fetch's patience: it is told when the
// fetch started, when blocks arrive and providers are found, and decides,
// for a given time, whether to keep waiting. It does no I/O and reads no
// clock.
type waitState struct {
	op        string
	root      cid.Cid
	wait      Wait
	start     time.Time
	lastBlock time.Time // zero until a block arrives
	deadline  time.Time // the context's, zero when none
	providers int
}

func newWaitState(op string, root cid.Cid, w Wait, start, deadline time.Time) *waitState {
	return &waitState{op: op, root: root, wait: w.withDefaults(), start: start, deadline: deadline}
}

func (s *waitState) blockArrived(now time.Time) { s.lastBlock = now }

// verdict returns the error that ends the wait at now, or nil.
func (s *waitState) verdict(now time.Time, done, total int64) *WaitError {
	if s.lastBlock.IsZero() && s.providers == 0 {
		if now.Sub(s.start) >= s.wait.FindWithin {
			return s.fail(ErrNoProvider, s.wait.FindWithin, done, total)
		}
		return nil
	}
	since := s.lastBlock
	if since.IsZero() {
		since = s.start
	}
	if now.Sub(since) >= s.wait.Stall {
		return s.fail(ErrStalled, s.wait.Stall, done, total)
	}
	return nil
}

// next returns how long until verdict may change, at most max.
func (s *waitState) next(now time.Time, max time.Duration) time.Duration {
	var at time.Time
	if s.lastBlock.IsZero() && s.providers == 0 {
		at = s.start.Add(s.wait.FindWithin)
	} else if s.lastBlock.IsZero() {
		at = s.start.Add(s.wait.Stall)
	} else {
		at = s.lastBlock.Add(s.wait.Stall)
	}
	d := at.Sub(now)
	if d <= 0 {
		return time.Millisecond
	}
	return min(d, max)
}

// ended explains a fetch whose context ended at now: the deadline passing
// becomes a WaitError (wrapping cause); a cancellation stays what it was
// (nil here).
func (s *waitState) ended(now time.Time, cause error, done, total int64) *WaitError {
	if !errors.Is(cause, context.DeadlineExceeded) {
		return nil
	}
	var e *WaitError
	after := now.Sub(s.start).Round(time.Second)
	if !s.deadline.IsZero() {
		after = s.deadline.Sub(s.start).Round(time.Second)
	}
	switch {
	case s.lastBlock.IsZero() && s.providers == 0:
		e = s.fail(ErrNoProvider, after, done, total)
	case s.lastBlock.IsZero():
		e = s.fail(ErrStalled, after, done, total)
	default:
		e = s.fail(ErrTimedOut, after, done, total)
	}
	e.Cause = cause
	return e
}

func (s *waitState) fail(kind error, after time.Duration, done, total int64) *WaitError {
	return &WaitError{Op: s.op, Root: s.root, Kind: kind, After: after, Providers: s.providers, Done: done, Total: total}
}
