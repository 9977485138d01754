package tasklet

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	mh "github.com/multiformats/go-multihash"
)

// newHost starts a TCP-only host on loopback with the default resource
// manager, so the streams' memory reservations are real.
func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatalf("libp2p.New: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// testNet is a coordinator and a worker running a Service, connected.
type testNet struct {
	coord, worker host.Host
	ethKey        *ecdsa.PrivateKey
	domain        receipt.Domain
	svc           *Service
}

func newTestNet(t testing.TB, cfg ServiceConfig) *testNet {
	t.Helper()
	n := &testNet{coord: newHost(t), worker: newHost(t), domain: receipt.Domain{ChainID: 1337}}
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	n.ethKey = key
	if cfg.Sign == nil {
		cfg.Sign = func(r receipt.Receipt) (receipt.Receipt, error) { return receipt.Sign(key, n.domain, r) }
	}
	n.svc = NewService(n.worker, cfg)
	t.Cleanup(func() { n.svc.Close() })
	connect(t, n.coord, n.worker)
	return n
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatalf("connect: %v", err)
	}
}

// offer calls Offer from the coordinator with its own identity key.
func (n *testNet) offer(ctx context.Context, spec Spec, hints []peer.AddrInfo, opts OfferOptions) (receipt.Receipt, error) {
	if opts.Domain == (receipt.Domain{}) {
		opts.Domain = n.domain
	}
	return Offer(ctx, n.coord, n.coord.Peerstore().PrivKey(n.coord.ID()), n.worker.ID(), spec, hints, opts)
}

func rawCID(t testing.TB, data string) string {
	t.Helper()
	h, err := mh.Sum([]byte(data), mh.SHA2_256, -1)
	if err != nil {
		t.Fatalf("mh.Sum: %v", err)
	}
	return cid.NewCidV1(cid.Raw, h).String()
}

func testSpec(t testing.TB) Spec {
	return Spec{
		Version:  SpecVersion,
		Executor: ExecutorBuiltin,
		JobID:    "mnist-softmax",
		Round:    2,
		Index:    5,
		Inputs: []Input{
			{Name: "weights", CID: rawCID(t, "weights")},
			{Name: "shard", CID: rawCID(t, "shard-5")},
		},
		Params:   []byte(`{"model":"softmax","steps":50,"lr":0.1}`),
		Seed:     42,
		Deadline: time.Now().Add(time.Minute).UnixMilli(),
	}
}

// hashOutput is what hashExecutor computes: the output "CID" is the
// sha256 of the params, the loss is derived from the same digest, so a
// receipt can only carry it if the executor really ran on this spec.
func hashOutput(spec Spec) Output {
	sum := sha256.Sum256(spec.Params)
	h, _ := mh.Encode(sum[:], mh.SHA2_256)
	loss := float32(binary.BigEndian.Uint32(sum[:4])) / math.MaxUint32
	return Output{
		CID:     cid.NewCidV1(cid.Raw, h).String(),
		Samples: uint64(len(spec.Inputs)) * 100,
		Loss:    loss,
		Metrics: map[string]float64{"params_bytes": float64(len(spec.Params)), "bad": math.NaN()},
	}
}

// hashExecutor runs hashOutput after wait (if any) is closed.
func hashExecutor(wait <-chan struct{}) ExecutorFunc {
	return func(ctx context.Context, spec Spec, progress func(done, total int)) (Output, error) {
		progress(1, 2)
		if wait != nil {
			select {
			case <-wait:
			case <-ctx.Done():
				return Output{}, context.Cause(ctx)
			}
		}
		progress(2, 2)
		return hashOutput(spec), nil
	}
}

// blockingExecutor signals started, blocks until its context ends and
// reports the cause on stopped.
func blockingExecutor(started chan<- struct{}, stopped chan<- error) ExecutorFunc {
	return func(ctx context.Context, _ Spec, _ func(done, total int)) (Output, error) {
		close(started)
		<-ctx.Done()
		stopped <- context.Cause(ctx)
		return Output{}, ctx.Err()
	}
}

// waitFor fails the test if ch does not deliver within a generous bound;
// it is a hang guard, not a timing assertion.
func waitFor[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}
