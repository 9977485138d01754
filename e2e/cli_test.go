package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCLIWithoutDaemon(t *testing.T) {
	skipShort(t)
	dir := initRepo(t)
	for _, cmd := range [][]string{{"status"}, {"id"}, {"peers"}, {"peer", "connect", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"}} {
		r := gs(t, dir, cmd...)
		if r.code != 1 {
			t.Errorf("%v without daemon: exit %d, want 1", cmd, r.code)
		}
		if lines := strings.Split(strings.TrimSpace(r.err), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "no gridswarm daemon is running") || !strings.Contains(lines[0], "gridswarm --repo "+dir+" daemon") {
			t.Errorf("%v without daemon said %q; want one line saying so and how to start one", cmd, r.err)
		}
	}
	if r := gs(t, dir, "version"); r.code != 0 || !strings.Contains(r.out, "daemon    not running") {
		t.Errorf("version without daemon: exit %d, out %q", r.code, r.out)
	}
}

func TestCLIWithAndWithoutPeers(t *testing.T) {
	skipShort(t)
	a := startDaemon(t, initRepo(t))
	b := startDaemon(t, initRepo(t))

	if r := gs(t, a.dir, "peers"); r.code != 0 || !strings.Contains(r.out, "no peers yet") {
		t.Errorf("peers alone: exit %d, out %q", r.code, r.out)
	}
	if r := gs(t, a.dir, "peer", "connect", "/ip4/127.0.0.1/tcp/1"); r.code == 0 || !strings.Contains(r.err, "/p2p/") {
		t.Errorf("peer connect without peer ID: exit %d, stderr %q; want a clear refusal", r.code, r.err)
	}
	if r := gs(t, a.dir, "peer", "connect", b.tcpAddr(t)); r.code != 0 || !strings.Contains(r.out, b.ep.PeerID) {
		t.Fatalf("peer connect: exit %d, out %q, err %q", r.code, r.out, r.err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		r := gs(t, a.dir, "peers")
		return r.code == 0 && regexp.MustCompile(`connected\s+\d+\.\d+ ms`).MatchString(r.out), "peers table: " + r.out
	})
	r := gs(t, a.dir, "peers", "--json")
	var ps []map[string]any
	if err := json.Unmarshal([]byte(r.out), &ps); err != nil || len(ps) != 1 || ps[0]["id"] != b.ep.PeerID {
		t.Errorf("peers --json = %q (%v); want exactly peer %s", r.out, err, b.ep.PeerID)
	}
	var st map[string]any
	r = gs(t, a.dir, "status", "--json")
	if err := json.Unmarshal([]byte(r.out), &st); err != nil || st["peers"] != float64(1) {
		t.Errorf("status --json = %q (%v); want peers 1", r.out, err)
	}
	if r := gs(t, a.dir, "peer", "disconnect", b.ep.PeerID); r.code != 0 {
		t.Errorf("peer disconnect: exit %d, %s", r.code, r.err)
	}
}

func TestHelpReads(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	r := gs(t, dir, "--help")
	for _, want := range []string{"init", "daemon", "peers", "demo", "GRIDSWARM_PATH"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("--help lacks %q:\n%s", want, r.out)
		}
	}
	if r := gs(t, dir, "init", "--help"); r.code != 0 || !strings.Contains(r.out, "--profile") {
		t.Errorf("init --help: exit %d, out %q", r.code, r.out)
	}
	if r := gs(t, dir, "frobnicate"); r.code != 2 || !strings.Contains(r.err, "unknown command") {
		t.Errorf("unknown command: exit %d, err %q", r.code, r.err)
	}
}

// The demo starts real daemons, shows them, trains with one of its three
// workers cheating (--cheaters 1) and ends with the table that shows the
// cheater caught; on Ctrl-C it stops them and removes its temp repos.
// Its tasklets train --inner-steps 100 steps of 64 samples each.
func TestDemoStopsOnInterrupt(t *testing.T) {
	skipShort(t)
	tmp := t.TempDir()
	// --verify-new 1: the cheater is checked from its first tasklet, so it is
	// banned before the first root can commit any of its work.
	cmd := exec.Command(bin, "demo", "-n", "4", "--cheaters", "1", "--cheat-rate", "1", "--verify-new", "1", "--inner-steps", "100")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	eventually(t, 2*time.Minute, func() (bool, string) {
		return strings.Contains(out.String(), "the swarm is up"), out.String()
	})
	if !regexp.MustCompile(`node0\s+·`).MatchString(out.String()) {
		t.Errorf("demo printed no RTT matrix:\n%s", out)
	}
	// The job is submitted only once its coordinator holds every worker's
	// record, so that its first round has a tasklet for each of them.
	all, submit := strings.Index(out.String(), "node0 has the worker records of 3 of 3 daemons"), strings.Index(out.String(), "node0 coordinates job")
	if all < 0 || submit < all {
		t.Errorf("the demo submitted its job before node0 held all 3 workers' records:\n%s", out)
	}
	if !strings.Contains(out.String(), "(examples/jobs/mnist-mlp.yaml, 100 inner steps per tasklet)") {
		t.Errorf("the demo's job line does not show --inner-steps 100:\n%s", out)
	}
	// Every tasklet's receipt counts 100 steps of 64 samples.
	samples := regexp.MustCompile(`compute efficiency [0-9.]+: (\d+) samples`).FindStringSubmatch(out.String())
	tasklets := regexp.MustCompile(`spot checks: \d+ of (\d+) tasklets`).FindStringSubmatch(out.String())
	if samples == nil || tasklets == nil {
		t.Errorf("the demo printed no compute efficiency or no spot-check summary:\n%s", out)
	} else if n := mustAtoi(t, samples[1]); n == 0 || n != mustAtoi(t, tasklets[1])*100*64 {
		t.Errorf("the job's receipts count %d samples for %s tasklets, want 100 steps of 64 samples each:\n%s", n, tasklets[1], out)
	}
	if !regexp.MustCompile(`watch it in a browser: http://127\.0\.0\.1:\d+/login\?t=\S+`).MatchString(out.String()) {
		t.Errorf("the demo did not print its coordinator's dashboard link:\n%s", out)
	}
	// WORKER  PEER  TASKLETS  SPOT CHECKS  CAUGHT  BANNED
	if !regexp.MustCompile(`(?m)^node3 \(cheater\)\s+\S+\s+\d+\s+\d+\s+[1-9]\d*\s+(yes|no)\s*$`).MatchString(out.String()) {
		t.Errorf("the demo's table does not show the cheater caught:\n%s", out)
	}
	// The job was paid on node0's chain: check the money while it is up.
	checkDemoPayouts(t, out.String(), 3)
	if !regexp.MustCompile(`(?m)^node3 \(cheater\)\s+0x\S+\s+0\s+0\s+0\s`).MatchString(out.String()) {
		t.Errorf("the demo's payout table does not show the cheater unpaid:\n%s", out)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo exit after Ctrl-C: %v\n%s", err, out)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("demo did not stop after Ctrl-C:\n%s", out)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "gridswarm-demo-*"))
	if len(left) != 0 {
		t.Errorf("demo left its temp repos: %v", left)
	}
}

// mustAtoi is strconv.Atoi for digits a pattern matched.
func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
