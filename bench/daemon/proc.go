package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tailBuffer keeps the last max bytes written to it: enough of a daemon's
// output to explain a failure without holding a long log in memory.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// proc is a daemon process started by the benchmark.
type proc struct {
	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{} // closed when the process has been reaped
	err    error         // Wait's result, valid once exited is closed
}

// startProc starts cmd with its output captured and a goroutine reaping it.
func startProc(cmd *exec.Cmd) (*proc, error) {
	p := &proc{cmd: cmd, out: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// died returns an error naming the exit and the output tail when the process
// has already exited, nil while it runs.
func (p *proc) died() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited early (%v); its output ends with:\n%s", p.cmd.Path, p.err, p.out.String())
	default:
		return nil
	}
}

// stop sends SIGTERM and waits for a clean exit, then SIGKILL after grace.
// It returns how long the daemon took to go.
func (p *proc) stop(grace time.Duration) time.Duration {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	return time.Since(start)
}

// waitFor calls probe every interval until it reports done, the process
// dies, or ctx ends.
func waitFor(ctx context.Context, p *proc, interval time.Duration, probe func() bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if probe() {
			return nil
		}
		if err := p.died(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting for %s (pid %d): %w; its output ends with:\n%s", p.cmd.Path, p.pid(), ctx.Err(), p.out.String())
		case <-t.C:
		}
	}
}

// memory is what /proc/<pid>/status and smaps_rollup say of a process, in
// KiB.
type memory struct {
	RSS, HWM, Anon, File int64
	// Private is smaps_rollup's Anonymous: the process's own anonymous
	// pages (heap, stacks, runtime), none of them shared or file-backed;
	// what an idle daemon costs a machine beyond its binary's page cache.
	Private int64
}

// readMemory reads /proc/<pid>/status and /proc/<pid>/smaps_rollup.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("cannot read the memory of pid %d: %w", pid, err)
	}
	m, err := parseStatus(string(b))
	if err != nil {
		return m, err
	}
	if b, err = os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err != nil {
		return memory{}, fmt.Errorf("cannot read the memory map of pid %d (Linux 4.14 or later has smaps_rollup): %w", pid, err)
	}
	m.Private, err = parseRollup(string(b))
	return m, err
}

// parseRollup picks the Anonymous size out of a /proc/<pid>/smaps_rollup
// text.
func parseRollup(text string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "Anonymous" {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(val), " ")
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || unit != "kB" {
			return 0, fmt.Errorf("smaps_rollup line %q is not a size in kB", sc.Text())
		}
		return n, nil
	}
	return 0, errors.New("smaps_rollup text has no Anonymous line: is this Linux 4.14 or later?")
}

// parseStatus picks VmRSS, VmHWM, RssAnon and RssFile out of a
// /proc/<pid>/status text.
func parseStatus(text string) (memory, error) {
	var m memory
	fields := map[string]*int64{"VmRSS": &m.RSS, "VmHWM": &m.HWM, "RssAnon": &m.Anon, "RssFile": &m.File}
	found := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		dst, want := fields[key]
		if !ok || !want {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(val), " ")
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || unit != "kB" {
			return memory{}, fmt.Errorf("status line %q is not a size in kB", sc.Text())
		}
		*dst = n
		found++
	}
	if found != len(fields) {
		return memory{}, errors.New("status text lacks one of VmRSS, VmHWM, RssAnon, RssFile: is this Linux?")
	}
	return m, nil
}
