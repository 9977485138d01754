package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/scheduler"
)

// mustJSON runs the CLI with --json and decodes what it printed into v
// (nil: only check that it is one valid JSON value).
func mustJSON(t *testing.T, dir string, v any, args ...string) {
	t.Helper()
	r := gs(t, dir, append(args, "--json")...)
	if r.code != 0 {
		t.Errorf("%s --json: exit %d, stderr %q", strings.Join(args, " "), r.code, r.err)
		return
	}
	if v == nil {
		var anyV any
		v = &anyV
	}
	dec := json.NewDecoder(strings.NewReader(r.out))
	if err := dec.Decode(v); err != nil {
		t.Errorf("%s --json printed no JSON (%v):\n%s", strings.Join(args, " "), err, r.out)
		return
	}
	if dec.More() {
		t.Errorf("%s --json printed more than one JSON value:\n%s", strings.Join(args, " "), r.out)
	}
}

// Every command that prints data prints valid JSON with --json: one value,
// or for job watch one JSON object per line, and nothing else on stdout.
func TestEveryCommandPrintsJSON(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 2)
	coord, w := ds[0], ds[1]

	for _, args := range [][]string{
		{"status"}, {"id"}, {"peers"}, {"peers", "--all"}, {"peers", "--gpu"}, {"version"},
		{"worker", "status"}, {"worker", "pause"}, {"worker", "resume"},
		{"log", "level"}, {"log", "level", "info"},
		{"config", "show"}, {"config", "get", "log.level"}, {"config", "set", "log.level", "info"},
		{"data", "stat"}, {"data", "pins"}, {"data", "gc"}, {"jobs"},
		{"peer", "announce", "hello"}, {"peer", "find", w.ep.PeerID},
	} {
		mustJSON(t, coord.dir, nil, args...)
	}
	var conn node.ConnectResult
	mustJSON(t, coord.dir, &conn, "peer", "connect", w.tcpAddr(t))

	src := t.TempDir()
	randomFile(t, src, "a.bin", 10<<10)
	var add node.AddResult
	mustJSON(t, coord.dir, &add, "data", "add", src)
	if add.CID == "" {
		t.Fatalf("data add --json gave no CID: %+v", add)
	}
	for _, args := range [][]string{
		{"data", "ls", add.CID}, {"data", "holds", add.CID}, {"data", "providers", add.CID, "--timeout", "5s"},
		{"data", "pin", add.CID, "--name", "json"}, {"data", "unpin", add.CID},
		{"data", "get", add.CID, "-o", filepath.Join(t.TempDir(), "out")},
	} {
		mustJSON(t, coord.dir, nil, args...)
	}

	var sum node.Summary
	mustJSON(t, coord.dir, &sum, "submit", jobFile(t, importMNIST(t, coord), smallJob))
	r := gs(t, coord.dir, "job", "watch", sum.ID, "--json")
	if r.code != 0 {
		t.Fatalf("job watch --json: exit %d, stderr %q", r.code, r.err)
	}
	var last struct {
		Event *scheduler.Event `json:"event"`
		Job   *scheduler.Job   `json:"job"`
	}
	lines := bufio.NewScanner(strings.NewReader(r.out))
	lines.Buffer(nil, 16<<20)
	n := 0
	for lines.Scan() {
		n++
		last.Event, last.Job = nil, nil
		if err := json.Unmarshal(lines.Bytes(), &last); err != nil || (last.Event == nil) == (last.Job == nil) {
			t.Fatalf("job watch --json line %d is not {\"event\": …} or {\"job\": …} (%v): %s", n, err, lines.Text())
		}
	}
	if last.Job == nil || last.Job.Status != scheduler.StatusDone || n < 2 {
		t.Fatalf("job watch --json: want events, then the done job last; got %d lines:\n%s", n, r.out)
	}
	for _, args := range [][]string{
		{"job", "show", sum.ID},
		{"job", "model", sum.ID, "-o", filepath.Join(t.TempDir(), "m.safetensors")},
		{"job", "plot", sum.ID, "-o", filepath.Join(t.TempDir(), "p.png")},
		{"job", "rm", sum.ID},
		{"shutdown"},
	} {
		mustJSON(t, coord.dir, nil, args...)
	}
	if _, err := os.Stat(filepath.Join(coord.dir, "api")); !os.IsNotExist(err) {
		t.Errorf("shutdown --json left the daemon's api file (%v)", err)
	}
}
