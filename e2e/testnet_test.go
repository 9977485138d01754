package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/internal/testnet"
	"github.com/gridswarm/gridswarm/node"
)

// nsDaemon is a daemon running inside a testnet host.
type nsDaemon struct {
	*daemon
	host *testnet.Host
	id   string // peer ID
}

// listenLine is the [swarm] listen setting that `init --profile local`
// writes: loopback only.
var listenLine = regexp.MustCompile(`(?m)^(\s*)listen = \["/ip4/127\.0\.0\.1/tcp/0".*\]$`)

// startIn initialises a repo, makes it listen on h's address (TCP only,
// so the test knows which connection carries what) and starts its daemon
// inside h's namespace.
func startIn(t *testing.T, h *testnet.Host, args ...string) *nsDaemon {
	t.Helper()
	dir := initRepo(t)
	cfgPath := filepath.Join(dir, "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !listenLine.Match(cfg) {
		t.Fatalf("config.toml has no loopback swarm listen line to replace:\n%s", cfg)
	}
	cfg = listenLine.ReplaceAll(cfg, fmt.Appendf(nil, `${1}listen = ["/ip4/%s/tcp/0"]`, h.Addr))
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, dir: dir, done: make(chan struct{}), log: &lockedBuffer{}}
	// ip netns exec execs the daemon, so d.cmd's process is the daemon.
	d.cmd = exec.Command("ip", append([]string{"netns", "exec", h.NS, bin, "--repo", dir, "daemon"}, args...)...)
	d.cmd.Env = append(os.Environ(), "GRIDSWARM_PASSWORD="+passphrase)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon in %s: %v", h.Name, err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(d.stop)
	if err := d.waitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	addr := d.tcpAddr(t)
	return &nsDaemon{daemon: d, host: h, id: addr[strings.LastIndex(addr, "/p2p/")+5:]}
}

// gsIn runs the CLI inside d's namespace, where the daemon's API is.
func (d *nsDaemon) gs(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", d.host.NS, bin, "--repo", d.dir}, args...)...)
	cmd.Env = append(os.Environ(), "GRIDSWARM_PASSWORD="+passphrase)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gridswarm %v in %s: %v", args, d.host.Name, err)
	}
	return result{out.String(), errb.String(), code}
}

func (d *nsDaemon) add(t *testing.T, path string) string {
	t.Helper()
	r := d.gs(t, "data", "add", path, "--json")
	if r.code != 0 {
		t.Fatalf("data add on %s: exit %d: %s", d.host.Name, r.code, r.err)
	}
	var res node.AddResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("data add --json printed %q: %v", r.out, err)
	}
	return res.CID
}

// rpc is a JSON-RPC client for d, dialling into its namespace.
func (d *nsDaemon) rpc(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), d.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDialer(d.host.DialContext)
	t.Cleanup(c.Close)
	return c
}

func (d *nsDaemon) exchange(t *testing.T, c *client.Client) node.Exchange {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ex node.Exchange
	if err := c.Call(ctx, &ex, "data_exchange"); err != nil {
		t.Fatalf("data_exchange on %s: %v", d.host.Name, err)
	}
	return ex
}

// timedGet fetches cid on d with the CLI and returns the seconds it took.
func (d *nsDaemon) timedGet(t *testing.T, cid, src string) float64 {
	t.Helper()
	out := filepath.Join(t.TempDir(), "got.bin")
	start := time.Now()
	r := d.gs(t, "data", "get", cid, "-o", out, "--timeout", "4m")
	secs := time.Since(start).Seconds()
	if r.code != 0 {
		t.Fatalf("data get %s on %s: exit %d: %s", cid, d.host.Name, r.code, r.err)
	}
	if treeDigest(t, out) != treeDigest(t, src) {
		t.Fatalf("data get %s on %s: content differs from the source", cid, d.host.Name)
	}
	return secs
}

