package tasklet

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func TestOfferHappyPath(t *testing.T) {
	// The executor finishes only after the coordinator has seen two
	// "running" heartbeats: progress must flow while nothing changes.
	beats := make(chan struct{})
	var (
		mu      sync.Mutex
		fetched []string
		hinted  []peer.AddrInfo
	)
	n := newTestNet(t, ServiceConfig{
		Executors:      map[string]Executor{ExecutorBuiltin: hashExecutor(beats)},
		HeartbeatEvery: 20 * time.Millisecond,
		Fetch: func(_ context.Context, c cid.Cid, hints []peer.AddrInfo) error {
			mu.Lock()
			defer mu.Unlock()
			fetched, hinted = append(fetched, c.String()), hints
			return nil
		},
	})
	spec := testSpec(t)
	_, provider := testKey(t)
	hints := []peer.AddrInfo{{ID: provider, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001")}}}

	var (
		running int
		phases  []string
		metrics map[string]float64
	)
	opts := OfferOptions{
		ExpectedWorker: ethcrypto.PubkeyToAddress(n.ethKey.PublicKey),
		Progress: func(p Progress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
			if p.Phase == PhaseRunning {
				if running++; running == 2 {
					close(beats)
				}
			}
			if p.Phase == PhaseDone {
				metrics = p.Metrics
			}
		},
	}
	got, err := n.offer(context.Background(), spec, hints, opts)
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}

	specCID, _ := spec.CID()
	out := hashOutput(spec)
	want := receipt.Receipt{
		TaskletCID: specCID.String(), OutputCID: out.CID,
		Worker:     ethcrypto.PubkeyToAddress(n.ethKey.PublicKey),
		WorkerPeer: n.worker.ID().String(), Coordinator: n.coord.ID().String(),
		JobID: spec.JobID, Round: spec.Round, Samples: out.Samples,
	}
	want.SetLoss(out.Loss)
	// Times and the signature vary; compare them separately.
	gotFixed := got
	gotFixed.StartedAt, gotFixed.FinishedAt, gotFixed.ComputeMillis, gotFixed.Signature = 0, 0, 0, nil
	if !reflect.DeepEqual(gotFixed, want) {
		t.Errorf("receipt =\n%+v\nwant\n%+v", gotFixed, want)
	}
	if got.StartedAt <= 0 || got.FinishedAt < got.StartedAt || got.ComputeMillis > uint64(got.FinishedAt-got.StartedAt) {
		t.Errorf("receipt times started %d finished %d compute %d ms are inconsistent", got.StartedAt, got.FinishedAt, got.ComputeMillis)
	}
	if _, err := receipt.Verify(n.domain, got); err != nil {
		t.Errorf("receipt.Verify: %v", err)
	}
	if want := []string{PhaseFetching, PhaseRunning, PhaseDone}; !reflect.DeepEqual(phases, want) {
		t.Errorf("progress phases = %v, want %v", phases, want)
	}
	if want := map[string]float64{"params_bytes": float64(len(spec.Params))}; !reflect.DeepEqual(metrics, want) {
		t.Errorf("metrics = %v, want %v (the NaN one dropped)", metrics, want)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(fetched) // fetched side by side: in any order
	if want := slices.Sorted(slices.Values([]string{spec.Inputs[0].CID, spec.Inputs[1].CID})); !reflect.DeepEqual(fetched, want) {
		t.Errorf("fetched %v, want %v", fetched, want)
	}
	if len(hinted) != 1 || hinted[0].ID != provider || len(hinted[0].Addrs) != 1 || !hinted[0].Addrs[0].Equal(hints[0].Addrs[0]) {
		t.Errorf("Fetch got hints %v, want %v", hinted, hints)
	}
}

func TestOfferDeclines(t *testing.T) {
	tests := []struct {
		name       string
		executor   string
		admit      func(Spec) (bool, string, string)
		wantReason string
		wantDetail string
	}{
		{"busy", ExecutorBuiltin, func(Spec) (bool, string, string) { return false, ReasonBusy, "2 of 2 slots in use" }, ReasonBusy, "2 of 2 slots in use"},
		{"not idle", ExecutorBuiltin, func(Spec) (bool, string, string) { return false, ReasonNotIdle, "keyboard active" }, ReasonNotIdle, "keyboard active"},
		{"over quota", ExecutorBuiltin, func(Spec) (bool, string, string) { return false, ReasonOverQuota, "needs 3 GiB, 1 GiB free" }, ReasonOverQuota, "needs 3 GiB, 1 GiB free"},
		{"admit gives junk reason", ExecutorBuiltin, func(Spec) (bool, string, string) { return false, "No Way!", "x" }, ReasonBusy, "x"},
		{"executor not enabled", ExecutorWasm, nil, ReasonUnsupportedExecutor, `executor "wasm" is not enabled on this worker`},
		{"unknown executor", "cobol", nil, ReasonUnsupportedExecutor, `executor "cobol" is not enabled on this worker`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran atomic.Int32
			exec := ExecutorFunc(func(context.Context, Spec, func(int, int)) (Output, error) {
				ran.Add(1)
				return Output{}, errors.New("must not run")
			})
			n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: exec}, Admit: tt.admit})
			spec := testSpec(t)
			spec.Executor = tt.executor
			_, err := n.offer(context.Background(), spec, nil, OfferOptions{})
			var d *DeclinedError
			if !errors.As(err, &d) || !IsDeclined(err) {
				t.Fatalf("Offer: err = %v, want a *DeclinedError", err)
			}
			if d.Reason != tt.wantReason || d.Detail != tt.wantDetail {
				t.Errorf("declined (%q, %q), want (%q, %q)", d.Reason, d.Detail, tt.wantReason, tt.wantDetail)
			}
			if ran.Load() != 0 {
				t.Errorf("executor ran %d times after a decline", ran.Load())
			}
		})
	}
}

