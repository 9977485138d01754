package verify

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Class is an executor class. Trust is kept per (peer, class) because a
// peer's record on one executor says little about another.
type Class string

// The executor classes.
const (
	ClassBuiltin Class = "builtin" // bitwise reproducible: outputs compare by CID
	ClassWasm    Class = "wasm"    // deterministic: outputs compare by CID
	ClassProcess Class = "process" // GPU processes: outputs compare within a tolerance
)

// Exact reports whether honest replicas of class c give the same output CID.
func (c Class) Exact() bool { return c == ClassBuiltin || c == ClassWasm }

// Key names one trust record.
type Key struct {
	Peer  string `json:"peer"`
	Class Class  `json:"class"`
}

// Record is a peer's history on one executor class. The zero value is a
// peer never seen. Its methods are pure transitions: they take the time
// instead of reading a clock.
type Record struct {
	Key
	Consecutive int       `json:"consecutive"` // verified results since the last lost vote
	Run         int       `json:"run"`         // tasklets the peer returned
	Checked     int       `json:"checked"`     // of those, decided by a vote
	Passed      int       `json:"verified"`    // votes the peer was on the winning side of
	Lost        int       `json:"lost"`        // votes the peer lost
	FirstSeen   time.Time `json:"firstSeen,omitzero"`
	LastLoss    time.Time `json:"lastLoss,omitzero"`
	// Strikes are lost votes not yet forgiven or punished; Rule.Strikes of
	// them ban the peer.
	Strikes     int       `json:"strikes"`
	Offences    int       `json:"offences"` // bans so far
	BannedUntil time.Time `json:"bannedUntil,omitzero"`
	BanReason   string    `json:"banReason,omitempty"`
}

// Rule says when lost votes ban a peer and for how long.
//
// Every lost vote is a strike. Strikes strikes ban the peer, and the
// n-th ban (n = 1, 2, …) lasts Base × Growth^(n−1), at most Max: with the
// defaults 1 h, 4 h, 16 h, 64 h, … up to 30 days. Strikes are forgiven
// after Forgive consecutive verified results, so an honest peer of a
// tolerance class that once lands outside the threshold is not banned for
// it months later. Equivocation bans at once (see Record.Equivocated).
type Rule struct {
	Strikes int
	Base    time.Duration
	Growth  int
	Max     time.Duration
	Forgive int
}

// DefaultRule is the ban rule the coordinator uses.
var DefaultRule = Rule{Strikes: 2, Base: time.Hour, Growth: 4, Max: 30 * 24 * time.Hour, Forgive: 100}

// BanFor returns how long the offences-th ban lasts (offences ≥ 1).
func (u Rule) BanFor(offences int) time.Duration {
	d, g := u.Base, time.Duration(max(u.Growth, 1))
	for i := 1; i < offences && d < u.Max; i++ {
		if d > u.Max/g {
			return u.Max // d×g would pass Max (or overflow)
		}
		d *= g
	}
	return min(d, u.Max)
}

func (r *Record) seen(now time.Time) {
	if r.FirstSeen.IsZero() || now.Before(r.FirstSeen) {
		r.FirstSeen = now
	}
}

// Ran counts a tasklet the peer returned, checked or not.
func (r *Record) Ran(now time.Time) {
	r.seen(now)
	r.Run++
}

// Verified counts a vote the peer's output won (or agreed in).
func (r *Record) Verified(now time.Time, u Rule) {
	r.seen(now)
	r.Checked++
	r.Passed++
	r.Consecutive++
	if u.Forgive > 0 && r.Consecutive >= u.Forgive {
		r.Strikes = 0
	}
}

// LostVote counts a vote the peer's output lost: its trust restarts from
// zero, and Rule.Strikes unforgiven losses ban it.
func (r *Record) LostVote(now time.Time, u Rule) {
	r.seen(now)
	r.Checked++
	r.Lost++
	r.Consecutive = 0
	r.LastLoss = now
	r.Strikes++
	if r.Strikes >= max(u.Strikes, 1) {
		r.ban(now, u, fmt.Sprintf("lost %d votes (%d since the last ban or forgiveness)", r.Lost, r.Strikes))
	}
}

// Equivocated bans the peer at once: it signed two different outputs for
// one tasklet, a proof no honest worker can produce.
func (r *Record) Equivocated(now time.Time, u Rule, tasklet string) {
	r.seen(now)
	r.Consecutive = 0
	r.ban(now, u, "equivocated: signed two different outputs for tasklet "+tasklet)
}

