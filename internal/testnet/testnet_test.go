package testnet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a tiny TCP sender or receiver
// inside a namespace (see TestHelperProcess).
const helperEnv = "GS_TESTNET_HELPER"

// TestHelperProcess is not a test: started by the tests below inside a
// namespace, it either sends N bytes to each client ("send ADDR N") or
// receives from ADDR and prints bytes and seconds ("recv ADDR").
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process for the tests in this package")
	}
	f := strings.Fields(mode)
	switch f[0] {
	case "send":
		ln, err := net.Listen("tcp", f[1])
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		n, _ := strconv.ParseInt(f[2], 10, 64)
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			_, _ = io.CopyN(c, zeros{}, n)
			_ = c.Close()
		}
	case "recv":
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", f[1])
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		start := time.Now()
		n, err := io.Copy(io.Discard, c)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(n, time.Since(start).Seconds())
		os.Exit(0)
	}
	os.Exit(2)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func helper(ctx context.Context, h *Host, mode string) *exec.Cmd {
	cmd := h.Command(ctx, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

// startSender runs a sender of n bytes per client on h and waits for it
// to listen.
func startSender(t *testing.T, ctx context.Context, h *Host, n int64) string {
	t.Helper()
	addr := net.JoinHostPort(h.Addr, "4000")
	cmd := helper(ctx, h, fmt.Sprintf("send %s %d", addr, n))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(cmd); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("sender on %s: got %q (%v), want ready", h.Name, line, err)
	}
	return addr
}

// receive downloads from addr on h and returns bits per second.
func receive(t *testing.T, ctx context.Context, h *Host, addr string) (int64, float64, error) {
	t.Helper()
	out, err := helper(ctx, h, "recv "+addr).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("receiver on %s: %w: %s", h.Name, err, out)
	}
	var n int64
	var secs float64
	if _, err := fmt.Sscan(string(out), &n, &secs); err != nil {
		return 0, 0, fmt.Errorf("receiver on %s printed %q: %w", h.Name, out, err)
	}
	return n, float64(n*8) / secs, nil
}

func TestShapedLinkCarriesAtMostItsRate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds namespaces and moves megabytes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := New(t)
	const rate = 40 * Mbit
	src := n.AddHost("src", rate)
	dst := n.AddHost("dst", 0)
	const size = 4 << 20
	addr := startSender(t, ctx, src, size)
	got, bps, err := receive(t, ctx, dst, addr)
	if err != nil {
		t.Fatal(err)
	}
	if got != size {
		t.Fatalf("received %d bytes, want %d", got, size)
	}
	t.Logf("%.1f Mbit/s through a %d Mbit/s link", bps/1e6, rate/Mbit)
	// Only the upper bound is a property of the shaping; a busy machine
	// may well be slower than the link.
	if bps > 1.25*float64(rate) {
		t.Errorf("throughput %.1f Mbit/s exceeds the shaped %d Mbit/s", bps/1e6, rate/Mbit)
	}
}

func TestHostsAreIsolated(t *testing.T) {
	n := New(t)
	a := n.AddHost("a", 10*Mbit)
	b := n.AddHost("b", 0)
	if a.Addr == b.Addr || a.NS == b.NS {
		t.Fatalf("hosts share an address or namespace: %+v %+v", a, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, h := range []*Host{a, b} {
		out, err := h.Command(ctx, "ip", "route", "show", "default").CombinedOutput()
		if err != nil {
			t.Fatalf("ip route in %s: %v: %s", h.Name, err, out)
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("%s has a default route %q; nothing may leave the network", h.Name, s)
		}
		out, err = h.Command(ctx, "ip", "-o", "link").CombinedOutput()
		if err != nil {
			t.Fatalf("ip link in %s: %v: %s", h.Name, err, out)
		}
		if got := strings.Count(string(out), "\n"); got != 2 {
			t.Errorf("%s has %d links, want lo and eth0:\n%s", h.Name, got, out)
		}
	}
	out, err := exec.CommandContext(ctx, "ip", "route", "get", a.Addr).CombinedOutput()
	if err == nil && strings.Contains(string(out), "dev gs") {
		t.Errorf("the root namespace routes to %s through our links: %s", a.Addr, out)
	}
}

func TestPulledLinkStopsTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := New(t)
	src := n.AddHost("src", 0)
	dst := n.AddHost("dst", 0)
	addr := startSender(t, ctx, src, 1<<10)
	if _, _, err := receive(t, ctx, dst, addr); err != nil {
		t.Fatalf("before pulling the link: %v", err)
	}
	if err := src.SetLink(false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := receive(t, ctx, dst, addr); err == nil {
		t.Fatal("a transfer succeeded over a pulled link")
	}
	if err := src.SetLink(true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := receive(t, ctx, dst, addr); err != nil {
		t.Fatalf("after restoring the link: %v", err)
	}
}

func TestNetworksDoNotCollide(t *testing.T) {
	a, b := New(t), New(t)
	if a.sw == b.sw {
		t.Fatalf("two networks share the switch %s", a.sw)
	}
	ha, hb := a.AddHost("x", 0), b.AddHost("x", 0)
	if ha.NS == hb.NS {
		t.Fatalf("two networks share the namespace %s", ha.NS)
	}
}

func TestDialIntoNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := New(t)
	h := n.AddHost("h", 0)
	// A sender on h's loopback: unreachable from the root namespace
	// except through DialContext.
	cmd := helper(ctx, h, "send 127.0.0.1:4001 5")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("sender: got %q, want ready", line)
	}
	c, err := h.DialContext(ctx, "tcp", "127.0.0.1:4001")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	if err != nil || len(got) != 5 {
		t.Fatalf("read %d bytes (%v) through the namespace, want 5", len(got), err)
	}
	// This goroutine's thread must still be in the root namespace.
	if c2, err := net.DialTimeout("tcp", "127.0.0.1:4001", time.Second); err == nil {
		c2.Close()
		t.Error("dialled h's loopback sender from the root namespace; DialContext leaked its namespace")
	}
}
