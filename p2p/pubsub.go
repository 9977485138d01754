package p2p

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxPubsubMessage caps any GossipSub message the router accepts.
const MaxPubsubMessage = 64 << 10

// AnnounceTopic carries short signed notices between swarm members.
const AnnounceTopic = "gridswarm/announce/1.0.0"

// MaxAnnounceText caps an announcement's text.
const MaxAnnounceText = 1024

// TopicSpec says what a topic accepts. The validator runs the cheap checks
// first: a message above MaxSize is rejected, then one from an author
// sending faster than PerPeerPerSecond (bursts of Burst) is ignored, and
// only then does Check run (signatures, replays).
//
// The rate is keyed on the message's author — the pubsub signer, which
// Check can hold to the record's own signer — not on the peer that
// forwarded it: one author's flood is dropped by every relay, and an honest
// relay forwarding it is not mistaken for its source. This node's own
// messages are not rate limited.
type TopicSpec struct {
	Name             string
	MaxSize          int
	PerPeerPerSecond float64 // 0: no limit
	Burst            float64 // 0: twice PerPeerPerSecond
	// Check sees the message's author (the pubsub signer) and its data.
	Check func(from peer.ID, data []byte) error
}

// Topic is a joined GossipSub topic with its validator installed.
type Topic struct {
	t    *pubsub.Topic
	spec TopicSpec
	self peer.ID
}

// JoinTopic registers the topic's validator and joins it.
func (s *Swarm) JoinTopic(spec TopicSpec) (*Topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.topics[spec.Name]; ok {
		return t, nil
	}
	rl := newBurstLimiter(spec.PerPeerPerSecond, spec.Burst, time.Now)
	rl.exempt = s.host.ID()
	v := func(ctx context.Context, source peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		return validateMessage(spec, rl, m.GetFrom(), source, m.GetData())
	}
	if err := s.ps.RegisterTopicValidator(spec.Name, v); err != nil {
		return nil, fmt.Errorf("cannot register validator for %s: %w", spec.Name, err)
	}
	t, err := s.ps.Join(spec.Name)
	if err != nil {
		return nil, fmt.Errorf("cannot join topic %s: %w", spec.Name, err)
	}
	topic := &Topic{t: t, spec: spec, self: s.host.ID()}
	s.topics[spec.Name] = topic
	return topic, nil
}

// validateMessage is a topic's validator for a message by author that
// source forwarded, cheap checks first (see TopicSpec). The rate limit is
// on author; source is only logged by callers.
func validateMessage(spec TopicSpec, rl *rateLimiter, author, source peer.ID, data []byte) pubsub.ValidationResult {
	if len(data) > spec.MaxSize {
		return pubsub.ValidationReject
	}
	if !rl.allow(author) {
		// Ignore rather than reject: a burst is not proof of malice, and
		// the relay that forwarded it must not be penalised.
		return pubsub.ValidationIgnore
	}
	if spec.Check != nil && spec.Check(author, data) != nil {
		return pubsub.ValidationReject
	}
	return pubsub.ValidationAccept
}

// Publish sends data after checking it against the topic's own rules, so a
// node never gossips what its peers would reject.
func (t *Topic) Publish(ctx context.Context, data []byte) error {
	if len(data) > t.spec.MaxSize {
		return fmt.Errorf("message of %d bytes exceeds %s's limit of %d", len(data), t.spec.Name, t.spec.MaxSize)
	}
	if t.spec.Check != nil {
		if err := t.spec.Check(t.self, data); err != nil {
			return fmt.Errorf("message rejected by %s's validator: %w", t.spec.Name, err)
		}
	}
	if err := t.t.Publish(ctx, data); err != nil {
		return fmt.Errorf("cannot publish on %s: %w", t.spec.Name, err)
	}
	return nil
}

// Subscribe returns a subscription to the topic.
func (t *Topic) Subscribe() (*pubsub.Subscription, error) { return t.t.Subscribe() }

// WatchJoins calls joined with each peer that starts subscribing to the
// topic, until ctx ends. It blocks: run it in a goroutine the caller owns.
func (t *Topic) WatchJoins(ctx context.Context, joined func(peer.ID)) error {
	h, err := t.t.EventHandler()
	if err != nil {
		return fmt.Errorf("cannot watch %s's peers: %w", t.spec.Name, err)
	}
	defer h.Cancel()
	for {
		ev, err := h.NextPeerEvent(ctx)
		if err != nil {
			return nil // ctx ended (or the topic closed): nothing more to watch
		}
		if ev.Type == pubsub.PeerJoin {
			joined(ev.Peer)
		}
	}
}

