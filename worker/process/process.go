package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultTimeout   = time.Hour
	DefaultFileSize  = 8 << 30 // RLIMIT_FSIZE, bytes
	DefaultMaxOutput = 8 << 30 // total bytes under out/
	DefaultOpenFiles = 1024    // RLIMIT_NOFILE
	// DefaultMaxProcesses is the cgroup's pids.max: processes and threads
	// of the whole tree (PyTorch starts a thread per core).
	DefaultMaxProcesses = 512
)

// MaxStdio is how much of the end of stdout and of stderr a Result keeps.
const MaxStdio = 64 << 10

// Limits on a Task, which comes from the network.
const (
	maxArgs      = 4096
	maxArgBytes  = 128 << 10 // argv in total
	maxInputs    = 1024
	maxNameBytes = 255
)

// safePath is the child's PATH: system directories only, never the
// daemon's own PATH.
const safePath = "/usr/local/bin:/usr/bin:/bin"

// waitDelay bounds how long Run waits for output pipes that a leftover
// grandchild keeps open after the command itself exited.
const waitDelay = time.Second

// Errors of Run and New. ExitError wraps ErrCPULimit and ErrFileSizeLimit.
var (
	ErrDisabled       = errors.New("the process executor is off: set worker.process.enabled = true and list commands in worker.process.allow")
	ErrNotAllowed     = errors.New("command not allowed")
	ErrTimeout        = errors.New("tasklet timed out")
	ErrOutputTooLarge = errors.New("tasklet output too large")
	ErrBadOutput      = errors.New("tasklet output holds something other than files and folders")
	ErrCPULimit       = errors.New("CPU time limit exceeded")
	ErrFileSizeLimit  = errors.New("file size limit exceeded")
)

// errTimedOut is the cause Run's own deadline carries, to tell it from the
// caller's.
var errTimedOut = errors.New("process executor timeout")

// Config is the contributor's [worker.process] section.
type Config struct {
	Enabled        bool
	Allow          []string      // bare command names (looked up in the fixed PATH) or absolute paths
	Timeout        time.Duration // wall clock per tasklet; 0 = DefaultTimeout
	CPUSeconds     uint64        // RLIMIT_CPU; 0 = no limit (SIGXCPU at the limit, SIGKILL a second later)
	MemoryBytes    uint64        // RLIMIT_AS; 0 = no limit (CUDA needs none)
	FileSizeBytes  uint64        // RLIMIT_FSIZE; 0 = DefaultFileSize
	OpenFiles      uint64        // RLIMIT_NOFILE; 0 = DefaultOpenFiles
	MaxOutputBytes int64         // total size of out/; 0 = DefaultMaxOutput
	GPUs           []int         // NVML indexes a tasklet may use; none = GPUs hidden
	ScratchRoot    string        // where scratch dirs are made; "" = os.TempDir()

	// The sandbox (sandbox_linux.go). Commands run in bubblewrap unless
	// Unsandboxed, which gives them the daemon's user's reach: only for
	// hosts without user namespaces and submitters the contributor trusts.
	Unsandboxed  bool
	Runtime      []string // host paths visible read-only; empty = DefaultRuntime
	Bwrap        string   // bubblewrap binary; "" = bwrap on the fixed PATH
	MaxProcesses int      // pids.max of the tasklet's cgroup; 0 = DefaultMaxProcesses
	CPUs         float64  // CPU bandwidth of the whole tree in cores; 0 = no limit
	CgroupRoot   string   // a delegated cgroup v2 folder; "" = found automatically
}

// Task is one command to run.
type Task struct {
	Command []string          // argv; argv[0] must be on the allowlist
	Inputs  map[string]string // file name in in/ → host file, copied read-only
	Seed    uint64            // GRIDSWARM_SEED
	GPUs    []int             // subset of Config.GPUs for this task; nil = all of them
}

// Result is what a run left behind.
type Result struct {
	ExitCode   int    // -1 when killed by a signal
	Stdout     []byte // the last MaxStdio bytes
	Stderr     []byte // the last MaxStdio bytes
	Duration   time.Duration
	CPUTime    time.Duration // user + system time of the command and the children it waited for
	OutputDir  string        // scratch/out after success; the caller moves what it wants, then calls Cleanup
	ScratchDir string        // "" once removed
}

