package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// Defaults for zero Options fields.
const (
	DefaultMemoryLimitPages = 4096 // 256 MiB
	DefaultTimeout          = 5 * time.Minute
	DefaultMaxOutputBytes   = 1 << 30

	// maxArgsBytes caps the total size of Task.Args.
	maxArgsBytes = 64 << 10
)

// Options configure an Executor. Zero fields take the defaults above.
type Options struct {
	// MemoryLimitPages caps a tasklet's linear memory, in 64 KiB pages
	// (default 4096 = 256 MiB, at most 65536 = 4 GiB).
	MemoryLimitPages uint32
	// Timeout caps one run's wall time from instantiation to exit (default
	// 5m). Compiling a module the executor has not seen is not counted; it
	// is bounded by MaxModuleBytes instead.
	Timeout time.Duration
	// MaxOutputBytes caps the total size of /out (default 1 GiB).
	MaxOutputBytes int64
	// CacheDir, if set, keeps compiled machine code on disk across
	// restarts. It is keyed by wazero's version and must not be shared with
	// untrusted writers: its contents are executed.
	CacheDir string
}

func (o Options) withDefaults() (Options, error) {
	if o.MemoryLimitPages == 0 {
		o.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if o.MemoryLimitPages > 65536 {
		return o, fmt.Errorf("wasm options: memory limit of %d pages is over the 65536 pages (4 GiB) wasm32 can address", o.MemoryLimitPages)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		return o, fmt.Errorf("wasm options: timeout %s is negative; use 0 for the default", o.Timeout)
	}
	if o.MaxOutputBytes == 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.MaxOutputBytes < 0 {
		return o, fmt.Errorf("wasm options: output limit %d is negative; use 0 for the default", o.MaxOutputBytes)
	}
	return o, nil
}

// Task is one tasklet run.
type Task struct {
	Module    []byte   // the .wasm, at most MaxModuleBytes
	Args      []string // argv[1:]; argv[0] is Argv0
	Seed      uint64   // the only source of randomness, see the package doc
	InputDir  string   // host directory mounted read-only at /in
	OutputDir string   // host directory mounted at /out; must exist and be empty
}

// Result is what a run produced. Run fills it as far as the run got, also
// when it returns an error.
type Result struct {
	ExitCode    uint32        // the guest's exit code; 0 unless it exited by itself
	Stdout      []byte        // at most MaxCaptureBytes, then a truncation marker
	Stderr      []byte        // likewise
	Duration    time.Duration // instantiation and execution, not compilation
	OutputBytes int64         // total size of the files in /out after the run
	MemoryBytes uint64        // the largest linear memory the guest was given
}

// Executor runs wasm tasklets. It is safe for concurrent use; each Run gets
// its own instance, file systems, clock and random stream.
type Executor struct {
	opts    Options
	runtime wazero.Runtime
	disk    wazero.CompilationCache // nil without CacheDir
	modules *moduleCache

	mu     sync.RWMutex // Run holds it shared, Close exclusively
	closed bool

	// compileMu serialises cache misses. wazero keys compiled code by the
	// module's hash, so two compilations of one binary share it, and closing
	// the loser of a race would unregister the code the winner still runs.
	compileMu sync.Mutex
}

// New starts a wazero runtime with WASI preview 1 as its only host module.
func New(ctx context.Context, opts Options) (*Executor, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// wazero's own memory limit stays at its 4 GiB default: memoryGuard
	// enforces ours, so that it sees the growth it refuses.
	cfg := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithCoreFeatures(features)
	e := &Executor{opts: opts, modules: newModuleCache(moduleCacheSize)}
	if opts.CacheDir != "" {
		if e.disk, err = wazero.NewCompilationCacheWithDir(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("open wasm compilation cache %s: %w; fix its permissions or unset CacheDir", opts.CacheDir, err)
		}
		cfg = cfg.WithCompilationCache(e.disk)
	}
	e.runtime = wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.runtime); err != nil {
		_ = e.Close(ctx)
		return nil, fmt.Errorf("instantiate wasi host module: %w", err)
	}
	return e, nil
}

// Close waits for running tasklets to finish, then releases compiled code
// and the runtime. Run fails after Close.
func (e *Executor) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.modules.closeAll(ctx)
	err := e.runtime.Close(ctx)
	if e.disk != nil {
		err = errors.Join(err, e.disk.Close(ctx))
	}
	if err != nil {
		return fmt.Errorf("close wasm executor: %w", err)
	}
	return nil
}

