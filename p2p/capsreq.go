package p2p

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// CapsProtocol asks a peer for its capability record. The asker opens the
// stream and writes nothing; the peer answers with one uvarint length and
// its sealed record as it last gossiped it (at most MaxCapsSize bytes;
// length 0 when it has published none yet) and closes the stream. The
// asker checks the record exactly as the topic validator does.
const CapsProtocol = protocol.ID("/gridswarm/caps/1.0.0")

// capsRequestTimeout bounds one CapsProtocol exchange, both sides.
const capsRequestTimeout = 10 * time.Second

// capsServePerSecond limits how often one peer may ask (burst twice that).
const capsServePerSecond = 1

// ErrNoCaps means the peer answered but has published no capability record
// yet.
var ErrNoCaps = errors.New("peer has published no capability record yet")

// serveCaps answers CapsProtocol.
func (s *Swarm) serveCaps(st network.Stream) {
	defer st.Close()
	remote := st.Conn().RemotePeer()
	if !s.capsServe.allow(remote) {
		s.log.Debug("capability request refused: rate", "peer", remote)
		_ = st.Reset()
		return
	}
	_ = st.SetDeadline(time.Now().Add(capsRequestTimeout))
	sealed := s.caps.sealed()
	if err := st.Scope().ReserveMemory(len(sealed)+binary.MaxVarintLen64, network.ReservationPriorityAlways); err != nil {
		s.log.Debug("capability request refused: memory", "peer", remote, "err", err)
		_ = st.Reset()
		return
	}
	defer st.Scope().ReleaseMemory(len(sealed) + binary.MaxVarintLen64)
	buf := binary.AppendUvarint(make([]byte, 0, len(sealed)+binary.MaxVarintLen64), uint64(len(sealed)))
	if _, err := st.Write(append(buf, sealed...)); err != nil {
		_ = st.Reset()
	}
}

// FetchCaps asks a connected peer for its capability record over
// CapsProtocol, checks it like a gossiped one and keeps it. It returns
// ErrNoCaps when the peer has none yet.
func (s *Swarm) FetchCaps(ctx context.Context, id peer.ID) (*Capabilities, error) {
	ctx, cancel := context.WithTimeout(ctx, capsRequestTimeout)
	defer cancel()
	st, err := s.host.NewStream(network.WithNoDial(ctx, "capability request"), id, CapsProtocol)
	if err != nil {
		return nil, fmt.Errorf("cannot ask %s for its capability record: %w", id, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	deadline, _ := ctx.Deadline()
	_ = st.SetDeadline(deadline)
	if err := st.CloseWrite(); err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("cannot ask %s for its capability record: %w", id, err)
	}
	if err := st.Scope().ReserveMemory(MaxCapsSize, network.ReservationPriorityAlways); err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("no memory to read the capability record of %s: %w", id, err)
	}
	defer st.Scope().ReleaseMemory(MaxCapsSize)
	b, err := readCapsAnswer(bufio.NewReader(st))
	if err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("reading the capability record of %s: %w", id, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("asking %s: %w", id, ErrNoCaps)
	}
	c, err := s.caps.open(b)
	if err != nil {
		return nil, fmt.Errorf("capability record of %s: %w", id, err)
	}
	if c.PeerID != id.String() {
		return nil, fmt.Errorf("%s answered with the capability record of %s", id, c.PeerID)
	}
	if s.caps.store(c) {
		s.log.Debug("capability record fetched", "peer", id, "seq", c.Seq)
	}
	return c, nil
}

// readCapsAnswer reads one uvarint length and that many bytes, refusing a
// length over MaxCapsSize before reading the bytes.
func readCapsAnswer(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("no length: %w", err)
	}
	if n > MaxCapsSize {
		return nil, fmt.Errorf("answer of %d bytes exceeds the %d byte limit", n, MaxCapsSize)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("answer cut short: %w", err)
	}
	return b, nil
}

// askCaps fetches the record of a connected peer this node holds no fresh
// record of. It returns ErrNoCaps (wrapped) when the peer has none yet,
// and nil when nothing needed asking.
func (s *Swarm) askCaps(ctx context.Context, id peer.ID) error {
	if s.caps.fresh(id) || s.host.Network().Connectedness(id) != network.Connected {
		return nil
	}
	_, err := s.FetchCaps(ctx, id)
	if err != nil && !errors.Is(err, ErrNoCaps) {
		s.log.Debug("capability request", "peer", id, "err", err)
	}
	return err
}

// supportsCaps reports whether identify says id speaks CapsProtocol.
func (s *Swarm) supportsCaps(id peer.ID) bool {
	protos, err := s.host.Peerstore().SupportsProtocols(id, CapsProtocol)
	return err == nil && len(protos) > 0
}
