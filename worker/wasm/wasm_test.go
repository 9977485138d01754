package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// taskletResult mirrors result.json written by examples/wasm-tasklet.
type taskletResult struct {
	Inputs map[string]string `json:"inputs"`
	Args   []string          `json:"args"`
	Seed   string            `json:"seed"`
	Random string            `json:"random"`
}

func readResult(t *testing.T, out string) ([]byte, taskletResult) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatalf("read result.json: %v", err)
	}
	var r taskletResult
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("decode result.json %q: %v", raw, err)
	}
	return raw, r
}

func TestRunWellBehaved(t *testing.T) {
	bin := tasklet(t)
	e := newExecutor(t, Options{})
	inputs := map[string]string{
		"weights.safetensors": "not really weights",
		"shard-0.bin":         strings.Repeat("\x00\x01\x02", 1000),
		"meta/manifest.json":  `{"shards":1}`,
	}
	in, out := taskDirs(t, inputs)
	args := []string{"hello", "two words", "--flag=1"}

	res, err := e.Run(context.Background(), Task{Module: bin, Args: args, Seed: 42, InputDir: in, OutputDir: out})
	if err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, res.Stderr)
	}
	raw, got := readResult(t, out)

	want := map[string]string{}
	for name, content := range inputs {
		sum := sha256.Sum256([]byte(content))
		want[name] = hex.EncodeToString(sum[:])
	}
	if !reflect.DeepEqual(got.Inputs, want) {
		t.Errorf("input hashes = %v, want %v", got.Inputs, want)
	}
	if !reflect.DeepEqual(got.Args, args) {
		t.Errorf("args = %q, want %q", got.Args, args)
	}
	if got.Seed != "42" {
		t.Errorf("seed seen by tasklet = %q, want %q", got.Seed, "42")
	}
	if len(got.Random) != 8 {
		t.Errorf("random = %q, want 4 bytes as hex", got.Random)
	}
	if want := "hashed 3 inputs\n"; string(res.Stdout) != want {
		t.Errorf("stdout = %q, want %q", res.Stdout, want)
	}
	if res.ExitCode != 0 || res.OutputBytes != int64(len(raw)) {
		t.Errorf("exit code %d, output bytes %d; want 0 and %d", res.ExitCode, res.OutputBytes, len(raw))
	}
	if res.MemoryBytes == 0 || res.MemoryBytes > pagesToBytes(DefaultMemoryLimitPages) {
		t.Errorf("memory bytes = %d, want within (0, %d]", res.MemoryBytes, pagesToBytes(DefaultMemoryLimitPages))
	}
	if after := readTree(t, in); !reflect.DeepEqual(after, inputs) {
		t.Errorf("inputs changed by the run: %v", after)
	}
}

func TestRunDeterministic(t *testing.T) {
	bin := tasklet(t)
	e := newExecutor(t, Options{})
	run := func(seed uint64) []byte {
		in, out := taskDirs(t, map[string]string{"x": "same input"})
		res, err := e.Run(context.Background(), Task{Module: bin, Args: []string{"a"}, Seed: seed, InputDir: in, OutputDir: out})
		if err != nil {
			t.Fatalf("Run(seed %d): %v\nstderr: %s", seed, err, res.Stderr)
		}
		raw, _ := readResult(t, out)
		return raw
	}
	a1, a2, b := run(7), run(7), run(8)
	if !bytes.Equal(a1, a2) {
		t.Errorf("same seed gave different results:\n%s\n%s", a1, a2)
	}
	var ra, rb taskletResult
	if err := errors.Join(json.Unmarshal(a1, &ra), json.Unmarshal(b, &rb)); err != nil {
		t.Fatal(err)
	}
	if ra.Random == rb.Random {
		t.Errorf("seeds 7 and 8 gave the same random bytes %s", ra.Random)
	}
}

