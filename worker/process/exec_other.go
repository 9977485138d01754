//go:build !linux

package process

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

// The process executor relies on Linux: prlimit(2), Pdeathsig and process
// groups. Elsewhere New refuses to enable it.
var errUnsupported = fmt.Errorf("the process executor runs on Linux only, not %s", runtime.GOOS)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) error { return errUnsupported }

func applyLimits(pid int, cfg Config) error { return errUnsupported }

func exitSignal(ps *os.ProcessState) (syscall.Signal, bool) { return 0, false }

func signalName(s syscall.Signal) string { return fmt.Sprintf("signal %d", int(s)) }

func limitHit(sig syscall.Signal, cfg Config, cpu time.Duration) error { return nil }

func supported() error { return errUnsupported }
