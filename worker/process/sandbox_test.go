//go:build linux

package process

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// python3 is the interpreter of the hostile programs; it is in /usr on
// Debian, inside the default runtime.
func python3(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("no /usr/bin/python3 for the hostile programs: %v", err)
	}
}

// hostProcessesWith lists host pids whose command line holds marker.
func hostProcessesWith(marker string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || processGone(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), marker) {
			out = append(out, pid)
		}
	}
	return out
}

// TestSandboxHostile runs programs that try to get out or take too much
// and checks each is stopped or contained, that the reason is in the
// error, and that the same executor then runs an honest tasklet.
func TestSandboxHostile(t *testing.T) {
	python3(t)
	t.Setenv("GRIDSWARM_TEST_SECRET", "hunter2")
	repo := t.TempDir() // stands for the daemon's repo dir, outside the sandbox
	key := filepath.Join(repo, "keystore", "UTC--key.json")
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte(`{"crypto":"host secret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir() // a folder the program tries to write into
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	tests := []struct {
		name   string
		cfg    Config
		script string
		check  func(t *testing.T, res Result, err error)
	}{
		{
			name: "open a socket to the host",
			script: `import socket, sys
for addr in [("127.0.0.1", ` + port + `), ("10.0.0.1", 80), ("1.1.1.1", 53)]:
    s = socket.socket()
    s.settimeout(2)
    s.connect(addr)  # raises: the sandbox has only its own loopback
    print("connected to", addr)`,
			check: func(t *testing.T, res Result, err error) {
				wantExit(t, err, 1, "ConnectionRefusedError", res)
				if err := ln.(*net.TCPListener).SetDeadline(time.Now()); err != nil {
					t.Fatal(err)
				}
				if c, err := ln.Accept(); err == nil { // a connection would wait in the backlog
					c.Close()
					t.Fatalf("the sandboxed program connected to the host's %s", ln.Addr())
				}
			},
		},
		{
			name: "read the repo's key files",
			script: `import sys
leaked = []
for p in ["` + key + `", "` + repo + `", "/root", "/home", "/etc/shadow", "/etc/passwd"]:
    try:
        with open(p) as f:
            leaked.append((p, f.read(40)))
    except OSError as e:
        print("refused", p, type(e).__name__, file=sys.stderr)
import glob
for p in glob.glob("/proc/[0-9]*/environ"):  # the daemon's environment holds a secret
    try:
        if b"hunter2" in open(p, "rb").read():
            leaked.append((p, "daemon environment"))
    except OSError:
        pass
if leaked:
    print("LEAKED", leaked)
    sys.exit(3)
open("` + key + `").read()  # the failure a real program would die of`,
			check: func(t *testing.T, res Result, err error) {
				wantExit(t, err, 1, "FileNotFoundError", res)
				if strings.Contains(string(res.Stdout), "LEAKED") || strings.Contains(string(res.Stdout), "host secret") {
					t.Fatalf("host files readable in the sandbox: %s", res.Stdout)
				}
			},
		},
		{
			name: "write outside its folder",
			script: `import sys
for p in ["` + outside + `/planted", "/usr/planted", "/tasklet/in/planted", "/etc/planted"]:
    try:
        open(p, "w").write("x")
        print("wrote", p)
    except OSError as e:
        print("refused", p, type(e).__name__, file=sys.stderr)
open("` + outside + `/planted", "w").write("x")`,
			check: func(t *testing.T, res Result, err error) {
				wantExit(t, err, 1, "FileNotFoundError", res)
				for _, p := range []string{filepath.Join(outside, "planted"), "/usr/planted", "/etc/planted"} {
					if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
						os.Remove(p)
						t.Errorf("%s exists on the host after the run", p)
					}
				}
				if !strings.Contains(string(res.Stderr), "refused /usr/planted OSError") && !strings.Contains(string(res.Stderr), "refused /usr/planted") {
					t.Errorf("write to /usr was not refused: stderr %s", res.Stderr)
				}
			},
		},
		{
			name: "fork bomb",
			cfg:  Config{MaxProcesses: 32},
			script: `import os, time
n = 0
while True:
    try:
        if os.fork() == 0:
            time.sleep(600)  # sandbox-marker-fork: children hold their pids
            os._exit(0)
        n += 1
    except BlockingIOError:
        print("fork refused after", n, flush=True)
        raise`,
			check: func(t *testing.T, res Result, err error) {
				if !errors.Is(err, ErrProcessLimit) {
					t.Fatalf("Run err = %v, want ErrProcessLimit\nstderr: %s", err, res.Stderr)
				}
				if !strings.Contains(err.Error(), "max_processes = 32") {
					t.Errorf("error %q does not name the limit", err)
				}
			},
		},
		{
			name: "fork bomb that never gives up",
			cfg:  Config{MaxProcesses: 32, Timeout: 2 * time.Second},
			script: `import os
while True:
    try:
        os.fork()
    except OSError:
        pass`,
			check: func(t *testing.T, res Result, err error) {
				if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrProcessLimit) {
					t.Fatalf("Run err = %v, want ErrTimeout that mentions ErrProcessLimit", err)
				}
			},
		},
		{
			name: "allocate beyond the memory limit",
			cfg:  Config{MemoryBytes: 64 << 20},
			script: `b = bytearray(512 << 20)  # zero-filled: every page is touched
print(len(b))`,
			check: func(t *testing.T, res Result, err error) {
				if !errors.Is(err, ErrMemoryLimit) {
					t.Fatalf("Run err = %v, want ErrMemoryLimit\nstderr: %s", err, res.Stderr)
				}
				if !strings.Contains(err.Error(), "memory_mb = 64") {
					t.Errorf("error %q does not name the limit", err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Allow = []string{"python3"}
			e := newExec(t, cfg)
			if e.cgroups == nil && (cfg.MemoryBytes > 0 || cfg.MaxProcesses > 0) {
				t.Skipf("no writable cgroup here (%s): memory and process limits of the whole tree are not enforced", e.Isolation())
			}
			res, err := e.Run(context.Background(), Task{Command: []string{"python3", "-c", tc.script}})
			tc.check(t, res, err)
			if left := hostProcessesWith("sandbox-marker"); len(left) != 0 {
				t.Errorf("processes %v of the tasklet outlived Run", left)
			}
			if left := scratchLeft(t, e); len(left) != 0 {
				t.Errorf("scratch dirs left behind: %v", left)
			}
			// The executor carries on.
			ok := run(t, e, Task{Command: []string{"python3", "-c", "open('out/ok', 'w').write('fine')"}})
			if b, err := os.ReadFile(filepath.Join(ok.OutputDir, "ok")); err != nil || string(b) != "fine" {
				t.Errorf("honest tasklet after the hostile one: out/ok = %q, %v", b, err)
			}
		})
	}
}