// Cleanup removes the scratch dir, read-only parts included. It is safe to
// call more than once.
func (r *Result) Cleanup() error {
	if r.ScratchDir == "" {
		return nil
	}
	if err := forceRemove(r.ScratchDir); err != nil {
		return fmt.Errorf("remove scratch dir %s: %w", r.ScratchDir, err)
	}
	r.ScratchDir, r.OutputDir = "", ""
	return nil
}

// ExitError reports a command that failed: a non-zero status or a signal.
type ExitError struct {
	Code   int            // exit status; -1 when killed by a signal
	Signal syscall.Signal // 0 unless killed by a signal
	Limit  error          // ErrCPULimit or ErrFileSizeLimit when a limit killed it, else nil
}

func (e *ExitError) Error() string {
	switch {
	case e.Limit != nil:
		return fmt.Sprintf("command killed by %s: %v", signalName(e.Signal), e.Limit)
	case e.Signal != 0:
		return "command killed by " + signalName(e.Signal)
	default:
		return "command exited with status " + strconv.Itoa(e.Code)
	}
}

func (e *ExitError) Unwrap() error { return e.Limit }

// Error strings name the limit first, as it is the reason a user needs.

// Executor runs allowed commands. It is safe for concurrent use.
type Executor struct {
	cfg     Config
	allow   []allowed
	bwrap   string      // "" when unsandboxed
	runtime []string    // read-only binds of the sandbox
	cgroups *cgroupRoot // nil: rlimits only
}

// New checks cfg and resolves its allowlist. A disabled executor is valid:
// its Run returns ErrDisabled.
func New(cfg Config) (*Executor, error) {
	if !cfg.Enabled {
		return &Executor{cfg: cfg}, nil
	}
	if err := supported(); err != nil {
		return nil, err
	}
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	allow, err := resolveAllow(cfg.Allow)
	if err != nil {
		return nil, err
	}
	e := &Executor{cfg: cfg, allow: allow}
	if cfg.Unsandboxed {
		return e, nil
	}
	if e.bwrap, err = findBwrap(cfg.Bwrap); err != nil {
		return nil, err
	}
	if e.runtime, err = checkRuntime(cfg.Runtime, allow); err != nil {
		return nil, err
	}
	if e.cgroups, err = findCgroupRoot(cfg.CgroupRoot); err != nil {
		return nil, err
	}
	return e, nil
}

// Isolation says how commands run: in bubblewrap or not, and what bounds
// the whole process tree (a cgroup, or rlimits per process only).
func (e *Executor) Isolation() string {
	switch {
	case !e.cfg.Enabled:
		return "off"
	case e.bwrap == "":
		return "unsandboxed, rlimits per process"
	}
	return "bubblewrap sandbox (" + e.bwrap + "), limits by " + e.cgroups.describe()
}

