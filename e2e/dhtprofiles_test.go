package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/api"
)

// TestDHTDefaultProfileHub is the mixed swarm a newcomer builds first: one
// default-profile daemon that two local-profile daemons bootstrap to. The
// two local ones are never told of each other; they must meet through the
// DHT, which needs the default-profile node (dht.mode = auto, no public
// address) to answer DHT queries.
func TestDHTDefaultProfileHub(t *testing.T) {
	skipShort(t)
	t.Parallel()
	hubDir := filepath.Join(t.TempDir(), "hub")
	if r := gs(t, hubDir, "init", "--profile", "default"); r.code != 0 {
		t.Fatalf("init --profile default: exit %d\n%s%s", r.code, r.out, r.err)
	}
	loopbackOnly(t, hubDir)
	hub := startDaemon(t, hubDir)
	a := startDaemon(t, initRepo(t), "--bootstrap", hub.tcpAddr(t))
	b := startDaemon(t, initRepo(t), "--bootstrap", hub.tcpAddr(t))

	eventually(t, 90*time.Second, func() (bool, string) {
		r := gs(t, a.dir, "peers", "--json")
		if r.code != 0 {
			return false, fmt.Sprintf("peers: exit %d: %s", r.code, r.err)
		}
		var ps []api.Peer
		if err := json.Unmarshal([]byte(r.out), &ps); err != nil {
			return false, fmt.Sprintf("peers --json: %v: %s", err, r.out)
		}
		for _, p := range ps {
			if p.ID == b.ep.PeerID {
				return true, ""
			}
		}
		st := gs(t, a.dir, "status")
		return false, fmt.Sprintf("A is connected to %d peers, none of them B; A's status:\n%s", len(ps), st.out)
	})
	// The DHT itself answers for B, not just A's connection to it.
	r := gs(t, a.dir, "peer", "find", b.ep.PeerID)
	if r.code != 0 || !strings.Contains(r.out, b.ep.PeerID) || !strings.Contains(r.out, "/ip4/127.0.0.1/") {
		t.Fatalf("peer find B from A: exit %d, want B's loopback addresses:\n%s%s", r.code, r.out, r.err)
	}
	// The hub counts both local daemons as DHT servers, and they count it.
	st := gs(t, a.dir, "status", "--json")
	var s struct {
		RoutingTableSize int `json:"routing_table_size"`
	}
	if err := json.Unmarshal([]byte(st.out), &s); err != nil || s.RoutingTableSize < 2 {
		t.Fatalf("A's DHT routing table: %d peers (%v), want the hub and B:\n%s%s", s.RoutingTableSize, err, st.out, st.err)
	}
}

// loopbackOnly edits a default-profile config so the daemon stays on
// loopback with free ports and never multicasts or maps ports: the test
// machine allows nothing else. Everything else keeps the default profile,
// dht.mode = "auto" included.
func loopbackOnly(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "config.toml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, e := range []struct{ from, to string }{
		{`listen = ["/ip4/0.0.0.0/tcp/4101", "/ip4/0.0.0.0/udp/4101/quic-v1"]`, `listen = ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"]`},
		{"mdns = true", "mdns = false"},
		{"nat = true", "nat = false"},
		{`listen = "127.0.0.1:5101"`, `listen = "127.0.0.1:0"`},
		{`listen = "127.0.0.1:5102"`, `listen = "127.0.0.1:0"`},
		{`mode = "auto"`, `mode = "auto"`}, // must be there: the subject of the test
	} {
		if !strings.Contains(s, e.from) {
			t.Fatalf("default config.toml has no %s:\n%s", e.from, s)
		}
		s = strings.Replace(s, e.from, e.to, 1)
	}
	if strings.Contains(s, "bootstrap = [\"") {
		t.Fatalf("default config.toml names bootstrap peers; the test allows none:\n%s", s)
	}
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
