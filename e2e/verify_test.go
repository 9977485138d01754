package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/verify"
)

// swarmWithFaults starts a coordinator and len(faults) workers; worker i
// gets faults[i] appended to its config ("" for an honest one). It waits
// until the coordinator knows every worker's capabilities.
func swarmWithFaults(t *testing.T, faults []string) (coord *daemon, workers []*daemon) {
	t.Helper()
	dir := initRepo(t)
	// Random placement spreads every round over all the workers. ETA
	// placement may keep a newcomer idle while trusted workers that hold
	// the data finish (it waits for a busy peer that is faster), and a
	// cheater given one tasklet cannot lose the two votes a ban takes:
	// these tests are about the votes, not about where tasklets go.
	if r := gs(t, dir, "config", "set", "coordinator.placement", "random"); r.code != 0 {
		t.Fatalf("config set coordinator.placement: exit %d: %s", r.code, r.err)
	}
	coord = startDaemon(t, dir)
	boot := coord.tcpAddr(t)
	for _, f := range faults {
		dir := initRepo(t)
		if f != "" {
			appendConfig(t, dir, f)
		}
		workers = append(workers, startDaemon(t, dir, "--bootstrap", boot))
	}
	waitCapabilities(t, coord, len(faults)+1)
	return coord, workers
}

// verifyJobSpec is the MNIST MLP job made small, with a fixed number of
// tasklets (so an honest run plans the same) and every tasklet of a peer
// with a short record spot-checked (BOINC's rule for new hosts).
func verifyJobSpec(rounds, tasklets, steps int) func(string) string {
	return func(s string) string {
		s = strings.Replace(s, "rounds: 10", fmt.Sprintf("rounds: %d", rounds), 1)
		s = strings.Replace(s, "tasklets_per_round: auto", fmt.Sprintf("tasklets_per_round: %d", tasklets), 1)
		s = strings.Replace(s, "inner_steps: 200", fmt.Sprintf("inner_steps: %d", steps), 1)
		return s + "\nverify:\n  rate: 0.1\n  min_rate_new_peers: 1\n"
	}
}

func verifyPeer(t *testing.T, d *daemon, id string) api.VerifyPeer {
	t.Helper()
	var p api.VerifyPeer
	mustJSON(t, d.dir, &p, "verify", "peer", id, "--json")
	return p
}

func lostVotes(p api.VerifyPeer) int {
	n := 0
	for _, r := range p.Records {
		n += r.Lost
	}
	return n
}

// recomputeAccepted runs every tasklet the job accepted again on the
// coordinator's own builtin executor, from the spec `job tasklet` rebuilds,
// and checks the output CID is the one the job aggregated: no output that
// lost a vote (or was never computed) reached the model.
func recomputeAccepted(t *testing.T, coord *daemon, j scheduler.Job) int {
	t.Helper()
	n := 0
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.State != scheduler.TaskDone || tk.Screened != "" {
				continue
			}
			f := filepath.Join(t.TempDir(), fmt.Sprintf("r%d-t%d.json", rd.Index, tk.Index))
			if r := gs(t, coord.dir, "job", "tasklet", j.ID, fmt.Sprint(rd.Index+1), fmt.Sprint(tk.Index), "-o", f); r.code != 0 {
				t.Fatalf("job tasklet: exit %d: %s", r.code, r.err)
			}
			var res api.LocalResult
			mustJSON(t, coord.dir, &res, "tasklet", "run", f, "--json")
			if res.OutputCID == "" || res.OutputCID != tk.Output {
				outcome := "not checked"
				if tk.Check != nil {
					outcome = tk.Check.Outcome
				}
				t.Errorf("round %d tasklet %d: the job accepted %s from %s (spot check: %s), an honest run gives %q",
					rd.Index+1, tk.Index, tk.Output, tk.Peer, outcome, res.OutputCID)
			}
			n++
		}
	}
	return n
}

