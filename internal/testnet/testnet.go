package testnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// cmdTimeout bounds each ip/tc invocation; they take milliseconds.
const cmdTimeout = 30 * time.Second

// Network is a set of hosts on one bridge.
type Network struct {
	t      testing.TB
	tag    string // random, in every name
	subnet string // the first three octets, e.g. "10.77.0"
	sw     string // the switch namespace
	mu     sync.Mutex
	hosts  []*Host
}

// Host is one namespace on the network.
type Host struct {
	Name string // given by the test
	NS   string // the namespace, for ip netns exec
	Addr string // its IPv4 address
	Rate Rate
	net  *Network
	idx  int
}

// Rate is a link's bandwidth in bits per second; 0 leaves it unshaped.
type Rate int64

// Common rates.
const (
	Mbit Rate = 1_000_000
	Gbit Rate = 1000 * Mbit
)

// Supported reports why this process cannot build a network, or "" when
// it can.
func Supported() string {
	if os.Geteuid() != 0 {
		return "testnet needs root (network namespaces and tc); run the test as root, as CI does"
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("testnet needs the %q tool (Debian package iproute2): %v", tool, err)
		}
	}
	return ""
}

// New creates an empty network with a bridge, or skips t when this
// process cannot (see Supported). The network is torn down by t.Cleanup.
func New(t testing.TB) *Network {
	t.Helper()
	if why := Supported(); why != "" {
		t.Skip(why)
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testnet: cannot draw a name: %v", err)
	}
	tag := hex.EncodeToString(b[:])
	n := &Network{t: t, tag: tag, subnet: "10.77.0", sw: "gs" + tag + "-sw"}
	t.Cleanup(n.close)
	if err := n.run("ip", "netns", "add", n.sw); err != nil {
		if strings.Contains(err.Error(), "ermission") || strings.Contains(err.Error(), "not permitted") {
			t.Skipf("testnet: cannot create a network namespace here (%v); run as root with CAP_SYS_ADMIN", err)
		}
		t.Fatalf("testnet: %v", err)
	}
	n.must("ip", "-n", n.sw, "link", "add", "br0", "type", "bridge")
	n.must("ip", "-n", n.sw, "link", "set", "br0", "up")
	n.must("ip", "-n", n.sw, "link", "set", "lo", "up")
	return n
}

// AddHost creates a host whose link carries rate in each direction
// (0: unshaped). Its address is 10.77.0.N for the Nth host.
func (n *Network) AddHost(name string, rate Rate) *Host {
	n.t.Helper()
	n.mu.Lock()
	i := len(n.hosts)
	n.mu.Unlock()
	if i >= 250 {
		n.t.Fatalf("testnet: at most 250 hosts per network")
	}
	h := &Host{Name: name, NS: fmt.Sprintf("gs%s-h%d", n.tag, i), Addr: fmt.Sprintf("%s.%d", n.subnet, i+1), Rate: rate, net: n, idx: i}
	n.must("ip", "netns", "add", h.NS)
	n.mu.Lock()
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()
	port := fmt.Sprintf("p%d", i)
	// Created in the host's namespace and the switch's directly: the
	// root namespace never holds either end.
	n.must("ip", "link", "add", "eth0", "netns", h.NS, "type", "veth", "peer", "name", port, "netns", n.sw)
	n.must("ip", "-n", n.sw, "link", "set", port, "master", "br0")
	n.must("ip", "-n", n.sw, "link", "set", port, "up")
	n.must("ip", "-n", h.NS, "link", "set", "lo", "up")
	n.must("ip", "-n", h.NS, "addr", "add", h.Addr+"/24", "dev", "eth0")
	n.must("ip", "-n", h.NS, "link", "set", "eth0", "up")
	if rate > 0 {
		// Upload: the host's egress; download: the switch port's egress.
		n.must(tbf(h.NS, "eth0", rate)...)
		n.must(tbf(n.sw, port, rate)...)
	}
	return h
}

// Hosts returns the hosts in the order they were added.
func (n *Network) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// tbf is the tc command shaping dev in ns to rate. The bucket holds at
// least 10 ms of traffic (and 64 KiB, a GSO super-packet), and the queue
// at most 50 ms, like a modest home router.
func tbf(ns, dev string, rate Rate) []string {
	burst := max(int64(rate)/8/100, 64<<10)
	return []string{"tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", "tbf",
		"rate", fmt.Sprintf("%dbit", int64(rate)),
		"burst", fmt.Sprintf("%d", burst),
		"latency", "50ms"}
}

// SetRate reshapes h's link in both directions; a running transfer sees
// the new rate at once. 0 removes the shaping.
func (h *Host) SetRate(rate Rate) error {
	n := h.net
	port := fmt.Sprintf("p%d", h.idx)
	if rate == 0 {
		for _, c := range [][]string{{"tc", "-n", h.NS, "qdisc", "del", "dev", "eth0", "root"}, {"tc", "-n", n.sw, "qdisc", "del", "dev", port, "root"}} {
			if err := n.run(c...); err != nil && !strings.Contains(err.Error(), "No such file") && !strings.Contains(err.Error(), "Cannot delete qdisc with handle of zero") {
				return err
			}
		}
	} else {
		if err := n.run(tbf(h.NS, "eth0", rate)...); err != nil {
			return err
		}
		if err := n.run(tbf(n.sw, port, rate)...); err != nil {
			return err
		}
	}
	h.Rate = rate
	return nil
}

// SetLink takes h's link down (false) or up (true), as if its cable
// were pulled.
func (h *Host) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return h.net.run("ip", "-n", h.net.sw, "link", "set", fmt.Sprintf("p%d", h.idx), state)
}

// Command returns a command that runs name with args inside h's
// namespace. The caller starts and waits for it; ctx kills it.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Start starts cmd (from Command) and registers a cleanup that kills it
// and waits for it, so no process outlives the test. It runs before the
// network's own teardown.
func (h *Host) Start(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testnet: cannot start %s in %s: %w", cmd.Path, h.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	h.net.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(cmdTimeout):
			h.net.t.Errorf("testnet: %s in %s did not exit after kill", cmd.Path, h.Name)
		}
	})
	return nil
}

func (n *Network) close() {
	n.mu.Lock()
	hosts := n.hosts
	n.mu.Unlock()
	// Deleting a namespace deletes the veth ends in it.
	for _, h := range hosts {
		if err := n.run("ip", "netns", "del", h.NS); err != nil {
			n.t.Errorf("testnet: teardown: %v", err)
		}
	}
	if err := n.run("ip", "netns", "del", n.sw); err != nil && !strings.Contains(err.Error(), "No such file") {
		n.t.Errorf("testnet: teardown: %v", err)
	}
}

func (n *Network) must(args ...string) {
	n.t.Helper()
	if err := n.run(args...); err != nil {
		n.t.Fatalf("testnet: %v", err)
	}
}

func (n *Network) run(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
