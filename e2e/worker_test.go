package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

var mlp = contract.Model{Kind: "mlp", Inputs: 784, Hidden: []int{128}, Classes: 10}

// mnistInputs imports MNIST on d and adds initial weights, returning the
// CIDs of the weights and of the first training shard.
func mnistInputs(t *testing.T, d *daemon) (weights, shard string) {
	t.Helper()
	res := importMNISTFiles(t, d)
	for _, f := range res.Files {
		if f.Path == "train-000.safetensors" {
			shard = f.CID
		}
	}
	if shard == "" {
		t.Fatalf("no train-000 shard among %+v", res.Files)
	}
	p, err := trainer.Init(mlp.Trainer(), 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := contract.EncodeParams(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "weights.safetensors")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return addCID(t, d, path), shard
}

func specFile(t *testing.T, executor, weights, shard string, steps int) string {
	t.Helper()
	params, _ := json.Marshal(contract.Params{Model: mlp, Steps: steps, BatchSize: 64, Optimizer: contract.Optimizer{Kind: "sgd", LR: 0.05, Momentum: 0.9}})
	spec := tasklet.Spec{Version: 1, Executor: executor, JobID: "e2e", Round: 1, Index: 0,
		Inputs: []tasklet.Input{{Name: "weights", CID: weights}, {Name: "shard", CID: shard}},
		Params: params, Seed: 99, Deadline: time.Now().Add(time.Hour).UnixMilli()}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), fmt.Sprintf("spec-%d.json", time.Now().UnixNano()))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func account(t *testing.T, d *daemon) common.Address {
	t.Helper()
	return common.HexToAddress(idOf(t, d.dir)["account"].(string))
}

// A offers a builtin training tasklet whose inputs only A holds to B; B
// fetches them, trains and returns a signed receipt; A checks it and that
// the output equals the same tasklet run on A, byte for byte.
func TestWorkerRunsTaskletForPeer(t *testing.T) {
	skipShort(t)
	ds := chain(t, 2)
	a, b := ds[0], ds[1]
	weights, shard := mnistInputs(t, a)
	var holds []node.Holding
	if err := b.client(t).Call(context.Background(), &holds, "data_holds", []string{weights, shard}); err != nil || holds[0].LocalBytes != 0 || holds[1].LocalBytes != 0 {
		t.Fatalf("B holds %+v (%v) before the tasklet; the test needs inputs only A holds", holds, err)
	}
	spec := specFile(t, "builtin", weights, shard, 40)

	r := gs(t, a.dir, "tasklet", "run", spec, "--peer", b.ep.PeerID, "--json")
	if r.code != 0 {
		t.Fatalf("offer to B: exit %d: %s", r.code, r.err)
	}
	var offered node.OfferResult
	if err := json.Unmarshal([]byte(r.out), &offered); err != nil {
		t.Fatalf("tasklet run printed %q: %v", r.out, err)
	}
	signer, err := receipt.Verify(receipt.Domain{ChainID: 1337}, offered.Receipt)
	if err != nil || signer != account(t, b) {
		t.Fatalf("receipt signer %s (%v), want B's account %s", signer.Hex(), err, account(t, b).Hex())
	}
	if offered.Receipt.TaskletCID != offered.SpecCID || offered.Receipt.Samples != 40*64 {
		t.Errorf("receipt %+v does not describe the tasklet %s", offered.Receipt, offered.SpecCID)
	}

	r = gs(t, a.dir, "tasklet", "run", spec, "--json")
	if r.code != 0 {
		t.Fatalf("local run on A: %s", r.err)
	}
	var local node.LocalResult
	if err := json.Unmarshal([]byte(r.out), &local); err != nil {
		t.Fatal(err)
	}
	if local.OutputCID != offered.Receipt.OutputCID {
		t.Errorf("B's output %s differs from A's local run %s", offered.Receipt.OutputCID, local.OutputCID)
	}
	// A can fetch B's output and it is the same bytes.
	out := filepath.Join(t.TempDir(), "out.safetensors")
	if r := gs(t, a.dir, "data", "get", offered.Receipt.OutputCID, "-o", out); r.code != 0 {
		t.Fatalf("fetch B's output: %s", r.err)
	}
}

