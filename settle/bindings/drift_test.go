package bindings_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/settle/internal/bindgen"
)

const (
	contractsDir  = "../contracts"
	artifactsPath = "../contracts/artifacts.json"
)

// The committed bindings are what abigen makes of the committed artifacts.
func TestBindingsMatchArtifacts(t *testing.T) {
	artifacts, err := os.ReadFile(artifactsPath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := bindgen.Generate(artifacts, "bindings")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("bindings.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("settle/bindings/bindings.go differs from what settle/contracts/artifacts.json generates: run go generate ./settle/bindings and commit")
	}
}

// The committed artifacts are what the pinned solc makes of the sources.
// It needs node and settle/contracts/node_modules (.ci/setup.d/30-settle-npm.sh
// installs them); without them it skips, saying so.
func TestArtifactsMatchSources(t *testing.T) {
	if testing.Short() {
		t.Skip("recompiling the contracts takes seconds; skipped in -short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: cannot recompile the contracts (run .ci/setup)")
	}
	if _, err := os.Stat(filepath.Join(contractsDir, "node_modules", "solc")); err != nil {
		t.Skip("settle/contracts/node_modules is missing: run .ci/setup.d/30-settle-npm.sh")
	}
	out := filepath.Join(t.TempDir(), "artifacts.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "compile.js", out)
	cmd.Dir = contractsDir
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compile.js: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(artifactsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("settle/contracts/artifacts.json differs from a fresh compile of settle/contracts/src: run (cd settle/contracts && node compile.js) && go generate ./settle/bindings, and commit both")
	}
}
