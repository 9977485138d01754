package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// The same digest is checked in datagrid/vectors_test.go, so the program
// and the test cannot drift apart.
const bBinSHA256 = "674356ddf6423b64d8637440d5a2b3eb637028a03c1e0de715766fe263d0af40"

func TestRunWritesVectors(t *testing.T) {
	dir := t.TempDir()
	if err := run(dir); err != nil {
		t.Fatal(err)
	}
	for name, files := range vectors() {
		for rel, size := range files {
			fi, err := os.Stat(filepath.Join(dir, name, rel))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != int64(size) {
				t.Errorf("%s/%s: %d bytes, want %d", name, rel, fi.Size(), size)
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "nested", "sub", "b.bin"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != bBinSHA256 {
		t.Errorf("nested/sub/b.bin sha256 = %s, want %s", got, bBinSHA256)
	}
}
