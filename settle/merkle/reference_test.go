package merkle

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The committed golden vectors are what the reference library writes now.
// Needs node and settle/contracts/node_modules (.ci/setup.d/30-settle-npm.sh).
func TestVectorsMatchReference(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node; skipped in -short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: cannot rerun the reference library (run .ci/setup)")
	}
	if _, err := os.Stat("../contracts/node_modules/@openzeppelin/merkle-tree"); err != nil {
		t.Skip("settle/contracts/node_modules is missing: run .ci/setup.d/30-settle-npm.sh")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "vectors.js", out)
	cmd.Dir = "../contracts"
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vectors.js: %v\n%s", err, msg)
	}
	fresh, err := filepath.Glob(filepath.Join(out, "*.json"))
	if err != nil || len(fresh) == 0 {
		t.Fatalf("vectors.js wrote no vectors (%v)", err)
	}
	committed, _ := filepath.Glob("testdata/payouts-*.json")
	if len(committed) != len(fresh) {
		t.Errorf("%d committed vector files, the reference writes %d", len(committed), len(fresh))
	}
	for _, f := range fresh {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join("testdata", filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("testdata/%s differs from the reference's output (%v): rerun node settle/contracts/vectors.js and commit", filepath.Base(f), err)
		}
	}
}