// checkConfig validates cfg and fills in defaults.
func checkConfig(cfg *Config) error {
	if len(cfg.Allow) == 0 {
		return errors.New("worker.process is enabled but worker.process.allow is empty: list the commands tasklets may run, e.g. [\"python3\"]")
	}
	if cfg.Timeout < 0 || cfg.MaxOutputBytes < 0 {
		return errors.New("worker.process: timeout and max output must not be negative")
	}
	seen := map[int]bool{}
	for _, g := range cfg.GPUs {
		if g < 0 || seen[g] {
			return fmt.Errorf("worker.process.gpus: %v: want distinct GPU indexes from 0, as nvidia-smi numbers them", cfg.GPUs)
		}
		seen[g] = true
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.FileSizeBytes == 0 {
		cfg.FileSizeBytes = DefaultFileSize
	}
	if cfg.OpenFiles == 0 {
		cfg.OpenFiles = DefaultOpenFiles
	}
	if cfg.MaxOutputBytes == 0 {
		cfg.MaxOutputBytes = DefaultMaxOutput
	}
	if cfg.ScratchRoot == "" {
		cfg.ScratchRoot = os.TempDir()
	}
	if cfg.MaxProcesses < 0 || !(cfg.CPUs >= 0) {
		return errors.New("worker.process: max_processes and cpus must not be negative")
	}
	if cfg.MaxProcesses == 0 {
		cfg.MaxProcesses = DefaultMaxProcesses
	}
	return nil
}

// Enabled reports whether the contributor turned the executor on.
func (e *Executor) Enabled() bool { return e.cfg.Enabled }

// Run runs t in a fresh scratch dir and waits for it. On success the
// outputs are in Result.OutputDir and the caller must call Result.Cleanup.
// On any error the scratch dir is already gone, but the Result still holds
// what is known (exit code, output tails, duration).
//
// Errors: ErrDisabled, ErrNotAllowed, ErrTimeout (Config.Timeout passed),
// ErrOutputTooLarge, ErrBadOutput, an *ExitError (wrapping ErrCPULimit or
// ErrFileSizeLimit when a limit killed the command), or ctx's error.
func (e *Executor) Run(ctx context.Context, t Task) (Result, error) {
	if !e.cfg.Enabled {
		return Result{}, ErrDisabled
	}
	path, err := e.checkTask(t)
	if err != nil {
		return Result{}, err
	}
	gpus := e.cfg.GPUs
	if t.GPUs != nil {
		gpus = t.GPUs
	}
	sc, err := newScratch(e.cfg.ScratchRoot, t.Inputs)
	if err != nil {
		return Result{}, err
	}
	res := Result{ScratchDir: sc.dir}
	err = e.run(ctx, path, t, sc, gpus, &res)
	if err == nil {
		err = checkOutput(sc.out, e.cfg.MaxOutputBytes)
	}
	if err != nil {
		if cerr := res.Cleanup(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return res, err
	}
	res.OutputDir = sc.out
	return res, nil
}

// checkTask validates t and returns the program to run.
func (e *Executor) checkTask(t Task) (string, error) {
	if len(t.Command) == 0 || len(t.Command) > maxArgs {
		return "", fmt.Errorf("%w: the command has %d arguments, want 1 to %d", ErrNotAllowed, len(t.Command), maxArgs)
	}
	n := 0
	for _, a := range t.Command {
		n += len(a)
		if strings.IndexByte(a, 0) >= 0 {
			return "", fmt.Errorf("%w: an argument holds a NUL byte", ErrNotAllowed)
		}
	}
	if n > maxArgBytes {
		return "", fmt.Errorf("%w: arguments total %d bytes, over the %d-byte limit", ErrNotAllowed, n, maxArgBytes)
	}
	path, err := e.lookup(t.Command[0])
	if err != nil {
		return "", err
	}
	for _, g := range t.GPUs {
		if !slices.Contains(e.cfg.GPUs, g) {
			return "", fmt.Errorf("%w: the task asks for GPU %d, which is not in worker.process.gpus %v", ErrNotAllowed, g, e.cfg.GPUs)
		}
	}
	if len(t.Inputs) > maxInputs {
		return "", fmt.Errorf("%w: %d inputs, over the limit of %d", ErrNotAllowed, len(t.Inputs), maxInputs)
	}
	for name := range t.Inputs {
		if err := checkName(name); err != nil {
			return "", fmt.Errorf("%w: %w", ErrNotAllowed, err)
		}
	}
	return path, nil
}

// shimScript holds a sandboxed command until Run has put it in its cgroup
// and set its rlimits: it waits for a byte on fd 3, then becomes bwrap.
// If the daemon dies first, the read fails and nothing runs.
const shimScript = `read -r _ <&3 || exit 125; exec 3<&-; exec "$@"`

// run starts the command, applies the limits and waits for it.
func (e *Executor) run(ctx context.Context, path string, t Task, sc scratch, gpus []int, res *Result) error {
	runCtx, cancel := context.WithTimeoutCause(ctx, e.cfg.Timeout, errTimedOut)
	defer cancel()
	var cmd *exec.Cmd
	var release *os.File // sandboxed: closing it without a write aborts the shim
	var cg *cgroup
	if e.bwrap == "" {
		cmd = exec.CommandContext(runCtx, path, t.Command[1:]...)
		cmd.Args[0] = path // interpreters such as a venv's python find their home from argv[0]
		cmd.Env = sc.env(t.Seed, gpus)
	} else {
		argv := bwrapArgs(e.bwrap, e.runtime, sc, gpus, path, t.Command[1:])
		cmd = exec.CommandContext(runCtx, "/bin/sh", append([]string{"-c", shimScript, "gridswarm-sandbox"}, argv...)...)
		cmd.Env = sc.sandboxEnv(t.Seed, gpus)
		r, w, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("start %s: %w", path, err)
		}
		defer r.Close()
		defer w.Close()
		cmd.ExtraFiles, release = []*os.File{r}, w
		if e.cgroups != nil {
			lim := cgroupLimits{memory: e.cfg.MemoryBytes, processes: e.cfg.MaxProcesses, cpus: e.cfg.CPUs}
			if cg, err = e.cgroups.create(filepath.Base(sc.dir), lim); err != nil {
				return fmt.Errorf("sandbox %s: %w", path, err)
			}
			defer func() { _ = cg.remove(context.WithoutCancel(ctx)) }()
		}
	}
	cmd.Dir = sc.dir
	stdout, stderr := &tailBuffer{max: MaxStdio}, &tailBuffer{max: MaxStdio}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = waitDelay

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", path, err)
	}
	pid := cmd.Process.Pid
	err := applyLimits(pid, e.cfg, cg == nil)
	if err == nil && cg != nil {
		err = cg.add(pid)
	}
	if err == nil && release != nil {
		_, err = release.Write([]byte("\n"))
	}
	if err != nil {
		_ = killGroup(pid)
		_ = cmd.Wait()
		return fmt.Errorf("limit %s: %w", path, err)
	}
	waitErr := cmd.Wait()
	res.Duration = time.Since(start)
	// Whatever the command left running in its group. The group's id
	// cannot be handed to another process while any member lives; with
	// none left, the kill finds nothing (barring a PID wrap-around within
	// microseconds). In the sandbox, bwrap's death takes its pid
	// namespace down, and the cgroup is emptied before it is removed.
	_ = killGroup(pid)
	res.Stdout, res.Stderr = stdout.bytes(), stderr.bytes()

	ps := cmd.ProcessState
	if ps == nil {
		return fmt.Errorf("wait for %s: %w", path, waitErr)
	}
	res.CPUTime = ps.UserTime() + ps.SystemTime()
	res.ExitCode = ps.ExitCode()
	var oom, forks uint64
	if cg != nil {
		oom, forks = cg.limitsHit()
		// bwrap's rusage misses what its pid namespace's init reaped.
		if c, ok := cg.cpuTime(); ok && c > res.CPUTime {
			res.CPUTime = c
		}
	}
	switch {
	case ps.Success():
		return nil // finished, even if a deadline passed at the same moment
	case context.Cause(runCtx) == errTimedOut:
		err := fmt.Errorf("run %s: %w after %v: raise worker.process.timeout or give the tasklet fewer steps", path, ErrTimeout, e.cfg.Timeout)
		if forks > 0 {
			err = fmt.Errorf("%w; it had hit %w (%d forks refused at %d)", err, ErrProcessLimit, forks, e.cfg.MaxProcesses)
		}
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("run %s: %w", path, ctx.Err())
	}
	xe := e.exitError(ps, res.CPUTime)
	if xe.Signal != 0 {
		res.ExitCode = -1
	}
	switch {
	case oom > 0:
		xe.Limit = fmt.Errorf("%w (worker.process.memory_mb = %d)", ErrMemoryLimit, e.cfg.MemoryBytes>>20)
	case forks > 0:
		xe.Limit = fmt.Errorf("%w (%d forks refused at worker.process.max_processes = %d)", ErrProcessLimit, forks, e.cfg.MaxProcesses)
	}
	return xe
}

