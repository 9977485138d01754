package api

import "time"

// IDInfo is node_id's answer.
type IDInfo struct {
	PeerID  string   `json:"peer_id"`
	Account string   `json:"account"`
	Agent   string   `json:"agent"`
	Addrs   []string `json:"addrs"`
}

// VersionInfo is node_version's answer.
type VersionInfo struct {
	Version  string `json:"version"`
	Protocol string `json:"protocol"`
	Go       string `json:"go"`
	Agent    string `json:"agent"`
}

// Status is node_status's answer.
type Status struct {
	PeerID           string   `json:"peer_id"`
	Account          string   `json:"account"`
	Version          string   `json:"version"`
	Profile          string   `json:"profile"`
	Repo             string   `json:"repo"`
	ListenAddrs      []string `json:"listen_addrs"`
	UptimeSeconds    float64  `json:"uptime_seconds"`
	Peers            int      `json:"peers"`
	RoutingTableSize int      `json:"routing_table_size"`
	// Quarantined lists job state files the daemon could not use and moved
	// aside (jobs/quarantine), with the reason; empty when all is well.
	Quarantined []QuarantinedFile `json:"quarantined,omitempty"`
}

// QuarantinedFile is a job state file moved aside because it could not be
// read or decoded.
type QuarantinedFile struct {
	Path   string    `json:"path"`
	Job    string    `json:"job"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

// Progress is one event of a long operation, streamed to subscribers of
// <namespace>_subscribe("progress", op).
type Progress struct {
	Op    string `json:"op"`
	Phase string `json:"phase"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"` // -1 while unknown
}

// LoginInfo is node_dashboardLogin's answer: a one-time login URL for the
// web dashboard, the dashboard's own URL, and when the login URL expires.
type LoginInfo struct {
	URL       string    `json:"url"`
	Dashboard string    `json:"dashboard"`
	Expires   time.Time `json:"expires"`
}
