package p2p

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/internal/fsutil"
)

// maxKnownPeers caps the peers remembered across restarts.
const maxKnownPeers = 64

// loadKnownPeers reads the peers a previous run was connected to, so a
// restarted node can rejoin without its bootstrap peers (whose addresses,
// in the local profile, were chosen at random anyway).
func loadKnownPeers(path string) ([]peer.AddrInfo, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read known peers: %w", err)
	}
	var addrs []string
	if err := json.Unmarshal(b, &addrs); err != nil {
		return nil, fmt.Errorf("known peers file %s is corrupt: %w", path, err)
	}
	if len(addrs) > maxKnownPeers {
		addrs = addrs[:maxKnownPeers]
	}
	return ParseAddrInfos(addrs)
}

// saveKnownPeers writes the connected peers' addresses when they changed.
func (s *Swarm) saveKnownPeers() {
	if s.opts.PeersFile == "" {
		return
	}
	var addrs []string
	for _, id := range s.host.Network().Peers() {
		info := peer.AddrInfo{ID: id, Addrs: s.host.Peerstore().Addrs(id)}
		full, err := peer.AddrInfoToP2pAddrs(&info)
		if err != nil {
			continue
		}
		for _, a := range full {
			addrs = append(addrs, a.String())
		}
		if len(addrs) >= maxKnownPeers {
			break
		}
	}
	slices.Sort(addrs)
	if len(addrs) == 0 || slices.Equal(addrs, s.lastKnown) {
		return
	}
	b, err := json.MarshalIndent(addrs, "", " ")
	if err != nil {
		return
	}
	if err := fsutil.WriteFile(s.opts.PeersFile, b, 0o600); err != nil {
		s.log.Warn("cannot remember peers", "err", err)
		return
	}
	s.lastKnown = addrs
}