// sendRaw opens a tasklet stream from the coordinator, writes payload and
// returns the worker's first reply.
func (n *testNet) sendRaw(t *testing.T, payload []byte) (Msg, network.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := n.coord.NewStream(ctx, n.worker.ID(), ProtocolID)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	t.Cleanup(func() { st.Reset() })
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := st.Write(payload); err != nil {
		t.Fatalf("Write: %v", err)
	}
	m, err := ReadMsg(st, MaxMsg)
	if err != nil {
		t.Fatalf("ReadMsg reply: %v", err)
	}
	return m, st
}

func framed(t *testing.T, m Msg) []byte {
	t.Helper()
	m.V = WireVersion
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return append(binary.AppendUvarint(nil, uint64(len(body))), body...)
}

func TestWorkerDeclinesBadOffers(t *testing.T) {
	n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)}})
	coordKey := n.coord.Peerstore().PrivKey(n.coord.ID())
	otherKey, _ := testKey(t)
	now := time.Now()
	expired := testOffer(t, now)
	expired.Expires = now.Add(-time.Second).UnixMilli()
	unsigned, _ := json.Marshal(testOffer(t, now))

	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"garbage", []byte("\x05hello"), ReasonMalformed},
		{"varint overflow", []byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), ReasonMalformed},
		{"oversized", binary.AppendUvarint(nil, MaxOfferMsg+1), ReasonMalformed}, // no body follows
		{"not an offer", framed(t, Msg{Type: TypeCancel}), ReasonMalformed},
		{"unsigned", framed(t, Msg{Type: TypeOffer, Offer: unsigned}), ReasonBadSignature},
		{"foreign key", framed(t, Msg{Type: TypeOffer, Offer: seal(t, otherKey, testOffer(t, now))}), ReasonBadSignature},
		{"expired", framed(t, Msg{Type: TypeOffer, Offer: seal(t, coordKey, expired)}), ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := n.sendRaw(t, tt.payload)
			if m.Type != TypeDecline || m.Reason != tt.want {
				t.Errorf("reply = %s %q (%s), want decline %q", m.Type, m.Reason, m.Detail, tt.want)
			}
		})
	}
}

func TestOfferSignedByAnotherKey(t *testing.T) {
	n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)}})
	otherKey, _ := testKey(t)
	_, err := Offer(context.Background(), n.coord, otherKey, n.worker.ID(), testSpec(t), nil, OfferOptions{Domain: n.domain})
	var d *DeclinedError
	if !errors.As(err, &d) || d.Reason != ReasonBadSignature {
		t.Fatalf("Offer signed with a key that is not the host's: err = %v, want decline %s", err, ReasonBadSignature)
	}
}

