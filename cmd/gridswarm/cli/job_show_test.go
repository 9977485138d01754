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
