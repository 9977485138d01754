package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/tasklet"
)

// hostile programs for the process executor, each with what the failed
// tasklet's error must say (one of the reasons separated by |: forked
// Pythons may meet the 64 MiB memory limit before the process limit).
var hostilePrograms = []struct {
	name, script, reason string
}{
	{"socket", "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('1.1.1.1', 53))\n", "Network is unreachable"},
	{"keys", "import os\nprint(open(os.environ['KEYFILE']).read())\n", "FileNotFoundError"},
	{"fork bomb", "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(600)\n        os._exit(0)\n", "process limit reached|memory limit exceeded"},
	{"memory", "b = bytearray(512 << 20)\n", "memory limit exceeded"},
	{"write outside", "open(os.environ['OUTSIDE'] + '/planted', 'w').write('x')\n", "No such file or directory"},
}

// A daemon with the process executor on: hostile Python programs run
// through `gridswarm tasklet run` fail with their reason, leave nothing on
// the host, and the daemon carries on and runs an honest program.
func TestSandboxHostileProgramsThroughTheDaemon(t *testing.T) {
	skipShort(t)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("no /usr/bin/python3: %v", err)
	}
	dir := initRepo(t)
	setConfig(t, dir, `executors = ["builtin", "wasm"]`, `executors = ["builtin", "wasm", "process"]`)
	setConfig(t, dir, "enabled = false\n    # commands tasklets may run", "enabled = true\n    # commands tasklets may run")
	setConfig(t, dir, "allow = []", `allow = ["python3"]`)
	setConfig(t, dir, `timeout = "1h0m0s"`, `timeout = "20s"`)
	setConfig(t, dir, "memory_mb = 0", "memory_mb = 64")
	d := startDaemon(t, dir)

	outside := t.TempDir()
	keyfile := filepath.Join(dir, "keystore")
	run := func(name, script string) result {
		t.Helper()
		src := filepath.Join(t.TempDir(), "prog.py")
		// The paths reach the program as literals: the sandbox's
		// environment holds only the contract's variables.
		script = "import os\nos.environ['KEYFILE'] = " + pyString(keyfile) + "\nos.environ['OUTSIDE'] = " + pyString(outside) + "\n" + script
		if err := os.WriteFile(src, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		cid := addCID(t, d, src)
		params, _ := json.Marshal(map[string]any{"command": []string{"python3", "in/prog.py"}})
		spec := tasklet.Spec{Version: 1, Executor: "process", JobID: "e2e-sandbox", Index: 0,
			Inputs: []tasklet.Input{{Name: "prog.py", CID: cid}},
			Params: params, Seed: 1, Deadline: time.Now().Add(time.Hour).UnixMilli()}
		b, _ := json.Marshal(spec)
		p := filepath.Join(t.TempDir(), "spec.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return gs(t, dir, "tasklet", "run", p)
	}
	for _, h := range hostilePrograms {
		t.Run(h.name, func(t *testing.T) {
			r := run(h.name, h.script)
			said := false
			for _, reason := range strings.Split(h.reason, "|") {
				said = said || strings.Contains(r.err, reason)
			}
			if r.code == 0 || !said {
				t.Fatalf("tasklet run: exit %d, stderr %q; want a failure saying %q", r.code, r.err, h.reason)
			}
			if _, exited := d.exited(0); exited {
				t.Fatalf("the daemon exited after the %s program", h.name)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Errorf("a sandboxed program wrote into a host folder")
	}
	r := run("honest", "open('out/ok.txt', 'w').write('fine')\n")
	if r.code != 0 || !strings.Contains(r.out, "output") {
		t.Fatalf("honest program after the hostile ones: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
}

// pyString quotes s as a Python string literal.
func pyString(s string) string {
	b, _ := json.Marshal(s) // JSON string literals are Python ones for plain paths
	return string(b)
}
