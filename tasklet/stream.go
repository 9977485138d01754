package tasklet

import (
	"math"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/network"
)

// msgWriter serialises writes to a stream from the run, the heartbeat and
// a cancellation, each with its own write deadline.
type msgWriter struct {
	mu sync.Mutex
	st network.Stream
}

func (w *msgWriter) write(m Msg) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(m, writeTimeout)
}

// tryWrite sends m only if no other write is in progress: a cancellation
// must not wait behind a stalled offer, it resets the stream anyway.
func (w *msgWriter) tryWrite(m Msg, timeout time.Duration) {
	if !w.mu.TryLock() {
		return
	}
	defer w.mu.Unlock()
	_ = w.writeLocked(m, timeout)
}

func (w *msgWriter) writeLocked(m Msg, timeout time.Duration) error {
	_ = w.st.SetWriteDeadline(time.Now().Add(timeout))
	return WriteMsg(w.st, m)
}

// heartbeat sends the latest progress every interval, whether or not it
// changed, so the coordinator can tell a slow worker from a dead one.
type heartbeat struct {
	w     *msgWriter
	onErr func(error)

	mu           sync.Mutex
	phase        string
	done, total  int
	stopc, ended chan struct{}
}

func startHeartbeat(w *msgWriter, every time.Duration, onErr func(error)) *heartbeat {
	b := &heartbeat{w: w, onErr: onErr, stopc: make(chan struct{}), ended: make(chan struct{})}
	go b.loop(every)
	return b
}

func (b *heartbeat) loop(every time.Duration) {
	defer close(b.ended)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stopc:
			return
		case <-t.C:
			if err := b.send(); err != nil {
				b.onErr(err)
				return
			}
		}
	}
}

func (b *heartbeat) send() error {
	b.mu.Lock()
	m := Msg{Type: TypeProgress, Phase: b.phase, Done: b.done, Total: b.total}
	b.mu.Unlock()
	if m.Phase == "" { // before the first set
		return nil
	}
	return b.w.write(m)
}

// set records progress; a new phase is sent at once.
func (b *heartbeat) set(phase string, done, total int) {
	b.mu.Lock()
	changed := phase != b.phase
	b.phase, b.done, b.total = phase, done, total
	b.mu.Unlock()
	if changed {
		if err := b.send(); err != nil {
			b.onErr(err)
		}
	}
}

// progress is the executor's callback; odd values are clamped so that a
// buggy executor cannot make the worker send invalid messages.
func (b *heartbeat) progress(done, total int) {
	total = max(total, 0)
	done = min(max(done, 0), total)
	b.mu.Lock()
	b.done, b.total = done, total
	b.mu.Unlock()
}

func (b *heartbeat) stop() {
	close(b.stopc)
	<-b.ended
}

// cleanMetrics keeps at most MaxMetrics finite metrics with valid names,
// by name order, so the receipt message always passes ReadMsg.
func cleanMetrics(m map[string]float64) map[string]float64 {
	names := make([]string, 0, len(m))
	for k, v := range m {
		if k != "" && len(k) <= MaxMetricName && utf8.ValidString(k) && !math.IsNaN(v) && !math.IsInf(v, 0) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	out := make(map[string]float64, min(len(names), MaxMetrics))
	for _, k := range names[:min(len(names), MaxMetrics)] {
		out[k] = m[k]
	}
	return out
}
