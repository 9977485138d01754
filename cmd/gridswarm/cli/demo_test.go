package cli

import (
	"path/filepath"
	"testing"

	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
)

// The demo's --broken edits the config that init really writes.
func TestBreakQuotaShrinksAFreshRepo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := repo.Init(dir, repo.InitOptions{Profile: config.ProfileLocal, Passphrase: demoPassphrase}); err != nil {
		t.Fatal(err)
	}
	if err := breakQuota(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, repo.ConfigFile))
	if err != nil {
		t.Fatalf("the edited config does not load: %v", err)
	}
	if cfg.Datagrid.QuotaGiB != 0.002 {
		t.Errorf("quota_gib = %g after breakQuota, want 0.002", cfg.Datagrid.QuotaGiB)
	}
}
