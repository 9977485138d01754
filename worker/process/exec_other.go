//go:build !linux

package process

import (
	"context"
	"errors"
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

func applyLimits(pid int, cfg Config, addressSpace bool) error { return errUnsupported }

// The sandbox needs Linux namespaces and cgroups; New refuses first.

type cgroupRoot struct{}

func (r *cgroupRoot) describe() string { return "none" }

type cgroupLimits struct {
	memory    uint64
	processes int
	cpus      float64
}

type cgroup struct{}

func (r *cgroupRoot) create(string, cgroupLimits) (*cgroup, error) { return nil, errUnsupported }
func (g *cgroup) add(int) error                                    { return errUnsupported }
func (g *cgroup) limitsHit() (uint64, uint64)                      { return 0, 0 }
func (g *cgroup) remove(context.Context) error                     { return nil }

func findBwrap(string) (string, error)                                      { return "", errUnsupported }
func checkRuntime([]string, []allowed) ([]string, error)                    { return nil, errUnsupported }
func findCgroupRoot(string) (*cgroupRoot, error)                            { return nil, errUnsupported }
func bwrapArgs(string, []string, scratch, []int, string, []string) []string { return nil }
func (sc scratch) sandboxEnv(seed uint64, gpus []int) []string              { return nil }

var (
	ErrMemoryLimit  = errors.New("memory limit exceeded")
	ErrProcessLimit = errors.New("process limit reached")
)

func exitSignal(ps *os.ProcessState) (syscall.Signal, bool) { return 0, false }

func signalName(s syscall.Signal) string { return fmt.Sprintf("signal %d", int(s)) }

func limitHit(sig syscall.Signal, cfg Config, cpu time.Duration) error { return nil }

func supported() error                           { return errUnsupported }
func (g *cgroup) cpuTime() (time.Duration, bool) { return 0, false }
