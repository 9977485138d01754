package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/worker"
)

// appendConfig adds text to the end of a repo's config.toml.
func appendConfig(t *testing.T, dir, text string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, repo.ConfigFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + text + "\n"); err != nil {
		t.Fatal(err)
	}
}

const lazyFault = "[worker.fault]\nkind = \"lazy\"\nrate = 1"

// A lazy cheater (local profile, rate 1) offered a training tasklet skips
// the training and returns its input weights as the output, under a receipt
// it signs as usual; its own worker status says so, nothing else does.
func TestLazyCheaterReturnsItsInputWeights(t *testing.T) {
	skipShort(t)
	a := startDaemon(t, initRepo(t))
	bdir := initRepo(t)
	appendConfig(t, bdir, lazyFault)
	b := startDaemon(t, bdir, "--bootstrap", a.tcpAddr(t))
	weights, shard := mnistInputs(t, a)

	r := gs(t, a.dir, "tasklet", "run", specFile(t, "builtin", weights, shard, 40), "--peer", b.ep.PeerID, "--json")
	if r.code != 0 {
		t.Fatalf("offer to the cheater: exit %d: %s", r.code, r.err)
	}
	var offered node.OfferResult
	if err := json.Unmarshal([]byte(r.out), &offered); err != nil {
		t.Fatalf("tasklet run printed %q: %v", r.out, err)
	}
	if offered.Receipt.OutputCID != weights {
		t.Errorf("the lazy cheater's output is %s, want its input weights %s", offered.Receipt.OutputCID, weights)
	}
	if signer, err := receipt.Verify(receipt.Domain{ChainID: 1337}, offered.Receipt); err != nil || signer != account(t, b) {
		t.Errorf("receipt signer %s (%v), want the cheater's account %s: it lies but signs", signer.Hex(), err, account(t, b).Hex())
	}
	if offered.Receipt.Samples != 40*64 || !(offered.Receipt.Loss() > 0) {
		t.Errorf("receipt claims %d samples, loss %v; want a plausible 2560 samples and a positive loss", offered.Receipt.Samples, offered.Receipt.Loss())
	}

	r = gs(t, b.dir, "--json", "worker", "status")
	var st worker.Status
	if err := json.Unmarshal([]byte(r.out), &st); r.code != 0 || err != nil {
		t.Fatalf("worker status: exit %d (%v): %s%s", r.code, err, r.out, r.err)
	}
	if st.Fault == nil || st.Fault.Kind != "lazy" || st.Fault.Rate != 1 || st.Fault.Cheated != 1 {
		t.Errorf("cheater's worker status fault = %+v, want lazy at rate 1, 1 tasklet cheated", st.Fault)
	}
	if r := gs(t, b.dir, "worker", "status"); !strings.Contains(r.out, "cheating    lazy on 1 of builtin tasklets, 1 so far") {
		t.Errorf("cheater's worker status does not say it cheats:\n%s%s", r.out, r.err)
	}
	if !strings.Contains(b.log.String(), "THIS WORKER CHEATS") {
		t.Errorf("the cheater did not warn at start:\n%s", b.log.String())
	}
	r = gs(t, a.dir, "--json", "worker", "status")
	if r.code != 0 || strings.Contains(r.out, `"fault"`) {
		t.Errorf("an honest worker's status (exit %d) shows a fault: %s", r.code, r.out)
	}
	// The swarm cannot tell: the cheater's capability record, as A sees it,
	// says nothing of the fault.
	waitCapabilities(t, a, 2)
	var caps json.RawMessage
	if err := a.client(t).Call(context.Background(), &caps, "peer_capabilities"); err != nil {
		t.Fatal(err)
	}
	for _, tell := range []string{"fault", "lazy", "cheat"} {
		if strings.Contains(strings.ToLower(string(caps)), tell) {
			t.Errorf("capability records mention %q: %s", tell, caps)
		}
	}
}

// Outside the local profile a daemon with [worker.fault] refuses to start
// and says which key to remove.
func TestFaultRefusedOutsideLocalProfile(t *testing.T) {
	skipShort(t)
	dir := initRepo(t)
	setConfig(t, dir, `profile = "local"`, `profile = "default"`)
	appendConfig(t, dir, lazyFault)
	d := launch(t, dir)
	code, ok := d.exited(60 * time.Second)
	if !ok || code == 0 {
		t.Fatalf("daemon with [worker.fault] in the default profile: exited=%v code=%d, want a refusal\n%s", ok, code, d.log.String())
	}
	if !strings.Contains(d.log.String(), config.FaultOnlyLocal) {
		t.Errorf("refusal does not name worker.fault:\n%s", d.log.String())
	}
}
