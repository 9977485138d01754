package tasklet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Defaults of OfferOptions.
const (
	DefaultHeartbeatTimeout = 5 * time.Second
	DefaultOfferTTL         = 30 * time.Second
)

const (
	coordMemory    = MaxMsg + readBufSize
	cancelWriteMax = time.Second
)

// OfferOptions tune Offer. The zero value works with the defaults below.
type OfferOptions struct {
	// HeartbeatTimeout is the longest silence tolerated from the worker,
	// for the answer to the offer and between progress messages (default
	// DefaultHeartbeatTimeout). Past it Offer fails with ErrWorkerLost.
	HeartbeatTimeout time.Duration
	// Progress, if set, is called for every progress message and once with
	// PhaseDone and the executor's metrics before Offer returns a receipt.
	Progress func(Progress)
	// Domain is the EIP-712 domain the receipt must be signed under.
	Domain receipt.Domain
	// ExpectedWorker, if not zero, is the only acceptable receipt signer.
	// Zero accepts any signer whose signature is valid for r.Worker.
	ExpectedWorker common.Address
	// TTL is how long the worker may take to accept (default
	// DefaultOfferTTL, at most MaxOfferTTL).
	TTL time.Duration
	// Price is what the tasklet pays, in base units of the settlement
	// token as a decimal string ("" for an unpaid tasklet). The worker
	// signs it in its receipt; a receipt with another price is refused.
	Price string
	// Prefetch (at most MaxPrefetch CIDs) asks the worker to fetch these
	// into its cache while the tasklet runs; the PhaseDone progress says
	// which it held, and which were arriving, by the receipt.
	Prefetch []string
}

// Progress is what a worker reported.
type Progress struct {
	Phase   string // PhaseFetching, PhaseRunning or PhaseDone
	Done    int
	Total   int
	Metrics map[string]float64 // PhaseDone only
	// Prefetched (PhaseDone only) are the OfferOptions.Prefetch CIDs the
	// worker held whole when it sent its receipt, Prefetching those it
	// was still fetching.
	Prefetched, Prefetching []string
}

// Offer offers spec to worker and waits for the signed receipt. key must
// be h's identity key: workers decline offers signed by another peer than
// the one on the stream (ReasonBadSignature).
//
// It fails with a *DeclinedError if the worker refuses, a *FailedError if
// it gives up, ErrWorkerLost if it goes silent or its stream dies,
// ErrBadReceipt if the receipt does not check out, and ctx's error after
// telling the worker to cancel if ctx ends first.
func Offer(ctx context.Context, h host.Host, key crypto.PrivKey, worker peer.ID, spec Spec, hints []peer.AddrInfo, opts OfferOptions) (receipt.Receipt, error) {
	if opts.HeartbeatTimeout <= 0 {
		opts.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultOfferTTL
	}
	rec, err := NewOfferRecord(spec, hints, time.Now(), opts.TTL)
	if err != nil {
		return receipt.Receipt{}, err
	}
	if _, err := receipt.ParsePrice(opts.Price); err != nil {
		return receipt.Receipt{}, fmt.Errorf("cannot offer tasklet %s: %w", rec.SpecCID, err)
	}
	rec.Price = opts.Price
	if err := checkCIDs("prefetch", opts.Prefetch, MaxPrefetch); err != nil {
		return receipt.Receipt{}, fmt.Errorf("cannot offer tasklet %s: %w", rec.SpecCID, err)
	}
	rec.Prefetch = opts.Prefetch
	env, err := SealOffer(key, rec)
	if err != nil {
		return receipt.Receipt{}, err
	}
	st, err := h.NewStream(ctx, worker, ProtocolID)
	if err != nil {
		return receipt.Receipt{}, fmt.Errorf("cannot open a tasklet stream to %s: %w", worker, err)
	}
	c := &offerCall{st: st, w: &msgWriter{st: st}, opts: opts, rec: rec, worker: worker, self: h.ID()}
	r, err := c.run(ctx, env)
	if err != nil {
		_ = st.Reset()
		return receipt.Receipt{}, err
	}
	_ = st.Close()
	return r, nil
}

// offerCall is one Offer's stream.
type offerCall struct {
	st     network.Stream
	w      *msgWriter
	br     *bufio.Reader
	opts   OfferOptions
	rec    OfferRecord
	worker peer.ID
	self   peer.ID
}

func (c *offerCall) run(ctx context.Context, env []byte) (receipt.Receipt, error) {
	if err := c.st.Scope().SetService(serviceName); err != nil {
		return receipt.Receipt{}, fmt.Errorf("cannot attach the tasklet stream to its service: %w", err)
	}
	if err := c.st.Scope().ReserveMemory(coordMemory, network.ReservationPriorityHigh); err != nil {
		return receipt.Receipt{}, fmt.Errorf("cannot reserve memory for the tasklet stream (raise the resource manager's limits): %w", err)
	}
	defer c.st.Scope().ReleaseMemory(coordMemory)
	c.br = bufio.NewReaderSize(c.st, readBufSize)

	// On cancellation tell the worker (best effort) and reset, which also
	// unblocks the read below.
	stop := context.AfterFunc(ctx, func() {
		c.w.tryWrite(Msg{Type: TypeCancel}, cancelWriteMax)
		_ = c.st.Reset()
	})
	defer stop()

	if err := c.w.write(Msg{Type: TypeOffer, Offer: env}); err != nil {
		return receipt.Receipt{}, c.lost(ctx, err)
	}
	m, err := c.read(ctx)
	if err != nil {
		return receipt.Receipt{}, err
	}
	switch m.Type {
	case TypeAccept:
	case TypeDecline:
		return receipt.Receipt{}, &DeclinedError{Reason: m.Reason, Detail: m.Detail}
	default:
		return receipt.Receipt{}, fmt.Errorf("worker %s answered the offer with %s: %w", c.worker, m.Type, ErrMalformed)
	}
	return c.await(ctx)
}