// Seven daemons, two of the six workers cheating with noise on half of
// their tasklets: spot checks ban both, every output the job aggregated is
// what an honest worker computes, and the model is within half a point of
// the same job on the honest swarm that remains.
func TestNoiseCheatersAreBannedAndTheModelStaysClean(t *testing.T) {
	skipShort(t)
	// Every result of a worker with fewer than verify.ShortRecord (10)
	// straight wins is checked. A cheater that wins 10 in a row before its
	// second lost vote is checked at 10% from then on, and its unchecked
	// lies reach the model: by design (BOINC's adaptive replication), but
	// not what this test is about. Cheating on half of its tasklets, that
	// takes 10 clean results in a row at the start or after its first loss:
	// about 2 × 0.5^10 = 0.2% per cheater (at 30% it was 5.6%, and CI
	// caught it). 12 rounds of 8 tasklets give each cheater about 27 runs,
	// so both lose two votes and are banned.
	noise := "[worker.fault]\nkind = \"noise\"\nrate = 0.5"
	coord, workers := swarmWithFaults(t, []string{"", "", "", "", noise, noise})
	cheaters := []*daemon{workers[4], workers[5]}
	dataset := importMNIST(t, coord)
	file := jobFile(t, dataset, verifyJobSpec(12, 8, 50))

	id := submit(t, coord, file)
	j := waitJob(t, coord, id, 6*time.Minute, func(j scheduler.Job) bool {
		return j.Status != scheduler.StatusRunning && j.Status != scheduler.StatusSubmitted
	})
	if j.Status != scheduler.StatusDone {
		t.Fatalf("job ended %s: %s", j.Status, j.Error)
	}
	for i, c := range cheaters {
		if p := verifyPeer(t, coord, c.ep.PeerID); !p.Banned {
			t.Errorf("cheater %d (%s) is not banned: %+v", i, c.ep.PeerID, p)
		}
	}
	for i, w := range workers[:4] {
		if p := verifyPeer(t, coord, w.ep.PeerID); p.Banned || lostVotes(p) > 0 {
			t.Errorf("honest worker %d (%s) lost votes or is banned: %+v", i, w.ep.PeerID, p)
		}
	}
	var v api.VerifyJob
	mustJSON(t, coord.dir, &v, "verify", "show", id, "--json")
	if v.Checked == 0 || v.Verified == 0 {
		t.Errorf("verify show reports no spot checks: %+v", v)
	}
	r := gs(t, coord.dir, "verify", "show", id)
	if r.code != 0 || !strings.Contains(r.out, "CAUGHT") || !strings.Contains(r.out, "spot-checked") {
		t.Errorf("verify show (exit %d) lacks its table:\n%s%s", r.code, r.out, r.err)
	}
	if r := gs(t, coord.dir, "job", "show", id); !strings.Contains(r.out, "spot check (drawn at") {
		t.Errorf("job show does not list the spot checks:\n%s", r.out)
	}
	if r := gs(t, coord.dir, "peers"); !strings.Contains(r.out, "BANNED") {
		t.Errorf("peers does not show the bans:\n%s", r.out)
	}
	if n := recomputeAccepted(t, coord, j); n == 0 {
		t.Error("no accepted tasklet to recompute")
	}

	// The same job on the swarm as it is now: the cheaters are banned, so
	// only the honest workers run it.
	honest := submit(t, coord, file)
	h := waitJob(t, coord, honest, 6*time.Minute, func(j scheduler.Job) bool {
		return j.Status != scheduler.StatusRunning && j.Status != scheduler.StatusSubmitted
	})
	if h.Status != scheduler.StatusDone {
		t.Fatalf("honest job ended %s: %s", h.Status, h.Error)
	}
	for _, rd := range h.Rounds {
		for _, tk := range rd.Tasklets {
			for _, a := range tk.Attempts {
				if a.Peer == cheaters[0].ep.PeerID || a.Peer == cheaters[1].ep.PeerID {
					t.Errorf("the honest job offered round %d tasklet %d to banned cheater %s", rd.Index+1, tk.Index, a.Peer)
				}
			}
		}
	}
	if d := math.Abs(j.TestAccuracy-h.TestAccuracy) * 100; d > 0.5 {
		t.Errorf("test accuracy with cheaters %.2f%%, on the honest swarm %.2f%%: %.2f points apart, want at most 0.5",
			j.TestAccuracy*100, h.TestAccuracy*100, d)
	}
	t.Logf("test accuracy with cheaters %.2f%%, honest %.2f%%; %d of %d tasklets spot-checked, %d mismatches",
		j.TestAccuracy*100, h.TestAccuracy*100, v.Checked, v.Tasklets, v.Mismatches)
}

