package config

import (
	"strings"
	"testing"
)

func TestWorkerFault(t *testing.T) {
	tests := []struct {
		name, toml string
		want       string // "" = accepted
	}{
		{"absent", `profile = "local"`, ""},
		{"lazy in local", "profile = \"local\"\n[worker.fault]\nkind = \"lazy\"\nrate = 1", ""},
		{"noise seeded", "profile = \"local\"\n[worker.fault]\nkind = \"noise\"\nrate = 0.3\nseed = 7", ""},
		{"collude", "profile = \"local\"\n[worker.fault]\nkind = \"collude\"\nrate = 0.5\ngroup = \"pair\"", ""},
		{"refused in default", "[worker.fault]\nkind = \"lazy\"\nrate = 1", FaultOnlyLocal},
		{"refused in explicit default", "profile = \"default\"\n[worker.fault]\nkind = \"noise\"\nrate = 0.3", "remove [worker.fault]"},
		{"empty section refused in default", "[worker.fault]", FaultOnlyLocal},
		{"no kind", "profile = \"local\"\n[worker.fault]\nrate = 1", "worker.fault.kind"},
		{"unknown kind", "profile = \"local\"\n[worker.fault]\nkind = \"sloppy\"\nrate = 1", "worker.fault.kind"},
		{"no rate", "profile = \"local\"\n[worker.fault]\nkind = \"lazy\"", "worker.fault.rate"},
		{"rate over 1", "profile = \"local\"\n[worker.fault]\nkind = \"lazy\"\nrate = 1.5", "worker.fault.rate"},
		{"negative rate", "profile = \"local\"\n[worker.fault]\nkind = \"lazy\"\nrate = -0.5", "worker.fault.rate"},
		{"collude without group", "profile = \"local\"\n[worker.fault]\nkind = \"collude\"\nrate = 1", "worker.fault.group"},
		{"group without collude", "profile = \"local\"\n[worker.fault]\nkind = \"lazy\"\nrate = 1\ngroup = \"g\"", "worker.fault.group"},
		{"collude with seed", "profile = \"local\"\n[worker.fault]\nkind = \"collude\"\nrate = 1\ngroup = \"g\"\nseed = 1", "worker.fault.seed"},
		{"negative seed", "profile = \"local\"\n[worker.fault]\nkind = \"noise\"\nrate = 1\nseed = -1", ""},
		{"seed not an integer", "profile = \"local\"\n[worker.fault]\nkind = \"noise\"\nrate = 1\nseed = \"x\"", "seed"},
		{"no builtin executor", "profile = \"local\"\n[worker]\nexecutors = [\"wasm\"]\n[worker.fault]\nkind = \"lazy\"\nrate = 1", "add \"builtin\" to worker.executors"},
		{"unknown key", "profile = \"local\"\n[worker.fault]\nkind = \"lazy\"\nrate = 1\nsneaky = true", "unknown key worker.fault.sneaky"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.toml), "config.toml")
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Parse(%q) = %v, want it accepted", tt.toml, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Parse(%q) = %v, want an error containing %q", tt.toml, err, tt.want)
			}
		})
	}
}

// A written config never carries [worker.fault]: nobody cheats by default.
func TestWrittenConfigHasNoFault(t *testing.T) {
	for _, profile := range []string{ProfileDefault, ProfileLocal} {
		c, err := Default(profile)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "[worker.fault]") {
			t.Errorf("%s profile's config.toml mentions a fault:\n%s", profile, b)
		}
	}
}
