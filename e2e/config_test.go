package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/node/repo"
)

// TestConfigLogLevelShutdown drives config get/set against a running daemon's
// repo, changes its log level live, then stops it over JSON-RPC.
func TestConfigLogLevelShutdown(t *testing.T) {
	skipShort(t)
	dir := initRepo(t)
	d := startDaemon(t, dir)
	cfgPath := filepath.Join(dir, repo.ConfigFile)

	// A valid value is written, and a running daemon means a restart is needed.
	if r := gs(t, dir, "config", "set", "worker.enabled", "false"); r.code != 0 || !strings.Contains(r.out, "restart the daemon") {
		t.Fatalf("config set worker.enabled: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := gs(t, dir, "config", "get", "worker.enabled"); r.code != 0 || strings.TrimSpace(r.out) != "false" {
		t.Fatalf("config get worker.enabled: exit %d, %q%s", r.code, r.out, r.err)
	}
	// An invalid value is refused by name and leaves the file as it was.
	before, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if r := gs(t, dir, "config", "set", "log.level", "loud"); r.code == 0 || !strings.Contains(r.err, "log.level") {
		t.Fatalf("config set log.level loud: exit %d, want a refusal naming log.level\n%s%s", r.code, r.out, r.err)
	}
	if after, _ := os.ReadFile(cfgPath); string(after) != string(before) {
		t.Fatal("a refused config set changed config.toml")
	}

	// The level changes live: at error the change notice (info) is not
	// logged, at debug it is.
	for _, lv := range []string{"error", "debug"} {
		if r := gs(t, dir, "log", "level", lv); r.code != 0 || strings.TrimSpace(r.out) != lv {
			t.Fatalf("log level %s: exit %d, %q%s", lv, r.code, r.out, r.err)
		}
	}
	if r := gs(t, dir, "log", "level"); strings.TrimSpace(r.out) != "debug" {
		t.Fatalf("log level: %q%s, want debug", r.out, r.err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(d.log.String(), "to=debug"), "no log line for the change to debug"
	})
	if strings.Contains(d.log.String(), "to=error") {
		t.Fatal("the change to error was logged at info although the level was error")
	}

	if r := gs(t, dir, "shutdown"); r.code != 0 {
		t.Fatalf("shutdown: exit %d\n%s%s", r.code, r.out, r.err)
	}
	code, ok := d.exited(30 * time.Second)
	if !ok || code != 0 {
		t.Fatalf("daemon after shutdown: exited %v, code %d\n%s", ok, code, d.log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, repo.EndpointFile)); !os.IsNotExist(err) {
		t.Fatalf("endpoint file after shutdown: %v", err)
	}
}
