package p2p

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/serf/coordinate"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// maxCapsPeers bounds the capability records kept; past it the record
// received longest ago from a peer not connected is dropped.
const maxCapsPeers = 10_000

// capsEntry is a capability record and when this node received it.
type capsEntry struct {
	c  *Capabilities
	at time.Time
}

// capsState tracks capability records, this node's own record and its
// Vivaldi coordinate.
type capsState struct {
	mu        sync.Mutex
	byPeer    map[peer.ID]capsEntry
	own       *Capabilities // last published, re-sent when a peer joins or the coordinate moves
	ownSealed []byte        // own as last signed, served on CapsProtocol
	vivaldi   *coordinate.Client
	samples   int           // RTT samples that updated the coordinate
	typical   time.Duration // EWMA of those RTTs
	repub     republishState
	policy    republishPolicy
	nudge     chan struct{} // the coordinate moved or a peer joined: re-check the republish policy
	topic     *Topic
	now       func() time.Time
	bindings  *bindingCache
}

// open is OpenCaps at cs's clock, with bindings verified once per peer.
func (cs *capsState) open(b []byte) (*Capabilities, error) {
	return openCaps(b, cs.now(), cs.bindings.verify)
}

func newCapsState() (*capsState, error) {
	cfg := coordinate.DefaultConfig()
	v, err := coordinate.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot start the Vivaldi coordinate client: %w", err)
	}
	cs := &capsState{byPeer: map[peer.ID]capsEntry{}, vivaldi: v, now: time.Now, bindings: newBindingCache(),
		policy: defaultRepublishPolicy, nudge: make(chan struct{}, 1)}
	cs.repub.start = cs.now()
	return cs, nil
}

// check is the topic validator's costly part, run after the size and rate
// checks: a valid record by its own author, newer than the last one
// accepted from that peer (older ones are replays).
func (cs *capsState) check(from peer.ID, b []byte) error {
	c, err := cs.open(b)
	if err != nil {
		return err
	}
	if c.PeerID != from.String() {
		return fmt.Errorf("capability record of %s relayed as authored by %s", c.PeerID, from)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if old, ok := cs.byPeer[from]; ok && c.Seq <= old.c.Seq {
		return fmt.Errorf("capability record seq %d of %s is not newer than %d (replayed)", c.Seq, from, old.c.Seq)
	}
	return nil
}

// store keeps c unless a record as new from the same peer is held already.
func (cs *capsState) store(c *Capabilities) bool {
	id, err := peer.Decode(c.PeerID)
	if err != nil {
		return false
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if old, ok := cs.byPeer[id]; ok && c.Seq <= old.c.Seq {
		return false
	}
	cs.byPeer[id] = capsEntry{c: c, at: cs.now()}
	return true
}

func (cs *capsState) get(id peer.ID) *Capabilities {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.byPeer[id].c
}

// fresh reports whether a record of id is held that is young enough not to
// ask the peer for it: at most half of MaxCapsAge old.
func (cs *capsState) fresh(id peer.ID) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	e, ok := cs.byPeer[id]
	return ok && cs.now().Sub(time.UnixMilli(e.c.Time)) < MaxCapsAge/2
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

// prune drops the records of peers not connected that were received more
// than grace ago, and then, while more than max remain, the records of
// peers not connected received longest ago. It returns how many it dropped.
func (cs *capsState) prune(connected func(peer.ID) bool, grace time.Duration, max int) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return pruneMap(cs.byPeer, func(e capsEntry) time.Time { return e.at }, connected, cs.now(), grace, max)
}

// pruneMap is prune for any map of per-peer entries stamped by at.
func pruneMap[E any](m map[peer.ID]E, at func(E) time.Time, connected func(peer.ID) bool, now time.Time, grace time.Duration, max int) int {
	dropped := 0
	var gone []peer.ID
	for id, e := range m {
		if connected(id) {
			continue
		}
		if now.Sub(at(e)) > grace {
			delete(m, id)
			dropped++
			continue
		}
		gone = append(gone, id)
	}
	if len(m) <= max {
		return dropped
	}
	sort.Slice(gone, func(i, j int) bool { return at(m[gone[i]]).Before(at(m[gone[j]])) })
	for _, id := range gone {
		if len(m) <= max {
			break
		}
		delete(m, id)
		dropped++
	}
	return dropped
}

// observeRTT feeds a measured RTT into our coordinate when the peer's is known.
func (cs *capsState) observeRTT(id peer.ID, rtt time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	e, ok := cs.byPeer[id]
	if !ok || e.c.Coord == nil || rtt <= 0 {
		return
	}
	if _, err := cs.vivaldi.Update(id.String(), e.c.Coord, rtt); err != nil {
		return
	}
	cs.samples++
	if cs.typical == 0 {
		cs.typical = rtt
	} else {
		cs.typical += (rtt - cs.typical) / 8
	}
	select {
	case cs.nudge <- struct{}{}:
	default:
	}
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
	e, ok := cs.byPeer[id]
	if !ok || e.c.Coord == nil {
		return 0, false
	}
	own := cs.vivaldi.GetCoordinate()
	if !own.IsCompatibleWith(e.c.Coord) {
		return 0, false
	}
	return own.DistanceTo(e.c.Coord), true
}

// setOwn remembers c as what this node advertises.
func (cs *capsState) setOwn(c Capabilities) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.own = &c
}

