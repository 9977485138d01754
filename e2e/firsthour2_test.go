package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/scheduler"
)

// More of a newcomer's first hour (issue 13): errors that read once,
// tasklet run's summary and its loss, and job model of a job cancelled
// before any round completed.

// A refused data add says which command failed once, and what the file is
// in words: no JSON-RPC method, no repeated "data add:", no bare mode bits.
func TestDataAddSymlinkErrorReadsOnce(t *testing.T) {
	skipShort(t)
	d := startDaemon(t, initRepo(t))
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	r := gs(t, d.dir, "data", "add", link)
	want := "gridswarm data add: " + link + " is a symlink (L---------): only regular files and folders can be added (copy the target in instead of linking it)\n"
	if r.code != 1 || r.err != want {
		t.Errorf("data add of a symlink: exit %d, stderr\n%q\nwant exit 1 and\n%q", r.code, r.err, want)
	}
	if r := gs(t, d.dir, "job", "cancel", "nosuchjob"); r.code != 1 || r.err != "gridswarm job cancel: no such job: nosuchjob\n" {
		t.Errorf("job cancel of an unknown job: exit %d, stderr %q; want %q", r.code, r.err, "gridswarm job cancel: no such job: nosuchjob\n")
	}
}

// tasklet run prints a short summary unless --json, and its loss is the
// same figure run here and on a peer: the receipt's (the mean minibatch
// loss over the tasklet's steps), to the bit, since training is
// deterministic.
func TestTaskletRunSummaryAndLoss(t *testing.T) {
	skipShort(t)
	ds := chain(t, 2)
	a, b := ds[0], ds[1]
	weights, shard := mnistInputs(t, a)
	spec := specFile(t, "builtin", weights, shard, 40)
	lossLine := regexp.MustCompile(`(?m)^  loss +(\S+) +\(mean over the tasklet's steps, as its receipt reports it\)$`)

	here := gs(t, a.dir, "tasklet", "run", spec)
	peer := gs(t, a.dir, "tasklet", "run", spec, "--peer", b.ep.PeerID)
	for _, c := range []struct {
		name  string
		r     result
		first string
	}{{"here", here, "ran here in"}, {"on the peer", peer, "ran on " + b.ep.PeerID}} {
		if c.r.code != 0 {
			t.Fatalf("tasklet run %s: exit %d: %s", c.name, c.r.code, c.r.err)
		}
		if strings.Contains(c.r.out, "{") || !strings.Contains(c.r.out, c.first) || lossLine.FindString(c.r.out) == "" {
			t.Errorf("tasklet run %s printed\n%s\nwant a summary saying %q with a loss line and no JSON", c.name, c.r.out, c.first)
		}
	}
	if h, p := lossLine.FindStringSubmatch(here.out), lossLine.FindStringSubmatch(peer.out); h == nil || p == nil || h[1] != p[1] {
		t.Errorf("loss here %q, on the peer %q: want the same figure", h, p)
	}

	r := gs(t, a.dir, "tasklet", "run", spec, "--peer", b.ep.PeerID, "--json")
	var offered node.OfferResult
	if err := json.Unmarshal([]byte(r.out), &offered); err != nil {
		t.Fatalf("tasklet run --json printed %q: %v", r.out, err)
	}
	if offered.Loss != offered.Receipt.Loss() || !(offered.Loss > 0) {
		t.Errorf("--json loss %v, receipt's %v: want the same positive figure", offered.Loss, offered.Receipt.Loss())
	}
	if h := lossLine.FindStringSubmatch(here.out); h == nil || h[1] != fmt.Sprintf("%.4f", offered.Loss) {
		t.Errorf("summary loss %q, want the receipt's %.4f", h, offered.Loss)
	}
}

// A job cancelled before any round completed never gets a model, and job
// model says so instead of "not yet".
func TestJobModelOfJobCancelledBeforeAnyRound(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 2)
	coord, worker := ds[0], ds[1]
	if r := gs(t, worker.dir, "worker", "pause"); r.code != 0 {
		t.Fatalf("worker pause: %s", r.err)
	}
	id := submit(t, coord, jobFile(t, importMNIST(t, coord), smallJob))
	if r := gs(t, coord.dir, "job", "cancel", id); r.code != 0 {
		t.Fatalf("job cancel: %s", r.err)
	}
	waitJob(t, coord, id, 30*time.Second, func(j scheduler.Job) bool { return j.Status == scheduler.StatusCancelled })

	r := gs(t, coord.dir, "job", "model", id, "-o", filepath.Join(t.TempDir(), "model.safetensors"))
	want := "gridswarm job model: job " + id + " was cancelled before any round completed: it has no model (job resume runs it again)\n"
	if r.code != 1 || r.err != want {
		t.Errorf("job model of a job cancelled before any round: exit %d, stderr\n%q\nwant exit 1 and\n%q", r.code, r.err, want)
	}
}