func TestReplayedOffer(t *testing.T) {
	n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)}})
	env := seal(t, n.coord.Peerstore().PrivKey(n.coord.ID()), testOffer(t, time.Now()))
	payload := framed(t, Msg{Type: TypeOffer, Offer: env})

	first, st := n.sendRaw(t, payload)
	if first.Type != TypeAccept {
		t.Fatalf("first offer: reply %s %q, want accept", first.Type, first.Reason)
	}
	for { // let the tasklet finish so the second offer is not merely concurrent
		m, err := ReadMsg(st, MaxMsg)
		if err != nil {
			t.Fatalf("reading the first run: %v", err)
		}
		if m.Type == TypeReceipt {
			break
		}
	}
	st.Close()

	second, _ := n.sendRaw(t, payload)
	if second.Type != TypeDecline || second.Reason != ReasonReplayed {
		t.Errorf("replayed offer: reply %s %q, want decline %q", second.Type, second.Reason, ReasonReplayed)
	}
	// Offer draws a fresh nonce each time, so honest repeats still run.
	for i := range 2 {
		if _, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{}); err != nil {
			t.Errorf("Offer #%d of the same spec: %v", i+1, err)
		}
	}
}

func TestWorkerKilledMidTasklet(t *testing.T) {
	started, stopped := make(chan struct{}), make(chan error, 1)
	n := newTestNet(t, ServiceConfig{
		Executors:      map[string]Executor{ExecutorBuiltin: blockingExecutor(started, stopped)},
		HeartbeatEvery: 50 * time.Millisecond,
	})
	const timeout = time.Second
	errc := make(chan error, 1)
	go func() {
		_, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{HeartbeatTimeout: timeout})
		errc <- err
	}()
	waitFor(t, started, "the executor to start")
	killed := time.Now()
	if err := n.worker.Close(); err != nil {
		t.Fatalf("closing the worker host: %v", err)
	}
	err := waitFor(t, errc, "Offer to return")
	elapsed := time.Since(killed)
	if !errors.Is(err, ErrWorkerLost) {
		t.Fatalf("Offer: err = %v, want ErrWorkerLost", err)
	}
	if elapsed > 3*timeout {
		t.Errorf("ErrWorkerLost took %s after the kill, want well under 3×%s", elapsed, timeout)
	}
	waitFor(t, stopped, "the executor's context to be cancelled")
}

func TestSilentWorker(t *testing.T) {
	coord, worker := newHost(t), newHost(t)
	released := make(chan struct{})
	t.Cleanup(func() { close(released) })
	// A worker that accepts and then says nothing, on a live connection.
	worker.SetStreamHandler(ProtocolID, func(st network.Stream) {
		defer st.Reset()
		if _, err := ReadMsg(st, MaxOfferMsg); err != nil {
			return
		}
		if err := WriteMsg(st, Msg{Type: TypeAccept}); err != nil {
			return
		}
		<-released
	})
	connect(t, coord, worker)

	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Offer(context.Background(), coord, coord.Peerstore().PrivKey(coord.ID()), worker.ID(), testSpec(t), nil,
		OfferOptions{HeartbeatTimeout: timeout})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrWorkerLost) {
		t.Fatalf("Offer: err = %v, want ErrWorkerLost", err)
	}
	if elapsed < timeout || elapsed > 3*timeout {
		t.Errorf("ErrWorkerLost after %s of silence, want between %s and 3×%s", elapsed, timeout, timeout)
	}
}

