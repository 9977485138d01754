package cli

import (
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/scheduler"
)

// job show names every worker a round's placement filtered out, with why.
func TestPrintJobNamesFilteredWorkers(t *testing.T) {
	j := &scheduler.Job{ID: "j", Name: "n", Status: scheduler.StatusRunning, Rounds: []scheduler.Round{{
		Filtered: map[string]string{"wB": "lack executor builtin", "wA": "not idle: over-quota: 4 MiB wanted"},
	}}}
	var b strings.Builder
	printJob(&b, j)
	want := "  filtered wA: not idle: over-quota: 4 MiB wanted\n  filtered wB: lack executor builtin\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("job show printed:\n%s\nwant the filtered workers in order:\n%s", b.String(), want)
	}
}

// job show says what a paid job escrowed, committed and refunded, in tokens.
func TestPrintJobSettlement(t *testing.T) {
	j := &scheduler.Job{ID: "j", Name: "n", Status: scheduler.StatusDone, Settlement: &scheduler.Settlement{
		Escrow: scheduler.Escrow{ID: "3", ChainID: 7, Deposit: "80000000000000000000", Price: "500000000000000000", Per: "tasklet", Symbol: "GRID", Decimals: 18},
		Batches: []scheduler.Batch{{Through: 10, Committed: "18500000000000000000", Payouts: []scheduler.Payout{
			{Account: "0xA", Amount: "9500000000000000000", Tasklets: 19}, {Account: "0xB", Amount: "9000000000000000000", Tasklets: 18}}}},
		Closing: &scheduler.Closing{Refund: "60575000000000000000", Royalty: "925000000000000000", ModelToken: "2", Provenance: "bafkrei"},
	}}
	var b strings.Builder
	printJob(&b, j)
	for _, want := range []string{
		"paid     escrow 3 on chain 7: 80 GRID deposited, 0.5 GRID a run",
		"1 root(s): 18.5 GRID committed to 2 accounts for 37 verified runs (through round 10)",
		"closed: 60.575 GRID refunded, 0.925 GRID royalty, model token 2 (provenance bafkrei)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("job show printed:\n%s\nwant %q", b.String(), want)
		}
	}
}
