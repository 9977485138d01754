package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/scheduler"
)

// shellBlocks returns the ```sh blocks of doc that sit between
// <!-- NAME:begin --> and <!-- NAME:end --> markers, in order.
func shellBlocks(doc, name string) ([]string, error) {
	re := regexp.MustCompile(`(?s)<!-- ` + regexp.QuoteMeta(name) + `:begin -->\s*` + "```sh\n(.*?)```" + `\s*<!-- ` + regexp.QuoteMeta(name) + `:end -->`)
	var blocks []string
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		blocks = append(blocks, m[1])
	}
	if n := strings.Count(doc, "<!-- "+name+":begin -->"); n != len(blocks) {
		return nil, fmt.Errorf("%d %s:begin markers but %d well-formed ```sh blocks between begin and end", n, name, len(blocks))
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("no %s blocks", name)
	}
	return blocks, nil
}

func TestShellBlocks(t *testing.T) {
	doc := "x\n<!-- q:begin -->\n```sh\necho 1\n```\n<!-- q:end -->\ny\n<!-- q:begin -->\n\n```sh\necho 2\necho 3\n```\n<!-- q:end -->\n```sh\nnot this\n```\n"
	got, err := shellBlocks(doc, "q")
	if err != nil || len(got) != 2 || got[0] != "echo 1\n" || got[1] != "echo 2\necho 3\n" {
		t.Fatalf("shellBlocks = %q, %v", got, err)
	}
	if _, err := shellBlocks("<!-- q:begin -->\n```sh\necho\n```\n", "q"); err == nil {
		t.Error("a block without its end marker was accepted")
	}
}

// The README's quick start, with the user guide's two-daemon recipe, runs
// as written: bash runs its blocks in a fresh HOME, with the gridswarm the
// tests built first on PATH and no Go toolchain, and it ends with a
// finished job, its model and its plot. Every daemon is stopped at the end.
func TestQuickStartVerbatim(t *testing.T) {
	skipShort(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile("../docs/user-guide.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := shellBlocks(string(readme), "quickstart")
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	recipe, err := shellBlocks(string(guide), "two-daemons")
	if err != nil || len(recipe) != 1 {
		t.Fatalf("docs/user-guide.md: want one two-daemons recipe: %v", err)
	}
	if !strings.Contains(strings.Join(blocks, ""), recipe[0]) {
		t.Fatalf("README's quick start does not run the guide's two-daemon recipe as written:\n%s", recipe[0])
	}

	// The quick start runs from a checkout; it reads examples/jobs.
	home := t.TempDir()
	spec, err := os.ReadFile("../examples/jobs/mnist-mlp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, "examples", "jobs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "examples", "jobs", "mnist-mlp.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + pathWithoutGo(), "TMPDIR=" + os.TempDir()}

	script := strings.Join(blocks, "\n")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = home, env
	// The daemons the script starts with & stay in bash's process group:
	// the cleanup signals the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	repos := []string{filepath.Join(home, ".gridswarm"), filepath.Join(home, "worker")}
	t.Cleanup(func() { stopGroup(t, cmd.Process.Pid, repos) })
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the quick start failed (%v):\n%s\n%s", err, out.String(), daemonLogs(home))
	}
	t.Logf("quick start output:\n%s", out.String())

	var jobs []node.Summary
	if r := gsAs(t, home, env, "jobs", "--json"); r.code != 0 || json.Unmarshal([]byte(r.out), &jobs) != nil || len(jobs) != 1 {
		t.Fatalf("jobs --json: exit %d, out %q, err %q; want one job", r.code, r.out, r.err)
	}
	eventually(t, time.Minute, func() (bool, string) {
		var j scheduler.Job
		r := gsAs(t, home, env, "job", "show", jobs[0].ID, "--json")
		if err := json.Unmarshal([]byte(r.out), &j); err != nil {
			return false, fmt.Sprintf("job show --json: exit %d, %v: %s", r.code, err, r.err)
		}
		return j.Status == scheduler.StatusDone && j.TestAccuracy > 0.9, fmt.Sprintf("job %s: status %s, test accuracy %.4f", j.ID, j.Status, j.TestAccuracy)
	})
	for _, f := range []string{"model.safetensors", "curves.png"} {
		if st, err := os.Stat(filepath.Join(home, f)); err != nil || st.Size() == 0 {
			t.Errorf("the quick start wrote no %s (%v)", f, err)
		}
	}
}

// stopGroup stops the process group pgid, bash and the daemons it left
// running: SIGTERM, then SIGKILL if a repo is still held after 30 s.
func stopGroup(t *testing.T, pgid int, repos []string) {
	t.Helper()
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Errorf("signal the quick start's processes: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		held := false
		for _, r := range repos {
			held = held || repo.Locked(r)
		}
		if !held {
			return
		}
		<-tick.C
	}
	t.Errorf("a quick start daemon still held its repo 30 s after SIGTERM; killing it")
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// daemonLogs is the logs the quick start's daemons wrote, for failures.
func daemonLogs(home string) string {
	var b bytes.Buffer
	for _, f := range []string{"daemon.log", "worker.log"} {
		log, err := os.ReadFile(filepath.Join(home, f))
		fmt.Fprintf(&b, "--- %s (%v)\n%s\n", f, err, log)
	}
	return b.String()
}
