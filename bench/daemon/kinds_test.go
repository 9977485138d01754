package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/keystore"

	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
)

// TestResealKeys checks that both keys the daemon unlocks end up sealed at
// the new cost and still open with the passphrase.
func TestResealKeys(t *testing.T) {
	const pass = "test-passphrase"
	dir := t.TempDir()
	if _, err := repo.Init(dir, repo.InitOptions{Profile: config.ProfileLocal, Passphrase: pass}); err != nil {
		t.Fatalf("init: %v", err)
	}
	before, err := repo.PeerID(dir)
	if err != nil {
		t.Fatalf("peer ID before: %v", err)
	}
	const n, p = 1 << 10, 1 // cheaper than light, so the change is visible
	if err := resealKeys(dir, pass, n, p); err != nil {
		t.Fatalf("resealKeys: %v", err)
	}
	if _, err := repo.LoadIdentity(dir, pass); err != nil {
		t.Errorf("identity no longer opens: %v", err)
	}
	if after, err := repo.PeerID(dir); err != nil || after != before {
		t.Errorf("peer ID after reseal = %s, %v; want %s", after, err, before)
	}
	var id struct {
		Crypto keystore.CryptoJSON `json:"crypto"`
	}
	readJSON(t, filepath.Join(dir, repo.IdentityFile), &id)
	if got := id.Crypto.KDFParams["n"]; got != float64(n) {
		t.Errorf("identity scrypt n = %v, want %d", got, n)
	}
	files, err := keystoreFiles(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("keystoreFiles = %v, %v; want one file", files, err)
	}
	var eth struct {
		Crypto keystore.CryptoJSON `json:"crypto"`
	}
	readJSON(t, files[0], &eth)
	if got := eth.Crypto.KDFParams["n"]; got != float64(n) {
		t.Errorf("Ethereum key scrypt n = %v, want %d", got, n)
	}
	b, _ := os.ReadFile(files[0])
	if _, err := keystore.DecryptKey(b, pass); err != nil {
		t.Errorf("Ethereum key no longer opens: %v", err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}
