package wasm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// taskletOnce builds examples/wasm-tasklet for wasip1 once per test binary.
// The first build of the wasip1 standard library takes a while; later ones
// come from the Go build cache.
var taskletOnce struct {
	sync.Once
	bin []byte
	err error
}

// tasklet returns the example tasklet's .wasm bytes.
func tasklet(t testing.TB) []byte {
	t.Helper()
	taskletOnce.Do(func() {
		out := filepath.Join(t.TempDir(), "tasklet.wasm")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(gobin, "build", "-o", out, "github.com/gridswarm/gridswarm/examples/wasm-tasklet")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			taskletOnce.err = err
			t.Logf("go build output:\n%s", b)
			return
		}
		taskletOnce.bin, taskletOnce.err = os.ReadFile(out)
	})
	if taskletOnce.err != nil {
		t.Fatalf("build example tasklet with GOOS=wasip1 GOARCH=wasm: %v", taskletOnce.err)
	}
	return taskletOnce.bin
}

// cacheDir is a compilation cache shared by every executor in the tests,
// so each compiles the 4 MiB example tasklet once, not once per executor.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gridswarm-wasm-cache-")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newExecutor returns an executor closed when the test ends.
func newExecutor(t testing.TB, opts Options) *Executor {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = cacheDir
	}
	e, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// taskDirs makes an input directory holding files (name -> content; a
// name may contain slashes) and an empty output directory.
func taskDirs(t testing.TB, files map[string]string) (in, out string) {
	t.Helper()
	root := t.TempDir()
	in, out = filepath.Join(root, "in"), filepath.Join(root, "out")
	for _, d := range []string{in, out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		p := filepath.Join(in, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return in, out
}

// readTree returns every regular file under dir, by slash path.
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// leb encodes v as unsigned LEB128.
func leb(v uint32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// sleb encodes v as signed LEB128.
func sleb(v int32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

func section(id byte, payload ...[]byte) []byte {
	var p []byte
	for _, x := range payload {
		p = append(p, x...)
	}
	return append(append([]byte{id}, leb(uint32(len(p)))...), p...)
}

func wasmName(s string) []byte { return append(leb(uint32(len(s))), s...) }

// modSpec describes a tiny hand-assembled module: one function type
// () -> (), optional function imports of that type, one _start function.
type modSpec struct {
	imports  []string // "module.name"
	tableMin uint32   // 0: no table
	memMin   uint32
	noMemory bool
	noStart  bool
	body     []byte // _start's instructions, without the final end
}

func (s modSpec) bytes() []byte {
	out := append([]byte(nil), wasmHeader...)
	out = append(out, section(1, []byte{1, 0x60, 0, 0})...)
	if len(s.imports) > 0 {
		p := leb(uint32(len(s.imports)))
		for _, imp := range s.imports {
			mod, name, _ := strings.Cut(imp, ".")
			p = append(append(append(p, wasmName(mod)...), wasmName(name)...), 0x00, 0x00)
		}
		out = append(out, section(2, p)...)
	}
	out = append(out, section(3, []byte{1, 0})...)
	if s.tableMin > 0 {
		out = append(out, section(4, []byte{1, 0x70, 0}, leb(s.tableMin))...)
	}
	if !s.noMemory {
		out = append(out, section(5, []byte{1, 0}, leb(s.memMin))...)
	}
	var exports [][]byte
	if !s.noStart {
		exports = append(exports, wasmName("_start"), []byte{0x00}, leb(uint32(len(s.imports))))
	}
	if !s.noMemory {
		exports = append(exports, wasmName("memory"), []byte{0x02, 0})
	}
	n := uint32(0)
	if !s.noStart {
		n++
	}
	if !s.noMemory {
		n++
	}
	out = append(out, section(7, append([][]byte{leb(n)}, exports...)...)...)
	body := append(append([]byte{0}, s.body...), 0x0b)
	return append(out, section(10, leb(1), leb(uint32(len(body))), body)...)
}

// Instruction snippets for modSpec bodies.
var (
	opUnreachable = []byte{0x00}
	opLoopForever = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b} // loop br 0 end
)

// opGrowOrTrap grows memory by pages and traps if memory.grow returns -1,
// which is what a C or Rust program does when malloc fails.
func opGrowOrTrap(pages int32) []byte {
	b := append([]byte{0x41}, sleb(pages)...)
	b = append(b, 0x40, 0x00)                // memory.grow 0
	b = append(b, 0x41, 0x7f, 0x46)          // i32.const -1; i32.eq
	return append(b, 0x04, 0x40, 0x00, 0x0b) // if unreachable end
}

// opTableGrow grows table 0 by n null funcrefs (a reference-types
// instruction) and drops the result.
func opTableGrow(n int32) []byte {
	b := []byte{0xd0, 0x70, 0x41} // ref.null func; i32.const
	b = append(b, sleb(n)...)
	return append(b, 0xfc, 0x0f, 0x00, 0x1a) // table.grow 0; drop
}
