//go:build wasip1

// Command wasm-tasklet is an example gridswarm WASM tasklet. It follows the
// tasklet ABI described in worker/wasm and in this folder's README: inputs
// are read-only under /in, results go to /out, the seed arrives as
// GRIDSWARM_SEED and is the only source of randomness.
//
// With no arguments (or unknown ones) it hashes every input and writes
// /out/result.json. The first argument can select a misbehaviour that the
// executor's tests use to prove the sandbox holds:
//
//	noop            exit 0 without touching anything
//	socket [ADDR]   try to dial ADDR (default 127.0.0.1:9)
//	alloc           allocate until memory runs out
//	loop            spin forever
//	write-in        try to write into /in
//	big-output N    write N MiB to /out/big.bin
//	symlink-escape  try to reach a host file through a symlink in /out
//	sleep           sleep an hour of guest time, then write /out/slept.txt
//	read-host PATH  try to read a host file by its absolute path, and /
//	fork            try to start processes (WASI has no way to)
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -o tasklet.wasm ./examples/wasm-tasklet
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"strconv"
	"time"
)

// result is what a well-behaved run writes to /out/result.json.
type result struct {
	Inputs map[string]string `json:"inputs"` // input path under /in -> sha256 hex
	Args   []string          `json:"args"`   // argv[1:]
	Seed   string            `json:"seed"`   // GRIDSWARM_SEED as received
	Random string            `json:"random"` // 4 bytes from crypto/rand, hex
}

func main() {
	var err error
	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "noop":
	case "socket":
		err = dial(os.Args[2:])
	case "alloc":
		alloc()
	case "loop":
		spin()
	case "write-in":
		err = writeIn()
	case "big-output":
		err = bigOutput(os.Args[2:])
	case "symlink-escape":
		err = symlinkEscape(os.Args[2:])
	case "sleep":
		err = sleep()
	case "read-host":
		err = readHost(os.Args[2:])
	case "fork":
		err = fork()
	default:
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tasklet:", err)
		os.Exit(1)
	}
}

func run() error {
	inputs, err := hashInputs("/in")
	if err != nil {
		return err
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("read random bytes: %w", err)
	}
	out, err := json.MarshalIndent(result{
		Inputs: inputs,
		Args:   append([]string{}, os.Args[1:]...),
		Seed:   os.Getenv("GRIDSWARM_SEED"),
		Random: hex.EncodeToString(rnd[:]),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if err := os.WriteFile("/out/result.json", append(out, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	fmt.Printf("hashed %d inputs\n", len(inputs))
	return nil
}

// hashInputs returns the sha256 of every regular file under root, keyed by
// its slash-separated path relative to root.
func hashInputs(root string) (map[string]string, error) {
	sums := map[string]string{}
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path.Join(root, p))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		sums[p] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash inputs: %w", err)
	}
	return sums, nil
}

// dial tries to connect to args[0] (default 127.0.0.1:9).
func dial(args []string) error {
	addr := "127.0.0.1:9"
	if len(args) > 0 {
		addr = args[0]
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	conn.Close()
	return fmt.Errorf("dial succeeded: the sandbox let a connection out")
}

// sink keeps allocations reachable so the collector cannot free them.
var sink [][]byte

func alloc() {
	for {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // touch every page so nothing stays lazily zero
		}
		sink = append(sink, b)
	}
}

func spin() {
	n := 0
	for {
		n++
	}
}

func writeIn() error {
	entries, err := os.ReadDir("/in")
	if err != nil {
		return fmt.Errorf("list /in: %w", err)
	}
	for _, e := range entries {
		p := path.Join("/in", e.Name())
		if err := os.WriteFile(p, []byte("overwritten"), 0o644); err == nil {
			return fmt.Errorf("overwrote %s: /in is writable", p)
		}
	}
	if err := os.WriteFile("/in/new.txt", []byte("new"), 0o644); err == nil {
		return fmt.Errorf("created /in/new.txt: /in is writable")
	}
	return fmt.Errorf("/in is read-only as expected")
}

func bigOutput(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("big-output needs a size in MiB")
	}
	mib, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("big-output size %q: %w", args[0], err)
	}
	f, err := os.Create("/out/big.bin")
	if err != nil {
		return err
	}
	chunk := make([]byte, 1<<20)
	for i := 0; i < mib; i++ {
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return fmt.Errorf("write MiB %d: %w", i, err)
		}
	}
	return f.Close()
}

// symlinkEscape links /out/escape to a relative target (args[0]) and tries
// to read through it. Either step succeeding means the sandbox leaked.
func symlinkEscape(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("symlink-escape needs a relative target")
	}
	if err := os.Symlink(args[0], "/out/escape"); err != nil {
		return fmt.Errorf("symlink refused: %w", err)
	}
	b, err := os.ReadFile("/out/escape")
	if err != nil {
		return fmt.Errorf("symlink created but read failed: %w", err)
	}
	return fmt.Errorf("read %d bytes outside the sandbox: %q", len(b), b)
}

// sleep shows that guest time is virtual: an hour passes instantly.
func sleep() error {
	start := time.Now()
	time.Sleep(time.Hour)
	msg := fmt.Sprintf("slept %s\n", time.Since(start).Round(time.Second))
	return os.WriteFile("/out/slept.txt", []byte(msg), 0o644)
}

// readHost tries to read args[0] (a host path, such as the daemon's key
// file) and to list the root, which in the sandbox holds only the
// preopened /in and /out.
func readHost(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("read-host: give a path")
	}
	if b, err := os.ReadFile(args[0]); err == nil {
		return fmt.Errorf("read-host: read %d bytes of %s: the sandbox let a host file in", len(b), args[0])
	} else {
		fmt.Fprintln(os.Stderr, "tasklet: read-host:", err)
	}
	ents, _ := os.ReadDir("/")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return fmt.Errorf("read-host: %s is out of reach; / holds %v", args[0], names)
}

// fork tries to start copies of itself, as a fork bomb would.
func fork() error {
	for i := 0; i < 100; i++ {
		cmd := exec.Command("/proc/self/exe", "fork")
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("fork: cannot start a process: %w", err)
		}
	}
	return fmt.Errorf("fork: started 100 processes: the sandbox let them run")
}