// wantExit requires an *ExitError with the given code and stderr that
// names the failure.
func wantExit(t *testing.T, err error, code int, stderr string, res Result) {
	t.Helper()
	var xe *ExitError
	if !errors.As(err, &xe) || xe.Code != code {
		t.Fatalf("Run err = %v, want exit status %d\nstdout: %s\nstderr: %s", err, code, res.Stdout, res.Stderr)
	}
	if !strings.Contains(string(res.Stderr), stderr) {
		t.Errorf("stderr does not show %s:\n%s", stderr, res.Stderr)
	}
}

// TestSandboxTreeDiesWithRun leaves processes behind on exit and on
// timeout: the pid namespace and the cgroup take them all down.
func TestSandboxTreeDiesWithRun(t *testing.T) {
	e := newExec(t, Config{Allow: []string{"sh", "sleep"}, Timeout: time.Second})
	for _, script := range []string{
		"sleep 100.5 & echo started", // exits at once, leaving a child
		"sleep 100.5 & sleep 100.5",  // runs into the timeout
	} {
		res, err := e.Run(context.Background(), Task{Command: []string{"sh", "-c", script}})
		if err != nil && !errors.Is(err, ErrTimeout) {
			t.Fatalf("%q: Run err = %v", script, err)
		}
		res.Cleanup()
		deadline := time.Now().Add(2 * time.Second)
		for left := hostProcessesWith("100.5"); len(left) != 0; left = hostProcessesWith("100.5") {
			if time.Now().After(deadline) {
				t.Fatalf("%q: processes %v outlived Run", script, left)
			}
			time.Sleep(10 * time.Millisecond) // polling the kernel's view, with a deadline
		}
	}
}

