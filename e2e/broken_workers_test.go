package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/scheduler"
)

// Five daemons, two of them broken workers: one whose quota (2 MiB) is
// smaller than a training shard (3.9 MB), one whose block store is a
// read-only mount. A 10-round MNIST job submitted with the CLI still
// reaches the target on the healthy workers, and job show names both broken
// workers with their reasons: in an attempt's decline or failure, or, for a
// worker that advertised itself not idle before it was offered anything, in
// the round's record of the workers placement filtered out (Round.Filtered).
func TestJobBesideBrokenWorkers(t *testing.T) {
	skipShort(t)
	coord := startDaemon(t, initRepo(t))
	boot := coord.tcpAddr(t)
	smallDir := initRepo(t)
	setConfig(t, smallDir, "quota_gib = 4.0", "quota_gib = 0.002")
	small := startDaemon(t, smallDir, "--bootstrap", boot)
	readOnly := startDaemon(t, initRepo(t), "--bootstrap", boot)
	ds := []*daemon{coord, small, readOnly, startDaemon(t, initRepo(t), "--bootstrap", boot), startDaemon(t, initRepo(t), "--bootstrap", boot)}
	mountReadOnly(t, filepath.Join(readOnly.dir, "datagrid", "blocks"))
	c := coord.client(t)
	eventually(t, 60*time.Second, func() (bool, string) {
		var cs []node.Capability
		err := c.Call(context.Background(), &cs, "peer_capabilities")
		return err == nil && len(cs) == len(ds), fmt.Sprintf("coordinator knows %d of %d workers (%v)", len(cs), len(ds), err)
	})

	// Four tasklets a round, as on a healthy swarm of four: "auto" would plan
	// one per worker able to take one, and train on fewer samples.
	id := submit(t, coord, jobFile(t, importMNIST(t, coord), func(s string) string {
		return strings.Replace(s, "tasklets_per_round: auto", "tasklets_per_round: 4", 1)
	}))
	j := waitJob(t, coord, id, 4*time.Minute, func(j scheduler.Job) bool { return j.Status != scheduler.StatusRunning })
	if j.Status != scheduler.StatusDone || j.TestAccuracy < accuracyTarget {
		t.Fatalf("job ended %s (%s) with test accuracy %.4f, want done and at least %.2f", j.Status, j.Error, j.TestAccuracy, accuracyTarget)
	}
	r := gs(t, coord.dir, "job", "show", id, "--json")
	if r.code != 0 {
		t.Fatalf("job show: %s", r.err)
	}
	for _, w := range []struct {
		d      *daemon
		reason string
	}{{small, "over-quota"}, {readOnly, "unwritable"}} {
		if !namesPeerWithReason(t, r.out, w.d.ep.PeerID, w.reason) {
			t.Errorf("job show does not name %s with %s:\n%s", w.d.ep.PeerID, w.reason, r.out)
		}
	}
}

// setConfig replaces one line of a repo's config.toml.
func setConfig(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, repo.ConfigFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), old, new, 1)
	if edited == string(b) {
		t.Fatalf("%q not found in config:\n%s", old, b)
	}
	if err := os.WriteFile(p, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
}

// mountReadOnly bind-mounts dir read-only onto itself until the test ends.
// Tests run as root, which file modes do not stop; a read-only mount does.
func mountReadOnly(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		t.Skipf("cannot bind-mount %s to make it read-only (needs root and mount rights): %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	if out, err := exec.Command("mount", "-o", "remount,ro,bind", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot remount %s read-only: %v: %s", dir, err, out)
	}
}

// namesPeerWithReason reports whether job show --json ties peer to reason:
// in an attempt of peer (its outcome or why), or in a round's record of the
// workers placement filtered out (filtered: {peer: why}), which names a
// worker that advertised itself not idle before it was offered anything.
func namesPeerWithReason(t *testing.T, doc, peer, reason string) bool {
	t.Helper()
	var j scheduler.Job
	if err := json.Unmarshal([]byte(doc), &j); err != nil {
		t.Fatalf("job show --json printed %q: %v", doc, err)
	}
	for _, rd := range j.Rounds {
		if strings.Contains(rd.Filtered[peer], reason) {
			return true
		}
		for _, tk := range rd.Tasklets {
			for _, a := range tk.Attempts {
				if a.Peer == peer && (strings.Contains(a.Outcome, reason) || strings.Contains(a.Why, reason)) {
					return true
				}
			}
		}
	}
	return false
}

func TestNamesPeerWithReason(t *testing.T) {
	tests := []struct {
		doc  string
		want bool
	}{
		{`{"rounds":[{"tasklets":[{"attempts":[{"peer":"P","outcome":"declined: unwritable","why":"…"}]}]}]}`, true},
		{`{"rounds":[{"tasklets":[{"attempts":[{"peer":"P","outcome":"failed","why":"unwritable: read-only"}]}]}]}`, true},
		{`{"rounds":[{},{"filtered":{"P":"not idle: unwritable: read-only"}}]}`, true},
		{`{"rounds":[{"filtered":{"Q":"not idle: unwritable"}}]}`, false},
		{`{"rounds":[{"tasklets":[{"attempts":[{"peer":"P","outcome":"done"},{"peer":"Q","why":"unwritable"}]}]}]}`, false},
		{`{"waiting":"1 peer P not idle (unwritable)"}`, false},
	}
	for _, tt := range tests {
		if got := namesPeerWithReason(t, tt.doc, "P", "unwritable"); got != tt.want {
			t.Errorf("namesPeerWithReason(%s) = %v, want %v", tt.doc, got, tt.want)
		}
	}
}
