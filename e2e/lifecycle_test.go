package e2e

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/node/repo"
)

func TestInitTwiceRefusesAndRestartKeepsIdentity(t *testing.T) {
	skipShort(t)
	dir := initRepo(t)
	again := gs(t, dir, "init", "--profile", "local")
	if again.code == 0 || !strings.Contains(again.err, "refusing to overwrite") {
		t.Fatalf("second init: exit %d, stderr %q; want a refusal", again.code, again.err)
	}

	d := startDaemon(t, dir)
	first := idOf(t, dir)
	d.stop()
	if _, err := os.Stat(filepath.Join(dir, repo.EndpointFile)); !os.IsNotExist(err) {
		t.Errorf("endpoint file still there after a clean stop: %v", err)
	}
	startDaemon(t, dir)
	second := idOf(t, dir)
	if first["peer_id"] != second["peer_id"] || first["account"] != second["account"] {
		t.Errorf("identity changed across restart: %v then %v", first, second)
	}
}

func idOf(t *testing.T, dir string) map[string]any {
	t.Helper()
	r := gs(t, dir, "id", "--json")
	if r.code != 0 {
		t.Fatalf("id: exit %d: %s", r.code, r.err)
	}
	var id map[string]any
	if err := json.Unmarshal([]byte(r.out), &id); err != nil {
		t.Fatalf("id --json printed %q: %v", r.out, err)
	}
	return id
}

func TestSecondDaemonRefusedAndKill9Recovers(t *testing.T) {
	skipShort(t)
	dir := initRepo(t)
	d := startDaemon(t, dir)

	second := launch(t, dir)
	code, ok := second.exited(30 * time.Second)
	if !ok || code == 0 {
		t.Fatalf("second daemon on the same repo: exited=%v code=%d, want a refusal", ok, code)
	}
	if log := second.log.String(); !strings.Contains(log, "in use by another daemon") {
		t.Errorf("second daemon said %q, want it to say the repo is in use", log)
	}

	d.kill9()
	if _, err := os.Stat(filepath.Join(dir, repo.EndpointFile)); err != nil {
		t.Fatalf("kill -9 should leave the endpoint file behind for this test to mean anything: %v", err)
	}
	if r := gs(t, dir, "status"); r.code == 0 || !strings.Contains(r.err, "no gridswarm daemon is running") {
		t.Errorf("status after kill -9: exit %d, stderr %q; want 'no daemon'", r.code, r.err)
	}
	startDaemon(t, dir)
	if r := gs(t, dir, "status"); r.code != 0 {
		t.Errorf("status after restart: exit %d: %s", r.code, r.err)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	skipShort(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name    string
		edit    func(string) string
		wantKey string
	}{
		{"unknown key", func(c string) string { return c + "\n[extra]\nspeed = 11\n" }, "unknown key extra"},
		{"bad multiaddr", func(c string) string {
			return strings.Replace(c, `"/ip4/127.0.0.1/tcp/0"`, `"/ip4/127.0.0.1/tcpx/0"`, 1)
		}, "swarm.listen[0]"},
		{"api port in use", func(c string) string {
			return strings.Replace(c, `listen = "127.0.0.1:0"`, `listen = "`+busy.Addr().String()+`"`, 1)
		}, "api.listen"},
		{"swarm port in use", func(c string) string {
			return strings.Replace(c, `"/ip4/127.0.0.1/tcp/0"`, `"/ip4/127.0.0.1/tcp/`+itoa(busyPort)+`"`, 1)
		}, "swarm.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := initRepo(t)
			path := filepath.Join(dir, repo.ConfigFile)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			edited := tt.edit(string(b))
			if edited == string(b) {
				t.Fatal("the edit changed nothing: the config layout moved")
			}
			if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
				t.Fatal(err)
			}
			d := launch(t, dir)
			code, ok := d.exited(60 * time.Second)
			if !ok || code == 0 {
				t.Fatalf("daemon with bad config: exited=%v code=%d; want it to refuse", ok, code)
			}
			log := d.log.String()
			if !strings.Contains(log, tt.wantKey) {
				t.Errorf("daemon said %q; want it to name %q", log, tt.wantKey)
			}
			if lines := strings.Count(strings.TrimSpace(log), "\n") + 1; lines > 2 {
				t.Errorf("error took %d lines, want one clear line:\n%s", lines, log)
			}
		})
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
