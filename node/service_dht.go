package node

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// DHTService is the dht_ namespace: lookups and this node's signed records.
type DHTService struct{ n *Node }

// FindPeer looks a peer's addresses up in the DHT.
func (s *DHTService) FindPeer(ctx context.Context, id string) (FoundPeer, error) {
	pid, err := peer.Decode(id)
	if err != nil {
		return FoundPeer{}, fmt.Errorf("%q is not a peer ID: %w", id, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info, err := s.n.swarm.FindPeer(ctx, pid)
	if err != nil {
		return FoundPeer{}, err
	}
	return FoundPeer{ID: info.ID.String(), Addrs: addrStrings(info.Addrs)}, nil
}

func addrStrings(as []ma.Multiaddr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// PutRecord signs data as this node's record `name` and stores it in the DHT
// under /gsw/<peer-id>/<name>.
func (s *DHTService) PutRecord(ctx context.Context, name string, data hexutil.Bytes) (PutResult, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	key, err := s.n.swarm.PutRecord(ctx, name, data)
	if err != nil {
		return PutResult{}, err
	}
	return PutResult{Key: key}, nil
}

// GetRecord fetches a peer's record from the DHT and checks its signature.
func (s *DHTService) GetRecord(ctx context.Context, id, name string) (RecordResult, error) {
	pid, err := peer.Decode(id)
	if err != nil {
		return RecordResult{}, fmt.Errorf("%q is not a peer ID: %w", id, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r, err := s.n.swarm.GetRecord(ctx, pid, name)
	if err != nil {
		return RecordResult{}, err
	}
	return RecordResult{Key: r.Key, Seq: r.Seq, Time: time.UnixMilli(r.Time).UTC(), Data: r.Data}, nil
}
