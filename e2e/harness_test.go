package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node/repo"
)

const passphrase = "e2e-passphrase"

// bin is the gridswarm binary built once for the whole package.
var bin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gridswarm-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "gridswarm")
	// Built without -race even under `go test -race`: the daemons are the
	// subject here, and race-built daemons would crawl on 2 cores.
	build := exec.Command("go", "build", "-o", bin, "../cmd/gridswarm")
	build.Env = append(os.Environ(), "CGO_CFLAGS=-Wno-deprecated-declarations")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot build gridswarm: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with daemon processes; runs without -short")
	}
}

// result is what one CLI invocation printed.
type result struct {
	out, err string
	code     int
}

// gs runs the CLI against a repo.
func gs(t *testing.T, repoDir string, args ...string) result {
	t.Helper()
	return gsAs(t, "", append(os.Environ(), "GRIDSWARM_PASSWORD="+passphrase), append([]string{"--repo", repoDir}, args...)...)
}

// gsAs runs the CLI in folder cwd ("": this one) with exactly env.
func gsAs(t *testing.T, cwd string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = cwd, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gridswarm %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func initRepo(t *testing.T, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	r := gs(t, dir, append([]string{"init", "--profile", "local"}, args...)...)
	if r.code != 0 {
		t.Fatalf("init: exit %d\n%s%s", r.code, r.out, r.err)
	}
	return dir
}

// lockedBuffer collects a daemon's stderr safely across goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type daemon struct {
	t    *testing.T
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *lockedBuffer
	ep   repo.Endpoint
}

// startDaemon starts `gridswarm daemon` and waits for its endpoint file.
func startDaemon(t *testing.T, dir string, args ...string) *daemon {
	t.Helper()
	d := launch(t, dir, args...)
	if err := d.waitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return d
}

func launch(t *testing.T, dir string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, dir: dir, done: make(chan struct{}), log: &lockedBuffer{}}
	d.cmd = exec.Command(bin, append([]string{"--repo", dir, "daemon"}, args...)...)
	d.cmd.Env = append(os.Environ(), "GRIDSWARM_PASSWORD="+passphrase)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(d.stop)
	return d
}

func (d *daemon) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if ep, err := repo.ReadEndpoint(d.dir); err == nil {
			d.ep = ep
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("daemon exited before ready (%v):\n%s", d.err, d.log.String())
		case <-tick.C:
		}
	}
	return fmt.Errorf("daemon not ready after %s:\n%s", timeout, d.log.String())
}

// exited waits for the process to end and returns its exit code.
func (d *daemon) exited(timeout time.Duration) (int, bool) {
	select {
	case <-d.done:
		if ee, ok := d.err.(*exec.ExitError); ok {
			return ee.ExitCode(), true
		}
		return 0, true
	case <-time.After(timeout):
		return 0, false
	}
}

func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := d.exited(20 * time.Second); !ok {
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *daemon) kill9() {
	_ = d.cmd.Process.Kill()
	<-d.done
}

func (d *daemon) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), d.dir, false)
	if err != nil {
		t.Fatalf("dial daemon: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func (d *daemon) tcpAddr(t *testing.T) string {
	t.Helper()
	for _, a := range d.ep.Swarm {
		if strings.Contains(a, "/tcp/") {
			return a
		}
	}
	t.Fatalf("daemon advertises no TCP address: %v", d.ep.Swarm)
	return ""
}

// eventually polls cond until it holds or the timeout passes; cond says
// what it saw so a failure explains itself.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %s", timeout, last)
		}
		<-tick.C
	}
}
