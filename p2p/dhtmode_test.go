package p2p

import (
	"testing"

	dht "github.com/libp2p/go-libp2p-kad-dht"
)

// dht.mode "auto" serves the DHT unless AutoNAT finds the node unreachable,
// so a LAN or loopback node that others bootstrap to answers their queries.
func TestDHTMode(t *testing.T) {
	tests := []struct {
		in   string
		want dht.ModeOpt
	}{
		{"auto", dht.ModeAutoServer},
		{"", dht.ModeAutoServer},
		{"server", dht.ModeServer},
		{"client", dht.ModeClient},
	}
	for _, tt := range tests {
		if got := dhtMode(tt.in); got != tt.want {
			t.Errorf("dhtMode(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
