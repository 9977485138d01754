package process

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts the child in its own process group, so one kill reaches
// everything it started, and has the kernel SIGKILL it if the daemon dies.
// Pdeathsig fires when the thread that forked exits; Go keeps its threads
// alive unless a goroutine exits while locked to one, which Run never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup sends SIGKILL to the process group led by pid. A group already
// gone is not an error.
func killGroup(pid int) error {
	if err := unix.Kill(-pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pid, err)
	}
	return nil
}

// rlimit is one limit to set; cur is the soft limit, max the hard one.
type rlimit struct {
	name     string
	resource int
	cur, max uint64
}

// limits lists what cfg asks for. The hard CPU limit is one second past
// the soft one: SIGXCPU first, which a program may catch to save its work,
// then SIGKILL. The memory limit is an address-space rlimit only when no
// cgroup bounds the tree's memory (addressSpace).
func limits(cfg Config, addressSpace bool) []rlimit {
	l := []rlimit{
		{"file size", unix.RLIMIT_FSIZE, cfg.FileSizeBytes, cfg.FileSizeBytes},
		{"open files", unix.RLIMIT_NOFILE, cfg.OpenFiles, cfg.OpenFiles},
		{"core dump size", unix.RLIMIT_CORE, 0, 0},
	}
	if cfg.CPUSeconds > 0 {
		l = append(l, rlimit{"CPU time", unix.RLIMIT_CPU, cfg.CPUSeconds, cfg.CPUSeconds + 1})
	}
	if cfg.MemoryBytes > 0 && addressSpace {
		l = append(l, rlimit{"address space", unix.RLIMIT_AS, cfg.MemoryBytes, cfg.MemoryBytes})
	}
	return l
}

// applyLimits sets cfg's limits on the running process pid with prlimit(2).
// A limit is never raised above what the child already has: only a
// privileged process may raise a hard limit. A child that already exited
// needs no limits.
func applyLimits(pid int, cfg Config, addressSpace bool) error {
	for _, l := range limits(cfg, addressSpace) {
		var old unix.Rlimit
		if err := unix.Prlimit(pid, l.resource, nil, &old); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return nil
			}
			return fmt.Errorf("read %s limit: %w", l.name, err)
		}
		hard := min(l.max, old.Max)
		nl := unix.Rlimit{Cur: min(l.cur, hard), Max: hard}
		if err := unix.Prlimit(pid, l.resource, &nl, nil); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return nil
			}
			return fmt.Errorf("set %s limit: %w", l.name, err)
		}
	}
	return nil
}

// exitSignal returns the signal that killed the process, if one did.
func exitSignal(ps *os.ProcessState) (syscall.Signal, bool) {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// limitHit names the limit whose signal killed the command, or nil.
// SIGKILL counts as the CPU limit only once the CPU time reached it: the
// kernel sends it at the hard limit, a second after SIGXCPU.
func limitHit(sig syscall.Signal, cfg Config, cpu time.Duration) error {
	switch {
	case sig == syscall.SIGXCPU:
		return ErrCPULimit
	case sig == syscall.SIGKILL && cfg.CPUSeconds > 0 && cpu >= time.Duration(cfg.CPUSeconds)*time.Second:
		return ErrCPULimit
	case sig == syscall.SIGXFSZ:
		return ErrFileSizeLimit
	}
	return nil
}

// supported reports whether this platform can run the executor.
func supported() error { return nil }

// signalName is "SIGXCPU" for syscall.SIGXCPU.
func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
