package tasklet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestReleaseMessages(t *testing.T) {
	outs := []string{rawCID(t, "a"), rawCID(t, "b")}
	for _, m := range []Msg{{Type: TypeRelease, Outputs: outs}, {Type: TypeReleased, Done: 2}, {Type: TypeReleased}} {
		var buf bytes.Buffer
		if err := WriteMsg(&buf, m); err != nil {
			t.Fatalf("WriteMsg(%s): %v", m.Type, err)
		}
		m.V = WireVersion
		got, err := ReadMsg(&buf, MaxMsg)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("ReadMsg = %+v, %v; want %+v", got, err, m)
		}
	}
	many := make([]string, MaxReleaseOutputs+1)
	for i := range many {
		many[i] = rawCID(t, fmt.Sprint(i))
	}
	tests := []struct {
		name string
		body string
	}{
		{"release without outputs", `{"v":1,"type":"release"}`},
		{"release of a non-CID", `{"v":1,"type":"release","outputs":["hello"]}`},
		{"release of too many", `{"v":1,"type":"release","outputs":["` + strings.Join(many, `","`) + `"]}`},
		{"released negative", `{"v":1,"type":"released","done":-1}`},
	}
	for _, tt := range tests {
		if _, err := ReadMsg(bytes.NewReader(frame(tt.body)), MaxMsg); !errors.Is(err, ErrMalformed) {
			t.Errorf("ReadMsg(%s): err = %v, want ErrMalformed", tt.name, err)
		}
	}
	// The largest release fits the cap with the longest CIDs allowed.
	var buf bytes.Buffer
	if err := WriteMsg(&buf, Msg{Type: TypeRelease, Outputs: many[:MaxReleaseOutputs]}); err != nil {
		t.Errorf("WriteMsg of %d outputs: %v", MaxReleaseOutputs, err)
	}
}

// releaseLedger is what a worker does with OnRelease: it lets go of the
// outputs it delivered to the releasing peer, and of no others.
type releaseLedger struct {
	mu      sync.Mutex
	owner   map[string]peer.ID
	dropped []string
}

func (l *releaseLedger) delivered(_ Spec, from peer.ID, out Output) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.owner[out.CID] = from
}

func (l *releaseLedger) release(_ context.Context, from peer.ID, outs []cid.Cid) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range outs {
		if p, ok := l.owner[c.String()]; ok && p == from {
			delete(l.owner, c.String())
			l.dropped = append(l.dropped, c.String())
			n++
		}
	}
	return n
}

func TestReleaseOnlyByTheOfferer(t *testing.T) {
	l := &releaseLedger{owner: map[string]peer.ID{}}
	n := newTestNet(t, ServiceConfig{
		Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)},
		Delivered: l.delivered,
		OnRelease: l.release,
	})
	r, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{})
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	other := newHost(t)
	connect(t, other, n.worker)
	ctx := context.Background()
	tests := []struct {
		name    string
		from    *testNet
		host    string
		outputs []string
		want    int
	}{
		{name: "another peer", host: "other", outputs: []string{r.OutputCID}, want: 0},
		{name: "unknown output", host: "coord", outputs: []string{rawCID(t, "never made")}, want: 0},
		{name: "the offerer", host: "coord", outputs: []string{rawCID(t, "never made"), r.OutputCID}, want: 1},
		{name: "twice", host: "coord", outputs: []string{r.OutputCID}, want: 0},
	}
	for _, tt := range tests {
		h := n.coord
		if tt.host == "other" {
			h = other
		}
		got, err := releaseBatch(ctx, h, n.worker.ID(), tt.outputs)
		if err != nil || got != tt.want {
			t.Errorf("release by %s: released %d (%v), want %d", tt.name, got, err, tt.want)
		}
	}
	if !reflect.DeepEqual(l.dropped, []string{r.OutputCID}) {
		t.Errorf("worker dropped %v, want only %s", l.dropped, r.OutputCID)
	}
	// Release splits long lists; every batch is answered.
	long := make([]string, MaxReleaseOutputs+3)
	for i := range long {
		long[i] = rawCID(t, fmt.Sprint("x", i))
	}
	if err := Release(ctx, n.coord, n.worker.ID(), long); err != nil {
		t.Errorf("Release of %d outputs: %v", len(long), err)
	}
}

