package tasklet

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// DefaultReplayCacheSize is ServiceConfig.ReplayCacheSize's default.
const DefaultReplayCacheSize = 4096

type replayKey struct {
	signer peer.ID
	nonce  Nonce
}

// replayCache remembers the nonces of offers until they expire. An entry
// only needs to outlive its offer (at most MaxOfferTTL), after which
// OpenOffer refuses the offer as expired anyway.
//
// When full of unexpired entries it forgets the one that expires soonest.
// That cannot be abused by third parties: an offer is only accepted from
// the peer that signed it, so only that coordinator could replay it.
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[replayKey]int64 // unix ms expiry
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[replayKey]int64)}
}

// add records k until expires and reports whether it was new.
func (c *replayCache) add(k replayKey, expires, now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.seen[k]; ok && exp > now {
		return false
	}
	if len(c.seen) >= c.max {
		c.prune(now)
	}
	c.seen[k] = expires
	return true
}

// prune drops expired entries, and the soonest-expiring one if none has.
func (c *replayCache) prune(now int64) {
	var soonest replayKey
	soonestExp := int64(-1)
	for k, exp := range c.seen {
		if exp <= now {
			delete(c.seen, k)
			continue
		}
		if soonestExp < 0 || exp < soonestExp {
			soonest, soonestExp = k, exp
		}
	}
	if len(c.seen) >= c.max && soonestExp >= 0 {
		delete(c.seen, soonest)
	}
}

// remove forgets k, for an offer that was declined for a reason that a
// retry of the same offer might not meet again (busy, not idle).
func (c *replayCache) remove(k replayKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, k)
}

func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
