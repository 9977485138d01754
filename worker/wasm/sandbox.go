package wasm

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

const (
	// SeedEnv is the environment variable that carries Task.Seed.
	SeedEnv = "GRIDSWARM_SEED"
	// Argv0 is the program name a tasklet sees as argv[0].
	Argv0 = "tasklet"
	// MaxCaptureBytes is how much of stdout and of stderr a run keeps.
	MaxCaptureBytes = 64 << 10

	// randomDomain separates the random_get key from other uses of a seed.
	randomDomain = "gridswarm/wasm/random_get/v1"
	// wallEpoch is where the virtual wall clock starts:
	// 2024-01-01T00:00:00Z, in Unix seconds.
	wallEpoch = 1704067200
	// clockTick is how far the virtual clocks move per reading, so a guest
	// polling the clock in a loop still sees time pass.
	clockTick = 1000 // ns
)

// seededRandom returns the random_get stream for seed, as documented in
// the package ABI.
func seededRandom(seed uint64) io.Reader {
	h := sha256.New()
	h.Write([]byte(randomDomain))
	h.Write(binary.BigEndian.AppendUint64(nil, seed))
	var key [32]byte
	copy(key[:], h.Sum(nil))
	return rand.NewChaCha8(key)
}

// virtualClock is the monotonic and wall clock of one run: deterministic,
// advancing only when read or slept on.
type virtualClock struct {
	ns atomic.Int64 // nanoseconds since the run started
}

func (c *virtualClock) nanotime() int64 { return c.ns.Add(clockTick) }

func (c *virtualClock) walltime() (int64, int32) {
	n := c.ns.Add(clockTick)
	return wallEpoch + n/1e9, int32(n % 1e9)
}

// nanosleep returns at once and moves time forward, so a sleeping guest
// wakes up deterministically and costs no wall time.
func (c *virtualClock) nanosleep(ns int64) {
	if ns > 0 {
		c.ns.Add(ns)
	}
}

// capture keeps the first max bytes written to it and counts the rest.
// It never fails a write: a chatty tasklet must not crash on a full log.
type capture struct {
	max int

	mu      sync.Mutex
	buf     []byte
	dropped int64
}

func newCapture(max int) *capture { return &capture{max: max} }

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := max(0, c.max-len(c.buf))
	keep := min(room, len(p))
	c.buf = append(c.buf, p[:keep]...)
	c.dropped += int64(len(p) - keep)
	return len(p), nil
}

// Bytes returns what was kept, followed by a marker if anything was dropped.
func (c *capture) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]byte(nil), c.buf...)
	if c.dropped > 0 {
		out = fmt.Appendf(out, "\n[gridswarm: output truncated, %d more bytes dropped]\n", c.dropped)
	}
	return out
}

// sandbox is the per-run state the guest's host calls touch.
type sandbox struct {
	stdout, stderr *capture
	clock          virtualClock
	memory         *memoryGuard
	output         *outputBudget
}

func newSandbox(o Options) *sandbox {
	return &sandbox{
		stdout: newCapture(MaxCaptureBytes),
		stderr: newCapture(MaxCaptureBytes),
		memory: newMemoryGuard(o.MemoryLimitPages),
		output: newOutputBudget(o.MaxOutputBytes),
	}
}

// moduleConfig builds the guest's whole world. Anything not set here is
// wazero's sandboxed default: no stdin, no preopened sockets.
func (s *sandbox) moduleConfig(t Task) wazero.ModuleConfig {
	fsc := wazero.NewFSConfig().WithReadOnlyDirMount(t.InputDir, "/in")
	out := &outFS{FS: sysfs.DirFS(t.OutputDir), budget: s.output}
	fsc = fsc.(sysfs.FSConfig).WithSysFSMount(out, "/out")
	return wazero.NewModuleConfig().
		WithName("").         // anonymous, so one compiled module can run concurrently
		WithStartFunctions(). // Run calls _start itself, to tell start-up errors from traps
		WithArgs(append([]string{Argv0}, t.Args...)...).
		WithEnv(SeedEnv, strconv.FormatUint(t.Seed, 10)).
		WithStdout(s.stdout).
		WithStderr(s.stderr).
		WithRandSource(seededRandom(t.Seed)).
		WithWalltime(s.clock.walltime, sys.ClockResolution(clockTick)).
		WithNanotime(s.clock.nanotime, sys.ClockResolution(clockTick)).
		WithNanosleep(s.clock.nanosleep).
		WithOsyield(func() {}).
		WithFSConfig(fsc)
}

var _ experimentalsys.FS = (*outFS)(nil)
