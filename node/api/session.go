package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"time"
)

// Session defaults.
const (
	// DefaultLoginTTL is how long a one-time login token may wait to be used.
	DefaultLoginTTL = 2 * time.Minute
	// DefaultSessionTTL is how long a browser session lasts.
	DefaultSessionTTL = 12 * time.Hour
	// maxPending and maxSessions bound the tables: minting more drops the
	// oldest, so nothing a caller does grows memory without limit.
	maxPending  = 32
	maxSessions = 64
	// CookieName is the session cookie's name.
	CookieName = "gridswarm_session"
)

// ErrLoginInvalid is returned by Redeem for a login token that is unknown,
// already used or expired.
var ErrLoginInvalid = errors.New("this login link is unknown, already used or expired: run 'gridswarm dashboard' for a new one")

// SessionOptions configure NewSessions. Zero values take the defaults.
type SessionOptions struct {
	LoginTTL   time.Duration
	SessionTTL time.Duration
	Now        func() time.Time // default time.Now
	Rand       io.Reader        // default crypto/rand.Reader
}

// Sessions holds one-time login tokens and the browser sessions they were
// exchanged for, in memory: a restarted daemon forgets both. Only hashes of
// the secrets are kept, compared as map keys.
type Sessions struct {
	o        SessionOptions
	mu       sync.Mutex
	pending  map[string]time.Time // sha256(login token) → expiry
	sessions map[string]time.Time // sha256(session id) → expiry
}

// NewSessions returns empty tables.
func NewSessions(o SessionOptions) *Sessions {
	if o.LoginTTL <= 0 {
		o.LoginTTL = DefaultLoginTTL
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Sessions{o: o, pending: map[string]time.Time{}, sessions: map[string]time.Time{}}
}

// MintLogin returns a new one-time login token and when it expires.
func (s *Sessions) MintLogin() (string, time.Time, error) {
	tok, err := s.secret()
	if err != nil {
		return "", time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	exp := now.Add(s.o.LoginTTL)
	insertBounded(s.pending, hash(tok), exp, now, maxPending)
	return tok, exp, nil
}

// Redeem uses up a login token and returns a new session ID and its expiry.
func (s *Sessions) Redeem(token string) (string, time.Time, error) {
	s.mu.Lock()
	exp, ok := s.pending[hash(token)]
	delete(s.pending, hash(token)) // single use, even when expired
	s.mu.Unlock()
	if !ok || !s.o.Now().Before(exp) {
		return "", time.Time{}, ErrLoginInvalid
	}
	id, err := s.secret()
	if err != nil {
		return "", time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	sexp := now.Add(s.o.SessionTTL)
	insertBounded(s.sessions, hash(id), sexp, now, maxSessions)
	return id, sexp, nil
}

// Valid reports whether id is a live session.
func (s *Sessions) Valid(id string) bool {
	if id == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.sessions[hash(id)]
	if ok && !s.o.Now().Before(exp) {
		delete(s.sessions, hash(id))
		return false
	}
	return ok
}

// End forgets a session (logout).
func (s *Sessions) End(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, hash(id))
}

func (s *Sessions) secret() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.o.Rand, b); err != nil {
		return "", errors.New("cannot draw a random login secret: " + err.Error())
	}
	return hex.EncodeToString(b), nil
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return string(h[:])
}

// insertBounded drops expired entries, then the soonest to expire while the
// table is full, then inserts.
func insertBounded(m map[string]time.Time, k string, exp, now time.Time, max int) {
	for key, e := range m {
		if !now.Before(e) {
			delete(m, key)
		}
	}
	for len(m) >= max {
		var oldest string
		var first time.Time
		for key, e := range m {
			if oldest == "" || e.Before(first) {
				oldest, first = key, e
			}
		}
		delete(m, oldest)
	}
	m[k] = exp
}