// TestRunSleep shows guest time is virtual: an hour-long sleep ends at
// once and reports exactly an hour.
func TestRunSleep(t *testing.T) {
	e := newExecutor(t, Options{Timeout: 10 * time.Second})
	in, out := taskDirs(t, nil)
	res, err := e.Run(context.Background(), Task{Module: tasklet(t), Args: []string{"sleep"}, InputDir: in, OutputDir: out})
	if err != nil {
		t.Fatalf("Run(sleep): %v\nstderr: %s", err, res.Stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "slept.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "slept 1h0m0s\n"; string(b) != want {
		t.Errorf("slept.txt = %q, want %q", b, want)
	}
	if res.Duration > 5*time.Second {
		t.Errorf("a virtual hour took %s of real time", res.Duration)
	}
}

// TestRunSocket dials a real listener on loopback from inside the guest
// and checks that nothing reached it.
func TestRunSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := newExecutor(t, Options{})
	in, out := taskDirs(t, nil)
	res, err := e.Run(context.Background(), Task{Module: tasklet(t), Args: []string{"socket", ln.Addr().String()}, InputDir: in, OutputDir: out})

	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("Run(socket) error = %v, want *ExitError with code 1", err)
	}
	if !strings.Contains(exit.StderrTail, "dial tcp "+ln.Addr().String()) || !strings.Contains(err.Error(), "dial tcp") {
		t.Errorf("error %q / stderr %q does not show the failed dial", err, res.Stderr)
	}
	// A connection, had one been made, would wait in the backlog.
	if err := ln.(*net.TCPListener).SetDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatalf("the guest connected to %s", ln.Addr())
	}
}

// TestRunFailures covers each way a misbehaving tasklet is stopped.
func TestRunFailures(t *testing.T) {
	bin := tasklet(t)
	tests := []struct {
		name    string
		opts    Options
		args    []string
		want    error  // sentinel, or nil for *ExitError
		stderr  string // substring of the stderr tail
		maxTime time.Duration
	}{
		{name: "alloc", opts: Options{MemoryLimitPages: 512}, args: []string{"alloc"},
			want: ErrMemoryLimit, stderr: "fatal error: out of memory", maxTime: 10 * time.Second},
		{name: "loop", opts: Options{Timeout: 2 * time.Second}, args: []string{"loop"},
			want: ErrTimeout, maxTime: 3500 * time.Millisecond},
		{name: "big-output", opts: Options{MaxOutputBytes: 1 << 20}, args: []string{"big-output", "3"},
			want: ErrOutputTooLarge, stderr: "write MiB 1", maxTime: 10 * time.Second},
		{name: "write-in", args: []string{"write-in"}, stderr: "/in is read-only as expected", maxTime: 10 * time.Second},
		{name: "symlink-escape", args: []string{"symlink-escape", "../secret.txt"},
			stderr: "symlink refused", maxTime: 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newExecutor(t, tc.opts)
			inputs := map[string]string{"a.txt": "original a"}
			in, out := taskDirs(t, inputs)
			secret := filepath.Join(filepath.Dir(out), "secret.txt")
			if err := os.WriteFile(secret, []byte("host secret"), 0o644); err != nil {
				t.Fatal(err)
			}
			// Compile (or load from the disk cache) before timing the run.
			warmIn, warmOut := taskDirs(t, nil)
			if _, err := e.Run(context.Background(), Task{Module: bin, Args: []string{"noop"}, InputDir: warmIn, OutputDir: warmOut}); err != nil {
				t.Fatalf("warm-up run: %v", err)
			}
			start := time.Now()
			res, err := e.Run(context.Background(), Task{Module: bin, Args: tc.args, InputDir: in, OutputDir: out})
			took := time.Since(start)

			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Run(%v) error = %v, want %v", tc.args, err, tc.want)
			}
			var exit *ExitError
			if tc.want == nil && (!errors.As(err, &exit) || exit.Code != 1) {
				t.Fatalf("Run(%v) error = %v, want *ExitError with code 1", tc.args, err)
			}
			if !strings.Contains(err.Error(), tc.stderr) {
				t.Errorf("error %q does not contain %q", err, tc.stderr)
			}
			if took > tc.maxTime {
				t.Errorf("took %s, want under %s", took, tc.maxTime)
			}
			if res.MemoryBytes > pagesToBytes(e.opts.MemoryLimitPages) {
				t.Errorf("guest got %d bytes of memory, over the %d limit", res.MemoryBytes, pagesToBytes(e.opts.MemoryLimitPages))
			}
			if after := readTree(t, in); !reflect.DeepEqual(after, inputs) {
				t.Errorf("inputs after the run = %v, want %v", after, inputs)
			}
			if _, err := os.Lstat(filepath.Join(out, "escape")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("/out/escape exists after the run (lstat: %v)", err)
			}
		})
	}
}