func TestReleaseWithoutHandler(t *testing.T) {
	n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)}})
	if err := Release(context.Background(), n.coord, n.worker.ID(), []string{rawCID(t, "a")}); err == nil {
		t.Error("Release to a worker without the protocol: want an error")
	}
}

// A cancelled attempt stops on the worker: the executor sees the
// cancellation, whatever it stored is discarded, no receipt is delivered,
// and the single slot is free for the next offer.
func TestCancelledAttemptStopsOnWorker(t *testing.T) {
	var (
		mu                  sync.Mutex
		inUse, runs         int
		discarded, delivers []string
	)
	started, stopped := make(chan struct{}), make(chan error, 1)
	stored := hashOutput(testSpec(t))
	exec := ExecutorFunc(func(ctx context.Context, spec Spec, p func(int, int)) (Output, error) {
		mu.Lock()
		runs++
		first := runs == 1
		mu.Unlock()
		if !first {
			return hashExecutor(nil)(ctx, spec, p)
		}
		close(started)
		<-ctx.Done()
		stopped <- context.Cause(ctx)
		return stored, nil // it had stored an output when it was stopped
	})
	n := newTestNet(t, ServiceConfig{
		Executors: map[string]Executor{ExecutorBuiltin: exec},
		Admit: func(Spec) (bool, string, string) {
			mu.Lock()
			defer mu.Unlock()
			if inUse == 1 {
				return false, ReasonBusy, "1 of 1 slots in use"
			}
			inUse++
			return true, "", ""
		},
		Release: func(Spec) {
			mu.Lock()
			defer mu.Unlock()
			inUse--
		},
		Discard: func(_ Spec, out Output) {
			mu.Lock()
			defer mu.Unlock()
			discarded = append(discarded, out.CID)
		},
		Delivered: func(_ Spec, _ peer.ID, out Output) {
			mu.Lock()
			defer mu.Unlock()
			delivers = append(delivers, out.CID)
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := n.offer(ctx, testSpec(t), nil, OfferOptions{})
		errc <- err
	}()
	waitFor(t, started, "the executor to start")
	if _, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{}); !IsDeclined(err) {
		t.Fatalf("second offer while the slot is taken: err = %v, want busy", err)
	}
	cancel()
	if err := waitFor(t, errc, "Offer to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("Offer: err = %v, want context.Canceled", err)
	}
	if cause := waitFor(t, stopped, "the executor to stop"); !errors.Is(cause, ErrCancelled) && !errors.Is(cause, errCoordinatorGone) {
		t.Errorf("executor's context cause = %v, want the coordinator's cancel or reset", cause)
	}
	// The slot comes back as soon as the run has unwound; a busy decline
	// meanwhile is retried (polling, not a sleep).
	var err error
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); {
		if _, err = n.offer(context.Background(), testSpec(t), nil, OfferOptions{}); !IsDeclined(err) {
			break
		}
	}
	if err != nil {
		t.Fatalf("offer after the cancelled attempt: %v, want a receipt", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(discarded, []string{stored.CID}) {
		t.Errorf("discarded %v, want the cancelled run's output %s", discarded, stored.CID)
	}
	if len(delivers) != 1 {
		t.Errorf("delivered %v; want only the second run's output", delivers)
	}
}

func TestFailureReasonFromWorker(t *testing.T) {
	full := &FailedError{Reason: ReasonOverQuota, Detail: "needs 4 MB, 1 MB free of a 2 MB quota"}
	n := newTestNet(t, ServiceConfig{
		Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)},
		Fetch: func(context.Context, cid.Cid, []peer.AddrInfo) error {
			return fmt.Errorf("cannot store: %w", full)
		},
	})
	_, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{})
	var f *FailedError
	if !errors.As(err, &f) || f.Reason != ReasonOverQuota || f.Detail != full.Detail {
		t.Errorf("Offer: err = %v, want failed %s with the worker's detail", err, ReasonOverQuota)
	}
}