// envInt reads a positive integer knob for benchmark runs.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// TestTestnetStripedFetch: three providers behind 100 Mbit/s links hold a
// file; a fourth node behind a 1 Gbit/s link fetches it, and every
// provider must have sent a real share of the bytes. For comparison, in
// the same network and run, it also fetches a file of the same size held
// by one provider only, and logs both times (benchmarks read them;
// tests do not assert timings). GRIDSWARM_TESTNET_MIB (64) and
// GRIDSWARM_TESTNET_ROUNDS (1) size the benchmark; GRIDSWARM_KUBO, the
// path of Kubo's ipfs, adds Kubo daemons doing the same in the same
// network as the reference.
func TestTestnetStripedFetch(t *testing.T) {
	skipShort(t)
	mib := envInt(t, "GRIDSWARM_TESTNET_MIB", 64)
	rounds := envInt(t, "GRIDSWARM_TESTNET_ROUNDS", 1)
	tn := testnet.New(t)
	var provs []*nsDaemon
	for i := range 3 {
		provs = append(provs, startIn(t, tn.AddHost(fmt.Sprintf("provider%d", i), 100*testnet.Mbit)))
	}
	var boot []string
	for _, p := range provs {
		boot = append(boot, "--bootstrap", p.tcpAddr(t))
	}
	fetcher := startIn(t, tn.AddHost("fetcher", testnet.Gbit), boot...)
	rpc := fetcher.rpc(t)
	eventually(t, 60*time.Second, func() (bool, string) {
		var n int
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := rpc.Call(ctx, &n, "node_peerCount")
		return err == nil && n >= 3, fmt.Sprintf("fetcher has %d peers (%v), want the 3 providers", n, err)
	})

	var ref *kuboRef
	if kbin := os.Getenv("GRIDSWARM_KUBO"); kbin != "" {
		ref = startKuboRef(t, tn, kbin)
	}

	var one, three []float64
	for round := range rounds {
		dir := t.TempDir()
		f3 := randomFile(t, dir, "three.bin", mib<<20)
		f1 := randomFile(t, dir, "one.bin", mib<<20)
		c3 := provs[0].add(t, f3)
		for _, p := range provs[1:] {
			if c := p.add(t, f3); c != c3 {
				t.Fatalf("%s added the same file as %s, %s added it as %s", p.host.Name, c, provs[0].host.Name, c3)
			}
		}
		c1 := provs[0].add(t, f1)
		// Alternate the order so neither fetch always runs second.
		var before node.Exchange
		fetch3 := func() {
			before = fetcher.exchange(t, rpc)
			three = append(three, fetcher.timedGet(t, c3, f3))
		}
		if round%2 == 0 {
			one = append(one, fetcher.timedGet(t, c1, f1))
			fetch3()
		} else {
			fetch3()
			one = append(one, fetcher.timedGet(t, c1, f1))
		}
		after := fetcher.exchange(t, rpc)
		if ref != nil {
			ref.round(t, round, f3, c3, f1, c1)
		}
		// In odd rounds the one-provider fetch ran after fetch3 and is
		// inside the delta.
		if round%2 == 1 {
			continue
		}
		var total uint64
		sent := make([]uint64, len(provs))
		for i, p := range provs {
			sent[i] = after.FromPeers[p.id] - before.FromPeers[p.id]
			total += sent[i]
		}
		if total < uint64(mib<<20) {
			t.Fatalf("round %d: the providers sent %d bytes in all, less than the %d MiB file", round, total, mib)
		}
		for i, p := range provs {
			t.Logf("round %d: %s sent %.1f MiB (%.0f%%)", round, p.host.Name, float64(sent[i])/(1<<20), 100*float64(sent[i])/float64(total))
			if sent[i] < total/10 {
				t.Errorf("round %d: %s sent %d of %d bytes; want every provider to send at least a tenth", round, p.host.Name, sent[i], total)
			}
		}
	}
	if ref != nil {
		ref.fromKubo(t, fetcher, mib)
	}
	for i := range one {
		t.Logf("round %d: %d MiB from 1 provider %.2f s (%.1f Mbit/s), from 3 providers %.2f s (%.1f Mbit/s): %.2fx",
			i, mib, one[i], float64(mib<<23)/one[i]/1e6, three[i], float64(mib<<23)/three[i]/1e6, one[i]/three[i])
		if ref != nil {
			t.Logf("round %d: Kubo: %d MiB from 1 provider %.2f s, from 3 providers %.2f s: %.2fx; gridswarm from 3 vs Kubo from 3: %.2fx",
				i, mib, ref.one[i], ref.three[i], ref.one[i]/ref.three[i], ref.three[i]/three[i])
		}
	}
}
