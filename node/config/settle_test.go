package config

import (
	"strings"
	"testing"
)

const (
	addrA = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
	addrB = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
)

func rpcSettle(extra string) string {
	return "[settle]\nbackend = \"rpc\"\nrpc_url = \"http://127.0.0.1:5103\"\ntoken = \"" + addrA + "\"\nescrow = \"" + addrB +
		"\"\nregistry = \"" + addrA + "\"\nstake = \"" + addrB + "\"\n" + extra
}

// Settlement is off in every profile: a daemon that does not ask for a chain
// starts none.
func TestSettleOffByDefault(t *testing.T) {
	for _, p := range []string{ProfileDefault, ProfileLocal} {
		c, err := Default(p)
		if err != nil {
			t.Fatal(err)
		}
		if c.Settle.Backend != SettleOff {
			t.Errorf("profile %s: settle.backend = %q, want off", p, c.Settle.Backend)
		}
		if got := c.Settle.EffectiveChainID(); got != SettleOffChainID {
			t.Errorf("profile %s: receipts' chain ID %d, want %d as before settlement existed", p, got, SettleOffChainID)
		}
	}
	local, _ := Default(ProfileLocal)
	if local.Settle.Listen != "127.0.0.1:0" {
		t.Errorf("local profile: settle.listen = %q, want a free loopback port", local.Settle.Listen)
	}
}

func TestSettleValid(t *testing.T) {
	tests := []struct {
		name, toml string
		chainID    uint64
		port       int
	}{
		{"off keeps an explicit chain id", "[settle]\nchain_id = 1337", 1337, 5103},
		{"embedded, auto chain id", "[settle]\nbackend = \"embedded\"", defaultChainID, 5103},
		{"embedded, own chain id and port", "[settle]\nbackend = \"embedded\"\nchain_id = 77\nlisten = \"127.0.0.1:0\"\ndir = \"data/chain\"", 77, 0},
		{"rpc", rpcSettle("confirmations = 3"), defaultChainID, 5103},
		{"rpc over websocket", strings.Replace(rpcSettle(""), "http://", "ws://", 1), defaultChainID, 5103},
		// Keys of the other backend are ignored, so switching back and forth
		// is one key.
		{"embedded with rpc keys left", strings.Replace(rpcSettle(""), "\"rpc\"", "\"embedded\"", 1), defaultChainID, 5103},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.toml), "config.toml")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Settle.EffectiveChainID(); got != tt.chainID {
				t.Errorf("chain ID %d, want %d", got, tt.chainID)
			}
			if got := c.Settle.ChainPort(); got != tt.port {
				t.Errorf("port %d, want %d", got, tt.port)
			}
			b, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse(b, "marshalled")
			if err != nil || again.Settle != c.Settle {
				t.Errorf("round trip: %+v, %v; want %+v", again.Settle, err, c.Settle)
			}
		})
	}
}

func TestSettleErrorsNameTheKey(t *testing.T) {
	tests := []struct{ name, toml, want string }{
		{"unknown backend", "[settle]\nbackend = \"ganache\"", "settle.backend: \"ganache\" is not one of off, embedded, rpc"},
		{"embedded dir outside the repo", "[settle]\nbackend = \"embedded\"\ndir = \"../chain\"", "settle.dir"},
		{"embedded dir absolute", "[settle]\nbackend = \"embedded\"\ndir = \"/var/chain\"", "settle.dir"},
		{"embedded dir empty", "[settle]\nbackend = \"embedded\"\ndir = \"\"", "settle.dir"},
		{"embedded on all interfaces", "[settle]\nbackend = \"embedded\"\nlisten = \"0.0.0.0:5103\"", "settle.listen: \"0.0.0.0:5103\": the embedded chain listens on 127.0.0.1 only"},
		{"embedded bad port", "[settle]\nbackend = \"embedded\"\nlisten = \"127.0.0.1:99999\"", "settle.listen"},
		{"rpc without url", "[settle]\nbackend = \"rpc\"", "settle.rpc_url: is empty"},
		{"rpc bad scheme", strings.Replace(rpcSettle(""), "http://", "ftp://", 1), "settle.rpc_url"},
		{"rpc without token", strings.Replace(rpcSettle(""), "token = \""+addrA+"\"", "", 1), "settle.token"},
		{"rpc zero stake", strings.Replace(rpcSettle(""), "stake = \""+addrB+"\"", "stake = \"0x0000000000000000000000000000000000000000\"", 1), "settle.stake"},
		{"rpc short escrow", strings.Replace(rpcSettle(""), addrB, "0x1234", 1), "settle.escrow"},
		{"rpc no confirmations", rpcSettle("confirmations = 0"), "settle.confirmations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.toml), "config.toml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tt.toml, err, tt.want)
			}
		})
	}
}

// `gridswarm config set` can turn the chain on and off.
func TestSettleSet(t *testing.T) {
	c, _ := Default(ProfileLocal)
	on, err := c.Set("settle.backend", "embedded")
	if err != nil || on.Settle.Backend != SettleEmbedded {
		t.Fatalf("set settle.backend embedded: %+v, %v", on.Settle, err)
	}
	if _, err := c.Set("settle.backend", "rpc"); err == nil || !strings.Contains(err.Error(), "settle.rpc_url") {
		t.Errorf("set settle.backend rpc without a URL: %v, want an error naming settle.rpc_url", err)
	}
}
