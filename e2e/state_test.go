package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/node"
)

// One daemon, the way a user meets both: a corrupt job file does not stop
// the daemon and `status` names it; a job beyond the memory limit is
// refused at submit with the numbers and the config key.
func TestCorruptJobFileAndMemoryAdmission(t *testing.T) {
	skipShort(t)
	dir := initRepo(t)
	setConfig(t, dir, `max_memory = "auto"`, `max_memory = "1GiB"`)
	jobsDir := filepath.Join(dir, "jobs")
	if err := os.MkdirAll(jobsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jobsDir, "broken-0badc0de.json"), []byte(`{"id":"broken-0badc0de","rounds":[{"ind`), 0o600); err != nil {
		t.Fatal(err)
	}

	d := startDaemon(t, dir)

	r := gs(t, dir, "status")
	if r.code != 0 {
		t.Fatalf("status: exit %d: %s", r.code, r.err)
	}
	if !strings.Contains(r.out, "quarantined") || !strings.Contains(r.out, "broken-0badc0de") {
		t.Errorf("status does not report the quarantined job file:\n%s", r.out)
	}
	r = gs(t, dir, "status", "--json")
	var st node.Status
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("status --json printed %q: %v", r.out, err)
	}
	if len(st.Quarantined) != 1 {
		t.Fatalf("status --json quarantined = %+v, want the one corrupt file", st.Quarantined)
	}
	q := st.Quarantined[0]
	if q.Job != "broken-0badc0de" || q.Reason == "" || !strings.HasPrefix(q.Path, filepath.Join(jobsDir, "quarantine")) {
		t.Errorf("quarantined = %+v, want job broken-0badc0de under jobs/quarantine with a reason", q)
	}
	if _, err := os.Stat(q.Path); err != nil {
		t.Errorf("the quarantined file is not where status says: %v", err)
	}

	// The job: softmax over 170,000 classes of MNIST images. Its
	// weights alone are 534 MB; the coordinator holds a dozen copies.
	cid := importMNIST(t, d)
	huge := jobFile(t, cid, func(s string) string {
		s = strings.Replace(s, "kind: mlp", "kind: softmax", 1)
		s = strings.Replace(s, "  hidden: [128]\n", "", 1)
		return strings.Replace(s, "classes: 10 ", "classes: 170000 ", 1)
	})
	r = gs(t, dir, "submit", huge)
	if r.code == 0 {
		t.Fatalf("a job needing gigabytes was admitted under max_memory = 1GiB:\n%s", r.out)
	}
	for _, want := range []string{"model", "on the coordinator", "GB", "coordinator.max_memory is 1.1 GB", "533.8 MB"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("submit refused with %q; want it to say %q", strings.TrimSpace(r.err), want)
		}
	}
	if r := gs(t, dir, "jobs", "--json"); strings.TrimSpace(r.out) != "[]" && strings.TrimSpace(r.out) != "null" {
		t.Errorf("the refused job was kept: %s", r.out)
	}
}
