// Package memstore is the data grid reduced to a map, for tests of code
// that reads and writes whole files by CID: equal bytes get equal CIDs
// (CIDv1, raw, sha2-256), as a one-block file in the real grid does.
package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Store holds files by CID. Its zero value is not ready: use New.
type Store struct {
	mu sync.Mutex
	m  map[cid.Cid][]byte
}

// New returns an empty store.
func New() *Store { return &Store{m: map[cid.Cid][]byte{}} }

// AddBytes stores a copy of b and returns its CID.
func (s *Store) AddBytes(_ context.Context, _ string, b []byte) (cid.Cid, error) {
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		return cid.Undef, fmt.Errorf("cannot hash %d bytes: %w", len(b), err)
	}
	c := cid.NewCidV1(cid.Raw, h)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[c] = append([]byte(nil), b...)
	return c, nil
}

// ReadFile returns the bytes stored under c.
func (s *Store) ReadFile(_ context.Context, c cid.Cid, _ int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[c]
	if !ok {
		return nil, fmt.Errorf("%s not found", c)
	}
	return b, nil
}
