package trainer_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/trainer/internal/reprocase"
)

var update = flag.Bool("update", false, "rewrite testdata/reprocase.digest from this build")

const (
	reproPkg   = "github.com/gridswarm/gridswarm/trainer/internal/reprocheck"
	goldenPath = "testdata/reprocase.digest"
)

func goTool(t *testing.T) string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		t.Skipf("no go command at %s (%v): cannot build the check program", goBin, err)
	}
	return goBin
}

func inProcessDigest(t *testing.T) string {
	t.Helper()
	d, err := reprocase.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReproGolden pins the scenario's digest: a change to the trainer's
// arithmetic, or a machine that computes it differently, fails here. Run
// with -update only when a change of the numbers is intended.
func TestReproGolden(t *testing.T) {
	got := inProcessDigest(t)
	if *update {
		if err := os.WriteFile(goldenPath, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("cannot read the golden digest: %v (run go test -run TestReproGolden -update)", err)
	}
	if got != strings.TrimSpace(string(want)) {
		t.Errorf("scenario digest = %s, want %s from %s: the trainer's results changed", got, strings.TrimSpace(string(want)), goldenPath)
	}
}

// TestCrossBuildReproducible builds the check program for the baseline
// amd64 CPU (GOAMD64=v1), for one with FMA (v3) and without the assembly
// kernel (-tags purego), runs them all and requires them and this test
// binary (which may be a -race build) to print the same digest.
func TestCrossBuildReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two programs; skipped with -short")
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("GOAMD64 levels exist only on amd64, this is %s", runtime.GOARCH)
	}
	goBin := goTool(t)
	want := inProcessDigest(t)
	dir := t.TempDir()
	builds := []struct{ level, tags string }{{"v1", ""}, {"v3", ""}, {"v1", "purego"}}
	for i, b := range builds {
		name := "GOAMD64=" + b.level + " -tags=" + b.tags
		bin := filepath.Join(dir, fmt.Sprintf("reprocheck-%d", i))
		build := exec.Command(goBin, "build", "-tags="+b.tags, "-o", bin, reproPkg)
		build.Env = append(os.Environ(), "GOAMD64="+b.level, "GOFLAGS=-buildvcs=false")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("%s go build: %v\n%s", name, err, out)
		}
		out, err := exec.Command(bin).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "can only be run on") {
				t.Skipf("this CPU cannot run a %s program: %s", name, out)
			}
			t.Fatalf("running the %s build: %v\n%s", name, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s build printed %s, this test binary computed %s", name, got, want)
		}
	}
}

// fusedOp matches the fused multiply-add instructions of every
// architecture in the compiler's assembly listing (-S).
var fusedOp = regexp.MustCompile(`\b(V?FN?M(ADD|SUB)[0-9A-Z]*|VFML[AS]|MAEBR|MSEBR)\b`)

// TestNoFusedMultiplyAdd compiles the trainer for targets whose compilers
// fuse x*y+z (amd64 with FMA, arm64) and reads the generated assembly:
// one missing float32(...) conversion shows up here even when it happens
// not to change the digest.
func TestNoFusedMultiplyAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the trainer; skipped with -short")
	}
	goBin := goTool(t)
	for _, target := range []struct{ goarch, goamd64 string }{{"amd64", "v3"}, {"arm64", ""}} {
		t.Run(target.goarch, func(t *testing.T) {
			build := exec.Command(goBin, "build", "-o", os.DevNull,
				"-gcflags=github.com/gridswarm/gridswarm/trainer/...=-S", reproPkg)
			build.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+target.goarch, "GOAMD64="+target.goamd64, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
			out, err := build.CombinedOutput()
			if err != nil {
				t.Fatalf("go build: %v\n%.2000s", err, out)
			}
			if !strings.Contains(string(out), "STEXT") {
				t.Fatalf("go build printed no assembly listing; cannot check for fused operations")
			}
			for _, line := range strings.Split(string(out), "\n") {
				if fusedOp.MatchString(line) {
					t.Errorf("fused multiply-add in the trainer (wrap the product in float32(...)): %s", strings.TrimSpace(line))
				}
			}
		})
	}
	// The compiler's listing leaves out hand-written assembly: read it.
	files, err := filepath.Glob("*.s")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(src), "\n") {
			if code, _, _ := strings.Cut(line, "//"); fusedOp.MatchString(code) {
				t.Errorf("%s:%d: fused multiply-add in assembly: %s", f, n+1, strings.TrimSpace(line))
			}
		}
	}
}