func TestCoordinatorCancel(t *testing.T) {
	started, stopped := make(chan struct{}), make(chan error, 1)
	n := newTestNet(t, ServiceConfig{
		Executors:      map[string]Executor{ExecutorBuiltin: blockingExecutor(started, stopped)},
		HeartbeatEvery: 50 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := n.offer(ctx, testSpec(t), nil, OfferOptions{})
		errc <- err
	}()
	waitFor(t, started, "the executor to start")
	cancel()
	if err := waitFor(t, errc, "Offer to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("Offer: err = %v, want context.Canceled", err)
	}
	cause := waitFor(t, stopped, "the executor's context to be cancelled")
	if !errors.Is(cause, ErrCancelled) && !errors.Is(cause, errCoordinatorGone) {
		t.Errorf("executor's context cause = %v, want the coordinator's cancel or reset", cause)
	}
}

func TestTaskletFailures(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		exec       ExecutorFunc
		fetch      func(context.Context, cid.Cid, []peer.AddrInfo) error
		sign       func(receipt.Receipt) (receipt.Receipt, error)
		deadline   time.Duration
		wantReason string
	}{
		{name: "executor error", exec: func(context.Context, Spec, func(int, int)) (Output, error) { return Output{}, boom }, wantReason: FailExecutor},
		{name: "fetch error", fetch: func(context.Context, cid.Cid, []peer.AddrInfo) error { return boom }, wantReason: FailFetch},
		{name: "bad output", exec: func(context.Context, Spec, func(int, int)) (Output, error) { return Output{CID: "nope"}, nil }, wantReason: FailOutput},
		{name: "sign error", sign: func(receipt.Receipt) (receipt.Receipt, error) { return receipt.Receipt{}, boom }, wantReason: FailSign},
		{name: "deadline", deadline: 300 * time.Millisecond, exec: func(ctx context.Context, _ Spec, _ func(int, int)) (Output, error) {
			<-ctx.Done()
			return Output{}, ctx.Err()
		}, wantReason: FailDeadline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec := tt.exec
			if exec == nil {
				exec = hashExecutor(nil)
			}
			n := newTestNet(t, ServiceConfig{
				Executors: map[string]Executor{ExecutorBuiltin: exec}, Fetch: tt.fetch, Sign: tt.sign,
				HeartbeatEvery: 50 * time.Millisecond,
			})
			spec := testSpec(t)
			if tt.deadline > 0 {
				spec.Deadline = time.Now().Add(tt.deadline).UnixMilli()
			}
			_, err := n.offer(context.Background(), spec, nil, OfferOptions{})
			var f *FailedError
			if !errors.As(err, &f) || !IsFailed(err) {
				t.Fatalf("Offer: err = %v, want a *FailedError", err)
			}
			if f.Reason != tt.wantReason || f.Detail == "" {
				t.Errorf("failed (%q, %q), want reason %q with a detail", f.Reason, f.Detail, tt.wantReason)
			}
		})
	}
}

func TestBadReceipts(t *testing.T) {
	n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)}})
	tests := []struct {
		name string
		opts OfferOptions
	}{
		{"unexpected signer", OfferOptions{ExpectedWorker: common.HexToAddress("0x71562b71999873DB5b286dF957af199Ec94617F7")}},
		{"other chain", OfferOptions{Domain: receipt.Domain{ChainID: 1}}},
	}
	for _, tt := range tests {
		if _, err := n.offer(context.Background(), testSpec(t), nil, tt.opts); !errors.Is(err, ErrBadReceipt) {
			t.Errorf("Offer with %s: err = %v, want ErrBadReceipt", tt.name, err)
		}
	}
}

func TestServiceCloseFailsRunningTasklets(t *testing.T) {
	started, stopped := make(chan struct{}), make(chan error, 1)
	n := newTestNet(t, ServiceConfig{
		Executors:      map[string]Executor{ExecutorBuiltin: blockingExecutor(started, stopped)},
		HeartbeatEvery: 50 * time.Millisecond,
	})
	errc := make(chan error, 1)
	go func() {
		_, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{})
		errc <- err
	}()
	waitFor(t, started, "the executor to start")
	if err := n.svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var f *FailedError
	if err := waitFor(t, errc, "Offer to return"); !errors.As(err, &f) || f.Reason != FailShutdown {
		t.Errorf("Offer: err = %v, want failed %s", err, FailShutdown)
	}
	// Closed: new offers find no handler.
	if _, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{}); err == nil || IsDeclined(err) {
		t.Errorf("Offer after Close: err = %v, want a protocol negotiation error", err)
	}
}