// A lazy cheater returns its input weights: the first vote it takes part
// in catches it, and its outputs never reach the model.
func TestLazyCheaterIsCaught(t *testing.T) {
	skipShort(t)
	coord, workers := swarmWithFaults(t, []string{"", "", lazyFault})
	lazy := workers[2]
	dataset := importMNIST(t, coord)
	id := submit(t, coord, jobFile(t, dataset, verifyJobSpec(3, 3, 40)))
	j := waitJob(t, coord, id, 4*time.Minute, func(j scheduler.Job) bool {
		return j.Status != scheduler.StatusRunning && j.Status != scheduler.StatusSubmitted
	})
	if j.Status != scheduler.StatusDone {
		t.Fatalf("job ended %s: %s", j.Status, j.Error)
	}
	p := verifyPeer(t, coord, lazy.ep.PeerID)
	if lostVotes(p) == 0 && !screenedPeer(j, lazy.ep.PeerID) {
		t.Errorf("the lazy cheater was never caught: %+v", p)
	}
	// Each decided check left an evidence bundle in the data grid: the
	// signed receipts, the outputs and the verdict.
	var v api.VerifyJob
	mustJSON(t, coord.dir, &v, "verify", "show", id, "--json")
	for _, c := range v.Checks {
		if c.Outcome == "running" {
			continue
		}
		if c.Evidence == "" {
			t.Errorf("round %d tasklet %d: decided (%s) but no evidence bundle", c.Round, c.Tasklet, c.Outcome)
			continue
		}
		f := filepath.Join(t.TempDir(), "evidence.json")
		if r := gs(t, coord.dir, "data", "get", c.Evidence, "-o", f); r.code != 0 {
			t.Fatalf("data get evidence: exit %d: %s", r.code, r.err)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev scheduler.Evidence
		want := 2
		if c.Outcome == scheduler.OutcomeUnverifiable {
			want = 1
		}
		if err := json.Unmarshal(b, &ev); err != nil || ev.Outcome != c.Outcome || len(ev.Results) < want || len(ev.Results[0].Receipt.Signature) == 0 {
			t.Errorf("evidence %s (%v) does not hold the check's signed receipts and verdict: %s", c.Evidence, err, b)
		}
	}
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.State == scheduler.TaskDone && tk.Screened == "" && tk.Output == rd.Weights {
				t.Errorf("round %d tasklet %d: the lazy output (the round's own weights) was aggregated", rd.Index+1, tk.Index)
			}
		}
	}
	recomputeAccepted(t, coord, j)
}

func screenedPeer(j scheduler.Job, peer string) bool {
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Screened != "" && tk.Peer == peer {
				return true
			}
		}
	}
	return false
}

// Two colluders return the same wrong output for every tasklet: paired
// with each other they would agree, and no vote could tell (the escape
// BOINC's quorum has too). The honest workers first earn full records on a
// job of their own; then the pair joins, and its tasklets' replicas go to
// those trusted workers, so every vote exposes them (a third replica on a
// full record settles it). Both colluders are caught and banned, and no
// honest worker loses a vote.
func TestColludingPairIsCaught(t *testing.T) {
	skipShort(t)
	coord, honest := swarmWithFaults(t, []string{"", "", ""})
	dataset := importMNIST(t, coord)
	file := jobFile(t, dataset, verifyJobSpec(5, 6, 20))
	warm := submit(t, coord, file)
	if j := waitJob(t, coord, warm, 4*time.Minute, jobEnded); j.Status != scheduler.StatusDone {
		t.Fatalf("warm-up job ended %s: %s", j.Status, j.Error)
	}
	for i, w := range honest {
		if p := verifyPeer(t, coord, w.ep.PeerID); len(p.Records) == 0 || p.Records[0].Consecutive < verify.ShortRecord {
			t.Fatalf("honest worker %d has no full record after the warm-up: %+v", i, p)
		}
	}

	collude := "[worker.fault]\nkind = \"collude\"\nrate = 1\ngroup = \"pair\""
	var pair []*daemon
	for range 2 {
		dir := initRepo(t)
		appendConfig(t, dir, collude)
		pair = append(pair, startDaemon(t, dir, "--bootstrap", coord.tcpAddr(t)))
	}
	waitCapabilities(t, coord, 6)
	id := submit(t, coord, jobFile(t, dataset, verifyJobSpec(6, 5, 20)))
	j := waitJob(t, coord, id, 5*time.Minute, jobEnded)
	if j.Status != scheduler.StatusDone {
		t.Fatalf("job ended %s: %s", j.Status, j.Error)
	}
	for i, c := range pair {
		if p := verifyPeer(t, coord, c.ep.PeerID); lostVotes(p) == 0 || !p.Banned {
			t.Errorf("colluder %d (%s) was not caught and banned: %+v", i, c.ep.PeerID, p)
		}
	}
	for i, w := range honest {
		if p := verifyPeer(t, coord, w.ep.PeerID); p.Banned || lostVotes(p) > 0 {
			t.Errorf("honest worker %d lost a vote: %+v", i, p)
		}
	}
	escaped := 0
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			if c := tk.Check; c != nil && c.Outcome == string(verify.Verified) && slices.Contains(c.Winners, pair[0].ep.PeerID) && slices.Contains(c.Winners, pair[1].ep.PeerID) {
				escaped++
			}
		}
	}
	t.Logf("votes the pair won together (undetectable by replication): %d", escaped)
}

