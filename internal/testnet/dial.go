//go:build linux

package testnet

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// DialContext opens a connection from inside h's namespace, so a test in
// the root namespace can reach a daemon's loopback API there. A socket
// stays in the namespace it was created in, so only the dial itself runs
// on a thread switched into h's namespace.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		c, err, back := h.dialIn(ctx, network, addr)
		if back {
			runtime.UnlockOSThread()
		} // else the thread is still in h's namespace: leaving it locked makes the runtime discard it
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dialIn runs on a locked thread; back reports whether the thread is in
// its original namespace again.
func (h *Host) dialIn(ctx context.Context, network, addr string) (_ net.Conn, _ error, back bool) {
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("testnet: cannot open this thread's namespace: %w", err), true
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + h.NS)
	if err != nil {
		return nil, fmt.Errorf("testnet: cannot open %s's namespace: %w", h.Name, err), true
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("testnet: cannot enter %s's namespace: %w", h.Name, err), true
	}
	var d net.Dialer
	c, derr := d.DialContext(ctx, network, addr)
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("testnet: cannot leave %s's namespace: %w", h.Name, err), false
	}
	if derr != nil {
		return nil, fmt.Errorf("testnet: dial %s in %s: %w", addr, h.Name, derr), true
	}
	return c, nil, true
}
