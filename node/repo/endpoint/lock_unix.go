//go:build !windows

package endpoint

import (
	"errors"
	"os"
	"syscall"
)

// TryLock takes an advisory flock(2) on f without waiting: exclusive for the
// daemon that owns a repo, shared for a probe. It fails when another process
// holds a conflicting lock. The lock dies with its process.
func TryLock(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	return syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
}

// Unlock releases a lock taken with TryLock.
func Unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// alive reports whether a process with this pid exists (kill -0; EPERM
// means it exists but belongs to someone else).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
