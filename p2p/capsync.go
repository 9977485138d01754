package p2p

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/serf/coordinate"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// capsState tracks capability records and this node's Vivaldi coordinate.
type capsState struct {
	mu      sync.Mutex
	byPeer  map[peer.ID]*Capabilities
	own     *Capabilities // last published, re-sent when a peer joins the topic
	vivaldi *coordinate.Client
	topic   *Topic
	now     func() time.Time
}

func newCapsState() (*capsState, error) {
	cfg := coordinate.DefaultConfig()
	v, err := coordinate.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot start the Vivaldi coordinate client: %w", err)
	}
	return &capsState{byPeer: map[peer.ID]*Capabilities{}, vivaldi: v, now: time.Now}, nil
}

// check is the topic validator: a valid record by its own author, newer
// than the last one accepted from that peer (older ones are replays).
func (cs *capsState) check(from peer.ID, b []byte) error {
	c, err := OpenCaps(b, cs.now())
	if err != nil {
		return err
	}
	if c.PeerID != from.String() {
		return fmt.Errorf("capability record of %s relayed as authored by %s", c.PeerID, from)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if old, ok := cs.byPeer[from]; ok && c.Seq <= old.Seq {
		return fmt.Errorf("capability record seq %d of %s is not newer than %d (replayed)", c.Seq, from, old.Seq)
	}
	return nil
}

func (cs *capsState) store(c *Capabilities) bool {
	id, err := peer.Decode(c.PeerID)
	if err != nil {
		return false
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if old, ok := cs.byPeer[id]; ok && c.Seq <= old.Seq {
		return false
	}
	cs.byPeer[id] = c
	return true
}

func (cs *capsState) get(id peer.ID) *Capabilities {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.byPeer[id]
}

func (cs *capsState) peers() []peer.ID {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]peer.ID, 0, len(cs.byPeer))
	for id := range cs.byPeer {
		out = append(out, id)
	}
	return out
}

// observeRTT feeds a measured RTT into our coordinate when the peer's is known.
func (cs *capsState) observeRTT(id peer.ID, rtt time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.byPeer[id]
	if !ok || c.Coord == nil || rtt <= 0 {
		return
	}
	_, _ = cs.vivaldi.Update(id.String(), c.Coord, rtt)
}

func (cs *capsState) coordinate() *coordinate.Coordinate {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.vivaldi.GetCoordinate()
}

// estimateRTT guesses the RTT to a peer from coordinates.
func (cs *capsState) estimateRTT(id peer.ID) (time.Duration, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.byPeer[id]
	if !ok || c.Coord == nil {
		return 0, false
	}
	own := cs.vivaldi.GetCoordinate()
	if !own.IsCompatibleWith(c.Coord) {
		return 0, false
	}
	return own.DistanceTo(c.Coord), true
}

func (s *Swarm) startCaps() error {
	t, err := s.JoinTopic(TopicSpec{
		Name:             CapsTopic,
		MaxSize:          MaxCapsSize,
		PerPeerPerSecond: 1,
		Check: func(from peer.ID, b []byte) error {
			err := s.caps.check(from, b)
			if err != nil {
				s.log.Debug("capability record refused", "from", from, "err", err)
			}
			return err
		},
	})
	if err != nil {
		return err
	}
	s.caps.topic = t
	sub, err := t.Subscribe()
	if err != nil {
		return fmt.Errorf("cannot subscribe to %s: %w", CapsTopic, err)
	}
	events, err := t.t.EventHandler()
	if err != nil {
		return fmt.Errorf("cannot watch %s: %w", CapsTopic, err)
	}
	s.wg.Add(1)
	go s.greetJoiners(events)
	s.consume(sub, func(m *pubsub.Message) {
		if c, err := OpenCaps(m.Data, s.caps.now()); err == nil {
			s.caps.store(c)
			s.log.Debug("capability record received", "peer", c.PeerID, "seq", c.Seq)
		}
	})
	return nil
}

