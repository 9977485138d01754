package scheduler

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/verify"
)

// A worker that returns another output than the honest ones for every
// tasklet is out-voted on each check (every tasklet of a new worker is
// checked at min_rate_new_peers 1), banned, offered nothing after its ban,
// and never has an output aggregated; the ban is on disk for the next
// daemon, and each decided check left an evidence bundle in the grid.
func TestCoordinatorSpotChecksBanACheater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trust.json")
	trust, err := LoadTrust(path, verify.DefaultRule)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{Trust: trust})
	poison := h.grid.put([]byte("not the honest output")).String()
	h.swarm.add("good1", 1, healthy)
	h.swarm.add("good2", 1, healthy)
	h.swarm.add("good3", 1, healthy)
	h.swarm.add("cheat", 1, func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
		return receipt.Receipt{OutputCID: poison, Samples: 32, ComputeMillis: 5}, nil
	})
	root := h.grid.addDataset(t)
	spec := strings.Replace(tinySpec(root, 4, 2), "verify: {rate: 0, min_rate_new_peers: 0}", "verify: {rate: 0.1, min_rate_new_peers: 1}", 1)
	j, err := h.c.Submit(context.Background(), []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	checks, err := h.c.SpotChecks(j.ID)
	if err != nil || len(checks) == 0 {
		t.Fatalf("SpotChecks = %d, %v; want the job's checks", len(checks), err)
	}
	bannedAt, lost := -1, 0
	for _, rd := range got.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Output == poison {
				t.Errorf("round %d tasklet %d aggregated the cheater's output", rd.Index, tk.Index)
			}
			if tk.Check == nil {
				t.Errorf("round %d tasklet %d was not checked, though every worker is new", rd.Index, tk.Index)
				continue
			}
			if tk.Check.Evidence == "" {
				t.Errorf("round %d tasklet %d: decided check %s has no evidence", rd.Index, tk.Index, tk.Check.Outcome)
			}
			for _, a := range tk.Attempts {
				if a.Peer == "cheat" && bannedAt >= 0 && rd.Index > bannedAt {
					t.Errorf("round %d offered tasklet %d to the banned cheater", rd.Index, tk.Index)
				}
			}
			if len(tk.Check.Losers) > 0 && tk.Check.Losers[0] == "cheat" {
				if lost++; lost == verify.DefaultRule.Strikes {
					bannedAt = rd.Index
				}
			}
		}
	}
	if banned, why := trust.Banned("cheat", h.c.now()); !banned {
		t.Errorf("the cheater is not banned: %+v", trust.Peer("cheat"))
	} else if !strings.Contains(why, "lost") {
		t.Errorf("ban reason %q does not say it lost votes", why)
	}
	for _, p := range []string{"good1", "good2", "good3"} {
		if r := trust.Get(verify.Key{Peer: p, Class: verify.ClassBuiltin}); r.Lost > 0 {
			t.Errorf("honest %s lost %d votes", p, r.Lost)
		}
	}
	again, err := LoadTrust(path, verify.DefaultRule)
	if err != nil {
		t.Fatal(err)
	}
	if banned, _ := again.Banned("cheat", h.c.now()); !banned {
		t.Error("the ban was not saved to disk")
	}
	if n := len(h.grid.owners[owner(j.ID, "evidence", 0, 0)]); n != 1 {
		t.Errorf("round 0 tasklet 0's evidence pinned %d times under its owner, want once", n)
	}
}
