package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/node"
)

// `submit --watch` into a pipe (as `| cat` or a log would) writes plain
// lines, never \r redraws, numbers rounds from 1 with no "tasklets 0/0"
// between them, and `job show` numbers the same rounds the same way.
func TestSubmitWatchPipedIsPlain(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 2)
	coord := ds[0]
	cid := importMNIST(t, coord)
	spec := jobFile(t, cid, func(s string) string {
		s = strings.Replace(s, "rounds: 10", "rounds: 3", 1)
		return strings.Replace(s, "inner_steps: 200", "inner_steps: 10", 1)
	})
	// gs collects stdout and stderr in buffers: no terminal, like a pipe.
	r := gs(t, coord.dir, "submit", spec, "--watch")
	if r.code != 0 {
		t.Fatalf("submit --watch: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	t.Logf("submit --watch | cat:\n%s", r.out)
	if strings.Contains(r.out+r.err, "\r") {
		t.Errorf("piped watch output redraws with \\r:\n%q", r.out)
	}
	for _, bad := range []string{"round 0", "tasklets 0/0", "round 4/3"} {
		if strings.Contains(r.out, bad) {
			t.Errorf("watch output has %q:\n%s", bad, r.out)
		}
	}
	for _, want := range []string{"round 1/3 ", "round 1: loss", "test accuracy"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("watch output lacks %q:\n%s", want, r.out)
		}
	}
	ids := gs(t, coord.dir, "jobs", "--json")
	var list []node.Summary
	if err := json.Unmarshal([]byte(ids.out), &list); err != nil || len(list) != 1 {
		t.Fatalf("jobs --json = %q (%v)", ids.out, err)
	}
	show := gs(t, coord.dir, "job", "show", list[0].ID)
	for _, want := range []string{"round    3 of 3\n", "\nround 1  weights", "\nround 3  weights"} {
		if !strings.Contains(show.out, want) {
			t.Errorf("job show lacks %q:\n%s", want, show.out)
		}
	}
	if strings.Contains(show.out, "\nround 0 ") {
		t.Errorf("job show has a round 0:\n%s", show.out)
	}
	jobs := gs(t, coord.dir, "jobs")
	if !strings.Contains(jobs.out, "3/3") {
		t.Errorf("jobs lacks round 3/3:\n%s", jobs.out)
	}
}

// `data add` into a pipe: its progress on stderr is whole lines ending in
// the final 100% one, with no \r and no rate from the first milliseconds.
func TestDataAddPipedProgressIsPlain(t *testing.T) {
	skipShort(t)
	t.Parallel()
	d := startDaemon(t, initRepo(t))
	path := randomFile(t, t.TempDir(), "blob.bin", 8<<20)
	r := gs(t, d.dir, "data", "add", path)
	if r.code != 0 {
		t.Fatalf("data add: exit %d\n%s%s", r.code, r.out, r.err)
	}
	t.Logf("data add 2>&1 | cat:\n%s", r.err)
	if strings.Contains(r.err, "\r") {
		t.Errorf("piped progress redraws with \\r:\n%q", r.err)
	}
	lines := strings.Split(strings.TrimSuffix(r.err, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "100%") || !strings.Contains(last, "8.0 MiB / 8.0 MiB") {
		t.Errorf("progress does not end with the whole file:\n%s", r.err)
	}
	if strings.Contains(r.err, "GiB/s") {
		t.Errorf("an 8 MiB add claims GiB/s:\n%s", r.err)
	}
	if !strings.Contains(r.out, "added ") {
		t.Errorf("data add printed no result:\n%s", r.out)
	}
}
