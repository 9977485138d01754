package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A newcomer's first hour (issue 13): the README's quick start, the hints
// init prints, a folder that is no repo, and the short peer IDs `peers`
// prints.

// userEnv is the environment of a user with a fresh HOME who has set none
// of gridswarm's variables.
func userEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "HOME", "GRIDSWARM_PATH", "GRIDSWARM_PASSWORD":
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HOME="+home), extra...)
}

// The README's quick start: `init --password-file pw` creates pw, and
// `daemon --password-file pw` starts with it; nothing else is set.
func TestQuickStartPasswordFile(t *testing.T) {
	skipShort(t)
	home := t.TempDir()
	env := userEnv(home)

	r := gsAs(t, home, env, "init", "--profile", "local", "--password-file", "pw")
	if r.code != 0 {
		t.Fatalf("init --password-file pw: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.out, "wrote a new random passphrase to pw") || !strings.Contains(r.out, "start the daemon with: gridswarm daemon --password-file pw\n") {
		t.Errorf("init said %q; want it to name the new pw file and the daemon command to run", r.out)
	}
	pw := filepath.Join(home, "pw")
	fi, err := os.Stat(pw)
	if err != nil {
		t.Fatalf("init did not create pw: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("pw has mode %v, want 0600", fi.Mode().Perm())
	}
	secret, _ := os.ReadFile(pw)

	// An existing file is read, not replaced; a failed init does not leave
	// a new passphrase file behind.
	if r := gsAs(t, home, env, "init", "--profile", "local", "--password-file", "pw"); r.code == 0 || !strings.Contains(r.err, "already holds a gridswarm repo") {
		t.Errorf("second init: exit %d, stderr %q; want a refusal", r.code, r.err)
	}
	if again, _ := os.ReadFile(pw); !bytes.Equal(again, secret) {
		t.Error("a second init changed pw")
	}
	if r := gsAs(t, home, env, "init", "--profile", "local", "--password-file", "pw2"); r.code == 0 {
		t.Error("init over an existing repo succeeded")
	}
	if _, err := os.Stat(filepath.Join(home, "pw2")); !os.IsNotExist(err) {
		t.Errorf("a failed init left pw2 behind (%v)", err)
	}

	d := &daemon{t: t, dir: filepath.Join(home, ".gridswarm"), done: make(chan struct{}), log: &lockedBuffer{}}
	d.cmd = exec.Command(bin, "daemon", "--password-file", "pw")
	d.cmd.Dir, d.cmd.Env = home, env
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(d.stop)
	if err := d.waitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	if r := gsAs(t, home, env, "id"); r.code != 0 || !strings.Contains(r.out, d.ep.PeerID) {
		t.Errorf("id after the quick start: exit %d, out %q, err %q", r.code, r.out, r.err)
	}
}

// init's hint names the repo as it was given, and a folder that was never
// initialised is called that, with the init command for the same folder.
func TestInitHintAndNotARepo(t *testing.T) {
	skipShort(t)
	tmp := t.TempDir()
	env := userEnv(tmp, "GRIDSWARM_PASSWORD="+passphrase)

	byFlag := filepath.Join(tmp, "by-flag")
	r := gsAs(t, tmp, env, "--repo", byFlag, "init", "--profile", "local")
	if want := "start the daemon with: gridswarm --repo " + byFlag + " daemon\n"; r.code != 0 || !strings.Contains(r.out, want) {
		t.Errorf("--repo init: exit %d, out %q; want %q", r.code, r.out, want)
	}
	byEnv := filepath.Join(tmp, "by-env")
	r = gsAs(t, tmp, append(env, "GRIDSWARM_PATH="+byEnv), "init", "--profile", "local")
	if want := "start the daemon with: GRIDSWARM_PATH=" + byEnv + " gridswarm daemon\n"; r.code != 0 || !strings.Contains(r.out, want) {
		t.Errorf("GRIDSWARM_PATH init: exit %d, out %q; want %q", r.code, r.out, want)
	}
	spaced := filepath.Join(tmp, "my repo")
	r = gsAs(t, tmp, env, "--repo", spaced, "init", "--profile", "local")
	if want := "gridswarm --repo '" + spaced + "' daemon\n"; r.code != 0 || !strings.Contains(r.out, want) {
		t.Errorf("init in a folder with a space: exit %d, out %q; want %q", r.code, r.out, want)
	}

	empty := filepath.Join(tmp, "never-initialised")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "missing")
	cmds := [][]string{{"status"}, {"id"}, {"peers"}, {"peer", "disconnect", "12D3KooW…gxwfh3"}, {"jobs"}, {"data", "pins"}, {"daemon"}}
	for _, dir := range []string{empty, missing} {
		for _, cmd := range cmds {
			for _, via := range []struct {
				args []string
				env  []string
				hint string
			}{
				{append([]string{"--repo", dir}, cmd...), env, "gridswarm --repo " + dir + " init"},
				{cmd, append(env, "GRIDSWARM_PATH="+dir), "GRIDSWARM_PATH=" + dir + " gridswarm init"},
			} {
				r := gsAs(t, tmp, via.env, via.args...)
				lines := strings.Split(strings.TrimSpace(r.err), "\n")
				if r.code != 1 || len(lines) != 1 || !strings.Contains(r.err, dir+" is not a gridswarm repo") || !strings.Contains(r.err, via.hint) {
					t.Errorf("%v in %s: exit %d, stderr %q; want exit 1 and one line saying it is not a repo and to run %q", via.args, filepath.Base(dir), r.code, r.err, via.hint)
				}
			}
		}
	}
	if r := gsAs(t, tmp, env, "--repo", empty, "version"); r.code != 0 || !strings.Contains(r.out, "not a gridswarm repo") {
		t.Errorf("version on a folder without a repo: exit %d, out %q", r.code, r.out)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a command on a missing repo created it (%v)", err)
	}
}

// `peer disconnect` and `tasklet run --peer` take the short IDs `peers`
// prints, or a unique start or end of one; anything else fails clearly.
func TestShortPeerIDs(t *testing.T) {
	skipShort(t)
	ds := startMany(t, 3, func(int) int { return 0 })
	a, b, c := ds[0], ds[1], ds[2]
	short := regexp.MustCompile(`(?m)^(12D3KooW…\S+)\s+connected`)
	var shorts []string
	eventually(t, 30*time.Second, func() (bool, string) {
		r := gs(t, a.dir, "peers")
		shorts = nil
		for _, m := range short.FindAllStringSubmatch(r.out, -1) {
			shorts = append(shorts, m[1])
		}
		return len(shorts) >= 2, "peers: " + r.out + r.err
	})
	shortOf := func(id string) string {
		for _, s := range shorts {
			pre, suf, _ := strings.Cut(s, "…")
			if strings.HasPrefix(id, pre) && strings.HasSuffix(id, suf) {
				return s
			}
		}
		t.Fatalf("peers printed no short form of %s: %v", id, shorts)
		return ""
	}

	if r := gs(t, a.dir, "peer", "disconnect", "12D3KooW"); r.code != 1 || !strings.Contains(r.err, "matches") || !strings.Contains(r.err, b.ep.PeerID) || !strings.Contains(r.err, c.ep.PeerID) {
		t.Errorf("ambiguous prefix: exit %d, stderr %q; want exit 1 listing %s and %s", r.code, r.err, b.ep.PeerID, c.ep.PeerID)
	}
	if r := gs(t, a.dir, "peer", "disconnect", "zzzzzz"); r.code != 1 || !strings.Contains(r.err, "no connected or known peer matches") {
		t.Errorf("unknown peer: exit %d, stderr %q", r.code, r.err)
	}

	// The offer reaches C (which declines the process executor): the short
	// ID was resolved to C and nobody else.
	cid := addCID(t, a, randomFile(t, t.TempDir(), "input", 1024))
	spec := specFile(t, "process", cid, cid, 1)
	if r := gs(t, a.dir, "tasklet", "run", spec, "--peer", shortOf(c.ep.PeerID)); r.code == 0 || !strings.Contains(r.err, "unsupported-executor") {
		t.Errorf("tasklet run --peer <short ID of C>: exit %d, stderr %q; want C's unsupported-executor", r.code, r.err)
	}
	if r := gs(t, a.dir, "tasklet", "run", spec, "--peer", "zzzzzz"); r.code != 1 || !strings.Contains(r.err, "--peer: no connected or known peer matches") {
		t.Errorf("tasklet run --peer unknown: exit %d, stderr %q", r.code, r.err)
	}

	sb := shortOf(b.ep.PeerID)
	if r := gs(t, a.dir, "peer", "disconnect", sb); r.code != 0 || r.out != "disconnected from "+b.ep.PeerID+"\n" {
		t.Errorf("peer disconnect %s: exit %d, out %q, err %q; want B's whole ID", sb, r.code, r.out, r.err)
	}
}
