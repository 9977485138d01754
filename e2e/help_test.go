package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The built binary: bare gridswarm prints help on stderr and exits 2, an
// unknown flag is a usage error too, and completion bash prints a script
// that bash accepts.
func TestBinaryHelpExitCodesAndCompletion(t *testing.T) {
	skipShort(t)
	env := append(os.Environ(), "GRIDSWARM_PATH="+filepath.Join(t.TempDir(), "none"))
	if r := gsAs(t, "", env); r.code != 2 || r.out != "" || !strings.Contains(r.err, "Usage:\n  gridswarm [flags] <command>") {
		t.Errorf("bare gridswarm: exit %d, stdout %q, stderr %q; want exit 2 and the help on stderr", r.code, r.out, r.err)
	}
	if r := gsAs(t, "", env, "data", "get", "--frobnicate"); r.code != 2 || !strings.Contains(r.err, "unknown flag: --frobnicate") || !strings.Contains(r.err, "-o, --output PATH") {
		t.Errorf("unknown flag: exit %d, stderr %q; want exit 2, the error and data get's usage", r.code, r.err)
	}
	if r := gsAs(t, "", env, "data", "get", "--help"); r.code != 0 || !strings.Contains(r.out, "-o, --output PATH") || !strings.Contains(r.out, "--stall") {
		t.Errorf("data get --help: exit %d, stdout %q; want exit 0 and its flags", r.code, r.out)
	}
	r := gsAs(t, "", env, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.out, "complete -o default -F __start_gridswarm gridswarm") {
		t.Fatalf("completion bash: exit %d, stderr %q, stdout begins %.200q", r.code, r.err, r.out)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to check the script with")
	}
	script := filepath.Join(t.TempDir(), "gridswarm.bash")
	if err := os.WriteFile(script, []byte(r.out), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
		t.Errorf("bash -n on the completion script: %v\n%s", err, out)
	}
}