// await reads progress until a receipt or a failure.
func (c *offerCall) await(ctx context.Context) (receipt.Receipt, error) {
	for {
		m, err := c.read(ctx)
		if err != nil {
			return receipt.Receipt{}, err
		}
		switch m.Type {
		case TypeProgress:
			c.report(Progress{Phase: m.Phase, Done: m.Done, Total: m.Total})
		case TypeFailed:
			return receipt.Receipt{}, &FailedError{Reason: m.Reason, Detail: m.Detail}
		case TypeReceipt:
			if err := c.check(*m.Receipt); err != nil {
				return receipt.Receipt{}, err
			}
			c.report(Progress{Phase: PhaseDone, Metrics: m.Metrics, Prefetched: c.prefetched(m.Prefetched), Prefetching: c.prefetched(m.Prefetching)})
			return *m.Receipt, nil
		default:
			return receipt.Receipt{}, fmt.Errorf("worker %s sent %s during the run: %w", c.worker, m.Type, ErrMalformed)
		}
	}
}

// prefetched keeps the worker's claims that name data this offer asked it
// to prefetch; anything else is not the worker's to claim here.
func (c *offerCall) prefetched(claimed []string) []string {
	var out []string
	for _, x := range claimed {
		if slices.Contains(c.rec.Prefetch, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func (c *offerCall) report(p Progress) {
	if c.opts.Progress != nil {
		c.opts.Progress(p)
	}
}

// read waits at most HeartbeatTimeout for the worker's next message.
func (c *offerCall) read(ctx context.Context) (Msg, error) {
	_ = c.st.SetReadDeadline(time.Now().Add(c.opts.HeartbeatTimeout))
	m, err := ReadMsg(c.br, MaxMsg)
	switch {
	case err == nil:
		return m, nil
	case ctx.Err() != nil:
		return Msg{}, c.lost(ctx, err)
	case errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge):
		return Msg{}, fmt.Errorf("worker %s broke the tasklet protocol: %w", c.worker, err)
	default:
		return Msg{}, c.lost(ctx, err)
	}
}

// lost explains a dead stream: our cancellation, or the worker's silence.
func (c *offerCall) lost(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("tasklet %s on %s cancelled: %w", c.rec.SpecCID, c.worker, ctx.Err())
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("tasklet %s: %w: %s silent for %s; offer the tasklet to another peer", c.rec.SpecCID, ErrWorkerLost, c.worker, c.opts.HeartbeatTimeout)
	}
	return fmt.Errorf("tasklet %s: %w: stream to %s ended (%v); offer the tasklet to another peer", c.rec.SpecCID, ErrWorkerLost, c.worker, err)
}

// check verifies that r is this tasklet's receipt, from this worker,
// signed by the expected key.
func (c *offerCall) check(r receipt.Receipt) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("tasklet %s: %w from %s: %s", c.rec.SpecCID, ErrBadReceipt, c.worker, fmt.Sprintf(format, args...))
	}
	if !sameCID(r.TaskletCID, c.rec.SpecCID) {
		return bad("it is for tasklet %s", r.TaskletCID)
	}
	if id, err := peer.Decode(r.WorkerPeer); err != nil || id != c.worker {
		return bad("it names worker peer %s", r.WorkerPeer)
	}
	if id, err := peer.Decode(r.Coordinator); err != nil || id != c.self {
		return bad("it names coordinator %s", r.Coordinator)
	}
	if r.JobID != c.rec.Spec.JobID || r.Round != c.rec.Spec.Round {
		return bad("it is for job %s round %d", r.JobID, r.Round)
	}
	if !samePrice(r.Price, c.rec.Price) {
		return bad("it names price %q, the offer said %q", r.Price, c.rec.Price)
	}
	signer, err := receipt.Verify(c.opts.Domain, r)
	if err != nil {
		return bad("%v", err)
	}
	if c.opts.ExpectedWorker != (common.Address{}) && signer != c.opts.ExpectedWorker {
		return bad("signed by %s, expected %s", signer, c.opts.ExpectedWorker)
	}
	return nil
}

func sameCID(a, b string) bool {
	ca, err := cid.Decode(a)
	if err != nil {
		return false
	}
	cb, err := cid.Decode(b)
	return err == nil && ca.Equals(cb)
}

// samePrice compares two receipt prices by value ("" is 0).
func samePrice(a, b string) bool {
	x, errA := receipt.ParsePrice(a)
	y, errB := receipt.ParsePrice(b)
	return errA == nil && errB == nil && x.Cmp(y) == 0
}
