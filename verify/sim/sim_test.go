package sim

import (
	"testing"
)

func TestRunDeterministic(t *testing.T) {
	cfg := Default()
	cfg.Tasklets = 2000
	cfg.Window = 200
	a, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(cfg)
	if a != b {
		t.Errorf("two runs of one seed differ:\n%+v\n%+v", a, b)
	}
	cfg.Seed++
	if c, _ := Run(cfg); c == a {
		t.Errorf("seeds %d and %d gave the same result %+v", cfg.Seed-1, cfg.Seed, a)
	}
}

// TestRunInvariants: with exact outputs and no collusion, honest workers
// never lose a vote; overhead is at least the rate floor and at most 1
// plus thirds; a job where every tasklet is checked accepts no fake.
func TestRunInvariants(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"default", func(*Config) {}},
		{"heavy cheaters", func(c *Config) { c.Cheaters = 4; c.CheatRate = 0.5 }},
		{"check everything", func(c *Config) { c.Rates.Rate = 1 }},
		{"no cheaters", func(c *Config) { c.Cheaters = 0 }},
	}
	for _, tt := range tests {
		cfg := Default()
		cfg.Tasklets = 3000
		cfg.Window = 300
		tt.edit(&cfg)
		for seed := uint64(1); seed <= 3; seed++ {
			cfg.Seed = seed
			r, err := Run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r.HonestLost != 0 {
				t.Errorf("%s seed %d: honest workers lost %d votes", tt.name, seed, r.HonestLost)
			}
			if o := r.Overhead(); o < cfg.Rates.Rate*0.8 || o > 1+float64(r.Thirds)/float64(r.Tasklets) {
				t.Errorf("%s seed %d: overhead %v, want between 0.8×rate %v and 1 + thirds", tt.name, seed, o, cfg.Rates.Rate)
			}
			if cfg.Rates.Rate == 1 && r.FakeAccepted != 0 {
				t.Errorf("%s seed %d: %d fakes accepted with every tasklet checked", tt.name, seed, r.FakeAccepted)
			}
			if cfg.Cheaters == 0 && (r.Banned != 0 || r.Faked != 0) {
				t.Errorf("%s seed %d: %+v with no cheaters", tt.name, seed, r)
			}
			if cfg.CheatRate >= 0.5 && r.Banned != cfg.Cheaters {
				t.Errorf("%s seed %d: %d of %d heavy cheaters banned", tt.name, seed, r.Banned, cfg.Cheaters)
			}
		}
	}
}

// TestRunColluders: colluding cheaters that agree on a wrong output can
// win a vote against an honest worker; the simulation shows it.
func TestRunColluders(t *testing.T) {
	cfg := Default()
	cfg.Tasklets, cfg.Window = 3000, 300
	cfg.Workers, cfg.Cheaters, cfg.CheatRate, cfg.Collude = 5, 2, 1, true
	r, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Caught == 0 {
		t.Errorf("no colluder caught: %+v", r)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	cfg := Default()
	cfg.Workers = 2
	if _, err := Run(cfg); err == nil {
		t.Error("Run with 2 workers succeeded")
	}
}

// TestRunCatchesCheaters: in the scenario at the default rate,
// every cheater of ten seeded jobs is caught within its first 1,000 runs
// and no honest worker loses a vote (docs/benchmarks.md has the full sweep).
func TestRunCatchesCheaters(t *testing.T) {
	cfg := Default()
	for seed := uint64(1); seed <= 10; seed++ {
		cfg.Seed = seed
		r, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.Caught != r.Cheaters || r.HonestLost != 0 {
			t.Errorf("seed %d: caught %d of %d cheaters, honest lost %d votes; want all caught and none lost", seed, r.Caught, r.Cheaters, r.HonestLost)
		}
	}
}