// TestRunModules covers hand-assembled modules: what is rejected before
// running and how language-independent failures are classified.
func TestRunModules(t *testing.T) {
	e := newExecutor(t, Options{MemoryLimitPages: 16, Timeout: time.Second})
	tests := []struct {
		name   string
		module []byte
		want   error // nil: success
		msg    string
	}{
		{"empty command", modSpec{memMin: 1}.bytes(), nil, ""},
		{"garbage", []byte("this is not wasm at all"), ErrBadModule, "compile"},
		{"empty bytes", nil, ErrBadModule, "compile"},
		{"too large", make([]byte, MaxModuleBytes+1), ErrBadModule, "over the 64 MiB limit"},
		{"reactor", modSpec{noStart: true}.bytes(), ErrBadModule, "no _start"},
		{"no memory", modSpec{noMemory: true}.bytes(), ErrBadModule, "no memory"},
		{"foreign import", modSpec{imports: []string{"env.abort"}}.bytes(), ErrBadModule, "imports env.abort"},
		{"wrong wasi signature", modSpec{imports: []string{"wasi_snapshot_preview1.proc_exit"}}.bytes(), ErrBadModule, "instantiate"},
		{"huge minimum memory", modSpec{memMin: 17}.bytes(), ErrMemoryLimit, "declares a minimum of 1.06 MiB"},
		{"huge table", modSpec{tableMin: maxTableEntries + 1}.bytes(), ErrBadModule, "tables declare"},
		{"table.grow", modSpec{tableMin: 1, body: opTableGrow(1 << 30)}.bytes(), ErrBadModule, `"reference-types" is disabled`},
		{"grow within limit", modSpec{memMin: 1, body: opGrowOrTrap(15)}.bytes(), nil, ""},
		{"grow past limit", modSpec{memMin: 1, body: opGrowOrTrap(16)}.bytes(), ErrMemoryLimit, "grow its memory to 1.06 MiB but the limit is 1 MiB"},
		{"unreachable", modSpec{body: opUnreachable}.bytes(), ErrTrap, "unreachable"},
		{"spin", modSpec{body: opLoopForever}.bytes(), ErrTimeout, "longer than 1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, out := taskDirs(t, nil)
			_, err := e.Run(context.Background(), Task{Module: tc.module, InputDir: in, OutputDir: out})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Run: %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Run error = %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestRunBadTask(t *testing.T) {
	e := newExecutor(t, Options{})
	mod := modSpec{}.bytes()
	tests := []struct {
		name  string
		setup func(t *testing.T, in, out string) Task
		msg   string
	}{
		{"no output dir", func(t *testing.T, in, out string) Task {
			return Task{InputDir: in}
		}, "no output directory"},
		{"output not empty", func(t *testing.T, in, out string) Task {
			mustWrite(t, filepath.Join(out, "stale"), "x")
			return Task{InputDir: in, OutputDir: out}
		}, "not empty"},
		{"output inside input", func(t *testing.T, in, out string) Task {
			sub := filepath.Join(in, "out")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			return Task{InputDir: in, OutputDir: sub}
		}, "overlap"},
		{"symlink among inputs", func(t *testing.T, in, out string) Task {
			if err := os.Symlink("/etc/hostname", filepath.Join(in, "link")); err != nil {
				t.Fatal(err)
			}
			return Task{InputDir: in, OutputDir: out}
		}, "is a symlink"},
		{"empty argument", func(t *testing.T, in, out string) Task {
			return Task{InputDir: in, OutputDir: out, Args: []string{"ok", ""}}
		}, "argument 2 is empty"},
		{"huge arguments", func(t *testing.T, in, out string) Task {
			return Task{InputDir: in, OutputDir: out, Args: []string{strings.Repeat("a", maxArgsBytes)}}
		}, "over the 65536 limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, out := taskDirs(t, map[string]string{"a": "a"})
			task := tc.setup(t, in, out)
			task.Module = mod
			_, err := e.Run(context.Background(), task)
			if !errors.Is(err, ErrBadTask) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Run error = %v, want ErrBadTask containing %q", err, tc.msg)
			}
		})
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunCancelled checks that the caller's cancellation is reported as
// such, not as the tasklet's timeout.
func TestRunCancelled(t *testing.T) {
	e := newExecutor(t, Options{Timeout: time.Minute})
	in, out := taskDirs(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := e.Run(ctx, Task{Module: modSpec{body: opLoopForever}.bytes(), InputDir: in, OutputDir: out})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Fatalf("Run error = %v, want the caller's context.DeadlineExceeded and not ErrTimeout", err)
	}
}

// TestRunConcurrent runs one module on several goroutines at once and
// checks that the compiled module is shared, not compiled per run.
func TestRunConcurrent(t *testing.T) {
	bin := tasklet(t)
	e := newExecutor(t, Options{})
	const n = 4
	var wg sync.WaitGroup
	results := make([][]byte, n)
	for i := range n {
		in, out := taskDirs(t, map[string]string{"f": "shared"})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Run(context.Background(), Task{Module: bin, Seed: 3, InputDir: in, OutputDir: out}); err != nil {
				t.Errorf("run %d: %v", i, err)
				return
			}
			results[i], _ = os.ReadFile(filepath.Join(out, "result.json"))
		}()
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(results[i], results[0]) {
			t.Errorf("run %d result differs from run 0:\n%s\n%s", i, results[i], results[0])
		}
	}
	if got := e.modules.len(); got != 1 {
		t.Errorf("cached modules = %d, want 1", got)
	}
}

func TestClose(t *testing.T) {
	e := newExecutor(t, Options{})
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	in, out := taskDirs(t, nil)
	if _, err := e.Run(context.Background(), Task{Module: modSpec{}.bytes(), InputDir: in, OutputDir: out}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Run after Close error = %v, want executor closed", err)
	}
}

func BenchmarkRunNoop(b *testing.B) {
	bin := tasklet(b)
	e := newExecutor(b, Options{})
	in, out := taskDirs(b, nil)
	task := Task{Module: bin, Args: []string{"noop"}, InputDir: in, OutputDir: out}
	if _, err := e.Run(context.Background(), task); err != nil { // compile outside the timing
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.Run(context.Background(), task); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunTiny measures the executor's own overhead per run (task
// checks, instantiation, output walk) with a module that does nothing.
func BenchmarkRunTiny(b *testing.B) {
	e := newExecutor(b, Options{})
	in, out := taskDirs(b, nil)
	task := Task{Module: modSpec{memMin: 1}.bytes(), InputDir: in, OutputDir: out}
	for b.Loop() {
		if _, err := e.Run(context.Background(), task); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRunHostile covers the two misbehaviours TestRunFailures leaves out:
// reading the daemon's key file by its host path, and starting processes.
// Each fails with a clear reason and the executor carries on.
func TestRunHostile(t *testing.T) {
	repo := t.TempDir()
	key := filepath.Join(repo, "keystore", "UTC--key.json")
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newExecutor(t, Options{})
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"read-host", key}, "is out of reach"},
		{[]string{"fork"}, "fork: cannot start a process"},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			in, out := taskDirs(t, nil)
			res, err := e.Run(context.Background(), Task{Module: tasklet(t), Args: tc.args, InputDir: in, OutputDir: out})
			var exit *ExitError
			if !errors.As(err, &exit) || exit.Code != 1 {
				t.Fatalf("Run(%v) error = %v, want *ExitError with code 1\nstderr: %s", tc.args, err, res.Stderr)
			}
			if !strings.Contains(exit.StderrTail, tc.stderr) || strings.Contains(string(res.Stderr), "host secret") {
				t.Errorf("stderr %q, want it to contain %q and no secret", exit.StderrTail, tc.stderr)
			}
			in, out = taskDirs(t, nil)
			if _, err := e.Run(context.Background(), Task{Module: tasklet(t), Args: []string{"noop"}, InputDir: in, OutputDir: out}); err != nil {
				t.Errorf("honest run after %v: %v", tc.args, err)
			}
		})
	}
}
