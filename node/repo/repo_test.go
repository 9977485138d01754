package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo/endpoint"
)

func initLocal(t *testing.T) (string, InitResult) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	res, err := Init(dir, InitOptions{Profile: config.ProfileLocal, Passphrase: "correct horse"})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return dir, res
}

func TestInitTwiceRefusesAndKeepsKeys(t *testing.T) {
	dir, first := initLocal(t)
	before, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Init(dir, InitOptions{Profile: config.ProfileLocal, Passphrase: "other"})
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second Init error = %v, want a refusal", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, IdentityFile))
	if string(before) != string(after) {
		t.Error("second Init changed identity.key")
	}
	id, err := PeerID(dir)
	if err != nil || id != first.PeerID {
		t.Errorf("PeerID = %v, %v; want %v", id, err, first.PeerID)
	}
	addr, err := Account(dir)
	if err != nil || addr != first.Account {
		t.Errorf("Account = %v, %v; want %v", addr, err, first.Account)
	}
}

func TestSecretsAreOwnerOnly(t *testing.T) {
	dir, _ := initLocal(t)
	for _, name := range []string{TokenFile, IdentityFile, ConfigFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode = %v, want no access for group or others", name, st.Mode().Perm())
		}
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, IdentityFile)); strings.Contains(string(raw), "privateKey") {
		t.Error("identity file looks unencrypted")
	}
}

func TestIdentityUnlock(t *testing.T) {
	dir, res := initLocal(t)
	key, err := LoadIdentity(dir, "correct horse")
	if err != nil {
		t.Fatalf("unlock with the right passphrase: %v", err)
	}
	id, _ := peer.IDFromPrivateKey(key)
	if id != res.PeerID {
		t.Errorf("unlocked key has ID %v, want %v", id, res.PeerID)
	}
	if _, err := LoadIdentity(dir, "wrong"); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("unlock with a wrong passphrase: err = %v, want a clear refusal", err)
	}
}

func TestOpenLocksAndCleansStaleEndpoint(t *testing.T) {
	dir, _ := initLocal(t)
	// A killed daemon leaves its endpoint file behind.
	if err := os.WriteFile(filepath.Join(dir, EndpointFile), []byte(`{"http":"http://127.0.0.1:1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEndpoint(dir); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("ReadEndpoint with no lock holder: err = %v, want ErrNoDaemon", err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, EndpointFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("Open left the stale endpoint file")
	}
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: err = %v, want ErrLocked", err)
	}
	if !Locked(dir) {
		t.Error("Locked = false while a repo is open")
	}
	if err := r.WriteEndpoint(Endpoint{HTTP: "http://127.0.0.1:5", PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	if e, err := ReadEndpoint(dir); err != nil || e.HTTP != "http://127.0.0.1:5" {
		t.Errorf("ReadEndpoint = %+v, %v", e, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if Locked(dir) {
		t.Error("Locked = true after Close")
	}
	r2, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	r2.Close()
}

// TestOpenWaitsOutAProbe: a probe's shared lock (what `gridswarm status
// --wait` takes for an instant, again and again, while a daemon starts)
// does not stop Open, which tries again while its pause allows; a lock
// held for good by no live process fails with ErrLocked once the pause
// gives up; a daemon's lock fails at once, without a pause.
func TestOpenWaitsOutAProbe(t *testing.T) {
	tests := []struct {
		name      string
		releaseAt int // the try after which the probe lets go; 0: never
		wantErr   bool
		wantTries int
	}{
		{"probe lets go", 1, false, 1},
		{"probe lets go later", 3, false, 3},
		{"held by no live process", 0, true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := initLocal(t)
			probe, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer probe.Close()
			if err := endpoint.TryLock(probe, false); err != nil {
				t.Fatal(err)
			}
			tries := 0
			r, err := open(dir, func(try int) bool {
				tries = try
				if try == tt.releaseAt {
					endpoint.Unlock(probe)
				}
				return try < 4
			})
			if (err != nil) != tt.wantErr || tries != tt.wantTries {
				t.Fatalf("open = %v after %d pauses; want error %v after %d", err, tries, tt.wantErr, tt.wantTries)
			}
			if err != nil {
				if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid unknown") {
					t.Errorf("open with a lock held by no live process: err = %v, want ErrLocked naming no pid", err)
				}
				return
			}
			defer r.Close()
			// Now a daemon holds it: a second open fails without pausing.
			if _, err := open(dir, func(int) bool { t.Error("open paused on a live daemon's lock"); return false }); !errors.Is(err, ErrLocked) {
				t.Errorf("open beside a daemon: err = %v, want ErrLocked", err)
			}
		})
	}
}

func TestOpenUninitialised(t *testing.T) {
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNotInitialised) {
		t.Errorf("Open(empty dir) = %v, want ErrNotInitialised", err)
	}
}
