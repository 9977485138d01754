package tasklet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ReleaseProtocolID is the libp2p protocol by which a coordinator tells a
// worker that it has fetched tasklet outputs, so the worker may unpin them.
const ReleaseProtocolID = "/gridswarm/tasklet-release/1.0.0"

// MaxReleaseOutputs caps the output CIDs of one release message; Release
// sends longer lists in several streams.
const MaxReleaseOutputs = 128

// ReleaseTimeout bounds each read and write of the release protocol.
const ReleaseTimeout = 10 * time.Second

const releaseMemory = MaxMsg + readBufSize

// Release tells worker that the coordinator holds the given outputs (CIDs
// from its receipts) and the worker may unpin them. The worker lets go only
// of outputs of tasklets this host offered it; others are ignored, as are
// outputs it no longer holds. Outputs never released are unpinned by the
// worker after its output TTL anyway, so a failed Release only delays that.
func Release(ctx context.Context, h host.Host, worker peer.ID, outputs []string) error {
	for len(outputs) > 0 {
		n := min(len(outputs), MaxReleaseOutputs)
		if _, err := releaseBatch(ctx, h, worker, outputs[:n]); err != nil {
			return err
		}
		outputs = outputs[n:]
	}
	return nil
}

func releaseBatch(ctx context.Context, h host.Host, worker peer.ID, outputs []string) (int, error) {
	req := Msg{V: WireVersion, Type: TypeRelease, Outputs: outputs}
	if err := req.check(); err != nil {
		return 0, fmt.Errorf("cannot release outputs on %s: %w", worker, err)
	}
	st, err := h.NewStream(ctx, worker, ReleaseProtocolID)
	if err != nil {
		return 0, fmt.Errorf("cannot open a release stream to %s: %w", worker, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	n, err := releaseCall(st, req)
	if err != nil {
		_ = st.Reset()
		if ctx.Err() != nil {
			return 0, fmt.Errorf("releasing outputs on %s: %w", worker, ctx.Err())
		}
		return 0, fmt.Errorf("releasing outputs on %s: %w", worker, err)
	}
	_ = st.Close()
	return n, nil
}

func releaseCall(st network.Stream, req Msg) (int, error) {
	if err := st.Scope().SetService(serviceName); err != nil {
		return 0, fmt.Errorf("cannot attach the release stream to its service: %w", err)
	}
	if err := st.Scope().ReserveMemory(releaseMemory, network.ReservationPriorityHigh); err != nil {
		return 0, fmt.Errorf("cannot reserve memory for the release stream: %w", err)
	}
	defer st.Scope().ReleaseMemory(releaseMemory)
	_ = st.SetWriteDeadline(time.Now().Add(ReleaseTimeout))
	if err := WriteMsg(st, req); err != nil {
		return 0, err
	}
	_ = st.CloseWrite()
	_ = st.SetReadDeadline(time.Now().Add(ReleaseTimeout))
	m, err := ReadMsg(bufio.NewReaderSize(st, readBufSize), MaxMsg)
	if err != nil {
		return 0, err
	}
	if m.Type != TypeReleased {
		return 0, fmt.Errorf("worker answered a release with %s: %w", m.Type, ErrMalformed)
	}
	return m.Done, nil
}

// handleRelease answers one release stream with cfg.OnRelease.
func (s *Service) handleRelease(st network.Stream) {
	if !s.enter(st) {
		return
	}
	defer s.wg.Done()

	remote := st.Conn().RemotePeer()
	if err := st.Scope().ReserveMemory(releaseMemory, reservePrioIn); err != nil {
		_ = st.Reset()
		return
	}
	defer st.Scope().ReleaseMemory(releaseMemory)
	_ = st.SetReadDeadline(time.Now().Add(ReleaseTimeout))
	m, err := ReadMsg(bufio.NewReaderSize(st, readBufSize), MaxMsg)
	if err == nil && m.Type != TypeRelease {
		err = fmt.Errorf("%w: expected a release, got %s", ErrMalformed, m.Type)
	}
	if err != nil {
		s.log.Debug("bad release stream", "peer", remote, "err", err)
		_ = st.Reset()
		return
	}
	cids := make([]cid.Cid, 0, len(m.Outputs))
	for _, o := range m.Outputs {
		c, _ := cid.Decode(o) // checked by ReadMsg
		cids = append(cids, c)
	}
	n := s.cfg.OnRelease(s.ctx, remote, cids)
	n = min(max(n, 0), len(cids))
	_ = st.SetWriteDeadline(time.Now().Add(ReleaseTimeout))
	if err := WriteMsg(st, Msg{Type: TypeReleased, Done: n}); err != nil && !errors.Is(err, network.ErrReset) {
		s.log.Debug("cannot answer a release", "peer", remote, "err", err)
	}
	_ = st.Close()
}
