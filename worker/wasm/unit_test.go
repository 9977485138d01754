package wasm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

func TestClassify(t *testing.T) {
	lim := limits{memoryPages: 16, timeout: "2s"}
	trap := errors.New("module[] function[_start] failed: wasm error: unreachable\nwasm stack trace:\n\t.$0()")
	full := errors.New("/out would grow to 5 bytes, over the 4 B limit")
	tests := []struct {
		name     string
		o        outcome
		want     error // sentinel; nil with wantExit 0 means success
		wantExit uint32
		msg      string
	}{
		{"success", outcome{}, nil, 0, ""},
		{"exit 3", outcome{err: sys.NewExitError(3), stderr: []byte("boom\n")}, &ExitError{}, 3, `stderr tail: "boom"`},
		{"timeout", outcome{err: sys.NewExitError(sys.ExitCodeDeadlineExceeded), memRefused: 1 << 30}, ErrTimeout, 0, "longer than 2s"},
		{"cancelled beats timeout", outcome{err: sys.NewExitError(sys.ExitCodeDeadlineExceeded), cancelled: context.Canceled}, context.Canceled, 0, "cancelled by caller"},
		{"go out of memory", outcome{err: sys.NewExitError(2), memRefused: 17 << 16}, ErrMemoryLimit, 2, "1.06 MiB but the limit is 1 MiB"},
		{"rust abort after refused grow", outcome{err: trap, memRefused: 17 << 16}, ErrMemoryLimit, 0, "limit"},
		{"recovered from refused grow", outcome{memRefused: 17 << 16}, nil, 0, ""},
		{"output refused, exit 0", outcome{outputRefused: full}, ErrOutputTooLarge, 0, "over the 4 B limit"},
		{"output refused, exit 1", outcome{err: sys.NewExitError(1), outputRefused: full}, ErrOutputTooLarge, 1, "write less"},
		{"trap", outcome{err: trap}, ErrTrap, 0, "wasm error: unreachable;"},
		{"typed error passes through", outcome{err: ErrBadModule}, ErrBadModule, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.limits = lim
			code, err := classify(tc.o)
			if code != tc.wantExit {
				t.Errorf("exit code = %d, want %d", code, tc.wantExit)
			}
			switch want := tc.want.(type) {
			case nil:
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
			case *ExitError:
				var got *ExitError
				if !errors.As(err, &got) || got.Code != tc.wantExit {
					t.Fatalf("err = %v, want *ExitError code %d", err, tc.wantExit)
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q, want it to contain %q", err, tc.msg)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	long := "fatal error: out of memory\n" + strings.Repeat("trace line\n", 500) + "last line"
	tests := []struct {
		in, wantPrefix, wantSuffix string
	}{
		{"  short\n", "short", "short"},
		{long, "fatal error: out of memory", "last line"},
	}
	for _, tc := range tests {
		got := excerpt([]byte(tc.in))
		if !strings.HasPrefix(got, tc.wantPrefix) || !strings.HasSuffix(got, tc.wantSuffix) || len(got) > stderrTailBytes+8 {
			t.Errorf("excerpt(%d bytes) = %q, want %q…%q within %d bytes", len(tc.in), got, tc.wantPrefix, tc.wantSuffix, stderrTailBytes+8)
		}
	}
}

func TestCapture(t *testing.T) {
	tests := []struct {
		writes []string
		want   string
	}{
		{[]string{"ab", "c"}, "abc"},
		{[]string{"abcd"}, "abcd"},
		{[]string{"abc", "def", "g"}, "abcd\n[gridswarm: output truncated, 3 more bytes dropped]\n"},
	}
	for _, tc := range tests {
		c := newCapture(4)
		for _, w := range tc.writes {
			if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
			}
		}
		if got := string(c.Bytes()); got != tc.want {
			t.Errorf("writes %q kept %q, want %q", tc.writes, got, tc.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	tests := map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 32 << 20: "32 MiB", 17 << 16: "1.06 MiB", 1 << 30: "1 GiB"}
	for n, want := range tests {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSeededRandom(t *testing.T) {
	read := func(seed uint64) []byte {
		b := make([]byte, 16)
		if _, err := seededRandom(seed).Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if a, b := read(1), read(1); !bytes.Equal(a, b) {
		t.Errorf("seed 1 gave %x then %x", a, b)
	}
	if a, b := read(1), read(2); bytes.Equal(a, b) {
		t.Errorf("seeds 1 and 2 both gave %x", a)
	}
}

func TestVirtualClock(t *testing.T) {
	var c virtualClock
	t0 := c.nanotime()
	c.nanosleep(3e9)
	c.nanosleep(-5) // ignored, time never runs backwards
	if got, want := c.nanotime()-t0, int64(3e9+clockTick); got != want {
		t.Errorf("after a 3s sleep the monotonic clock moved %d ns, want %d", got, want)
	}
	sec, nsec := c.walltime()
	if sec != wallEpoch+3 || nsec != 3*clockTick {
		t.Errorf("walltime = %d.%09d, want %d.%09d", sec, nsec, wallEpoch+3, 3*clockTick)
	}
}

func TestInspect(t *testing.T) {
	tests := []struct {
		name string
		bin  []byte
		want shape
		err  string
	}{
		{"memory and table", modSpec{memMin: 300, tableMin: 7}.bytes(), shape{memoryMinPages: 300, tableMinSum: 7}, ""},
		{"no memory", modSpec{noMemory: true}.bytes(), shape{}, ""},
		{"no header", []byte("nope"), shape{}, "missing wasm header"},
		{"truncated section", append(append([]byte(nil), wasmHeader...), 5, 10, 1), shape{}, "truncated"},
		{"overlong leb", append(append([]byte(nil), wasmHeader...), 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), shape{}, "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inspect(tc.bin)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("inspect error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("inspect = %+v, %v; want %+v, nil", got, err, tc.want)
			}
		})
	}
}

func TestMemoryGuard(t *testing.T) {
	g := newMemoryGuard(2) // 128 KiB
	m := g.Allocate(0, 0)
	steps := []struct {
		size uint64
		ok   bool
	}{{64 << 10, true}, {128 << 10, true}, {192 << 10, false}, {128 << 10, true}}
	for _, s := range steps {
		buf := m.Reallocate(s.size)
		if (buf != nil) != s.ok || (s.ok && uint64(len(buf)) != s.size) || uint64(cap(buf)) > 128<<10 {
			t.Fatalf("Reallocate(%d) = len %d cap %d (nil %t); want ok=%t within 128 KiB", s.size, len(buf), cap(buf), buf == nil, s.ok)
		}
	}
	if g.Refused() != 192<<10 || g.Peak() != 128<<10 {
		t.Errorf("refused %d, peak %d; want %d, %d", g.Refused(), g.Peak(), 192<<10, 128<<10)
	}
}

// TestOutFS drives the /out file system directly, the way wazero's WASI
// functions do, and checks the budget follows the real size of the dir.
func TestOutFS(t *testing.T) {
	dir := t.TempDir()
	b := newOutputBudget(10)
	o := &outFS{FS: sysfs.DirFS(dir), budget: b}
	check := func(step string, wantBytes, wantEntries int64) {
		t.Helper()
		if b.bytes != wantBytes || b.entries != wantEntries {
			t.Fatalf("%s: budget %d bytes %d entries, want %d and %d", step, b.bytes, b.entries, wantBytes, wantEntries)
		}
	}
	f, errno := o.OpenFile("a", experimentalsys.O_CREAT|experimentalsys.O_RDWR, 0) // mode 0 asked
	if errno != 0 {
		t.Fatal(errno)
	}
	st, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o600 != 0o600 { // umask may clear group and other bits
		t.Fatalf("created file mode = %v, want the owner able to read and write", st.Mode().Perm())
	}
	if errno := o.Chmod("a", 0); errno != experimentalsys.EPERM {
		t.Errorf("Chmod errno = %v, want EPERM", errno)
	}
	if n, errno := f.Write([]byte("123456")); n != 6 || errno != 0 {
		t.Fatalf("Write = %d, %v", n, errno)
	}
	check("write 6", 6, 1)
	if _, errno := f.Pwrite([]byte("xy"), 2); errno != 0 { // overwrite: no growth
		t.Fatal(errno)
	}
	check("overwrite", 6, 1)
	if _, errno := f.Write([]byte("12345")); errno != experimentalsys.EIO {
		t.Fatalf("write past the cap: errno %v, want EIO", errno)
	}
	check("refused write", 6, 1)
	if errno := f.Truncate(2); errno != 0 {
		t.Fatal(errno)
	}
	check("truncate to 2", 2, 1)
	if errno := f.Truncate(1 << 40); errno != experimentalsys.EIO {
		t.Fatalf("sparse truncate to 1 TiB: errno %v, want EIO", errno)
	}
	f.Close()
	if errno := o.Mkdir("d", 0o755); errno != 0 {
		t.Fatal(errno)
	}
	check("mkdir", 2, 2)
	if errno := o.Rename("a", "d/b"); errno != 0 {
		t.Fatal(errno)
	}
	if errno := o.Unlink("d/b"); errno != 0 {
		t.Fatal(errno)
	}
	check("unlink", 0, 1)
	if errno := o.Symlink("../x", "s"); errno != experimentalsys.EPERM {
		t.Errorf("Symlink errno = %v, want EPERM", errno)
	}
	if errno := o.Link("d", "l"); errno != experimentalsys.EPERM {
		t.Errorf("Link errno = %v, want EPERM", errno)
	}
	if b.Refused() == nil {
		t.Errorf("budget forgot the refused write")
	}
	if got, err := measureOutput(dir, 10); err != nil || got != 0 {
		t.Errorf("measureOutput = %d, %v; want 0, nil", got, err)
	}
}

func TestMeasureOutput(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  int64
		err   error
	}{
		{"files and dirs", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "a"), "12345")
			if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, filepath.Join(dir, "d", "b"), "123")
		}, 8, nil},
		{"too large", func(t *testing.T, dir string) { mustWrite(t, filepath.Join(dir, "a"), "12345678901") }, 0, ErrOutputTooLarge},
		{"symlink", func(t *testing.T, dir string) {
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, "s")); err != nil {
				t.Fatal(err)
			}
		}, 0, ErrUnsafeOutput},
		{"fifo", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "p"), 0o644); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, 0, ErrUnsafeOutput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			got, err := measureOutput(dir, 10)
			if !errors.Is(err, tc.err) || (tc.err == nil && got != tc.want) {
				t.Fatalf("measureOutput = %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestModuleCache checks LRU order and that an evicted module in use is
// closed only when its last user releases it.
func TestModuleCache(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	compile := func(i uint32) ([32]byte, wazero.CompiledModule) {
		bin := modSpec{memMin: i}.bytes()
		m, err := r.CompileModule(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		var key [32]byte
		key[0] = byte(i)
		return key, m
	}
	c := newModuleCache(2)
	k0, m0 := compile(0)
	e0 := c.add(ctx, k0, m0) // held
	k1, m1 := compile(1)
	c.release(ctx, c.add(ctx, k1, m1))
	k2, m2 := compile(2)
	c.release(ctx, c.add(ctx, k2, m2)) // evicts k0, which is in use
	if c.acquire(k0) != nil {
		t.Fatalf("k0 still cached after two newer modules in a cache of 2")
	}
	if _, err := r.InstantiateModule(ctx, e0.mod, wazero.NewModuleConfig().WithName("")); err != nil {
		t.Fatalf("evicted module unusable while held: %v", err)
	}
	c.release(ctx, e0)
	if _, err := r.InstantiateModule(ctx, e0.mod, wazero.NewModuleConfig().WithName("")); err == nil {
		t.Errorf("evicted module still usable after its last release, want it closed")
	}
	if e := c.acquire(k1); e == nil {
		t.Errorf("k1 evicted, want it cached")
	} else {
		c.release(ctx, e)
	}
	// A duplicate compile of a cached key yields the cached entry.
	_, dup := compile(2)
	if e := c.add(ctx, k2, dup); e.mod != m2 {
		t.Errorf("add of a cached key returned a new module")
	}
	if c.len() != 2 {
		t.Errorf("cache holds %d modules, want 2", c.len())
	}
}

func TestOptionsDefaults(t *testing.T) {
	got, err := Options{}.withDefaults()
	want := Options{MemoryLimitPages: DefaultMemoryLimitPages, Timeout: DefaultTimeout, MaxOutputBytes: DefaultMaxOutputBytes}
	if err != nil || got != want {
		t.Errorf("withDefaults = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []Options{{MemoryLimitPages: 65537}, {Timeout: -1}, {MaxOutputBytes: -1}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) accepted it", bad)
		}
	}
}