// TestSandboxSeesOnlyItsWorld lists what a sandboxed command can see: no
// other process, no network interface but loopback, the runtime read-only.
func TestSandboxSeesOnlyItsWorld(t *testing.T) {
	e := newExec(t, Config{Allow: []string{"sh", "ls", "cat"}})
	res := run(t, e, Task{Command: []string{"sh", "-c", `
ls /proc | grep -c '^[0-9]'            # processes: bwrap's init and this shell, its ls and grep
ls /sys/class/net 2>/dev/null || echo no-sys
ls /
id -u
touch /usr/x 2>&1 || true
cat /proc/self/status | grep ^CapEff`}})
	out := string(res.Stdout) + string(res.Stderr)
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if n, err := strconv.Atoi(lines[0]); err != nil || n > 5 {
		t.Errorf("the sandbox sees %s processes, want only its own few:\n%s", lines[0], out)
	}
	for _, want := range []string{"no-sys", "65534", "Read-only file system", "CapEff:\t0000000000000000", "tasklet"} {
		if !strings.Contains(out, want) {
			t.Errorf("sandbox listing lacks %q:\n%s", want, out)
		}
	}
	for _, host := range []string{"root", "home", "var"} {
		for _, l := range lines {
			if l == host {
				t.Errorf("host folder /%s is visible in the sandbox:\n%s", host, out)
			}
		}
	}
}

func TestSandboxConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"command outside the runtime", Config{Allow: []string{"sh"}, Runtime: []string{"/opt"}}, "is outside worker.process.runtime"},
		{"relative runtime", Config{Allow: []string{"sh"}, Runtime: []string{"usr"}}, "want an absolute path"},
		{"runtime over the scratch mount", Config{Allow: []string{"sh"}, Runtime: []string{"/usr", "/tasklet"}}, "the sandbox makes its own"},
		{"bwrap missing", Config{Allow: []string{"sh"}, Bwrap: "/nonexistent/bwrap"}, "worker.process.bwrap"},
		{"negative cpus", Config{Allow: []string{"sh"}, CPUs: -1}, "must not be negative"},
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

// BenchmarkStartup is what running a tasklet costs before the program does
// anything: `true` unsandboxed, in bubblewrap, and in bubblewrap with its
// cgroup. The difference is the sandbox's start-up cost per tasklet.
func BenchmarkStartup(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"unsandboxed", Config{Unsandboxed: true}},
		{"bwrap", Config{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := bc.cfg
			cfg.Enabled, cfg.Allow, cfg.ScratchRoot, cfg.Timeout = true, []string{"true"}, b.TempDir(), 20*time.Second
			e, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("isolation: %s", e.Isolation())
			for b.Loop() {
				res, err := e.Run(context.Background(), Task{Command: []string{"true"}})
				if err != nil {
					b.Fatal(err)
				}
				res.Cleanup()
			}
		})
	}
}

// BenchmarkStartupPyTorch is a PyTorch tasklet's fixed cost: Debian's
// python3 importing torch, unsandboxed and in bubblewrap with its cgroup.
func BenchmarkStartupPyTorch(b *testing.B) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		b.Skipf("%s has no torch (.ci/setup.d/40-python-torch.sh): %v", python, err)
	}
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"unsandboxed", Config{Unsandboxed: true}},
		{"bwrap", Config{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := bc.cfg
			cfg.Enabled, cfg.Allow, cfg.ScratchRoot, cfg.Timeout = true, []string{python}, b.TempDir(), time.Minute
			e, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				res, err := e.Run(context.Background(), Task{Command: []string{python, "-c", "import torch"}})
				if err != nil {
					b.Fatal(err)
				}
				res.Cleanup()
			}
		})
	}
}
