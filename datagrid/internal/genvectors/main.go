// Command genvectors writes the files behind datagrid's Kubo CID vectors
// into a directory, so Kubo can import the same bytes:
//
//	go run ./datagrid/internal/genvectors /tmp/vectors
//	for f in /tmp/vectors/*; do ipfs add --cid-version=1 -r -Q "$f"; done
//
// A file of n bytes holds sha256("gridswarm-vector" || uint64be(j)) for
// j = 0, 1, 2, ... cut to n bytes; datagrid/vectors_test.go generates the
// same content.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// vectors maps each vector to its files (relative path -> size).
func vectors() map[string]map[string]int {
	return map[string]map[string]int{
		"empty":              {"": 0},
		"one-byte":           {"": 1},
		"one-chunk":          {"": 262144},
		"one-chunk-plus-one": {"": 262145},
		"many-chunks":        {"": 200*262144 + 1},
		"nested":             {"a.txt": 100, "sub/b.bin": 300000, "sub/deeper/c": 0},
	}
}

func content(n int) []byte {
	const tag = "gridswarm-vector"
	out := make([]byte, 0, n+sha256.Size)
	buf := make([]byte, len(tag)+8)
	copy(buf, tag)
	for j := uint64(0); len(out) < n; j++ {
		binary.BigEndian.PutUint64(buf[len(tag):], j)
		sum := sha256.Sum256(buf)
		out = append(out, sum[:]...)
	}
	return out[:n]
}

func run(dir string) error {
	for name, files := range vectors() {
		for rel, size := range files {
			p := filepath.Join(dir, name, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("cannot create folder for %s: %w", p, err)
			}
			if err := os.WriteFile(p, content(size), 0o644); err != nil {
				return fmt.Errorf("cannot write %s: %w", p, err)
			}
		}
	}
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genvectors DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genvectors:", err)
		os.Exit(1)
	}
}
