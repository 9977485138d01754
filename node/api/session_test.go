package api

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"pgregory.net/rapid"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestSessions() (*Sessions, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return NewSessions(SessionOptions{LoginTTL: time.Minute, SessionTTL: time.Hour, Now: c.now}), c
}

func TestLoginSingleUse(t *testing.T) {
	s, _ := newTestSessions()
	tok, _, err := s.MintLogin()
	if err != nil {
		t.Fatalf("MintLogin: %v", err)
	}
	id, _, err := s.Redeem(tok)
	if err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	if !s.Valid(id) {
		t.Fatal("the new session is not valid")
	}
	if _, _, err := s.Redeem(tok); !errors.Is(err, ErrLoginInvalid) {
		t.Fatalf("second Redeem: err = %v, want ErrLoginInvalid", err)
	}
	if s.Valid(tok) {
		t.Fatal("a login token is accepted as a session")
	}
	s.End(id)
	if s.Valid(id) {
		t.Fatal("an ended session is still valid")
	}
}

func TestLoginExpiry(t *testing.T) {
	s, c := newTestSessions()
	tok, exp, err := s.MintLogin()
	if err != nil {
		t.Fatalf("MintLogin: %v", err)
	}
	if want := c.t.Add(time.Minute); !exp.Equal(want) {
		t.Errorf("expiry = %v, want %v", exp, want)
	}
	c.t = c.t.Add(time.Minute)
	if _, _, err := s.Redeem(tok); !errors.Is(err, ErrLoginInvalid) {
		t.Fatalf("Redeem at expiry: err = %v, want ErrLoginInvalid", err)
	}
	tok, _, _ = s.MintLogin()
	id, _, err := s.Redeem(tok)
	if err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	c.t = c.t.Add(time.Hour - time.Nanosecond)
	if !s.Valid(id) {
		t.Fatal("session ended before its hour")
	}
	c.t = c.t.Add(time.Nanosecond)
	if s.Valid(id) {
		t.Fatal("session outlived its hour")
	}
}

func TestRandFailure(t *testing.T) {
	s := NewSessions(SessionOptions{Rand: bytes.NewReader(nil)})
	if _, _, err := s.MintLogin(); err == nil {
		t.Fatal("MintLogin with an empty random source succeeded")
	}
}

// TestSessionsBounded mints and redeems at random and checks that the
// tables never exceed their bounds and that only tokens actually minted
// and not yet used can be redeemed.
func TestSessionsBounded(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, c := newTestSessions()
		var unused []string
		for range rapid.IntRange(1, 200).Draw(t, "steps") {
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				tok, _, err := s.MintLogin()
				if err != nil {
					t.Fatal(err)
				}
				unused = append(unused, tok)
			case 1:
				if len(unused) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(unused)-1).Draw(t, "i")
				tok := unused[i]
				unused = append(unused[:i], unused[i+1:]...)
				if _, _, err := s.Redeem(tok); err == nil {
					if _, _, err := s.Redeem(tok); err == nil {
						t.Fatal("a login token was redeemed twice")
					}
				}
			case 2:
				c.t = c.t.Add(time.Duration(rapid.IntRange(0, 90).Draw(t, "secs")) * time.Second)
			}
			s.mu.Lock()
			np, ns := len(s.pending), len(s.sessions)
			s.mu.Unlock()
			if np > maxPending || ns > maxSessions {
				t.Fatalf("tables grew to %d pending, %d sessions", np, ns)
			}
		}
		if _, _, err := s.Redeem("not-a-token"); err == nil {
			t.Fatal("an unknown token was redeemed")
		}
	})
}