// Run executes one tasklet to completion. A nil error means exit code 0 and
// an output within limits. Otherwise the error wraps one of ErrBadTask,
// ErrBadModule, ErrTimeout, ErrMemoryLimit, ErrOutputTooLarge,
// ErrUnsafeOutput or ErrTrap, or is an *ExitError for a non-zero exit, or
// wraps ctx.Err() when the caller cancelled. After an error the contents
// of OutputDir are unspecified and should be discarded.
func (e *Executor) Run(ctx context.Context, t Task) (Result, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return Result{}, errors.New("run wasm tasklet: executor is closed")
	}
	if err := checkTask(t); err != nil {
		return Result{}, err
	}
	mod, err := e.compile(ctx, t.Module)
	if err != nil {
		return Result{}, err
	}
	defer e.modules.release(ctx, mod)

	sb := newSandbox(e.opts)
	start := time.Now()
	runErr, cancelled := e.execute(ctx, mod.mod, sb, t)
	res := Result{
		Duration:    time.Since(start),
		Stdout:      sb.stdout.Bytes(),
		Stderr:      sb.stderr.Bytes(),
		MemoryBytes: sb.memory.Peak(),
	}
	res.ExitCode, err = classify(outcome{
		err:           runErr,
		cancelled:     cancelled,
		limits:        limits{memoryPages: e.opts.MemoryLimitPages, timeout: e.opts.Timeout.String()},
		memRefused:    sb.memory.Refused(),
		outputRefused: sb.output.Refused(),
		stderr:        res.Stderr,
	})
	if err != nil {
		return res, err
	}
	res.OutputBytes, err = measureOutput(t.OutputDir, e.opts.MaxOutputBytes)
	return res, err
}

// checkTask validates everything about t that needs no compiling.
func checkTask(t Task) error {
	if len(t.Module) > MaxModuleBytes {
		return fmt.Errorf("%w: module is %s, over the %s limit; strip debug sections or shrink it",
			ErrBadModule, byteSize(uint64(len(t.Module))), byteSize(MaxModuleBytes))
	}
	n := 0
	for i, a := range t.Args {
		if a == "" || strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%w: argument %d is empty or contains a NUL byte; WASI cannot pass it", ErrBadTask, i+1)
		}
		n += len(a) + 1
	}
	if n > maxArgsBytes {
		return fmt.Errorf("%w: arguments take %d bytes, over the %d limit; pass large data as an input file",
			ErrBadTask, n, maxArgsBytes)
	}
	return checkDirs(t.InputDir, t.OutputDir)
}

// compile returns the compiled module for bin from the cache or compiles,
// checks and caches it. The caller releases the entry.
func (e *Executor) compile(ctx context.Context, bin []byte) (*cachedModule, error) {
	key := sha256.Sum256(bin)
	if m := e.modules.acquire(key); m != nil {
		return m, nil
	}
	e.compileMu.Lock()
	defer e.compileMu.Unlock()
	if m := e.modules.acquire(key); m != nil {
		return m, nil // compiled by the run we waited for
	}
	mod, err := e.runtime.CompileModule(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("%w: compile: %v; check that it is a valid WebAssembly binary", ErrBadModule, err)
	}
	if err := checkModule(bin, mod, e.opts.MemoryLimitPages); err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	return e.modules.add(ctx, key, mod), nil
}

func checkModule(bin []byte, mod wazero.CompiledModule, memoryLimitPages uint32) error {
	if err := checkCommand(mod); err != nil {
		return err
	}
	s, err := inspect(bin)
	if err != nil {
		return fmt.Errorf("%w: read its sections: %v", ErrBadModule, err)
	}
	return checkShape(s, memoryLimitPages)
}

// execute instantiates mod and calls _start under the run's deadline. It
// returns the run's error and, separately, the caller's context error if
// the caller ended the run.
func (e *Executor) execute(ctx context.Context, mod wazero.CompiledModule, sb *sandbox, t Task) (runErr, cancelled error) {
	// The guest's context starts empty, so nothing the caller put in ctx
	// (an experimental socket config, say) can reach the module; only
	// cancellation is carried over.
	runCtx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	runCtx = experimental.WithMemoryAllocator(runCtx, sb.memory)

	defer func() {
		// A panic in wazero while running a stranger's code must not take
		// the worker down.
		if r := recover(); r != nil {
			runErr = fmt.Errorf("%w: the wasm runtime panicked: %v", ErrTrap, r)
		}
		if runErr != nil {
			cancelled = ctx.Err()
		}
	}()
	inst, err := e.runtime.InstantiateModule(runCtx, mod, sb.moduleConfig(t))
	if err != nil {
		if runCtx.Err() != nil {
			return err, nil // wazero reports the deadline as an exit error
		}
		return fmt.Errorf("%w: instantiate: %v", ErrBadModule, err), nil
	}
	defer inst.Close(context.Background())
	_, err = inst.ExportedFunction("_start").Call(runCtx)
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil // proc_exit(0), which Go's wasip1 runtime always calls
	}
	return err, nil
}
