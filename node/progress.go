package node

import (
	"context"
	"sync"

	"github.com/ethereum/go-ethereum/rpc"
)

// hub fans events out to the RPC subscriptions of each key (an op ID, a job ID).
type hub[T any] struct {
	mu   sync.Mutex
	subs map[string][]chan T
}

func newHub[T any]() *hub[T] { return &hub[T]{subs: map[string][]chan T{}} }

// progressHub streams the progress of long operations.
type progressHub = hub[Progress]

func newProgressHub() *progressHub { return newHub[Progress]() }

// publish sends ev to key's subscribers without ever blocking the sender.
func (h *hub[T]) publish(key string, ev T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.subs[key] {
		select {
		case ch <- ev:
		default: // a slow reader misses intermediate events
		}
	}
}

// reporter returns a callback that publishes progress for op; an empty op
// gives a no-op so callers without a subscriber pay nothing.
func reporter(h *progressHub, op, phase string) func(done, total int64) {
	if op == "" {
		return func(int64, int64) {}
	}
	return func(done, total int64) { h.publish(op, Progress{Op: op, Phase: phase, Done: done, Total: total}) }
}

// subscribe streams op's events to an RPC subscription until it is closed.
func (h *hub[T]) subscribe(ctx context.Context, op string) (*rpc.Subscription, error) {
	notifier, ok := rpc.NotifierFromContext(ctx)
	if !ok {
		return nil, rpc.ErrNotificationsUnsupported
	}
	sub := notifier.CreateSubscription()
	ch := make(chan T, 64)
	h.mu.Lock()
	h.subs[op] = append(h.subs[op], ch)
	h.mu.Unlock()
	go func() {
		defer h.remove(op, ch)
		for {
			select {
			case p := <-ch:
				if err := notifier.Notify(sub.ID, p); err != nil {
					return
				}
			case <-sub.Err():
				return
			}
		}
	}()
	return sub, nil
}

func (h *hub[T]) remove(op string, ch chan T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.subs[op]
	for i, c := range list {
		if c == ch {
			h.subs[op] = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(h.subs[op]) == 0 {
		delete(h.subs, op)
	}
}