// greetJoiners re-sends this node's record when peers join the topic: a
// newcomer learns every worker at once instead of at the next interval.
// Joins are coalesced over greetDelay, which also gives the pubsub stream
// to the newcomer time to open (a message sent at the join event is lost).
func (s *Swarm) greetJoiners(events *pubsub.TopicEventHandler) {
	defer s.wg.Done()
	defer events.Cancel()
	joined := make(chan struct{}, 1)
	go func() {
		for {
			ev, err := events.NextPeerEvent(s.ctx)
			if err != nil {
				return
			}
			if ev.Type == pubsub.PeerJoin {
				s.log.Debug("peer joined the capability topic", "peer", ev.Peer)
				select {
				case joined <- struct{}{}:
				default:
				}
			}
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-joined:
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(greetDelay):
		}
		s.mu.Lock()
		own := s.caps.own
		s.mu.Unlock()
		if own == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		if _, err := s.sealAndGossip(ctx, *own); err != nil {
			s.log.Debug("re-send capability record", "err", err)
		}
		cancel()
	}
}

// sealAndGossip gives c a fresh seq and time, signs and publishes it.
func (s *Swarm) sealAndGossip(ctx context.Context, c Capabilities) ([]byte, error) {
	seq := s.nextSeq(&s.capsSeq)
	c.Version = 1
	c.PeerID = s.host.ID().String()
	c.Seq = seq
	c.Time = time.Now().UnixMilli()
	c.Coord = s.caps.coordinate()
	sealed, err := SealCaps(s.host.Peerstore().PrivKey(s.host.ID()), &c)
	if err != nil {
		return nil, err
	}
	// Publish runs our own validator, which would take a stored copy for a replay.
	if err := s.caps.topic.Publish(ctx, sealed); err != nil {
		return nil, err
	}
	s.caps.store(&c)
	return sealed, nil
}

// PublishCaps signs c as this node's capability record and publishes it on
// the gossip topic and in the DHT (a /gsw record plus provider records under
// each class), so nodes off the topic can find it too.
//
// With announce false only the gossip goes out: frequent state changes
// (slots, idle) must not wait on DHT writes.
func (s *Swarm) PublishCaps(ctx context.Context, c Capabilities, classes []string, announce bool) error {
	s.mu.Lock()
	own := c
	s.caps.own = &own
	s.mu.Unlock()
	sealed, err := s.sealAndGossip(ctx, c)
	if err != nil {
		return err
	}
	if !announce || s.dht.RoutingTable().Size() == 0 {
		return nil // nobody to store it with yet; the next publication will
	}
	if _, err := s.PutRecord(ctx, capsName, sealed); err != nil {
		return err
	}
	for _, class := range classes {
		k, err := ClassKey(class)
		if err != nil {
			return err
		}
		if err := s.dht.Provide(ctx, k, true); err != nil {
			return fmt.Errorf("cannot announce class %s in the DHT: %w", class, err)
		}
	}
	return nil
}

// Caps returns the last capability record known for a peer, or nil.
func (s *Swarm) Caps(id peer.ID) *Capabilities { return s.caps.get(id) }

// FindCapable looks up, through the DHT alone, up to max nodes of a class
// and fetches and checks their capability records.
func (s *Swarm) FindCapable(ctx context.Context, class string, max int) ([]*Capabilities, error) {
	k, err := ClassKey(class)
	if err != nil {
		return nil, err
	}
	var out []*Capabilities
	for info := range s.dht.FindProvidersAsync(ctx, k, max) {
		r, err := s.GetRecord(ctx, info.ID, capsName)
		if err != nil {
			s.log.Debug("capability record unavailable", "peer", info.ID, "err", err)
			continue
		}
		c, err := OpenCaps(r.Data, time.Now())
		if err != nil || c.PeerID != info.ID.String() {
			continue
		}
		s.caps.store(c)
		out = append(out, c)
	}
	return out, nil
}
