//go:build linux

package process

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newExec makes an enabled executor with scratch dirs under a test dir.
func newExec(t *testing.T, cfg Config) *Executor {
	t.Helper()
	cfg.Enabled = true
	if cfg.ScratchRoot == "" {
		cfg.ScratchRoot = t.TempDir()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second // tests that expect a timeout set their own
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// run runs t and fails the test on error.
func run(t *testing.T, e *Executor, task Task) Result {
	t.Helper()
	res, err := e.Run(context.Background(), task)
	if err != nil {
		t.Fatalf("Run %q: %v\nstderr: %s", task.Command, err, res.Stderr)
	}
	t.Cleanup(func() { res.Cleanup() })
	return res
}

// scratchLeft lists what is left under the executor's scratch root.
func scratchLeft(t *testing.T, e *Executor) []string {
	t.Helper()
	ents, err := os.ReadDir(e.cfg.ScratchRoot)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ents {
		names = append(names, d.Name())
	}
	return names
}

func TestDisabled(t *testing.T) {
	e, err := New(Config{Allow: []string{"sh"}})
	if err != nil {
		t.Fatalf("New disabled: %v", err)
	}
	if e.Enabled() {
		t.Error("Enabled() = true for a disabled config")
	}
	_, err = e.Run(context.Background(), Task{Command: []string{"sh", "-c", "true"}})
	if !errors.Is(err, ErrDisabled) || !strings.Contains(err.Error(), "worker.process.enabled = true") {
		t.Fatalf("Run err = %v, want ErrDisabled telling how to enable it", err)
	}
}

func TestNewErrors(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty allowlist", Config{}, "worker.process.allow is empty"},
		{"relative entry", Config{Allow: []string{"bin/sh"}}, "want a bare command name"},
		{"dot-dot entry", Config{Allow: []string{".."}}, "want a bare command name"},
		{"missing command", Config{Allow: []string{"no-such-command-gridswarm"}}, "no executable no-such-command-gridswarm in /usr/local/bin:/usr/bin:/bin"},
		{"not executable", Config{Allow: []string{plain}}, "not an executable file"},
		{"same name twice", Config{Allow: []string{"sh", "/bin/sh"}}, "two commands named sh"},
		{"negative GPU", Config{Allow: []string{"sh"}, GPUs: []int{-1}}, "distinct GPU indexes"},
		{"GPU twice", Config{Allow: []string{"sh"}, GPUs: []int{1, 1}}, "distinct GPU indexes"},
		{"negative output cap", Config{Allow: []string{"sh"}, MaxOutputBytes: -1}, "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Enabled = true
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestAllowlist(t *testing.T) {
	// A different file that is also called sh, and a parent PATH that
	// finds it first: neither may be what runs.
	evil := t.TempDir()
	dash, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(evil, "sh"), dash, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", evil+":"+os.Getenv("PATH"))
	e := newExec(t, Config{Allow: []string{"sh", "/usr/bin/env"}})

	tests := []struct {
		argv0 string
		ok    bool
	}{
		{"sh", true},
		{"/bin/sh", true},            // same file as the allowed sh
		{"/usr/bin/../bin/sh", true}, // cleaned, same file
		{"env", true},
		{"/usr/bin/env", true},
		{"../../bin/sh", false},
		{"./sh", false},
		{"bin/sh", false},
		{filepath.Join(evil, "sh"), false}, // same name, another file
		{"bash", false},
		{"/usr/bin/dd", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.argv0, func(t *testing.T) {
			args := []string{tc.argv0, "-c", "true"}
			if filepath.Base(tc.argv0) == "env" {
				args = []string{tc.argv0, "true"}
			}
			res, err := e.Run(context.Background(), Task{Command: args})
			if tc.ok {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				defer res.Cleanup()
				return
			}
			if !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("Run err = %v, want ErrNotAllowed", err)
			}
		})
	}
	if left := scratchLeft(t, e); len(left) != 0 {
		t.Errorf("scratch dirs left behind: %v", left)
	}
	// argv[0] is the allowed absolute path, whatever the task wrote.
	res := run(t, e, Task{Command: []string{"sh", "-c", `echo "$0"`}})
	if got, want := strings.TrimSpace(string(res.Stdout)), "/usr/bin/sh"; got != want && got != "/bin/sh" {
		t.Errorf("$0 = %q, want %q", got, want)
	}
}

func TestTaskLimits(t *testing.T) {
	e := newExec(t, Config{Allow: []string{"sh"}, GPUs: []int{0, 1}})
	long := strings.Repeat("x", maxArgBytes)
	tests := []struct {
		name string
		task Task
	}{
		{"no command", Task{}},
		{"NUL in argument", Task{Command: []string{"sh", "-c", "true\x00"}}},
		{"arguments too long", Task{Command: []string{"sh", "-c", long}}},
		{"GPU not lent", Task{Command: []string{"sh"}, GPUs: []int{2}}},
		{"input name with slash", Task{Command: []string{"sh"}, Inputs: map[string]string{"a/b": "/etc/hostname"}}},
		{"input name dot-dot", Task{Command: []string{"sh"}, Inputs: map[string]string{"..": "/etc/hostname"}}},
		{"empty input name", Task{Command: []string{"sh"}, Inputs: map[string]string{"": "/etc/hostname"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.Run(context.Background(), tc.task); !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("Run err = %v, want ErrNotAllowed", err)
			}
		})
	}
}

func TestEnvScrubbed(t *testing.T) {
	t.Setenv("GRIDSWARM_TEST_SECRET", "hunter2")
	t.Setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
	tests := []struct {
		name     string
		cfgGPUs  []int
		taskGPUs []int
		wantCUDA string
	}{
		{"no GPUs lent: all hidden", nil, nil, ""},
		{"config GPUs", []int{0, 2}, nil, "0,2"},
		{"task picks one", []int{0, 2}, []int{2}, "2"},
		{"task asks for none", []int{0, 2}, []int{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newExec(t, Config{Allow: []string{"env"}, GPUs: tc.cfgGPUs})
			res := run(t, e, Task{Command: []string{"env"}, Seed: 18446744073709551615, GPUs: tc.taskGPUs})
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
				k, v, _ := strings.Cut(line, "=")
				got[k] = v
			}
			// Inside the sandbox the scratch folder is /tasklet; bwrap's
			// --chdir sets PWD.
			dir := "/tasklet"
			want := map[string]string{
				"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": dir, "TMPDIR": dir + "/tmp", "LANG": "C.UTF-8",
				"GRIDSWARM_IN": dir + "/in", "GRIDSWARM_OUT": dir + "/out", "GRIDSWARM_SEED": "18446744073709551615",
				"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": tc.wantCUDA, "PYTHONHASHSEED": "0", "PWD": dir,
			}
			if !mapsEqual(got, want) {
				t.Errorf("environment:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestInputsAndOutputs(t *testing.T) {
	src := t.TempDir()
	a := filepath.Join(src, "weights.bin")
	if err := os.WriteFile(a, []byte("weights-v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newExec(t, Config{Allow: []string{"sh"}})
	script := `set -e
cat "$GRIDSWARM_IN/w" > "$GRIDSWARM_OUT/copy"
echo tampered >> "$GRIDSWARM_IN/w" 2>/dev/null || true
mkdir "$GRIDSWARM_OUT/sub" && printf 'x%.0s' 1 2 3 > "$GRIDSWARM_OUT/sub/three"
echo tmp > "$TMPDIR/t" && pwd`
	res := run(t, e, Task{Command: []string{"sh", "-c", script}, Inputs: map[string]string{"w": a}})

	if got := strings.TrimSpace(string(res.Stdout)); got != "/tasklet" {
		t.Errorf("working directory = %q, want the scratch dir, which the sandbox shows as /tasklet", got)
	}
	if res.OutputDir != filepath.Join(res.ScratchDir, "out") || res.ExitCode != 0 {
		t.Errorf("OutputDir = %q, ExitCode = %d; want scratch/out and 0", res.OutputDir, res.ExitCode)
	}
	for name, want := range map[string]string{"copy": "weights-v1", "sub/three": "xxx"} {
		got, err := os.ReadFile(filepath.Join(res.OutputDir, name))
		if err != nil || string(got) != want {
			t.Errorf("out/%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if got, _ := os.ReadFile(a); string(got) != "weights-v1" {
		t.Errorf("host input changed to %q: inputs must be copies", got)
	}
	if st, err := os.Stat(filepath.Join(res.ScratchDir, "in", "w")); err != nil || st.Mode().Perm() != 0o444 {
		t.Errorf("in/w mode = %v, %v; want -r--r--r--", st.Mode(), err)
	}
	dir := res.ScratchDir
	if err := res.Cleanup(); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch dir still there after Cleanup: %v", err)
	}
	if err := res.Cleanup(); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	e := newExec(t, Config{Allow: []string{"sh"}})
	for name, host := range map[string]string{
		"missing file": filepath.Join(t.TempDir(), "nope"),
		"a directory":  t.TempDir(),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.Run(context.Background(), Task{Command: []string{"sh", "-c", "true"}, Inputs: map[string]string{"x": host}})
			if err == nil || !strings.Contains(err.Error(), "lay out input x") {
				t.Fatalf("Run err = %v, want a lay-out error", err)
			}
			if left := scratchLeft(t, e); len(left) != 0 {
				t.Errorf("scratch dirs left behind: %v", left)
			}
		})
	}
}

func TestExitStatusAndOutputChecks(t *testing.T) {
	e := newExec(t, Config{Allow: []string{"sh"}, MaxOutputBytes: 1000})
	tests := []struct {
		name    string
		script  string
		wantErr error
		code    int
	}{
		{"non-zero exit", "echo oops >&2; exit 3", nil, 3},
		{"output over the cap", `head -c 1001 /dev/zero > "$GRIDSWARM_OUT/big"`, ErrOutputTooLarge, 0},
		{"output at the cap", `head -c 1000 /dev/zero > "$GRIDSWARM_OUT/ok"`, nil, 0},
		{"symlink in output", `ln -s /etc/passwd "$GRIDSWARM_OUT/leak"`, ErrBadOutput, 0},
		{"fifo in output", `mkfifo "$GRIDSWARM_OUT/pipe"`, ErrBadOutput, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Run(context.Background(), Task{Command: []string{"sh", "-c", tc.script}})
			defer res.Cleanup()
			var xe *ExitError
			switch {
			case tc.code != 0:
				if !errors.As(err, &xe) || xe.Code != tc.code || res.ExitCode != tc.code {
					t.Fatalf("Run err = %v, ExitCode %d; want an ExitError with status %d", err, res.ExitCode, tc.code)
				}
				if got := string(res.Stderr); got != "oops\n" {
					t.Errorf("Stderr = %q, want %q", got, "oops\n")
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Run err = %v, want %v", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			}
			if err != nil && res.ScratchDir != "" {
				t.Errorf("failed run kept its scratch dir %s", res.ScratchDir)
			}
		})
	}
}

// processGone reports whether pid has exited (or is a zombie awaiting its
// new parent's wait).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, after, _ := bytes.Cut(b, []byte(") "))
	return len(after) > 0 && (after[0] == 'Z' || after[0] == 'X')
}

// waitGone fails the test unless pid dies within two seconds. SIGKILL is
// sent before Run returns but acts asynchronously, so this polls the
// kernel's view; it synchronises with no goroutine.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after Run returned", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The group-kill tests run unsandboxed, where they see the command's pids;
// sandbox_test.go checks the same for the sandbox's pid namespace.
func TestTimeoutKillsTheGroup(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newExec(t, Config{Allow: []string{"sh", "sleep"}, Timeout: timeout, Unsandboxed: true})
	tests := []struct {
		name string
		cmd  []string
	}{
		{"sleep", []string{"sleep", "100"}},
		{"sleep in the background", []string{"sh", "-c", "sleep 100 & echo $!; wait"}},
		{"grandchild holding stdout", []string{"sh", "-c", "(sleep 100; echo late) & echo $!; sleep 100"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res, err := e.Run(context.Background(), Task{Command: tc.cmd})
			took := time.Since(start)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("Run err = %v, want ErrTimeout", err)
			}
			if took > timeout+2*time.Second {
				t.Errorf("Run took %v, want about %v", took, timeout)
			}
			if res.ScratchDir != "" || len(scratchLeft(t, e)) != 0 {
				t.Errorf("scratch dir left behind after a timeout")
			}
			if out := strings.TrimSpace(string(res.Stdout)); out != "" {
				pid, err := strconv.Atoi(out)
				if err != nil {
					t.Fatalf("stdout %q is not a pid", out)
				}
				waitGone(t, pid)
			}
		})
	}
}

func TestLeftoversKilledAfterCleanExit(t *testing.T) {
	e := newExec(t, Config{Allow: []string{"sh"}, Unsandboxed: true})
	start := time.Now()
	res := run(t, e, Task{Command: []string{"sh", "-c", "sleep 100 & echo $!"}})
	if took := time.Since(start); took > waitDelay+2*time.Second {
		t.Errorf("Run took %v: a leftover holding stdout must not hold Run for long", took)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if err != nil {
		t.Fatalf("stdout %q is not a pid", res.Stdout)
	}
	waitGone(t, pid)
}

func TestCallerContextEnds(t *testing.T) {
	e := newExec(t, Config{Allow: []string{"sleep"}})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled before the start", canceled, context.Canceled},
		{"deadline while running", short, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Run(tc.ctx, Task{Command: []string{"sleep", "100"}})
			if !errors.Is(err, tc.want) || errors.Is(err, ErrTimeout) {
				t.Fatalf("Run err = %v, want %v and not ErrTimeout", err, tc.want)
			}
			if left := scratchLeft(t, e); len(left) != 0 {
				t.Errorf("scratch dirs left behind: %v", left)
			}
		})
	}
}

func TestCPULimit(t *testing.T) {
	e := newExec(t, Config{Allow: []string{"sh"}, CPUSeconds: 1})
	start := time.Now()
	res, err := e.Run(context.Background(), Task{Command: []string{"sh", "-c", "while :; do :; done"}})
	var xe *ExitError
	if !errors.Is(err, ErrCPULimit) || !errors.As(err, &xe) {
		t.Fatalf("Run err = %v, want ErrCPULimit", err)
	}
	if xe.Signal != syscall.SIGXCPU && xe.Signal != syscall.SIGKILL {
		t.Errorf("killed by %v, want SIGXCPU or SIGKILL", xe.Signal)
	}
	if !strings.Contains(err.Error(), "SIGXCPU") && !strings.Contains(err.Error(), "SIGKILL") {
		t.Errorf("error %q does not name the signal", err)
	}
	// The kernel enforces the limit on precise run time; rusage reports a
	// tick-sampled estimate, which on a busy machine can read lower.
	if res.CPUTime < 500*time.Millisecond || time.Since(start) > 15*time.Second {
		t.Errorf("CPU time %v after %v, want about 1s of CPU", res.CPUTime, time.Since(start))
	}
	if res.ExitCode != -1 {
		t.Errorf("ExitCode = %d, want -1 for a signal", res.ExitCode)
	}
}

func TestFileSizeLimit(t *testing.T) {
	const limit = 64 << 10
	e := newExec(t, Config{Allow: []string{"sh", "dd"}, FileSizeBytes: limit})
	// 400 MB: far more than dd can write in the moment before the limit
	// lands (see the package doc), so it always meets the limit.
	res, err := e.Run(context.Background(), Task{Command: []string{"dd", "if=/dev/zero", "of=out/big", "bs=4096", "count=100000"}})
	var xe *ExitError
	if !errors.Is(err, ErrFileSizeLimit) || !errors.As(err, &xe) || xe.Signal != syscall.SIGXFSZ {
		t.Fatalf("dd past the limit: err = %v, want ErrFileSizeLimit from SIGXFSZ", err)
	}
	if !strings.Contains(err.Error(), "SIGXFSZ") {
		t.Errorf("error %q does not name SIGXFSZ", err)
	}
	// Through a shell the signal hits the child: the shell exits 128+25.
	// The shell waits for the limit first, or head could finish before it.
	waitLimit := `while ! grep -q '^Max file size *65536 ' /proc/$$/limits; do :; done; `
	res, err = e.Run(context.Background(), Task{Command: []string{"sh", "-c", waitLimit + `head -c 100000 /dev/zero > out/big`}})
	if !errors.As(err, &xe) || xe.Code != 128+int(syscall.SIGXFSZ) {
		t.Fatalf("head past the limit: err = %v, exit %d; want status %d", err, res.ExitCode, 128+int(syscall.SIGXFSZ))
	}
	// Under the limit all is well.
	res = run(t, e, Task{Command: []string{"sh", "-c", `head -c 65536 /dev/zero > out/ok`}})
	if st, err := os.Stat(filepath.Join(res.OutputDir, "ok")); err != nil || st.Size() != limit {
		t.Errorf("out/ok: %v, %v; want %d bytes", st, err, limit)
	}
}

func TestApplyLimits(t *testing.T) {
	// Unsandboxed: in the sandbox a cgroup bounds memory, not RLIMIT_AS.
	e := newExec(t, Config{Allow: []string{"sh"}, CPUSeconds: 7, MemoryBytes: 1 << 30, FileSizeBytes: 1 << 20,
		OpenFiles: 64, Timeout: 5 * time.Second, Unsandboxed: true})
	// Limits land just after the start (see the package doc), so the shell
	// waits for the last one set before it reports them all.
	script := `while ! grep -q '^Max address space *1073741824 ' /proc/$$/limits; do :; done; cat /proc/$$/limits`
	res := run(t, e, Task{Command: []string{"sh", "-c", script}})
	want := map[string][]string{
		"Max cpu time":       {"7", "8"},
		"Max file size":      {"1048576", "1048576"},
		"Max open files":     {"64", "64"},
		"Max address space":  {"1073741824", "1073741824"},
		"Max core file size": {"0", "0"},
	}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		for key, w := range want {
			if !strings.HasPrefix(line, key+" ") {
				continue
			}
			f := strings.Fields(strings.TrimPrefix(line, key))
			if len(f) < 2 || !slices.Equal(f[:2], w) {
				t.Errorf("%s = %v, want soft %s hard %s", key, f, w[0], w[1])
			}
			delete(want, key)
		}
	}
	if len(want) != 0 {
		t.Errorf("limits missing from /proc/self/limits: %v\n%s", want, res.Stdout)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, s := range []string{"hello ", "world", strings.Repeat("z", 20), "abc"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got, want := string(b.bytes()), "zzzzzabc"; got != want {
		t.Errorf("tail = %q, want %q", got, want)
	}
	small := &tailBuffer{max: 8}
	small.Write([]byte("ab"))
	if got := string(small.bytes()); got != "ab" {
		t.Errorf("tail = %q, want %q", got, "ab")
	}
}