// A paid offer's price reaches the worker's signed receipt; a worker with a
// minimum price declines less; a receipt naming another price is refused.
func TestOfferPrice(t *testing.T) {
	t.Run("signed in the receipt", func(t *testing.T) {
		n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)}, MinPrice: big.NewInt(100)})
		r, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{Price: "250"})
		if err != nil {
			t.Fatalf("Offer: %v", err)
		}
		if r.Price != "250" {
			t.Errorf("receipt price = %q, want 250", r.Price)
		}
		if _, err := receipt.Verify(n.domain, r); err != nil {
			t.Errorf("the priced receipt does not verify: %v", err)
		}
	})
	t.Run("underpriced", func(t *testing.T) {
		n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)}, MinPrice: big.NewInt(100)})
		_, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{Price: "99"})
		var d *DeclinedError
		if !errors.As(err, &d) || d.Reason != ReasonUnderpriced || !strings.Contains(d.Detail, "worker.min_price") {
			t.Fatalf("Offer at 99 to a worker taking 100: %v, want declined %s naming worker.min_price", err, ReasonUnderpriced)
		}
	})
	t.Run("worker changes the price", func(t *testing.T) {
		var n *testNet
		n = newTestNet(t, ServiceConfig{
			Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)},
			Sign: func(r receipt.Receipt) (receipt.Receipt, error) {
				r.Price = "1000000"
				return receipt.Sign(n.ethKey, n.domain, r)
			},
		})
		if _, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{Price: "250"}); !errors.Is(err, ErrBadReceipt) {
			t.Fatalf("a receipt with another price: err = %v, want ErrBadReceipt", err)
		}
	})
	t.Run("malformed price", func(t *testing.T) {
		n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)}})
		if _, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{Price: "-5"}); err == nil || !strings.Contains(err.Error(), "price") {
			t.Fatalf("Offer with price -5: %v, want an error naming the price", err)
		}
	})
}

// TestFetchInputsSideBySide: a tasklet's inputs are fetched at once (each
// fetch below waits until every input was asked for, which would hang one
// after another), and the first failure stops the other fetches.
func TestFetchInputsSideBySide(t *testing.T) {
	boom := errors.New("no provider answered")
	tests := []struct {
		name       string
		failShard  bool
		wantReason string
	}{
		{"both arrive", false, ""},
		{"shard fails", true, FailFetch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t)
			var asked sync.WaitGroup
			asked.Add(len(spec.Inputs))
			all := make(chan struct{})
			go func() { asked.Wait(); close(all) }()
			stopped := make(chan error, len(spec.Inputs))
			n := newTestNet(t, ServiceConfig{
				Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)},
				Fetch: func(ctx context.Context, c cid.Cid, _ []peer.AddrInfo) error {
					asked.Done()
					select {
					case <-all:
					case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
						return errors.New("the other input was never asked for: fetched one after another")
					}
					if tt.failShard && c.String() == spec.Inputs[1].CID {
						return boom
					}
					if tt.failShard {
						<-ctx.Done() // the weights wait until the shard's failure stops them
						stopped <- ctx.Err()
						return ctx.Err()
					}
					return nil
				},
			})
			_, err := n.offer(context.Background(), spec, nil, OfferOptions{})
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("Offer: %v", err)
				}
				return
			}
			var f *FailedError
			if !errors.As(err, &f) || f.Reason != tt.wantReason || !strings.Contains(f.Detail, "input shard") {
				t.Fatalf("Offer: err = %v, want failed %s naming input shard", err, tt.wantReason)
			}
			if err := waitFor(t, stopped, "the weights fetch to be stopped"); !errors.Is(err, context.Canceled) {
				t.Errorf("the other fetch ended with %v, want context.Canceled", err)
			}
		})
	}
}