func jobEnded(j scheduler.Job) bool {
	return j.Status != scheduler.StatusRunning && j.Status != scheduler.StatusSubmitted
}

// An equivocation proof reported to one coordinator bans the worker there
// and, gossiped, on another coordinator too; a forged proof is refused.
func TestEquivocationProofBansOnEveryCoordinator(t *testing.T) {
	skipShort(t)
	a := startDaemon(t, initRepo(t))
	wdir := initRepo(t)
	w := startDaemon(t, wdir, "--bootstrap", a.tcpAddr(t))
	b := startDaemon(t, initRepo(t), "--bootstrap", a.tcpAddr(t))
	waitCapabilities(t, a, 3)
	weights, shard := mnistInputs(t, a)

	// A real receipt of the worker, and a second one for the same tasklet
	// with another output, signed with the worker's own key: equivocation.
	var first node.OfferResult
	mustJSON(t, a.dir, &first, "tasklet", "run", specFile(t, "builtin", weights, shard, 5), "--peer", w.ep.PeerID, "--json")
	second := first.Receipt
	second.OutputCID = weights
	signWith(t, wdir, &second)
	proof, _ := json.Marshal(map[string]any{"a": first.Receipt, "b": second})

	forged := second
	forged.OutputCID = shard
	forgedProof, _ := json.Marshal(map[string]any{"a": first.Receipt, "b": forged}) // b's signature no longer matches
	pf := filepath.Join(t.TempDir(), "forged.json")
	writeFile(t, pf, forgedProof)
	if r := gs(t, a.dir, "verify", "report", pf); r.code == 0 || !strings.Contains(r.err, "refused") {
		t.Errorf("a forged proof was not refused (exit %d): %s%s", r.code, r.out, r.err)
	}
	if p := verifyPeer(t, b, w.ep.PeerID); p.Banned {
		t.Fatalf("the worker is banned on B before any valid proof: %+v", p)
	}

	pp := filepath.Join(t.TempDir(), "proof.json")
	writeFile(t, pp, proof)
	var rep api.ReportResult
	mustJSON(t, a.dir, &rep, "verify", "report", pp, "--json")
	if !rep.Gossiped || !strings.EqualFold(rep.Worker, account(t, w).Hex()) {
		t.Errorf("report = %+v, want the worker's account %s, gossiped", rep, account(t, w).Hex())
	}
	for name, d := range map[string]*daemon{"A (reported to)": a, "B (gossiped to)": b} {
		eventually(t, 30*time.Second, func() (bool, string) {
			p := verifyPeer(t, d, w.ep.PeerID)
			return p.Banned && strings.Contains(p.BanReason, "equivocated"), fmt.Sprintf("coordinator %s: %+v", name, p)
		})
	}
}

// signWith signs r with the Ethereum key in the worker's repo, as the
// worker itself would (the e2e repos share one passphrase).
func signWith(t *testing.T, dir string, r *receipt.Receipt) {
	t.Helper()
	key, err := repo.EthKey(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := receipt.Sign(key, receipt.Domain{ChainID: 1337}, *r)
	if err != nil {
		t.Fatal(err)
	}
	*r = signed
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