func TestWorkerDeclines(t *testing.T) {
	skipShort(t)
	ds := chain(t, 2)
	a, b := ds[0], ds[1]
	weights, shard := mnistInputs(t, a)
	offer := func(spec string) result { return gs(t, a.dir, "tasklet", "run", spec, "--peer", b.ep.PeerID) }

	if r := offer(specFile(t, "process", weights, shard, 1)); r.code == 0 || !strings.Contains(r.err, "unsupported-executor") {
		t.Errorf("process tasklet: exit %d, stderr %q; want unsupported-executor", r.code, r.err)
	}

	if r := gs(t, b.dir, "worker", "pause"); r.code != 0 {
		t.Fatal(r.err)
	}
	if r := offer(specFile(t, "builtin", weights, shard, 1)); r.code == 0 || !strings.Contains(r.err, "not-idle") {
		t.Errorf("paused worker: exit %d, stderr %q; want not-idle", r.code, r.err)
	}
	gs(t, b.dir, "worker", "resume")

	// Fill B's single slot with a long tasklet, then offer another.
	long := exec.Command(bin, "--repo", a.dir, "tasklet", "run", specFile(t, "builtin", weights, shard, 200000), "--peer", b.ep.PeerID)
	long.Env = append(os.Environ(), "GRIDSWARM_PASSWORD="+passphrase)
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = long.Process.Kill(); _ = long.Wait() }()
	bc := b.client(t)
	eventually(t, 60*time.Second, func() (bool, string) {
		var s struct {
			SlotsInUse int `json:"slots_in_use"`
		}
		err := bc.Call(context.Background(), &s, "worker_status")
		return err == nil && s.SlotsInUse == 1, fmt.Sprintf("slots in use %d (%v)", s.SlotsInUse, err)
	})
	if r := offer(specFile(t, "builtin", weights, shard, 1)); r.code == 0 || !strings.Contains(r.err, "busy") {
		t.Errorf("second tasklet over the cap: exit %d, stderr %q; want busy", r.code, r.err)
	}
	// Cancelling the coordinator frees the worker's slot.
	_ = long.Process.Signal(syscall.SIGINT)
	eventually(t, 30*time.Second, func() (bool, string) {
		var s struct {
			SlotsInUse int `json:"slots_in_use"`
		}
		err := bc.Call(context.Background(), &s, "worker_status")
		return err == nil && s.SlotsInUse == 0, fmt.Sprintf("slots in use %d after cancel (%v)", s.SlotsInUse, err)
	})
}

// B dies mid-tasklet: A reports the failure within the heartbeat timeout.
func TestWorkerKilledMidTasklet(t *testing.T) {
	skipShort(t)
	ds := chain(t, 2)
	a, b := ds[0], ds[1]
	weights, shard := mnistInputs(t, a)
	spec, err := tasklet.ParseSpec(mustRead(t, specFile(t, "builtin", weights, shard, 200000)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(context.Background(), a.dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const heartbeat = 3 * time.Second
	var killedAt time.Time
	err = c.WithProgress(context.Background(), "tasklet", "kill", func(p node.Progress) {
		if killedAt.IsZero() && p.Done > 0 {
			killedAt = time.Now()
			b.kill9()
		}
	}, func() error {
		return c.Call(context.Background(), nil, "tasklet_offer", b.ep.PeerID, spec, node.OfferOptions{Op: "kill", HeartbeatTimeoutSeconds: heartbeat.Seconds()})
	})
	if killedAt.IsZero() {
		t.Fatalf("the tasklet never made progress: %v", err)
	}
	noticed := time.Since(killedAt)
	if err == nil || !strings.Contains(err.Error(), "worker lost") {
		t.Fatalf("offer to a killed worker: err = %v, want worker lost", err)
	}
	// A generous bound: the point is that it is noticed, not a timing.
	if noticed > 3*heartbeat {
		t.Errorf("failure noticed after %s, heartbeat timeout is %s", noticed, heartbeat)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Capability records reach peers over gossip and through the DHT alone.
func TestCapabilitiesAdvertised(t *testing.T) {
	skipShort(t)
	ds := chain(t, 3)
	for i, d := range ds {
		c := d.client(t)
		eventually(t, 60*time.Second, func() (bool, string) {
			var cs []node.Capability
			if err := c.Call(context.Background(), &cs, "peer_capabilities"); err != nil {
				return false, err.Error()
			}
			return len(cs) == 3, fmt.Sprintf("node %d holds %d capability records", i, len(cs))
		})
	}
	var found []json.RawMessage
	eventually(t, 60*time.Second, func() (bool, string) {
		err := ds[2].client(t).Call(context.Background(), &found, "peer_findCapable", "builtin")
		return err == nil && len(found) >= 2, fmt.Sprintf("found %d builtin workers through the DHT (%v)", len(found), err)
	})
	r := gs(t, ds[0].dir, "peers", "--gpu")
	if r.code != 0 || !strings.Contains(r.out, "builtin,wasm") || !strings.Contains(r.out, "self") {
		t.Errorf("peers --gpu: exit %d, out %q", r.code, r.out)
	}
}
