package node

import (
	"runtime"
	"time"
)

// NodeService is the node_ namespace.
type NodeService struct{ n *Node }

// Id returns who this node is. (Spelled Id so the JSON-RPC method is node_id.)
func (s *NodeService) Id() IDInfo {
	return IDInfo{
		PeerID:  s.n.swarm.ID().String(),
		Account: s.n.account.Hex(),
		Agent:   UserAgent(),
		Addrs:   s.n.swarm.Addrs(),
	}
}

// Version returns the daemon's versions.
func (s *NodeService) Version() VersionInfo {
	return VersionInfo{Version: Version, Protocol: ProtocolVersion, Go: runtime.Version(), Agent: UserAgent()}
}

// Status returns the daemon's state in one call.
func (s *NodeService) Status() Status {
	return Status{
		PeerID:           s.n.swarm.ID().String(),
		Account:          s.n.account.Hex(),
		Version:          Version,
		Profile:          s.n.repo.Config.Profile,
		Repo:             s.n.repo.Dir,
		ListenAddrs:      s.n.swarm.Addrs(),
		UptimeSeconds:    time.Since(s.n.started).Seconds(),
		Peers:            s.n.swarm.Peers().ConnectedCount(),
		RoutingTableSize: s.n.swarm.RoutingTableSize(),
		Quarantined:      s.quarantined(),
	}
}

func (s *NodeService) quarantined() []QuarantinedFile {
	if s.n.jobs == nil {
		return nil
	}
	var out []QuarantinedFile
	for _, q := range s.n.jobs.Quarantined() {
		out = append(out, QuarantinedFile{Path: q.Path, Job: q.Job, Reason: q.Reason, Time: q.Time})
	}
	return out
}

// ListenAddrs returns the swarm addresses with /p2p/<id>.
func (s *NodeService) ListenAddrs() []string { return s.n.swarm.Addrs() }

// Uptime returns seconds since start.
func (s *NodeService) Uptime() float64 { return time.Since(s.n.started).Seconds() }

// PeerCount returns the number of connected peers.
func (s *NodeService) PeerCount() int { return s.n.swarm.Peers().ConnectedCount() }

// RoutingTableSize returns the number of peers in the DHT routing table.
func (s *NodeService) RoutingTableSize() int { return s.n.swarm.RoutingTableSize() }