// Announcement is the message on AnnounceTopic.
type Announcement struct {
	Version int    `json:"v"`
	Text    string `json:"text"`
	Time    int64  `json:"time"` // unix milliseconds
}

// ParseAnnouncement decodes and checks an announcement.
func ParseAnnouncement(b []byte) (Announcement, error) {
	var a Announcement
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("announcement is not JSON: %w", err)
	}
	if a.Version != 1 {
		return a, fmt.Errorf("announcement version %d, want 1", a.Version)
	}
	if a.Text == "" || len(a.Text) > MaxAnnounceText {
		return a, fmt.Errorf("announcement text must be 1-%d bytes, got %d", MaxAnnounceText, len(a.Text))
	}
	return a, nil
}

func (s *Swarm) startAnnounce() error {
	t, err := s.JoinTopic(TopicSpec{
		Name:             AnnounceTopic,
		MaxSize:          MaxAnnounceText + 256,
		PerPeerPerSecond: 5,
		Check: func(_ peer.ID, b []byte) error {
			_, err := ParseAnnouncement(b)
			return err
		},
	})
	if err != nil {
		return err
	}
	sub, err := t.Subscribe()
	if err != nil {
		return fmt.Errorf("cannot subscribe to %s: %w", AnnounceTopic, err)
	}
	s.consume(sub, func(m *pubsub.Message) {
		if a, err := ParseAnnouncement(m.Data); err == nil {
			s.peers.recordAnnouncement(m.GetFrom(), a)
		}
	})
	return nil
}

// consume hands every message of sub to handle until the swarm closes.
// Messages reached it through the topic's validator already.
func (s *Swarm) consume(sub *pubsub.Subscription, handle func(*pubsub.Message)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer sub.Cancel()
		for {
			m, err := sub.Next(s.ctx)
			if err != nil {
				return // cancelled on close
			}
			handle(m)
		}
	}()
}

// Announce publishes a notice to every swarm member.
func (s *Swarm) Announce(ctx context.Context, text string) error {
	b, err := json.Marshal(Announcement{Version: 1, Text: text, Time: time.Now().UnixMilli()})
	if err != nil {
		return fmt.Errorf("cannot encode announcement: %w", err)
	}
	s.mu.Lock()
	t := s.topics[AnnounceTopic]
	s.mu.Unlock()
	return t.Publish(ctx, b)
}

// maxRateBuckets bounds a rateLimiter's memory against many fake senders.
const maxRateBuckets = 10_000

// rateLimiter is a per-peer token bucket.
type rateLimiter struct {
	rate   float64
	burst  float64
	exempt peer.ID // this node: its own messages pass
	now    func() time.Time
	mu     sync.Mutex
	b      map[peer.ID]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newRateLimiter allows perSecond per peer in bursts of twice that.
func newRateLimiter(perSecond float64, now func() time.Time) *rateLimiter {
	return newBurstLimiter(perSecond, 0, now)
}

// newBurstLimiter allows perSecond per peer in bursts of burst (0: twice
// perSecond, and at least 1).
func newBurstLimiter(perSecond, burst float64, now func() time.Time) *rateLimiter {
	if burst <= 0 {
		burst = perSecond * 2
	}
	return &rateLimiter{rate: perSecond, burst: max(burst, 1), now: now, b: map[peer.ID]*bucket{}}
}

func (r *rateLimiter) allow(p peer.ID) bool {
	if r.rate <= 0 || (p == r.exempt && p != "") {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	burst := r.burst
	now := r.now()
	b, ok := r.b[p]
	if !ok {
		if len(r.b) >= maxRateBuckets {
			r.forgetFull(now)
		}
		b = &bucket{tokens: burst, last: now}
		r.b[p] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*r.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// forgetFull drops the buckets that have refilled (their peers were quiet
// long enough to be back at a full burst); if none has, all of them.
func (r *rateLimiter) forgetFull(now time.Time) {
	for p, b := range r.b {
		if b.tokens+now.Sub(b.last).Seconds()*r.rate >= r.burst {
			delete(r.b, p)
		}
	}
	if len(r.b) >= maxRateBuckets {
		clear(r.b)
	}
}
