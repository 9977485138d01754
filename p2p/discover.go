package p2p

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	dutil "github.com/libp2p/go-libp2p/p2p/discovery/util"
)

// discoverLoop advertises this node under the rendezvous key and connects to
// the members the DHT returns, so nodes meet peers they were never told of.
func (s *Swarm) discoverLoop(ctx context.Context) {
	defer s.wg.Done()
	rd := drouting.NewRoutingDiscovery(s.dht)
	advertised := false
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = s.opts.DiscoverEvery
		s.saveKnownPeers()
		if s.dht.RoutingTable().Size() == 0 {
			// Nobody to ask yet: retry soon rather than a whole interval later.
			wait = min(wait, time.Second)
			continue
		}
		if !advertised {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				dutil.Advertise(ctx, rd, Rendezvous)
			}()
			advertised = true
		}
		s.findMembers(ctx, rd)
	}
}

func (s *Swarm) findMembers(ctx context.Context, rd *drouting.RoutingDiscovery) {
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	found, err := rd.FindPeers(fctx, Rendezvous)
	if err != nil {
		s.log.Debug("rendezvous lookup", "err", err)
		return
	}
	for info := range found {
		if info.ID == s.host.ID() || len(info.Addrs) == 0 || s.host.Network().Connectedness(info.ID) == network.Connected {
			continue
		}
		if err := s.host.Connect(fctx, info); err != nil {
			s.log.Debug("swarm member unreachable", "peer", info.ID, "err", err)
		}
	}
}