// ownRecord returns a copy of what this node advertises, or false before
// the first PublishCaps.
func (cs *capsState) ownRecord() (Capabilities, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.own == nil {
		return Capabilities{}, false
	}
	return *cs.own, true
}

// sealed returns this node's record as last signed, or nil.
func (cs *capsState) sealed() []byte {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.ownSealed
}

// published notes that this node's record went out with coordinate coord.
func (cs *capsState) published(sealed []byte, coord *coordinate.Coordinate) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.ownSealed = sealed
	cs.repub.published(cs.now(), coord, cs.policy)
}

// attempted notes a republish that failed.
func (cs *capsState) attempted() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.repub.lastPub = cs.now()
}

// joined notes that a peer joined the capability topic.
func (cs *capsState) joined() {
	cs.mu.Lock()
	cs.repub.joined(cs.now())
	cs.mu.Unlock()
	select {
	case cs.nudge <- struct{}{}:
	default:
	}
}

// nextRepublish asks the republish policy when the own record is due again.
func (cs *capsState) nextRepublish() (time.Time, string, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.own == nil {
		return time.Time{}, "", false
	}
	return cs.policy.next(cs.repub, cs.now(), cs.vivaldi.GetCoordinate(), cs.samples, cs.typical)
}

func (s *Swarm) startCaps() error {
	t, err := s.JoinTopic(TopicSpec{
		Name:             CapsTopic,
		MaxSize:          MaxCapsSize,
		PerPeerPerSecond: 1,
		Burst:            5,
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
	s.wg.Add(2)
	go s.watchJoins(events)
	go s.republishLoop()
	s.consume(sub, func(m *pubsub.Message) {
		if c, err := s.caps.open(m.Data); err == nil {
			s.caps.store(c)
			s.log.Debug("capability record received", "peer", c.PeerID, "seq", c.Seq)
		}
	})
	return nil
}

// watchJoins tells the republish policy when peers join the topic, so a
// newcomer that missed our last record gets it again (at most once per
// republish interval however many join).
func (s *Swarm) watchJoins(events *pubsub.TopicEventHandler) {
	defer s.wg.Done()
	defer events.Cancel()
	for {
		ev, err := events.NextPeerEvent(s.ctx)
		if err != nil {
			return
		}
		if ev.Type == pubsub.PeerJoin {
			s.log.Debug("peer joined the capability topic", "peer", ev.Peer)
			s.caps.joined()
		}
	}
}

// republishLoop re-sends this node's record when the republish policy says
// so: to greet peers that joined, and when the Vivaldi coordinate moved.
func (s *Swarm) republishLoop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if at, why, ok := s.caps.nextRepublish(); ok {
			if wait := at.Sub(s.caps.now()); wait > 0 {
				timer.Reset(wait)
				due = timer.C
			} else {
				s.republish(why)
				continue
			}
		}
		select {
		case <-s.ctx.Done():
			return
		case <-s.caps.nudge:
		case <-due:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func (s *Swarm) republish(why string) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	// A publication may have gone out since the policy was asked.
	if at, _, ok := s.caps.nextRepublish(); !ok || at.After(s.caps.now()) {
		return
	}
	own, ok := s.caps.ownRecord()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if _, err := s.sealAndGossip(ctx, own); err != nil {
		s.log.Debug("re-send capability record", "why", why, "err", err)
		s.caps.attempted() // a failing publish waits an interval like a good one
		return
	}
	s.log.Debug("capability record re-sent", "why", why)
}

// sealAndGossip gives c a fresh seq, time and coordinate, signs and
// publishes it. Callers hold s.pubMu, so records go out in seq order.
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
	s.caps.published(sealed, c.Coord)
	return sealed, nil
}

// PublishCaps signs c as this node's capability record and publishes it on
// the gossip topic and in the DHT (a /gsw record plus provider records under
// each class), so nodes off the topic can find it too. The node then serves
// it on CapsProtocol and re-sends it when its coordinate moves.
//
// With announce false only the gossip goes out: frequent state changes
// (slots, idle) must not wait on DHT writes.
func (s *Swarm) PublishCaps(ctx context.Context, c Capabilities, classes []string, announce bool) error {
	s.pubMu.Lock()
	s.caps.setOwn(c)
	sealed, err := s.sealAndGossip(ctx, c)
	s.pubMu.Unlock()
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
		c, err := s.caps.open(r.Data)
		if err != nil || c.PeerID != info.ID.String() {
			continue
		}
		s.caps.store(c)
		out = append(out, c)
	}
	return out, nil
}
