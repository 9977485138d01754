package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/node"
)

// pathWithoutGo is $PATH without every folder that holds a go command.
func pathWithoutGo() string {
	var keep []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			continue
		}
		keep = append(keep, dir)
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

// bareEnv is an environment with no Go toolchain and no module cache: a
// fresh HOME, PATH without go, GOPATH and GOMODCACHE empty folders.
func bareEnv(t *testing.T) []string {
	t.Helper()
	home, empty := t.TempDir(), t.TempDir()
	return []string{"HOME=" + home, "PATH=" + pathWithoutGo(), "GOPATH=" + empty, "GOMODCACHE=" + empty,
		"GOPROXY=off", "TMPDIR=" + os.TempDir(), "GRIDSWARM_PASSWORD=" + passphrase}
}

// data import mnist works from the binary alone: its daemon runs with no go
// command on PATH, an empty module cache and no network to fetch one.
func TestImportMNISTWithoutGoToolchain(t *testing.T) {
	skipShort(t)
	env := bareEnv(t)
	dir := filepath.Join(t.TempDir(), "repo")
	if r := gsAs(t, "", env, "--repo", dir, "init", "--profile", "local"); r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.err)
	}
	d := &daemon{t: t, dir: dir, done: make(chan struct{}), log: &lockedBuffer{}}
	d.cmd = exec.Command(bin, "--repo", dir, "daemon")
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(d.stop)
	if err := d.waitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	r := gsAs(t, "", env, "--repo", dir, "data", "import", "mnist", "--json")
	if r.code != 0 {
		t.Fatalf("data import mnist without a Go toolchain: exit %d: %s\ndaemon log:\n%s", r.code, r.err, d.log.String())
	}
	var res node.AddResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("data import mnist --json printed %q: %v", r.out, err)
	}
	// 11 train, 1 validation and 2 test shards, and the manifest.
	shards := 0
	for _, f := range res.Files {
		if strings.HasSuffix(f.Path, ".safetensors") {
			shards++
		}
	}
	if res.CID == "" || shards != 14 {
		t.Errorf("import gave CID %q and %d shards; want a CID and 14 shards: %+v", res.CID, shards, res.Files)
	}
	r = gsAs(t, "", env, "--repo", dir, "data", "ls", res.CID)
	if r.code != 0 || !strings.Contains(r.out, "manifest.json") || !strings.Contains(r.out, "train-010.safetensors") {
		t.Errorf("data ls of the dataset: exit %d, out %q, err %q", r.code, r.out, r.err)
	}
}
