//go:build unix

package trainer

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used. On a shared machine
// it measures a benchmark's work without the time spent waiting for a core.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
