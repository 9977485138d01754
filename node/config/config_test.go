package config

import (
	"strings"
	"testing"
)

func TestDefaultsRoundTrip(t *testing.T) {
	for _, profile := range []string{ProfileDefault, ProfileLocal} {
		t.Run(profile, func(t *testing.T) {
			want, err := Default(profile)
			if err != nil {
				t.Fatal(err)
			}
			b, err := want.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(b, "test")
			if err != nil {
				t.Fatalf("parse of marshalled defaults: %v\n%s", err, b)
			}
			if got.Profile != want.Profile || got.API.Listen != want.API.Listen || len(got.Swarm.Listen) != len(want.Swarm.Listen) || got.Swarm.ConnGrace != want.Swarm.ConnGrace {
				t.Errorf("round trip changed the config: got %+v, want %+v", got, want)
			}
			if !strings.Contains(string(b), "# host:port on loopback") {
				t.Errorf("marshalled config lacks its comments:\n%s", b)
			}
		})
	}
}

func TestLocalProfileStaysOnLoopback(t *testing.T) {
	c, err := Default(ProfileLocal)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range c.Swarm.Listen {
		if !strings.HasPrefix(l, "/ip4/127.0.0.1/") {
			t.Errorf("local profile listens on %s, want loopback only", l)
		}
	}
	if c.Swarm.MDNS || c.Swarm.NAT || len(c.Swarm.Bootstrap) != 0 {
		t.Errorf("local profile: mdns=%v nat=%v bootstrap=%v, want all off", c.Swarm.MDNS, c.Swarm.NAT, c.Swarm.Bootstrap)
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, toml, wantKey string
	}{
		{"unknown top-level key", "colour = 1", "unknown key colour"},
		{"unknown nested key", "[swarm]\nlisten_addrs = []", "unknown key swarm.listen_addrs"},
		{"bad multiaddr", "[swarm]\nlisten = [\"/ip4/127.0.0.1/tcp/1\", \"/ip4/nope\"]", "swarm.listen[1]"},
		{"bootstrap without peer id", "[swarm]\nbootstrap = [\"/ip4/127.0.0.1/tcp/4101\"]", "swarm.bootstrap[0]"},
		{"api off loopback", "[api]\nlisten = \"0.0.0.0:5101\"", "api.listen"},
		{"bad duration", "[swarm]\nconn_grace = \"soon\"", "not a duration"},
		{"conn high over max", "[swarm]\nconn_high = 300", "swarm.max_conns"},
		{"bad dht mode", "[dht]\nmode = \"sometimes\"", "dht.mode"},
		{"bad log level", "[log]\nlevel = \"loud\"", "log.level"},
		{"wrong type", "[api]\nmax_body_bytes = \"big\"", "max_body_bytes"},
		{"max_memory not a size", "[coordinator]\nmax_memory = \"lots\"", "\"auto\" or a size"},
		{"max_memory too small", "[coordinator]\nmax_memory = \"1MiB\"", "coordinator.max_memory"},
		{"keep_rounds zero", "[coordinator]\nkeep_rounds = 0", "coordinator.keep_rounds"},
		{"unknown placement", "[coordinator]\nplacement = \"fastest\"", `coordinator.placement: must be "eta" or "random", got "fastest"`},
		{"negative max_processes", "[worker.process]\nmax_processes = -1", "worker.process.max_processes"},
		{"negative cpus", "[worker.process]\ncpus = -0.5", "worker.process.cpus"},
		{"relative runtime", "[worker.process]\nruntime = [\"usr\"]", "worker.process.runtime[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.toml), "config.toml")
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error naming %q", tt.toml, tt.wantKey)
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Errorf("Parse(%q) error = %q, want it to name %q", tt.toml, err, tt.wantKey)
			}
		})
	}
}

func TestCoordinatorPlacement(t *testing.T) {
	for toml, want := range map[string]string{"": "eta", "[coordinator]\nplacement = \"random\"": "random"} {
		c, err := Parse([]byte(toml), "config.toml")
		if err != nil {
			t.Fatalf("Parse(%q): %v", toml, err)
		}
		if c.Coordinator.Placement != want {
			t.Errorf("Parse(%q): placement %q, want %q", toml, c.Coordinator.Placement, want)
		}
	}
}

func TestCoordinatorLimits(t *testing.T) {
	const physical = 16 << 30
	tests := []struct {
		toml      string
		wantLimit uint64
		wantKeep  int
	}{
		{"", physical / 2, 3},
		{"[coordinator]\nmax_memory = \"auto\"", physical / 2, 3},
		{"[coordinator]\nmax_memory = \"4GiB\"\nkeep_rounds = 5", 4 << 30, 5},
		{"[coordinator]\nmax_memory = \"1.5 GB\"", 1_500_000_000, 3},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.toml), "config.toml")
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.toml, err)
		}
		if got := c.Coordinator.MemoryLimit(physical); got != tt.wantLimit || c.Coordinator.KeepRounds != tt.wantKeep {
			t.Errorf("Parse(%q): limit %d, keep %d; want %d, %d", tt.toml, got, c.Coordinator.KeepRounds, tt.wantLimit, tt.wantKeep)
		}
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(b, "marshalled")
		if err != nil || again.Coordinator != c.Coordinator {
			t.Errorf("round trip of %q: %+v, %v; want %+v", tt.toml, again.Coordinator, err, c.Coordinator)
		}
	}
}
