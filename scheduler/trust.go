package scheduler

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/gridswarm/gridswarm/internal/fsutil"
	"github.com/gridswarm/gridswarm/verify"
)

// Trust is the coordinator's verify.Book shared by all its jobs: every
// job's round machine reads and updates it under one lock (the machines
// stay free of I/O), and the runner writes it to disk with Flush after
// each step that changed it, so a ban survives kill -9.
type Trust struct {
	mu    sync.Mutex
	book  *verify.Book
	path  string // "" keeps it in memory only
	dirty bool   // changed since the last Flush
	// onChange is told of every record change, before and after (metrics,
	// events); nil: none.
	onChange func(before, after verify.Record)
}

// NewTrust returns an empty in-memory trust book that bans by rule.
func NewTrust(rule verify.Rule) *Trust {
	return &Trust{book: verify.NewBook(rule)}
}

// LoadTrust reads the trust book saved at path (a fresh one when there is
// none). A file that cannot be read is an error: forgetting bans silently
// would let a banned cheater back in. The caller decides what to do.
func LoadTrust(path string, rule verify.Rule) (*Trust, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Trust{book: verify.NewBook(rule), path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the trust records %s: %w", path, err)
	}
	book, err := verify.Restore(b, rule)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Trust{book: book, path: path}, nil
}

// Get returns a copy of the record of k.
func (t *Trust) Get(k verify.Key) verify.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.book.Get(k)
}

// Records returns copies of every record, sorted by peer then class.
func (t *Trust) Records() []verify.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.book.Records()
}

// Peer returns every record of one peer.
func (t *Trust) Peer(peer string) []verify.Record {
	var out []verify.Record
	for _, r := range t.Records() {
		if r.Peer == peer {
			out = append(out, r)
		}
	}
	return out
}

// Banned reports whether peer is banned at now, and why.
func (t *Trust) Banned(peer string, now time.Time) (bool, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.book.Banned(peer, now)
}

// accountKey is the pseudo-peer under which a payout account's own record
// is kept: an equivocation proof names the account that signed, which may
// not be the peer the receipts claim to come from.
func accountKey(account string) string {
	if !common.IsHexAddress(account) {
		return ""
	}
	return "account:" + common.HexToAddress(account).Hex()
}

// BannedPeer reports whether peer, or the payout account it advertises
// (when known), is banned at now, and why.
func (t *Trust) BannedPeer(peer, account string, now time.Time) (bool, string) {
	if ok, why := t.Banned(peer, now); ok {
		return ok, why
	}
	if k := accountKey(account); k != "" {
		if ok, why := t.Banned(k, now); ok {
			return ok, "payout account " + common.HexToAddress(account).Hex() + " " + why
		}
	}
	return false, ""
}

// Agreement is peer's vote agreement on class (Laplace-smoothed, 0.5 with
// no record).
func (t *Trust) Agreement(peer string, class verify.Class) float64 {
	return t.Get(verify.Key{Peer: peer, Class: class}).Agreement()
}

// PickThird chooses the peer of a third replica (verify.PickThird).
func (t *Trust) PickThird(class verify.Class, placed, candidates []verify.PeerInfo, now time.Time) (verify.PeerInfo, bool, []verify.Excluded) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return verify.PickThird(t.book, class, placed, candidates, now)
}

// Update applies f to the record of k with the book's rule.
func (t *Trust) Update(k verify.Key, f func(r *verify.Record, rule verify.Rule)) verify.Record {
	t.mu.Lock()
	rule := t.book.Rule
	before := t.book.Get(k)
	rec := t.book.Update(k, func(r *verify.Record) { f(r, rule) })
	t.dirty = true
	notify := t.onChange
	t.mu.Unlock()
	if notify != nil {
		notify(before, rec)
	}
	return rec
}

// OnChange sets the function told of every changed record, with the
// record before and after the change.
func (t *Trust) OnChange(f func(before, after verify.Record)) {
	t.mu.Lock()
	t.onChange = f
	t.mu.Unlock()
}

// Flush writes the book to its file if it changed since the last Flush.
func (t *Trust) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dirty || t.path == "" {
		return nil
	}
	b, err := t.book.Snapshot()
	if err == nil {
		err = fsutil.WriteFile(t.path, b, 0o600)
	}
	if err != nil {
		return fmt.Errorf("cannot save the trust records: %w", err)
	}
	t.dirty = false
	return nil
}
