package node

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
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

// LogLevel returns the daemon's current log level (debug, info, warn, error).
func (s *NodeService) LogLevel() (string, error) {
	if s.n.logLevel == nil {
		return "", errors.New("this daemon's log level is fixed")
	}
	return strings.ToLower(s.n.logLevel.Level().String()), nil
}

// SetLogLevel changes the daemon's log level until it stops (config.toml's
// log.level is what it starts with) and returns the new level.
func (s *NodeService) SetLogLevel(level string) (string, error) {
	if s.n.logLevel == nil {
		return "", errors.New("this daemon's log level is fixed")
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return "", fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	s.n.logLevel.Set(lv)
	s.n.log.Info("log level changed", "to", strings.ToLower(lv.String()))
	return strings.ToLower(lv.String()), nil
}

// Shutdown asks the daemon to stop cleanly, as SIGTERM does. It returns at
// once; the daemon finishes answering, then closes and exits.
func (s *NodeService) Shutdown() error {
	if s.n.shutdown == nil {
		return errors.New("this daemon cannot be shut down over JSON-RPC")
	}
	s.n.log.Info("shutdown requested over JSON-RPC")
	s.n.shutdown()
	return nil
}