// ban starts the next ban. A ban never ends earlier than one in force.
func (r *Record) ban(now time.Time, u Rule, reason string) {
	r.Offences++
	r.Strikes = 0
	until := now.Add(u.BanFor(r.Offences))
	if until.After(r.BannedUntil) {
		r.BannedUntil = until
	}
	r.BanReason = reason
}

// Banned reports whether the record bans its peer at now, and why.
func (r Record) Banned(now time.Time) (bool, string) {
	if r.BannedUntil.IsZero() || !now.Before(r.BannedUntil) {
		return false, ""
	}
	return true, fmt.Sprintf("%s (until %s)", r.BanReason, r.BannedUntil.UTC().Format(time.RFC3339))
}

// Agreement is the share of the peer's checked results that won their
// vote, with a Beta(1,1) prior: (verified+1)/(checked+2), so 0.5 for a
// peer never checked. With Passed and FirstSeen it is the reputation the
// coordinator can show in `peers` and use to break placement ties.
func (r Record) Agreement() float64 {
	return float64(r.Passed+1) / float64(r.Checked+2)
}

// Book holds every trust record a coordinator keeps. It is not safe for
// concurrent use; the coordinator owns it from one goroutine or a lock.
type Book struct {
	Rule    Rule
	records map[Key]*Record
}

// NewBook returns an empty book that bans by rule.
func NewBook(rule Rule) *Book {
	return &Book{Rule: rule, records: map[Key]*Record{}}
}

// Get returns a copy of the record of k (the zero record, keyed, if none).
func (b *Book) Get(k Key) Record {
	if r, ok := b.records[k]; ok {
		return *r
	}
	return Record{Key: k}
}

// Update applies f to the record of k, creating it if needed, and returns
// the result: b.Update(k, func(r *Record) { r.LostVote(now, b.Rule) }).
func (b *Book) Update(k Key, f func(r *Record)) Record {
	r, ok := b.records[k]
	if !ok {
		r = &Record{Key: k}
		b.records[k] = r
	}
	f(r)
	r.Key = k
	return *r
}

// Banned reports whether any of peer's records bans it at now, and why.
// A ban earned on one executor class bans the peer everywhere.
// When several classes ban it, the reason is that of the first class by
// name, so the answer does not depend on map order.
func (b *Book) Banned(peer string, now time.Time) (bool, string) {
	var class Class
	var reason string
	for k, r := range b.records {
		if k.Peer != peer {
			continue
		}
		if ok, why := r.Banned(now); ok && (reason == "" || k.Class < class) {
			class, reason = k.Class, why
		}
	}
	if reason == "" {
		return false, ""
	}
	return true, string(class) + ": " + reason
}

// Records returns copies of every record, sorted by peer then class.
func (b *Book) Records() []Record {
	out := make([]Record, 0, len(b.records))
	for _, r := range b.records {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Peer != out[j].Peer {
			return out[i].Peer < out[j].Peer
		}
		return out[i].Class < out[j].Class
	})
	return out
}

// snapshot is the persisted form of a Book.
type snapshot struct {
	Version int      `json:"version"`
	Records []Record `json:"records"`
}

const snapshotVersion = 1

// Snapshot encodes every record as JSON, in a stable order, for the
// coordinator to persist. The rule is configuration and is not included.
func (b *Book) Snapshot() ([]byte, error) {
	out, err := json.Marshal(snapshot{Version: snapshotVersion, Records: b.Records()})
	if err != nil {
		return nil, fmt.Errorf("cannot encode trust records: %w", err)
	}
	return out, nil
}

// Restore reads a Snapshot back into a book that bans by rule.
func Restore(data []byte, rule Rule) (*Book, error) {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("cannot decode trust records: %w", err)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("cannot decode trust records: version %d, want %d", s.Version, snapshotVersion)
	}
	b := NewBook(rule)
	for i, r := range s.Records {
		if r.Peer == "" || r.Class == "" {
			return nil, fmt.Errorf("cannot decode trust records: record %d has no peer or class", i)
		}
		if _, dup := b.records[r.Key]; dup {
			return nil, fmt.Errorf("cannot decode trust records: record %d repeats peer %s class %s", i, r.Peer, r.Class)
		}
		b.records[r.Key] = &r
	}
	return b, nil
}