// exitError describes a failed command, naming the limit that killed it.
// bwrap reports a command killed by signal s as exit status 128+s.
func (e *Executor) exitError(ps *os.ProcessState, cpu time.Duration) *ExitError {
	xe := &ExitError{Code: ps.ExitCode()}
	sig, ok := exitSignal(ps)
	if !ok && e.bwrap != "" && xe.Code > 128 && xe.Code <= 128+64 {
		sig, ok = syscall.Signal(xe.Code-128), true
	}
	if ok {
		xe.Signal = sig
		xe.Limit = limitHit(sig, e.cfg, cpu)
	}
	return xe
}

// checkName accepts an input file name: one path element, no tricks.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("input name %q is not a file name", name)
	case len(name) > maxNameBytes:
		return fmt.Errorf("input name of %d bytes is over the %d-byte limit", len(name), maxNameBytes)
	case strings.ContainsAny(name, "/\x00") || filepath.Base(name) != name:
		return fmt.Errorf("input name %q must be a plain file name, without / or NUL", name)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > b.max {
		p = p[len(p)-b.max:]
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max { // trim rarely, so writes stay amortised O(1)
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return n, nil
}

func (b *tailBuffer) bytes() []byte {
	if len(b.buf) > b.max {
		return slices.Clone(b.buf[len(b.buf)-b.max:])
	}
	return slices.Clone(b.buf)
}
