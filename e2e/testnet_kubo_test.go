package e2e

import (
	"bytes"
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

	"github.com/gridswarm/gridswarm/internal/testnet"
)

// kubo is a Kubo daemon in a testnet host: the reference the striped
// fetch is measured against (GRIDSWARM_KUBO names the ipfs binary, built
// by bench/kubo/build.sh).
type kubo struct {
	host     *testnet.Host
	bin, dir string
	id       string
	log      *lockedBuffer
}

// ipfs runs the Kubo CLI inside k's namespace.
func (k *kubo) ipfs(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", k.host.NS, k.bin}, args...)...)
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ipfs %v in %s: %v: %s", args, k.host.Name, err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// startKubo initialises and starts Kubo in h as bench/data/run.sh does:
// test profile, DHT routing, no bootstrap, no mDNS, no telemetry, flatfs
// sync on (like gridswarm), listening on h's address over TCP.
func startKubo(t *testing.T, bin string, h *testnet.Host) *kubo {
	t.Helper()
	k := &kubo{host: h, bin: bin, dir: filepath.Join(t.TempDir(), "ipfs"), log: &lockedBuffer{}}
	k.ipfs(t, "init", "--empty-repo", "--profile", "test")
	k.ipfs(t, "config", "--json", "AutoConf.Enabled", "false")
	k.ipfs(t, "config", "Routing.Type", "dht")
	k.ipfs(t, "config", "--json", "Bootstrap", "[]")
	k.ipfs(t, "config", "--json", "Discovery.MDNS.Enabled", "false")
	k.ipfs(t, "config", "Plugins.Plugins.telemetry.Config.Mode", "off")
	k.ipfs(t, "config", "--json", "Addresses.Swarm", fmt.Sprintf(`["/ip4/%s/tcp/4001"]`, h.Addr))
	var mounts []map[string]any
	if err := json.Unmarshal([]byte(k.ipfs(t, "config", "Datastore.Spec.mounts")), &mounts); err != nil {
		t.Fatalf("Kubo's Datastore.Spec.mounts: %v", err)
	}
	for _, m := range mounts {
		if child, ok := m["child"].(map[string]any); ok && child["type"] == "flatfs" {
			child["sync"] = true
		}
	}
	js, _ := json.Marshal(mounts)
	k.ipfs(t, "config", "--json", "Datastore.Spec.mounts", string(js))

	cmd := exec.Command("ip", "netns", "exec", h.NS, bin, "daemon")
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.dir)
	cmd.Stdout, cmd.Stderr = k.log, k.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Kubo in %s: %v", h.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	eventually(t, 60*time.Second, func() (bool, string) {
		select {
		case <-done:
			t.Fatalf("Kubo in %s exited:\n%s", h.Name, k.log.String())
		default:
		}
		return strings.Contains(k.log.String(), "Daemon is ready"), "Kubo daemon ready:\n" + k.log.String()
	})
	k.id = k.ipfs(t, "id", "-f", "<id>")
	return k
}

func (k *kubo) maddr() string { return fmt.Sprintf("/ip4/%s/tcp/4001/p2p/%s", k.host.Addr, k.id) }

// received is the block bytes k's bitswap ledger says from sent us.
func (k *kubo) received(t *testing.T, from *kubo) uint64 {
	t.Helper()
	var l struct{ Recv uint64 }
	if err := json.Unmarshal([]byte(k.ipfs(t, "bitswap", "ledger", "--enc=json", from.id)), &l); err != nil {
		t.Fatalf("ipfs bitswap ledger: %v", err)
	}
	return l.Recv
}

// timedGet fetches c with `ipfs get` and returns the seconds it took.
func (k *kubo) timedGet(t *testing.T, c, src string) float64 {
	t.Helper()
	out := filepath.Join(t.TempDir(), "got.bin")
	start := time.Now()
	k.ipfs(t, "get", "--progress=false", c, "-o", out)
	secs := time.Since(start).Seconds()
	if treeDigest(t, out) != treeDigest(t, src) {
		t.Fatalf("ipfs get %s in %s: content differs from the source", c, k.host.Name)
	}
	return secs
}