// TestPrefetchWhileRunning: the offer's Prefetch data is fetched after
// the tasklet's inputs, while the executor runs, one CID after another.
// The receipt message says which CIDs were whole by then and which one was
// still arriving; one whose fetch failed is in neither.
func TestPrefetchWhileRunning(t *testing.T) {
	spec := testSpec(t)
	lost, next, later := rawCID(t, "nobody has it"), rawCID(t, "next shard"), rawCID(t, "a shard after it")
	lastAsked := make(chan struct{})
	var mu sync.Mutex
	var order []string
	n := newTestNet(t, ServiceConfig{
		Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(lastAsked)},
		Fetch: func(ctx context.Context, c cid.Cid, _ []peer.AddrInfo) error {
			mu.Lock()
			order = append(order, c.String())
			mu.Unlock()
			switch c.String() {
			case lost:
				return errors.New("no provider")
			case later:
				close(lastAsked)
				<-ctx.Done() // still running at the receipt; Close ends it
				return ctx.Err()
			}
			return nil
		},
	})
	var whole, arriving []string
	_, err := n.offer(context.Background(), spec, nil, OfferOptions{
		Prefetch: []string{lost, next, later},
		Progress: func(p Progress) {
			if p.Phase == PhaseDone {
				whole, arriving = p.Prefetched, p.Prefetching
			}
		},
	})
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	if !slices.Equal(whole, []string{next}) || !slices.Equal(arriving, []string{later}) {
		t.Errorf("the worker claims %q whole and %q arriving, want %q and %q", whole, arriving, next, later)
	}
	n.svc.Close() // stops the fetch still arriving
	if got, want := n.svc.PrefetchStats(), (PrefetchStats{Done: 1, Failed: 2}); got != want {
		t.Errorf("PrefetchStats() = %+v, want %+v (the next shard whole; the lost one and the one stopped by Close failed)", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 5 || !slices.Equal(order[2:], []string{lost, next, later}) {
		t.Errorf("fetched %q: want both inputs first, then %s, %s and %s", order, lost, next, later)
	}
}

func TestOfferRefusesBadPrefetch(t *testing.T) {
	n := newTestNet(t, ServiceConfig{Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)}})
	_, err := n.offer(context.Background(), testSpec(t), nil, OfferOptions{Prefetch: []string{"the next shard"}})
	if err == nil || !strings.Contains(err.Error(), "prefetch[0]") {
		t.Errorf("Offer with a prefetch that is not a CID: err = %v, want one naming prefetch[0]", err)
	}
}

// TestPrefetchedClaims: the coordinator keeps only the claims that name
// data its offer asked for, once each.
func TestPrefetchedClaims(t *testing.T) {
	a, b, other := rawCID(t, "a"), rawCID(t, "b"), rawCID(t, "not offered")
	c := &offerCall{rec: OfferRecord{Prefetch: []string{a, b}}}
	tests := []struct {
		claimed, want []string
	}{
		{nil, nil},
		{[]string{a}, []string{a}},
		{[]string{other, b, b}, []string{b}},
		{[]string{b, a}, []string{b, a}},
	}
	for _, tt := range tests {
		if got := c.prefetched(tt.claimed); !slices.Equal(got, tt.want) {
			t.Errorf("prefetched(%q) = %q, want %q", tt.claimed, got, tt.want)
		}
	}
}

// TestPrefetchCap: at most maxPrefetching offers prefetch at once; one
// more is not prefetched, and none is counted once they all ended.
func TestPrefetchCap(t *testing.T) {
	release := make(chan struct{})
	ended := make(chan struct{}, maxPrefetching)
	n := newTestNet(t, ServiceConfig{
		Executors: map[string]Executor{ExecutorBuiltin: hashExecutor(nil)},
		Fetch: func(ctx context.Context, c cid.Cid, _ []peer.AddrInfo) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			ended <- struct{}{}
			return nil
		},
	})
	j := &job{offer: OfferRecord{Prefetch: []string{rawCID(t, "next shard")}}}
	for i := range maxPrefetching {
		if n.svc.startPrefetch(j) == nil {
			t.Fatalf("prefetch %d of %d refused", i+1, maxPrefetching)
		}
	}
	if n.svc.startPrefetch(j) != nil {
		t.Fatalf("prefetch %d started with %d running", maxPrefetching+1, maxPrefetching)
	}
	close(release)
	for range maxPrefetching {
		waitFor(t, ended, "the prefetches to end")
	}
	n.svc.Close() // waits for the prefetch goroutines
	n.svc.mu.Lock()
	running := n.svc.prefetching
	n.svc.mu.Unlock()
	if running != 0 {
		t.Errorf("%d prefetches counted as running after all ended", running)
	}
	if got, want := n.svc.PrefetchStats(), (PrefetchStats{Done: maxPrefetching, Skipped: 1}); got != want {
		t.Errorf("PrefetchStats() = %+v, want %+v", got, want)
	}
}