// kuboRef is the Kubo half of TestTestnetStripedFetch: three providers
// and a fetcher on the same kind of links.
type kuboRef struct {
	provs      []*kubo
	fetcher    *kubo
	one, three []float64
}

func startKuboRef(t *testing.T, tn *testnet.Network, bin string) *kuboRef {
	t.Helper()
	r := &kuboRef{}
	for i := range 3 {
		r.provs = append(r.provs, startKubo(t, bin, tn.AddHost(fmt.Sprintf("kubo%d", i), 100*testnet.Mbit)))
	}
	r.fetcher = startKubo(t, bin, tn.AddHost("kubo-fetcher", testnet.Gbit))
	for _, p := range r.provs {
		r.fetcher.ipfs(t, "swarm", "connect", p.maddr())
	}
	return r
}

// round adds f3 on the three providers and f1 on the first, fetches
// both (in the given order) and logs who sent the bytes of f3. Kubo must
// give the same CID gridswarm gave.
func (r *kuboRef) round(t *testing.T, i int, f3, c3, f1, c1 string) {
	t.Helper()
	for _, p := range r.provs {
		if c := p.ipfs(t, "add", "--cid-version=1", "-Q", f3); c != c3 {
			t.Fatalf("Kubo added %s as %s, gridswarm as %s", f3, c, c3)
		}
	}
	if c := r.provs[0].ipfs(t, "add", "--cid-version=1", "-Q", f1); c != c1 {
		t.Fatalf("Kubo added %s as %s, gridswarm as %s", f1, c, c1)
	}
	before := make([]uint64, len(r.provs))
	fetch3 := func() {
		for j, p := range r.provs {
			before[j] = r.fetcher.received(t, p)
		}
		r.three = append(r.three, r.fetcher.timedGet(t, c3, f3))
	}
	if i%2 == 0 {
		r.one = append(r.one, r.fetcher.timedGet(t, c1, f1))
		fetch3()
	} else {
		fetch3()
		r.one = append(r.one, r.fetcher.timedGet(t, c1, f1))
		return // the ledger delta would include f1
	}
	// Only even rounds: in odd ones the one-provider fetch ran after.
	for j, p := range r.provs {
		t.Logf("round %d: Kubo %s sent %.1f MiB", i, p.host.Name, float64(r.fetcher.received(t, p)-before[j])/(1<<20))
	}
}

// fromKubo checks that gridswarm stripes over Kubo providers too: a file
// only the three Kubo providers hold reaches the gridswarm fetcher, and
// each Kubo peer sent a share of it. Plain bitswap on the wire.
func (r *kuboRef) fromKubo(t *testing.T, d *nsDaemon, mib int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rpc := d.rpc(t)
	f := randomFile(t, t.TempDir(), "kubo-only.bin", mib<<20)
	var c string
	for _, p := range r.provs {
		c = p.ipfs(t, "add", "--cid-version=1", "-Q", f)
		if err := rpc.Call(ctx, nil, "peer_connect", p.maddr()); err != nil {
			t.Fatalf("gridswarm cannot connect to Kubo %s: %v", p.host.Name, err)
		}
	}
	before := d.exchange(t, rpc)
	secs := d.timedGet(t, c, f)
	after := d.exchange(t, rpc)
	var total uint64
	for _, p := range r.provs {
		total += after.FromPeers[p.id] - before.FromPeers[p.id]
	}
	for _, p := range r.provs {
		sent := after.FromPeers[p.id] - before.FromPeers[p.id]
		t.Logf("gridswarm from Kubo: %s sent %.1f MiB", p.host.Name, float64(sent)/(1<<20))
		if sent < total/10 {
			t.Errorf("Kubo %s sent %d of %d bytes to gridswarm; want every provider to send at least a tenth", p.host.Name, sent, total)
		}
	}
	t.Logf("gridswarm fetched %d MiB from 3 Kubo providers in %.2f s", mib, secs)
}
